"""Assign new mice to the learned phenotypes.

* ``create_reference_pipeline``: run at the end of training (part of ``full_training``);
  persists the training lines' mean embeddings and the "fits no cluster" thresholds.
* ``create_prediction_pipeline``: raw export rows -> ``inference_predictions``, its only
  output. kedro-mlflow logs exactly this pipeline as the MLflow model of a training run,
  so ``mlflow.pyfunc.load_model(uri).predict(rows)`` returns the same table.
* ``create_pipeline``: the prediction pipeline plus the per-line summary and the report;
  ``kedro run --pipeline inference --params raw_abr_path=NEW.csv``.

Every input besides the new export is a persisted output of the training run.
"""

from importlib.metadata import version
from pathlib import Path
from typing import Any

from kedro.pipeline import Node, Pipeline

import audiometric_clustering
from audiometric_clustering.pipelines.inference.nodes import (
    assign_new_mice,
    embed_new_mice,
    fit_misfit_reference,
    preprocess_new_mice,
    report_inference,
    summarise_new_lines,
    summarise_training_lines,
    validate_new_mice,
)

#: The catalog entry the new export is read from; the MLflow model's input.
NEW_EXPORT = "raw_abr_export"
#: Name of the logged MLflow model: load it as ``runs:/<run_id>/inference_model``.
INFERENCE_MODEL = "inference_model"
#: Distributions the prediction pipeline imports, pinned to the installed versions.
MODEL_REQUIREMENTS: tuple[str, ...] = (
    "kedro",
    "kedro-datasets",
    "kedro-mlflow",
    "mlflow",
    "torch",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "cloudpickle",
)


def mlflow_model_kwargs() -> dict[str, Any]:
    """How kedro-mlflow logs the prediction pipeline (``mlflow.pyfunc.log_model`` arguments).

    * No signature: the export's columns vary by file (optional columns, ids read as text
      or numbers), and validation explains a bad file better than a schema check would.
    * The project's package travels with the model (``code_paths``), so the model loads
      wherever the pinned requirements are installed, without this checkout.
    * Explicit requirements: MLflow's inference of them loads the model in a subprocess
      (about half a minute here) and misses torch and kedro.
    """
    return {
        "name": INFERENCE_MODEL,
        "signature": None,
        "code_paths": [str(Path(audiometric_clustering.__file__).parent)],
        "pip_requirements": [f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
    }


def create_reference_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                summarise_training_lines,
                ["model_input", "latent_embeddings"],
                "training_line_embeddings",
                name="summarise_training_lines",
            ),
            Node(
                fit_misfit_reference,
                ["trained_model", "model_input", "latent_embeddings", "params:inference"],
                "misfit_rule",
                name="fit_misfit_rule",
            ),
        ],
        namespace="inference_reference",
        prefix_datasets_with_namespace=False,
    )


def create_prediction_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                validate_new_mice,
                [NEW_EXPORT, "params:data_processing"],
                "inference_mice",
                name="validate_new_mice",
            ),
            Node(
                preprocess_new_mice,
                ["inference_mice", "preprocessor_state"],
                "inference_model_input",
                name="preprocess_new_mice",
            ),
            Node(
                embed_new_mice,
                ["trained_model", "inference_model_input", "params:inference"],
                "inference_embeddings",
                name="embed_new_mice",
            ),
            Node(
                assign_new_mice,
                [
                    "inference_model_input",
                    "inference_embeddings",
                    "cluster_labels",
                    "misfit_rule",
                ],
                "inference_predictions",
                name="assign_new_mice",
            ),
        ],
        namespace="inference",
        prefix_datasets_with_namespace=False,
    )


def create_pipeline(**kwargs) -> Pipeline:
    reporting = Pipeline(
        [
            Node(
                summarise_new_lines,
                [
                    "inference_predictions",
                    "inference_embeddings",
                    "training_line_embeddings",
                    "cluster_labels",
                    "params:inference",
                ],
                "inference_line_summary",
                name="summarise_new_lines",
            ),
            Node(
                report_inference,
                [
                    NEW_EXPORT,
                    "inference_mice",
                    "preprocessor_state",
                    "inference_predictions",
                    "misfit_rule",
                    "inference_line_summary",
                    "params:inference",
                ],
                "inference_report",
                name="report_inference",
            ),
        ],
        namespace="inference",
        prefix_datasets_with_namespace=False,
    )
    return create_prediction_pipeline() + reporting
