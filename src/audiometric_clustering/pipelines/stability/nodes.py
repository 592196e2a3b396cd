"""Thin nodes: members on the Dask cluster, then the stability tables, report and metrics."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from audiometric_clustering.evaluation.ground_truth import align_truth
from audiometric_clustering.evaluation.scoring import Scoring, ScoringSettings, score_clustering
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.stability import plots, tables
from audiometric_clustering.stability.agreement import select_k
from audiometric_clustering.stability.cluster import Outcome, open_client, run_jobs
from audiometric_clustering.stability.consensus import (
    SHARE_ENRICHED,
    Consensus,
    cluster_stability,
    consensus_clusters,
    dissolve_unstable_normal,
    line_stability,
    merge_normal_hearing,
    stable_line_rates,
)
from audiometric_clustering.stability.genes import gene_call_summary
from audiometric_clustering.stability.members import MemberParams, MemberResult, train_member
from audiometric_clustering.stability.report import build_report
from audiometric_clustering.stability.settings import StabilitySettings
from audiometric_clustering.stability.tracking import log_member_run
from audiometric_clustering.training import stages
from audiometric_clustering.training.cluster_init import ClusterInitSettings
from audiometric_clustering.training.settings import TrainingSettings

logger = logging.getLogger(__name__)

CHOSEN = "chosen"


def train_members(
    model_input: pd.DataFrame,
    preprocessor_state: dict[str, Any],
    ground_truth: pd.DataFrame,
    params_model: Mapping[str, Any],
    params_pretraining: Mapping[str, Any],
    params_cluster_init: Mapping[str, Any],
    params_joint_training: Mapping[str, Any],
    params_evaluation: Mapping[str, Any],
    params_stability: Mapping[str, Any],
) -> tuple[list[MemberResult], pd.DataFrame]:
    """Train every member (seed x k) on the Dask cluster; log each as a nested MLflow run
    when it comes back. Returns the results (without their checkpoints, which went to
    MLflow) and the member table, failed members included."""
    settings = StabilitySettings.from_params(params_stability)
    model = ModelSettings.from_params(params_model)
    member_params = MemberParams(
        model=model,
        pretraining=TrainingSettings.from_params(params_pretraining, "pretraining"),
        cluster_init=ClusterInitSettings.from_params(params_cluster_init),
        joint_training=TrainingSettings.from_params(params_joint_training, "joint_training"),
        scoring=ScoringSettings.from_evaluation(EvaluationSettings.from_params(params_evaluation)),
    )
    members = settings.members(
        stages.chosen_cluster_count(model_input, model, member_params.cluster_init)
    )
    truth = align_truth(ground_truth, model_input)
    run_ids: dict[str, str | None] = {}

    def on_done(outcome: Outcome) -> None:
        run_ids[outcome.job.name] = log_member_run(outcome)
        if outcome.result is not None:
            logger.info(
                "member %s done in %.0f s on pid %s (%d of %d)",
                outcome.job.name,
                outcome.result.seconds["total"],
                outcome.result.worker["pid"],
                len(run_ids),
                len(members),
            )

    with open_client(settings.cluster) as client:
        outcomes = run_jobs(
            client,
            train_member,
            members,
            [model_input, preprocessor_state, truth, member_params],
            settings.retries,
            on_done,
        )
    table = tables.member_table(outcomes, run_ids)
    results = [o.result for o in outcomes if o.result is not None]
    if not results:
        raise RuntimeError(f"every stability member failed: {table['error'].tolist()}")
    results.sort(key=lambda r: (r.spec.n_clusters, r.spec.seed))
    return [dataclasses.replace(r, checkpoint={}) for r in results], table


def compare_members(
    results: list[MemberResult], model_input: pd.DataFrame, ground_truth: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pairwise ARI of the members, agreement per k with the chosen k flagged, and every
    member's clusters."""
    truth = align_truth(ground_truth, model_input)
    k_selection = tables.k_table(results, truth)
    chosen = select_k(k_selection, "median_pairwise_ari")
    k_selection[CHOSEN] = k_selection[tables.K] == chosen
    return (
        tables.ari_table(results, truth),
        k_selection,
        tables.member_assignments(results, model_input),
    )


def _chosen_k(k_selection: pd.DataFrame) -> int:
    return int(k_selection.loc[k_selection[CHOSEN], tables.K].iloc[0])


def _chosen_members(results: list[MemberResult], k_selection: pd.DataFrame) -> list[MemberResult]:
    return [r for r in results if r.spec.n_clusters == _chosen_k(k_selection)]


def _left_out(
    members: pd.DataFrame, k_selection: pd.DataFrame, settings: StabilitySettings
) -> list[str]:
    """The members at the chosen k that the consensus and the line stability leave out."""
    if not settings.leave_out_poorly_trained:
        return []
    return tables.left_out_of_consensus(members, _chosen_k(k_selection))


def consensus_members(
    results: list[MemberResult],
    k_selection: pd.DataFrame,
    members: pd.DataFrame,
    settings: StabilitySettings,
) -> list[MemberResult]:
    """The members at the chosen k, less those left out of the consensus."""
    left_out = set(_left_out(members, k_selection, settings))
    return [r for r in _chosen_members(results, k_selection) if r.spec.name not in left_out]


def build_consensus(
    results: list[MemberResult],
    k_selection: pd.DataFrame,
    members_table: pd.DataFrame,
    model_input: pd.DataFrame,
    ground_truth: pd.DataFrame,
    params_evaluation: Mapping[str, Any],
    params_stability: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Consensus of the members at the chosen k (less those left out), its normal-hearing
    clusters merged into one (or only the unstable ones dissolved): predictions per mouse,
    per-cluster stability (with the evaluation's labels and which clusters were dissolved),
    its scores against every member's at that k (the draws one training would have been),
    and its line calls."""
    stability_settings = StabilitySettings.from_params(params_stability)
    members = consensus_members(results, k_selection, members_table, stability_settings)
    n_clusters = members[0].spec.n_clusters
    labels = np.stack([m.labels for m in members])
    by_member = {m.spec.name: m.labels for m in members}
    truth = align_truth(ground_truth, model_input)
    settings = ScoringSettings.from_evaluation(EvaluationSettings.from_params(params_evaluation))

    def scored(consensus: Consensus) -> tuple[Scoring, pd.DataFrame]:
        scoring = score_clustering(model_input, consensus.labels, n_clusters, truth, settings)
        stability = cluster_stability(consensus, by_member)
        return scoring, scoring.clusters[["cluster", "label", "hearing_loss"]].merge(
            stability, on="cluster"
        )

    consensus = consensus_clusters(labels, n_clusters)
    _, first = scored(consensus)
    hearing_loss = first["hearing_loss"].to_numpy(bool)
    if stability_settings.merge_normal_hearing:
        consensus, dissolved = merge_normal_hearing(consensus, labels, hearing_loss)
    else:
        consensus, dissolved = dissolve_unstable_normal(
            consensus,
            labels,
            hearing_loss,
            first["jaccard_mean"].to_numpy(float),
            stability_settings.dissolve_normal_below,
        )
    scoring, labelled = scored(consensus)
    labelled["dissolved"] = dissolved
    labelled["jaccard_mean_before_dissolving"] = first["jaccard_mean"]
    if dissolved.any():
        logger.info(
            "consensus: normal-hearing clusters %s gave their mice to another (mean best-match "
            "Jaccard %s)",
            np.flatnonzero(dissolved).tolist(),
            np.round(first.loc[dissolved, "jaccard_mean"], 2).tolist(),
        )
    return (
        tables.consensus_predictions(model_input, consensus),
        labelled,
        tables.consensus_versus_members(scoring.scores, _chosen_members(results, k_selection)),
        scoring.line_calls,
    )


def rank_lines(
    results: list[MemberResult],
    k_selection: pd.DataFrame,
    members_table: pd.DataFrame,
    consensus_line_calls: pd.DataFrame,
    consensus_clusters_table: pd.DataFrame,
    model_input: pd.DataFrame,
    ground_truth: pd.DataFrame,
    params_stability: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per line the share of members (at the chosen k, less those left out) that find it
    enriched in a hearing-loss cluster, ranked; and the genes ranked by their most stable
    line."""
    settings = StabilitySettings.from_params(params_stability)
    members = consensus_members(results, k_selection, members_table, settings)
    stability = line_stability({m.spec.name: m.scoring.line_calls for m in members})
    lines = tables.line_table(
        stability,
        model_input,
        consensus_line_calls,
        consensus_clusters_table,
        align_truth(ground_truth, model_input),
    )
    return lines, tables.gene_table(lines, settings.stable_share)


def report_stability(
    members: pd.DataFrame,
    ari_pairs: pd.DataFrame,
    k_selection: pd.DataFrame,
    consensus_clusters_table: pd.DataFrame,
    consensus_scores: pd.DataFrame,
    lines: pd.DataFrame,
    gene_calls: pd.DataFrame,
    model_input: pd.DataFrame,
    ground_truth: pd.DataFrame,
    params_stability: Mapping[str, Any],
) -> tuple[dict[str, Figure], str, dict[str, Any], dict[str, dict[str, float]]]:
    """Figures, the Markdown report, the summary (JSON) and the parent run's metrics."""
    settings = StabilitySettings.from_params(params_stability)
    chosen = k_selection[k_selection[CHOSEN]].iloc[0]
    ok = members[members["status"] == "ok"]
    summary: dict[str, Any] = {
        "members": len(members),
        "members_ok": len(ok),
        "members_failed": members.loc[members["status"] != "ok", "member"].tolist(),
        "members_poorly_trained": tables.poorly_trained(members),
        "leave_out_poorly_trained": settings.leave_out_poorly_trained,
        "members_left_out": _left_out(members, k_selection, settings),
        "seeds": sorted(set(members["seed"].astype(int).tolist())),
        "n_clusters_grid": sorted(set(members[tables.K].astype(int).tolist())),
        "chosen_k": int(chosen[tables.K]),
        "stable_share": settings.stable_share,
        "merge_normal_hearing": settings.merge_normal_hearing,
        "dissolve_normal_below": settings.dissolve_normal_below,
        "consensus_clusters_dissolved": int(consensus_clusters_table["dissolved"].sum()),
        "worker_peak_rss_mib": float(ok["worker_peak_rss_mib"].max()),
        "member_seconds_median": float(ok["total_seconds"].median()),
        "pretrain_val_loss_median": float(ok[tables.PRETRAIN_VAL_LOSS].median()),
        **{
            key: float(chosen[key])
            for key in ("median_pairwise_ari", "median_pairwise_ari_affected")
            if key in chosen
        },
    }
    truth = align_truth(ground_truth, model_input)
    if truth is not None:
        share = lines.set_index("line_id")[SHARE_ENRICHED]
        planted = tables.planted_lines(truth) != "none"
        summary |= stable_line_rates(share, planted, summary["stable_share"])
    summary |= gene_call_summary(gene_calls)
    summary["consensus_versus_members"] = consensus_scores.to_dict(orient="records")
    figures = {
        plots.PLOT_FILES["ari_matrix"]: plots.ari_matrix(ari_pairs),
        plots.PLOT_FILES["stability_by_k"]: plots.stability_by_k(k_selection, summary["chosen_k"]),
    }
    report = build_report(
        summary, members, k_selection, consensus_clusters_table, consensus_scores, lines, gene_calls
    )
    metrics = {
        f"stability/{key}": float(value)
        for key, value in summary.items()
        if isinstance(value, int | float) and np.isfinite(value)
    }
    for row in consensus_scores.to_dict(orient="records"):
        metrics[f"stability/consensus/{row['score']}"] = float(row["consensus"])
        metrics[f"stability/member_median/{row['score']}"] = float(row["member_median"])
    return figures, report, summary, {k: {"value": v, "step": 0} for k, v in metrics.items()}
