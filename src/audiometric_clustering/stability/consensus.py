"""What stays the same across members: agreement, consensus clusters, stable clusters and lines.

Everything here works on label vectors and K-column soft assignments, never on a mouse x
mouse co-association matrix (60,000 mice would make 3.6e9 cells): members are compared
through K x K overlap tables, and a consensus is built by matching every member's clusters
to a reference (Hungarian matching, ``scipy.optimize.linear_sum_assignment``) and averaging
the matched soft assignments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.impc.schema import LINE_ID
from audiometric_clustering.stability.scores import BEST_Q, ENRICHED, ENRICHED_ANY

#: Columns of the line-stability table.
SHARE_ENRICHED = "share_enriched"  # of members, in a hearing-loss cluster
SHARE_ENRICHED_ANY = "share_enriched_any_cluster"
MEDIAN_Q = "median_best_q"
MEMBERS = "members"


def overlap(labels_a: np.ndarray, labels_b: np.ndarray, k_a: int, k_b: int) -> np.ndarray:
    """Mice in cluster i of ``labels_a`` and cluster j of ``labels_b``: a (k_a, k_b) table."""
    codes = np.asarray(labels_a, dtype=np.int64) * k_b + np.asarray(labels_b, dtype=np.int64)
    return np.bincount(codes, minlength=k_a * k_b).reshape(k_a, k_b)


def pairwise_ari(labels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """ARI between every two members (rows of ``labels``), over the mice in ``mask`` if given.

    1 on the diagonal; NaN where fewer than two mice are compared.
    """
    labels = np.asarray(labels)
    if mask is not None:
        labels = labels[:, np.asarray(mask, dtype=bool)]
    n_members = len(labels)
    ari = np.eye(n_members)
    if labels.shape[1] < 2:
        return np.where(np.eye(n_members) == 1, 1.0, np.nan)
    for a in range(n_members):
        for b in range(a + 1, n_members):
            ari[a, b] = ari[b, a] = adjusted_rand_score(labels[a], labels[b])
    return ari


def off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """The values above the diagonal: each pair of members once."""
    return matrix[np.triu_indices(len(matrix), k=1)]


def reference_member(ari: np.ndarray) -> int:
    """The medoid: the member with the highest mean ARI to the others (the first on ties)."""
    if len(ari) == 1:
        return 0
    others = np.where(np.eye(len(ari)) == 1, np.nan, ari)
    return int(np.nanargmax(np.nanmean(others, axis=1)))


def match_clusters(labels: np.ndarray, reference: np.ndarray, n_clusters: int) -> np.ndarray:
    """For each cluster j of ``labels``, the reference cluster it matches (a permutation of
    0..K-1) that maximises the mice the two clusterings then share (Hungarian matching)."""
    table = overlap(labels, reference, n_clusters, n_clusters)
    rows, columns = linear_sum_assignment(table, maximize=True)
    mapping = np.empty(n_clusters, dtype=np.int64)
    mapping[rows] = columns
    return mapping


@dataclass(frozen=True)
class Consensus:
    """Consensus clusters of M members with K clusters each, over N mice.

    ``probabilities``: the members' soft assignments after matching, averaged (N, K);
    ``labels`` their argmax; ``agreement``: the share of members whose matched hard cluster
    is the consensus one; ``mappings[m, j]``: the consensus cluster of member m's cluster j;
    ``reference``: the member the matching started from.
    """

    labels: np.ndarray
    probabilities: np.ndarray
    agreement: np.ndarray
    mappings: np.ndarray
    reference: int


def consensus_clusters(
    labels: np.ndarray, soft: list[np.ndarray], max_rounds: int = 10
) -> Consensus:
    """Match every member to the medoid member, average the matched soft assignments, then
    match again to that consensus until it no longer changes (at most ``max_rounds``), so the
    result depends less on which member started it."""
    labels = np.asarray(labels, dtype=np.int64)
    n_clusters = soft[0].shape[1]
    reference = reference_member(pairwise_ari(labels))
    target = labels[reference]
    for _ in range(max_rounds):
        mappings = np.stack([match_clusters(member, target, n_clusters) for member in labels])
        probabilities = np.zeros_like(soft[0], dtype=np.float64)
        for mapping, member_soft in zip(mappings, soft, strict=True):
            probabilities[:, mapping] += member_soft
        probabilities /= len(soft)
        consensus = probabilities.argmax(axis=1)
        if np.array_equal(consensus, target):
            break
        target = consensus
    matched = np.take_along_axis(mappings, labels, axis=1)
    return Consensus(
        labels=consensus,
        probabilities=probabilities,
        agreement=(matched == consensus).mean(axis=0),
        mappings=mappings,
        reference=reference,
    )


def best_match_jaccard(
    labels: np.ndarray, other: np.ndarray, n_clusters: int, n_other: int
) -> np.ndarray:
    """For each cluster of ``labels``, its Jaccard index with the most similar cluster of
    ``other`` (Hennig 2007): 1 when some cluster has exactly its mice, NaN when it is empty."""
    table = overlap(labels, other, n_clusters, n_other).astype(float)
    union = table.sum(axis=1, keepdims=True) + table.sum(axis=0, keepdims=True) - table
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, table / union, 0.0).max(axis=1)
    return np.where(table.sum(axis=1) > 0, jaccard, np.nan)


def cluster_stability(
    consensus: np.ndarray, members: dict[str, np.ndarray], n_clusters: int
) -> pd.DataFrame:
    """Per consensus cluster: mice, and its best-match Jaccard with each member's clusters
    (``jaccard/<member>``), their mean and minimum. Hennig's reading: below 0.5 a cluster
    dissolves from one run to the next, above 0.75 it is stable."""
    per_member = {
        f"jaccard/{name}": best_match_jaccard(consensus, member, n_clusters, n_clusters)
        for name, member in members.items()
    }
    values = np.column_stack(list(per_member.values()))
    empty = np.isnan(values).all(axis=1)
    safe = np.where(empty[:, None], 0.0, values)
    return pd.DataFrame(
        {
            CLUSTER: np.arange(n_clusters),
            "n_mice": np.bincount(consensus, minlength=n_clusters),
            "jaccard_mean": np.where(empty, np.nan, safe.mean(axis=1)),
            "jaccard_min": np.where(empty, np.nan, safe.min(axis=1)),
            **per_member,
        }
    )


def mean_pairwise_jaccard(labels: np.ndarray, n_clusters: int) -> float:
    """The mean over ordered member pairs of the mean best-match Jaccard of the first's
    clusters in the second: how well clusters survive a change of seed, without a consensus."""
    values = [
        np.nanmean(best_match_jaccard(labels[a], labels[b], n_clusters, n_clusters))
        for a in range(len(labels))
        for b in range(len(labels))
        if a != b
    ]
    return float(np.mean(values)) if values else float("nan")


def line_stability(line_calls: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per tested line: the share of members in which it is enriched in a hearing-loss
    cluster (and in any cluster), and its median best q; most stable first.

    Every member tests the same lines (the test depends on line size only); a line missing
    from a member's calls counts as not enriched there.
    """
    stacked = pd.concat(line_calls.values(), ignore_index=True)
    n_members = len(line_calls)
    grouped = stacked.groupby(LINE_ID)
    table = pd.DataFrame(
        {
            SHARE_ENRICHED: grouped[ENRICHED].sum() / n_members,
            SHARE_ENRICHED_ANY: grouped[ENRICHED_ANY].sum() / n_members,
            MEDIAN_Q: grouped[BEST_Q].median(),
            MEMBERS: n_members,
        }
    ).reset_index()
    return table.sort_values(
        [SHARE_ENRICHED, MEDIAN_Q, LINE_ID], ascending=[False, True, True]
    ).reset_index(drop=True)


def stable_line_rates(share: pd.Series, planted: pd.Series, threshold: float) -> dict[str, float]:
    """Lines enriched in at least ``threshold`` of members, and against the planted truth
    (``planted``: per tested line, True when it carries an effect) the share of null lines
    among them (false-positive rate) and of planted lines found (recall)."""
    stable = share >= threshold
    planted = planted.reindex(share.index).fillna(False).astype(bool)
    return {
        "stable_lines": float(stable.sum()),
        "stable_null_line_false_positive_rate": float(stable[~planted].mean())
        if (~planted).any()
        else float("nan"),
        "stable_line_recall": float(stable[planted].mean()) if planted.any() else float("nan"),
    }


def select_k(table: pd.DataFrame, score: str) -> int:
    """The k with the highest ``score`` (the smaller k on ties); the smallest k when no k has
    two members to compare."""
    ranked = table.dropna(subset=[score])
    if ranked.empty:
        return int(table["n_clusters"].min())
    ranked = ranked.sort_values(["n_clusters"])
    return int(ranked.loc[ranked[score].idxmax(), "n_clusters"])
