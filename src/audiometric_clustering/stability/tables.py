"""The stability tables: members, their agreement, k, consensus, lines and genes.

Plain frames built from member results (``members.MemberResult``) and the maths of
``consensus``; the pipeline's nodes only route them to the catalog.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.evaluation.ground_truth import AFFECTED, NO_EFFECT, PLANTED_PATTERN
from audiometric_clustering.evaluation.scoring import ENRICHED, HEARING_LOSS_CLUSTER
from audiometric_clustering.impc.schema import ALLELE, CENTRE, GENE, LINE_ID, SPECIMEN_ID, ZYGOSITY
from audiometric_clustering.stability.agreement import (
    mean_pairwise_jaccard,
    off_diagonal,
    pairwise_ari,
)
from audiometric_clustering.stability.cluster import Outcome
from audiometric_clustering.stability.consensus import (
    MEDIAN_Q,
    SHARE_ENRICHED,
    SHARE_ENRICHED_ANY,
    Consensus,
)
from audiometric_clustering.stability.members import MemberResult

MEMBER = "member"
K = "n_clusters"
#: Scores compared between the consensus and the members: name -> lower is better.
QUALITY_SCORES: dict[str, bool] = {
    "ari_affected": False,
    "line_recall": False,
    "line_false_positive_rate_any_cluster": True,
    "line_false_positive_rate": True,
    "nmi_centre": True,
    "controls_in_hearing_loss_clusters": True,
}
#: Member scores shown in the member table.
MEMBER_SCORES = (*QUALITY_SCORES, "clusters_used", "largest_cluster_share", "enriched_lines")
#: A member's lowest pretraining validation loss: the mark of a seed that trained poorly.
PRETRAIN_VAL_LOSS = "pretrain_val_loss"
#: Above this multiple of the members' median pretraining validation loss, a member stayed in
#: a poor optimum: the two such seeds measured were at 1.36x and 1.46x, 38 others at most
#: 1.17x (docs/model.md, "KL warm-up").
POOR_PRETRAINING_RATIO = 1.25


def member_table(outcomes: list[Outcome], run_ids: dict[str, str | None]) -> pd.DataFrame:
    """One row per member, failed ones included: seed, k, status, error, attempts (and the
    errors that were retried), worker, peak memory, wall time per stage, epochs, scores and
    the nested MLflow run."""
    rows = []
    for outcome in outcomes:
        spec, result = outcome.job, outcome.result
        row = {
            MEMBER: spec.name,
            "seed": spec.seed,
            K: spec.n_clusters,
            "status": "failed" if result is None else "ok",
            "error": outcome.error or "",
            "attempts": outcome.attempts,
            "retried_after": " | ".join(outcome.earlier_errors),
            "mlflow_run_id": run_ids.get(spec.name) or "",
        }
        if result is not None:
            row |= {
                "worker_pid": result.worker["pid"],
                "worker_host": result.worker["host"],
                "worker_peak_rss_mib": result.worker["peak_rss_mib"],
                **{f"{stage}_seconds": s for stage, s in result.seconds.items()},
                **{
                    f"{stage}_epochs": len(history.get("val_loss", []))
                    for stage, history in result.histories.items()
                },
                PRETRAIN_VAL_LOSS: min(result.histories["pretrain"]["val_loss"], default=np.nan),
                **{name: result.scoring.scores.get(name, np.nan) for name in MEMBER_SCORES},
            }
        rows.append(row)
    return pd.DataFrame(rows).sort_values([K, "seed"]).reset_index(drop=True)


def poorly_trained(members: pd.DataFrame) -> list[str]:
    """Members whose pretraining ended far worse than the others' (above
    ``POOR_PRETRAINING_RATIO`` times their median validation loss): their clusters are
    likely to agree with no other member's, and they pull the consensus with them."""
    ok = members[members["status"] == "ok"]
    if ok.empty:
        return []
    loss = ok[PRETRAIN_VAL_LOSS]
    return ok.loc[loss > POOR_PRETRAINING_RATIO * loss.median(), MEMBER].tolist()


def left_out_of_consensus(members: pd.DataFrame, n_clusters: int) -> list[str]:
    """The members at ``n_clusters`` that trained poorly, to be kept out of the consensus
    and the line stability; none when that would leave no member."""
    ok = members[members["status"] == "ok"]
    at_k = set(ok.loc[ok[K] == n_clusters, MEMBER])
    left_out = [name for name in poorly_trained(members) if name in at_k]
    return left_out if len(left_out) < len(at_k) else []


def member_assignments(results: list[MemberResult], mice: pd.DataFrame) -> pd.DataFrame:
    """Every member's cluster of every mouse: ``specimen_id`` and one column per member."""
    columns = {result.spec.name: result.labels for result in results}
    return pd.DataFrame({SPECIMEN_ID: mice[SPECIMEN_ID].astype(str).to_numpy(), **columns})


def affected_mask(truth: pd.DataFrame | None) -> np.ndarray | None:
    """The mice that express a planted pattern (None without a truth)."""
    return None if truth is None else truth[AFFECTED].to_numpy(dtype=bool)


def ari_table(results: list[MemberResult], truth: pd.DataFrame | None) -> pd.DataFrame:
    """ARI of every ordered member pair over all mice and, with a truth, over affected mice."""
    names = [result.spec.name for result in results]
    labels = np.stack([result.labels for result in results])
    matrices = {"ari_all_mice": pairwise_ari(labels)}
    if truth is not None:
        matrices["ari_affected_mice"] = pairwise_ari(labels, affected_mask(truth))
    a, b = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
    return pd.DataFrame(
        {
            "member_a": np.asarray(names)[a.ravel()],
            "member_b": np.asarray(names)[b.ravel()],
            **{name: matrix.ravel() for name, matrix in matrices.items()},
        }
    )


def k_table(results: list[MemberResult], truth: pd.DataFrame | None) -> pd.DataFrame:
    """Per number of clusters: members, the median pairwise ARI of its members over all mice
    (and affected mice), and the mean best-match Jaccard of their clusters."""
    rows = []
    for k in sorted({result.spec.n_clusters for result in results}):
        labels = np.stack([r.labels for r in results if r.spec.n_clusters == k])
        row = {
            K: k,
            "members": len(labels),
            "median_pairwise_ari": _median(off_diagonal(pairwise_ari(labels))),
            "mean_cluster_jaccard": mean_pairwise_jaccard(labels, k),
        }
        if truth is not None:
            affected = pairwise_ari(labels, affected_mask(truth))
            row["median_pairwise_ari_affected"] = _median(off_diagonal(affected))
        rows.append(row)
    return pd.DataFrame(rows)


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def consensus_predictions(mice: pd.DataFrame, consensus: Consensus) -> pd.DataFrame:
    """Per mouse: identity, consensus cluster, ``agreement`` (the share of members in which
    it shares a cluster with its consensus cluster's mice) and that share for every cluster
    (``co_clustering_<k>``)."""
    identity = mice[[SPECIMEN_ID, GENE, ALLELE, ZYGOSITY, CENTRE, LINE_ID]].reset_index(drop=True)
    k = consensus.co_clustering.shape[1]
    return pd.concat(
        [
            identity,
            pd.DataFrame({CLUSTER: consensus.labels, "agreement": consensus.agreement}),
            pd.DataFrame(
                consensus.co_clustering.astype(np.float32),
                columns=[f"co_clustering_{j}" for j in range(k)],
            ),
        ],
        axis=1,
    )


def consensus_versus_members(
    consensus_scores: dict[str, float], results: list[MemberResult]
) -> pd.DataFrame:
    """Per quality score: the consensus, the members' median, best and worst, and whether
    the consensus is at least as good as the median member."""
    rows = []
    for score, lower_is_better in QUALITY_SCORES.items():
        values = np.array([r.scoring.scores.get(score, np.nan) for r in results], dtype=float)
        if score not in consensus_scores or not np.isfinite(values).any():
            continue
        median = float(np.nanmedian(values))
        value = consensus_scores[score]
        rows.append(
            {
                "score": score,
                "lower_is_better": lower_is_better,
                "consensus": value,
                "member_median": median,
                "member_best": float(np.nanmin(values) if lower_is_better else np.nanmax(values)),
                "member_worst": float(np.nanmax(values) if lower_is_better else np.nanmin(values)),
                "consensus_at_least_median": bool(
                    value <= median if lower_is_better else value >= median
                ),
            }
        )
    return pd.DataFrame(rows)


def planted_lines(truth: pd.DataFrame) -> pd.Series:
    """The planted pattern of every knockout line in the truth ("none" when it has none)."""
    lines = truth[truth[LINE_ID] != ""]
    carried = lines[PLANTED_PATTERN].where(lines[PLANTED_PATTERN] != NO_EFFECT)
    return carried.groupby(lines[LINE_ID]).first().fillna(NO_EFFECT)


def line_table(
    stability: pd.DataFrame,
    mice: pd.DataFrame,
    consensus_calls: pd.DataFrame,
    consensus_clusters: pd.DataFrame,
    truth: pd.DataFrame | None,
) -> pd.DataFrame:
    """The line stability ranking with each line's identity and size, its call in the
    consensus (enriched in a hearing-loss cluster, and that cluster's label) and, with a
    truth, its planted pattern."""
    lines = mice[mice[LINE_ID] != ""]
    identity = lines.groupby(LINE_ID)[[GENE, ALLELE, ZYGOSITY, CENTRE]].first()
    identity["line_mice"] = lines.groupby(LINE_ID).size()
    calls = consensus_calls.set_index(LINE_ID)
    labels = consensus_clusters.set_index(CLUSTER)["label"]
    table = stability.join(identity, on=LINE_ID)
    table["consensus_enriched"] = calls[ENRICHED].reindex(table[LINE_ID]).fillna(False).to_numpy()
    cluster = calls[HEARING_LOSS_CLUSTER].reindex(table[LINE_ID]).fillna(-1).astype(int)
    table["consensus_cluster_label"] = np.where(
        table["consensus_enriched"], labels.reindex(cluster).fillna("").to_numpy(), ""
    )
    if truth is not None:
        table[PLANTED_PATTERN] = planted_lines(truth).reindex(table[LINE_ID]).to_numpy()
    first = [LINE_ID, GENE, ALLELE, ZYGOSITY, CENTRE, "line_mice"]
    return table[first + [c for c in table.columns if c not in first]]


def gene_table(lines: pd.DataFrame, stable_share: float) -> pd.DataFrame:
    """One row per gene with a line enriched in some member: its most stable line, how many
    of its tested lines are enriched in at least ``stable_share`` of members; most stable
    gene first."""
    hit = lines[lines[SHARE_ENRICHED] > 0]
    best = hit.sort_values([SHARE_ENRICHED, MEDIAN_Q], ascending=[False, True])
    best = best.drop_duplicates(GENE).set_index(GENE)
    stable = (lines[SHARE_ENRICHED] >= stable_share).groupby(lines[GENE]).sum()
    table = pd.DataFrame(
        {
            "best_line": best[LINE_ID],
            SHARE_ENRICHED: best[SHARE_ENRICHED],
            SHARE_ENRICHED_ANY: best[SHARE_ENRICHED_ANY],
            MEDIAN_Q: best[MEDIAN_Q],
            "lines_tested": lines.groupby(GENE).size().reindex(best.index),
            "stable_lines": stable.reindex(best.index),
            "consensus_enriched": best["consensus_enriched"],
        },
        index=best.index,
    )
    if PLANTED_PATTERN in best:
        table[PLANTED_PATTERN] = best[PLANTED_PATTERN]
    return table.rename_axis(GENE).reset_index()
