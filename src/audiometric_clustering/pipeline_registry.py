"""The project's pipelines, registered explicitly.

Explicit registration (not ``find_pipelines``) keeps ``kedro run --pipeline full_training``
working: Kedro 1.7 imports only the folder named by ``--pipeline`` when pipelines are found
by folder, and ``full_training`` is the sum of the stage pipelines, not a folder of its own.

When ``full_training`` finishes, a project hook logs the prediction part of ``inference`` to
its MLflow run as a model (``inference_model``, see ``pipelines/inference/packaging.py``) whose
``predict`` takes raw export rows.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from audiometric_clustering.pipelines import (
    cluster_init,
    data_processing,
    evaluation,
    inference,
    joint_training,
    pretraining,
    stability,
    synthetic_data,
)


def register_pipelines() -> dict[str, Pipeline]:
    """Each stage runs alone from the catalog artifacts of the one before it."""
    stages = {
        "data_processing": data_processing.create_pipeline(),
        "pretraining": pretraining.create_pipeline(),
        "cluster_init": cluster_init.create_pipeline(),
        "joint_training": joint_training.create_pipeline(),
        "evaluation": evaluation.create_pipeline(),
        "inference_reference": inference.create_reference_pipeline(),
    }
    full_training = sum(stages.values(), Pipeline([]))
    return {
        "synthetic_data": synthetic_data.create_pipeline(),
        **stages,
        "full_training": full_training,
        "__default__": full_training,
        "inference": inference.create_pipeline(),
        "stability": stability.create_pipeline(),
    }
