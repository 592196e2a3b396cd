"""How much members agree: ARI between every two, cluster matching, best-match Jaccard, and
the choice of k by the agreement of its members.

Members are compared through K x K overlap tables of their label vectors, never through a
mouse x mouse co-association matrix (60,000 mice would make 3.6e9 cells); Hungarian matching
(``scipy.optimize.linear_sum_assignment``) numbers one member's clusters after another's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score


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


def select_k(table: pd.DataFrame, score: str) -> int:
    """The k with the highest ``score`` (the smaller k on ties); the smallest k when no k has
    two members to compare."""
    ranked = table.dropna(subset=[score])
    if ranked.empty:
        return int(table["n_clusters"].min())
    ranked = ranked.sort_values(["n_clusters"])
    return int(ranked.loc[ranked[score].idxmax(), "n_clusters"])
