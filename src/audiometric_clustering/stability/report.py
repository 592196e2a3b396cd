"""The stability report (Markdown): which clusters and which genes survive a change of seed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.evaluation.markdown import markdown_table
from audiometric_clustering.genes.calls import CALLED, Q_VALUE
from audiometric_clustering.stability.plots import PLOT_FILES
from audiometric_clustering.stability.tables import MEMBER, PRETRAIN_VAL_LOSS

#: Lines shown in the report's ranking.
TOP_LINES = 25
#: Member-table columns shown, in order.
MEMBER_COLUMNS = (
    "member",
    "status",
    "attempts",
    "total_seconds",
    "joint_epochs",
    PRETRAIN_VAL_LOSS,
    "worker_peak_rss_mib",
    "ari_affected",
    "line_recall",
    "line_false_positive_rate_any_cluster",
    "nmi_centre",
    "clusters_used",
    "error",
)
LINE_COLUMNS = (
    "gene_symbol",
    "allele_symbol",
    "zygosity",
    "phenotyping_center",
    "line_mice",
    "share_enriched",
    "share_enriched_any_cluster",
    "median_best_q",
    "consensus_cluster_label",
    "planted_pattern",
)


def _present(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    return frame[[c for c in columns if c in frame]]


def _poorly_trained_sentence(summary: dict[str, Any], members: pd.DataFrame) -> str:
    poor = summary["members_poorly_trained"]
    if not poor:
        return ""
    losses = members.set_index(MEMBER).loc[poor, PRETRAIN_VAL_LOSS]
    named = ", ".join(f"{name} ({loss:.3f})" for name, loss in losses.items())
    return (
        f"\n\n**Trained poorly:** {named}, against a median pretraining validation loss of "
        f"{summary['pretrain_val_loss_median']:.3f}. A seed that ends pretraining this far "
        "above the others stayed in a poor optimum (too few latent dimensions in use); its "
        "clusters tend to agree with no other member's and it pulls the consensus with it. "
        + _left_out_sentence(summary)
    )


def _left_out_sentence(summary: dict[str, Any]) -> str:
    left_out = summary["members_left_out"]
    if left_out:
        return (
            f"Left out of the consensus and the line stability: {', '.join(left_out)} "
            "(`stability.leave_out_poorly_trained`); the scores of the median member below "
            "still count every member."
        )
    if summary["leave_out_poorly_trained"]:
        return "Kept in the consensus all the same: without them the chosen k has no member."
    return (
        "Every member is in the consensus: set `stability.leave_out_poorly_trained: true` to "
        "leave such members out, or rerun with other seeds."
    )


def build_report(
    summary: dict[str, Any],
    members: pd.DataFrame,
    k_selection: pd.DataFrame,
    clusters: pd.DataFrame,
    consensus_scores: pd.DataFrame,
    lines: pd.DataFrame,
    gene_calls: pd.DataFrame,
) -> str:
    """The report from the summary and the stability tables."""
    failed = members[members["status"] != "ok"]
    share = summary["stable_share"]
    parts = [
        "# Stability over seeds\n\n"
        "One training is one draw: another seed gives other clusters and other enriched "
        f"lines. {summary['members_ok']} of {summary['members']} members trained "
        f"(seeds {summary['seeds']}, k {summary['n_clusters_grid']}), each the three stages "
        "of `full_training` with its own seed for weights, batches and k-means, all on the "
        "same model input and validation lines.",
        "## Summary\n\n" + markdown_table(pd.DataFrame([_headline(summary)])),
        "## Members\n\n"
        + markdown_table(_present(members, MEMBER_COLUMNS))
        + _poorly_trained_sentence(summary, members),
        "## Agreement between members\n\n"
        "Adjusted Rand index of every two members: 1 for the same partition, 0 for chance. "
        "Over affected mice (those that express a planted pattern) it says whether the "
        "phenotype groups are stable; over all mice it includes how the normal-hearing "
        f"majority is split.\n\n![pairwise ARI](plots/{PLOT_FILES['ari_matrix']})",
        "### Number of clusters\n\n"
        + _k_sentence(summary)
        + "\n\n"
        + markdown_table(k_selection)
        + f"\n\n![stability by k](plots/{PLOT_FILES['stability_by_k']})",
        "## Consensus clusters\n\n"
        "Two mice are clustered together as often as the members put them in one cluster "
        "(co-association), computed once per combination of member labels rather than per "
        "pair of mice, and clustered by weighted average linkage: a phenotype that some "
        "members split and others merge goes with the majority. Per consensus cluster: "
        "co-clustering, the mean share of members in which two of its mice share a cluster, "
        "and its best-match Jaccard with each member's clusters: below 0.5 the cluster "
        "dissolves when the seed changes, above 0.75 it is stable (Hennig 2007). "
        + _normal_hearing_sentence(summary)
        + "\n\n"
        + markdown_table(
            clusters[
                [
                    "cluster",
                    "label",
                    "n_mice",
                    "hearing_loss",
                    "co_clustering",
                    "jaccard_mean",
                    "jaccard_min",
                    "dissolved",
                    "jaccard_mean_before_dissolving",
                ]
            ]
        ),
    ]
    if not consensus_scores.empty:
        parts.append("### Consensus against the members\n\n" + markdown_table(consensus_scores))
    enriched = lines[lines["share_enriched"] > 0]
    ranking = (
        markdown_table(_present(enriched.head(TOP_LINES), LINE_COLUMNS))
        if not enriched.empty
        else "No line was enriched in a hearing-loss cluster in any member."
    )
    parts.append(
        "## Lines and genes\n\n"
        "Per tested knockout line, the share of members in which it is enriched (q < FDR, "
        "against its own centre's mice) in a hearing-loss cluster; lines enriched in at "
        f"least {share:.0%} of members are the stable calls. The {TOP_LINES} most stable "
        "(all lines in `line_stability.csv`, genes in `gene_stability.csv`):\n\n" + ranking
    )
    parts.append(_gene_calls_section(summary, gene_calls))
    if "attempts" in members and (members["attempts"] > 1).any():
        retried = members.loc[members["attempts"] > 1, ["member", "attempts", "retried_after"]]
        parts.append(
            "## Retried members\n\nA member whose worker died or that raised was run again "
            "(`stability.retries`); what failed before:\n\n" + markdown_table(retried)
        )
    if not failed.empty:
        parts.append("## Failed members\n\n" + markdown_table(failed[["member", "error"]]))
    return "\n\n".join(parts) + "\n"


def _k_sentence(summary: dict[str, Any]) -> str:
    if len(summary["n_clusters_grid"]) == 1:
        return (
            f"Every member has k = {summary['chosen_k']}; a list in `stability.n_clusters` "
            "compares several."
        )
    return (
        f"Chosen k = {summary['chosen_k']}: the highest median pairwise ARI over all mice "
        "(the smaller k on ties)."
    )


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    names = {
        "chosen_k": "k",
        "median_pairwise_ari": "median pairwise ARI, all mice",
        "median_pairwise_ari_affected": "median pairwise ARI, affected mice",
        "stable_lines": f"lines enriched in >= {summary['stable_share']:.0%} of members",
        "stable_null_line_false_positive_rate": "their null-line FPR",
        "stable_line_recall": "their planted-line recall",
    }
    return {title: summary[key] for key, title in names.items() if key in summary}


def _normal_hearing_sentence(summary: dict[str, Any]) -> str:
    """What became of the consensus's normal-hearing clusters, and why."""
    if summary["merge_normal_hearing"]:
        return (
            "Its normal-hearing clusters are merged into one (`stability.merge_normal_hearing`): "
            "members split normal hearing along the cohort, day and centre offsets they share, "
            "even where they repeat the split, and null lines look enriched there. A merged "
            "cluster's row stays, empty, marked dissolved, with the Jaccard it had."
        )
    return (
        "A normal-hearing cluster below `stability.dissolve_normal_below` "
        f"({summary['dissolve_normal_below']:g}) is dissolved: its mice join the stable "
        "normal-hearing cluster they are most co-clustered with, because a split of normal "
        "hearing that members do not repeat is where cohort and day offsets decide, and null "
        "lines look enriched there. Its row stays, empty, with the Jaccard it had."
    )


GENE_CALL_COLUMNS = {
    "gene_symbol": "gene",
    "allele_symbol": "allele",
    "zygosity": "zygosity",
    "phenotyping_center": "centre",
    "n_mutants": "mice",
    "q_value": "q",
    "consensus_label": "consensus phenotype",
    "consensus_cluster": "cluster",
    "line_share_in_cluster": "share of the line's mice there",
    "member_agreement": "members that agree",
}


def _gene_calls_section(summary: dict[str, Any], calls: pd.DataFrame) -> str:
    """The called lines by q with their consensus phenotype and the members' agreement."""
    called = calls[calls[CALLED].astype(bool)].sort_values(Q_VALUE, kind="stable")
    head = (
        "## Gene calls and the consensus\n\n"
        "The gene calls are the evaluation's (each line against its matched controls, no "
        "clustering; `gene_calls.csv` lists every line). What the members decide is the "
        "phenotype a call is given: the consensus cluster most of the line's mice are in, "
        "and the share of members whose cluster for the line maps to it (each member "
        "cluster to the consensus cluster holding most of its mice). "
    )
    if called.empty:
        return head + "No line is called."
    table = called.head(TOP_LINES)[list(GENE_CALL_COLUMNS)].rename(columns=GENE_CALL_COLUMNS)
    return (
        head
        + f"{len(called)} lines called, {summary['gene_calls_in_hearing_loss_clusters']:.0f} of "
        "them in a hearing-loss consensus cluster; median agreement of the members "
        f"{summary['gene_calls_median_member_agreement']:.2f}. The {len(table)} with the "
        "smallest q:\n\n" + markdown_table(table)
    )
