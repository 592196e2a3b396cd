"""The ``joint_training`` pipeline: stage 3, every objective from the initialised model."""

from kedro.pipeline import Node, Pipeline

from audiometric_clustering.pipelines.joint_training.nodes import train_jointly


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_jointly,
                [
                    "initialised_model",
                    "model_input",
                    "params:joint_training",
                    "params:seed",
                    "joint_resume_checkpoint",
                ],
                ["trained_model", "final_trained_model", "joint_training_history"],
                name="train_jointly",
            )
        ],
        namespace="joint_training",
        prefix_datasets_with_namespace=False,
    )
