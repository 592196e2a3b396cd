"""The ``stability`` pipeline: many members (seeds x k) on a Dask cluster, then what holds.

Inputs are the catalog's ``validated_abr``, ``model_input`` and ``preprocessor_state`` (from
``data_processing``) and the synthetic truth when it exists; members train from scratch, so
no earlier checkpoint is read. The gene calls are the evaluation's test on the validated
export, joined with each line's consensus phenotype.
"""

from kedro.pipeline import Node, Pipeline

from audiometric_clustering.pipelines.stability.gene_nodes import call_consensus_genes
from audiometric_clustering.pipelines.stability.nodes import (
    build_consensus,
    compare_members,
    rank_lines,
    report_stability,
    train_members,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                train_members,
                [
                    "model_input",
                    "preprocessor_state",
                    "synthetic_ground_truth",
                    "params:model",
                    "params:pretraining",
                    "params:cluster_init",
                    "params:joint_training",
                    "params:evaluation",
                    "params:stability",
                ],
                ["stability_member_results", "stability_members"],
                name="train_members",
            ),
            Node(
                compare_members,
                ["stability_member_results", "model_input", "synthetic_ground_truth"],
                ["stability_member_ari", "stability_k_selection", "stability_member_assignments"],
                name="compare_members",
            ),
            Node(
                build_consensus,
                [
                    "stability_member_results",
                    "stability_k_selection",
                    "stability_members",
                    "model_input",
                    "synthetic_ground_truth",
                    "params:evaluation",
                    "params:stability",
                ],
                [
                    "stability_consensus_predictions",
                    "stability_consensus_clusters",
                    "stability_consensus_scores",
                    "stability_consensus_line_calls",
                ],
                name="build_consensus",
            ),
            Node(
                rank_lines,
                [
                    "stability_member_results",
                    "stability_k_selection",
                    "stability_members",
                    "stability_consensus_line_calls",
                    "stability_consensus_clusters",
                    "model_input",
                    "synthetic_ground_truth",
                    "params:stability",
                ],
                ["stability_lines", "stability_genes"],
                name="rank_lines",
            ),
            Node(
                call_consensus_genes,
                [
                    "validated_abr",
                    "model_input",
                    "stability_member_results",
                    "stability_k_selection",
                    "stability_members",
                    "stability_consensus_predictions",
                    "stability_consensus_clusters",
                    "params:data_processing.control_reference.match_columns",
                    "params:evaluation",
                    "params:stability",
                ],
                "stability_gene_calls",
                name="call_consensus_genes",
            ),
            Node(
                report_stability,
                [
                    "stability_members",
                    "stability_member_ari",
                    "stability_k_selection",
                    "stability_consensus_clusters",
                    "stability_consensus_scores",
                    "stability_lines",
                    "stability_gene_calls",
                    "model_input",
                    "synthetic_ground_truth",
                    "params:stability",
                ],
                [
                    "stability_plots",
                    "stability_report",
                    "stability_summary",
                    "stability_metrics",
                ],
                name="report_stability",
            ),
        ],
        namespace="stability",
        prefix_datasets_with_namespace=False,
    )
