"""The ``pretraining`` pipeline: stage 1, the VAE alone (reconstruction + KL)."""

from kedro.pipeline import Node, Pipeline

from audiometric_clustering.pipelines.pretraining.nodes import pretrain


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                pretrain,
                [
                    "model_input",
                    "preprocessor_state",
                    "params:model",
                    "params:pretraining",
                    "params:seed",
                    "pretraining_resume_checkpoint",
                ],
                ["pretrained_model", "final_pretrained_model", "pretraining_history"],
                name="pretrain_vae",
            )
        ],
        namespace="pretraining",
        prefix_datasets_with_namespace=False,
    )
