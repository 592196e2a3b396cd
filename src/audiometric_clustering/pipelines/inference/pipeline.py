"""Assign new mice to the learned phenotypes.

* ``create_reference_pipeline``: run at the end of training (part of ``full_training``);
  persists the training lines' mean embeddings and the "fits no cluster" thresholds.
* ``create_prediction_pipeline``: raw export rows -> ``inference_predictions``, its only
  output. The MLflow model of a training run runs exactly this pipeline
  (``inference/mlflow_model.py``), so ``mlflow.pyfunc.load_model(uri).predict(rows)``
  returns the same table.
* ``create_pipeline``: the prediction pipeline plus the per-line summary and the report;
  ``kedro run --pipeline inference --params raw_abr_path=NEW.csv``.

Every input besides the new export is a persisted output of the training run.
"""

from kedro.pipeline import Node, Pipeline

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
#: The prediction pipeline's only output; the MLflow model's output.
PREDICTIONS = "inference_predictions"


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
                ["inference_mice", "preprocessor_state", "params:inference"],
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
                PREDICTIONS,
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
