"""``synthetic_data``: the default IMPC-like export and its planted ground truth."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from .nodes import generate_synthetic_data


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                generate_synthetic_data,
                inputs="params:synthetic",
                outputs=["synthetic_abr_export", "synthetic_ground_truth"],
                name="generate_synthetic_data",
            )
        ],
        namespace="synthetic_data",
        prefix_datasets_with_namespace=False,
    )
