"""The ``cluster_init`` pipeline: stage 2, k-means centres for the clustering layer."""

from kedro.pipeline import Node, Pipeline

from audiometric_clustering.pipelines.cluster_init.nodes import initialise_clusters


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                initialise_clusters,
                ["pretrained_model", "model_input", "params:cluster_init", "params:seed"],
                "initialised_model",
                name="initialise_cluster_centres",
            )
        ],
        namespace="cluster_init",
        prefix_datasets_with_namespace=False,
    )
