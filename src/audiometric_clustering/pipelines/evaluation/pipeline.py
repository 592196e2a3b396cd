"""The ``evaluation`` pipeline: the best joint checkpoint, scored beside four baselines, and
the gene calls (each line against its matched controls) beside the ``line_test`` baseline.

Inputs are catalog datasets written by earlier stages only (validated_abr, model_input, the
two checkpoints, the two training histories, and the synthetic truth when it exists), so
``kedro run --pipeline evaluation`` alone re-evaluates the latest model.
"""

from kedro.pipeline import Node, Pipeline

from audiometric_clustering.pipelines.evaluation.gene_nodes import (
    call_line_genes,
    compare_gene_calls,
    run_line_test,
)
from audiometric_clustering.pipelines.evaluation.nodes import (
    characterise_clusters,
    cluster_with_baselines,
    compare_methods,
    embed_mice,
    embed_pretrained_mice,
    run_gene_enrichment,
)
from audiometric_clustering.pipelines.evaluation.report_nodes import (
    collect_metrics,
    plot_evaluation,
    write_report,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                embed_mice,
                ["trained_model", "model_input", "params:evaluation"],
                ["latent_embeddings", "cluster_predictions"],
                name="embed_mice",
            ),
            Node(
                embed_pretrained_mice,
                ["pretrained_model", "model_input", "params:evaluation"],
                "pretrained_embeddings",
                name="embed_pretrained_mice",
            ),
            Node(
                cluster_with_baselines,
                [
                    "model_input",
                    "latent_embeddings",
                    "pretrained_embeddings",
                    "params:evaluation",
                    "params:seed",
                ],
                "cluster_assignments",
                name="cluster_with_baselines",
            ),
            Node(
                characterise_clusters,
                ["model_input", "cluster_assignments", "latent_embeddings", "params:evaluation"],
                ["cluster_summary", "cluster_labels"],
                name="characterise_clusters",
            ),
            Node(
                run_gene_enrichment,
                ["model_input", "cluster_assignments", "latent_embeddings", "params:evaluation"],
                "gene_enrichment",
                name="run_gene_enrichment",
            ),
            Node(
                compare_methods,
                [
                    "model_input",
                    "cluster_assignments",
                    "latent_embeddings",
                    "pretrained_embeddings",
                    "cluster_labels",
                    "gene_enrichment",
                    "synthetic_ground_truth",
                    "params:evaluation",
                    "params:seed",
                ],
                "method_comparison",
                name="compare_methods",
            ),
            Node(
                call_line_genes,
                [
                    "validated_abr",
                    "model_input",
                    "latent_embeddings",
                    "cluster_labels",
                    "gene_enrichment",
                    "params:data_processing.control_reference.match_columns",
                    "params:evaluation",
                ],
                "gene_calls",
                name="call_genes",
            ),
            Node(
                run_line_test,
                ["validated_abr", "params:evaluation"],
                "line_test_calls",
                name="run_line_test",
            ),
            Node(
                compare_gene_calls,
                [
                    "model_input",
                    "gene_calls",
                    "line_test_calls",
                    "cluster_labels",
                    "gene_enrichment",
                    "synthetic_ground_truth",
                    "params:evaluation",
                ],
                "gene_call_comparison",
                name="compare_gene_calls",
            ),
            Node(
                collect_metrics,
                ["method_comparison", "gene_call_comparison", "model_input", "latent_embeddings"],
                ["evaluation_metrics", "evaluation_metrics_json"],
                name="collect_metrics",
            ),
            Node(
                plot_evaluation,
                [
                    "pretraining_history",
                    "joint_training_history",
                    "model_input",
                    "latent_embeddings",
                    "cluster_assignments",
                    "cluster_summary",
                    "cluster_labels",
                    "gene_enrichment",
                    "gene_calls",
                    "params:evaluation",
                    "params:seed",
                ],
                "evaluation_plots",
                name="plot_evaluation",
            ),
            Node(
                write_report,
                [
                    "model_input",
                    "evaluation_metrics_json",
                    "method_comparison",
                    "cluster_labels",
                    "gene_enrichment",
                    "gene_calls",
                    "gene_call_comparison",
                    "params:evaluation",
                ],
                "evaluation_report",
                name="write_report",
            ),
        ],
        namespace="evaluation",
        prefix_datasets_with_namespace=False,
    )
