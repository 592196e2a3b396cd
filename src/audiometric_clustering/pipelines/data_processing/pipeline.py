"""``data_processing``: IMPC export -> validated table -> model-input table + preprocessor state.

Validation runs first and raises before any output is saved, so a bad file leaves nothing
half-written behind.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from audiometric_clustering.impc.preprocessing import (
    apply_preprocessor,
    control_reference_summary,
)
from audiometric_clustering.impc.quality import build_quality_report

from .nodes import fit_preprocessing, select_modelling_cohort, validate_abr_export


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                validate_abr_export,
                inputs=["raw_abr_export", "params:data_processing", "params:model.n_clusters"],
                outputs=["validated_abr", "validation_summary"],
                name="validate_abr_export",
            ),
            node(
                select_modelling_cohort,
                inputs=["validated_abr", "params:data_processing", "params:seed"],
                outputs=["modelling_cohort", "cohort_summary"],
                name="select_modelling_cohort",
            ),
            node(
                fit_preprocessing,
                inputs=["modelling_cohort", "params:data_processing"],
                outputs="preprocessor_state",
                name="fit_preprocessor",
            ),
            node(
                apply_preprocessor,
                inputs=["modelling_cohort", "preprocessor_state"],
                outputs="model_input",
                name="apply_preprocessor",
            ),
            node(
                control_reference_summary,
                inputs=["modelling_cohort", "preprocessor_state"],
                outputs="control_reference_summary",
                name="summarise_control_reference",
            ),
            node(
                build_quality_report,
                inputs=[
                    "validation_summary",
                    "cohort_summary",
                    "model_input",
                    "control_reference_summary",
                ],
                outputs="data_quality_report",
                name="build_data_quality_report",
            ),
        ],
        namespace="data_processing",
        prefix_datasets_with_namespace=False,
    )
