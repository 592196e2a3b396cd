"""What stays the same across members: consensus clusters, stable clusters and lines.

Everything here works on label vectors, never on a mouse x mouse co-association matrix
(60,000 mice would make 3.6e9 cells): the consensus clusters the co-association of the
distinct combinations of member labels, and its clusters are numbered after a reference
member's by Hungarian matching (:mod:`~audiometric_clustering.stability.agreement`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.evaluation.scoring import BEST_Q, ENRICHED, ENRICHED_ANY
from audiometric_clustering.impc.schema import LINE_ID
from audiometric_clustering.stability.agreement import (
    best_match_jaccard,
    match_clusters,
    overlap,
    pairwise_ari,
    reference_member,
)

#: Columns of the line-stability table.
SHARE_ENRICHED = "share_enriched"  # of members, in a hearing-loss cluster
SHARE_ENRICHED_ANY = "share_enriched_any_cluster"
MEDIAN_Q = "median_best_q"
MEMBERS = "members"


#: At most this many distinct label combinations are clustered (their agreement matrix is
#: this size squared); rarer ones join the consensus cluster they agree with most.
MAX_SIGNATURES = 2000
#: Signatures whose agreement with the core ones is computed at once (memory only).
_CHUNK = 4096


@dataclass(frozen=True)
class Consensus:
    """Consensus clusters of M members over N mice.

    ``co_clustering[i, c]``: the share of members in which mouse i shares a cluster with a
    mouse of consensus cluster c, averaged over that cluster's mice (Monti's item consensus);
    ``agreement``: that share for the mouse's own cluster. Clusters are numbered after the
    ``reference`` member (the medoid) by Hungarian matching.
    """

    labels: np.ndarray
    co_clustering: np.ndarray
    reference: int

    @property
    def agreement(self) -> np.ndarray:
        return self.co_clustering[np.arange(len(self.labels)), self.labels]


def average_linkage(distance: np.ndarray, weights: np.ndarray, n_clusters: int) -> np.ndarray:
    """Average-linkage (UPGMA) clusters of points that stand for ``weights`` mice each.

    The distance between two groups is the mean over their mice, so a combination of labels
    that 20,000 mice share weighs 20,000 times one that a single mouse has. Each row's
    nearest neighbour is kept and refreshed only where a merge changed it.
    """
    n_points = len(weights)
    d = np.array(distance, dtype=np.float64)
    np.fill_diagonal(d, np.inf)
    size = np.asarray(weights, dtype=np.float64).copy()
    group = np.arange(n_points)
    rows = np.arange(n_points)
    nearest = d.argmin(axis=1)
    for _ in range(n_points - n_clusters):
        i = int(np.argmin(d[rows, nearest]))
        j = int(nearest[i])
        merged = (size[i] * d[i] + size[j] * d[j]) / (size[i] + size[j])
        merged[[i, j]] = np.inf
        d[i], d[:, i] = merged, merged
        d[j], d[:, j] = np.inf, np.inf
        size[i] += size[j]
        group[group == j] = i
        stale = (nearest == i) | (nearest == j)
        stale[i] = True
        nearest[stale] = d[stale].argmin(axis=1)
        nearest[merged < d[rows, nearest]] = i
    return np.unique(group, return_inverse=True)[1]


def _agreement(signatures: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Share of members that put two label combinations in the same cluster."""
    return (signatures[:, None, :] == core[None, :, :]).mean(axis=2)


def consensus_clusters(labels: np.ndarray, n_clusters: int) -> Consensus:
    """Co-association consensus of members' ``labels`` (M, N), without an N x N matrix.

    Mice with the same combination of member labels (a signature) have the same
    co-association with every other mouse, and members agree enough that there are a few
    hundred signatures where there are tens of thousands of mice. The co-association of the
    signatures (the share of members that put two mice together) is clustered by weighted
    average linkage into ``n_clusters`` (evidence accumulation, Fred and Jain 2005): a
    phenotype that some members split and others merge goes with the majority. Beyond
    ``MAX_SIGNATURES`` the rarer signatures join the cluster they agree with most.
    """
    labels = np.asarray(labels, dtype=np.int64)
    signatures, inverse, weights = np.unique(
        labels.T, axis=0, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    core = np.sort(np.argsort(-weights, kind="stable")[:MAX_SIGNATURES])
    core_labels = average_linkage(
        1.0 - _agreement(signatures[core], signatures[core]),
        weights[core],
        min(n_clusters, len(core)),
    )
    core_members = np.zeros((len(core), n_clusters))
    core_members[np.arange(len(core)), core_labels] = weights[core]
    core_members /= np.maximum(core_members.sum(axis=0), 1.0)
    signature_labels = np.concatenate(
        [
            (
                _agreement(signatures[start : start + _CHUNK], signatures[core]) @ core_members
            ).argmax(axis=1)
            for start in range(0, len(signatures), _CHUNK)
        ]
    )
    signature_labels[core] = core_labels
    reference = reference_member(pairwise_ari(labels))
    numbering = match_clusters(signature_labels[inverse], labels[reference], n_clusters)
    consensus_labels = numbering[signature_labels[inverse]]
    return Consensus(
        labels=consensus_labels,
        co_clustering=item_consensus(labels, consensus_labels, n_clusters),
        reference=reference,
    )


def item_consensus(labels: np.ndarray, consensus_labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Monti's item consensus of every mouse with every consensus cluster, exactly and
    without a mouse x mouse matrix: a member that puts mouse i in its cluster g agrees with
    as many of cluster c's mice as g and c share, so the (N, n_clusters) result is the mean
    over members of ``overlap(member, consensus)[member] / size(c)``."""
    consensus_labels = np.asarray(consensus_labels, dtype=np.int64)
    sizes = np.maximum(np.bincount(consensus_labels, minlength=n_clusters), 1)
    total = np.zeros((len(consensus_labels), n_clusters))
    for member in np.asarray(labels, dtype=np.int64):
        table = overlap(member, consensus_labels, int(member.max()) + 1, n_clusters)
        total += (table / sizes)[member]
    return total / len(labels)


def dissolve_unstable_normal(
    consensus: Consensus,
    labels: np.ndarray,
    hearing_loss: np.ndarray,
    jaccard_mean: np.ndarray,
    threshold: float,
) -> tuple[Consensus, np.ndarray]:
    """Normal-hearing consensus clusters that do not survive a change of seed (mean
    best-match Jaccard below ``threshold``; Hennig's reading: below 0.5 a cluster dissolves)
    give their mice to the stable normal-hearing cluster they are most co-clustered with.

    Why only normal hearing: members split normal hearing differently from seed to seed,
    and a split no two members agree on is where nuisance (cohort and day offsets) decides,
    so null lines look enriched there. An unstable hearing-loss cluster still holds mice
    with a loss; merging it into normal hearing would dilute the lines it finds. Returns
    the consensus (dissolved clusters left empty, so the numbering still follows the
    reference member) and which clusters were dissolved.
    """
    normal = _normal_hearing(consensus, hearing_loss)
    dissolved = normal & (np.asarray(jaccard_mean, dtype=float) < threshold)
    return _dissolve(consensus, labels, dissolved, receivers=normal & ~dissolved)


def merge_normal_hearing(
    consensus: Consensus, labels: np.ndarray, hearing_loss: np.ndarray
) -> tuple[Consensus, np.ndarray]:
    """Every normal-hearing consensus cluster joins the largest one: the consensus reports
    normal hearing as one cluster.

    Why: even the splits of normal hearing that members repeat follow the nuisance the
    members share (among controls the consensus carried more information about the centre
    than its median member), and null lines come out enriched in them. Hearing-loss clusters
    are untouched. Returns the consensus (merged clusters left empty) and which were merged.
    """
    normal = _normal_hearing(consensus, hearing_loss)
    sizes = np.bincount(consensus.labels, minlength=len(normal))
    largest = np.zeros_like(normal)
    if normal.any():
        largest[np.flatnonzero(normal)[sizes[normal].argmax()]] = True
    return _dissolve(consensus, labels, normal & ~largest, receivers=largest)


def _normal_hearing(consensus: Consensus, hearing_loss: np.ndarray) -> np.ndarray:
    """The consensus clusters that hold mice and are not hearing-loss clusters."""
    n_clusters = consensus.co_clustering.shape[1]
    occupied = np.bincount(consensus.labels, minlength=n_clusters) > 0
    return ~np.asarray(hearing_loss, dtype=bool) & occupied


def _dissolve(
    consensus: Consensus, labels: np.ndarray, dissolved: np.ndarray, receivers: np.ndarray
) -> tuple[Consensus, np.ndarray]:
    """The mice of the ``dissolved`` clusters join the receiver they co-cluster with most."""
    receiving = np.flatnonzero(receivers)
    if not dissolved.any() or receiving.size == 0:
        return consensus, np.zeros_like(dissolved)
    moved = dissolved[consensus.labels]
    new_labels = consensus.labels.copy()
    new_labels[moved] = receiving[consensus.co_clustering[moved][:, receiving].argmax(axis=1)]
    n_clusters = consensus.co_clustering.shape[1]
    settled = Consensus(
        labels=new_labels,
        co_clustering=item_consensus(labels, new_labels, n_clusters),
        reference=consensus.reference,
    )
    return settled, dissolved


def cluster_stability(consensus: Consensus, members: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per consensus cluster: mice; ``co_clustering``, the mean share of members in which two
    of its mice share a cluster; its best-match Jaccard with each member's clusters
    (``jaccard/<member>``), their mean and minimum. Hennig's reading of the Jaccard: below
    0.5 a cluster dissolves from one run to the next, above 0.75 it is stable."""
    n_clusters = consensus.co_clustering.shape[1]
    labels = consensus.labels
    per_member = {
        f"jaccard/{name}": best_match_jaccard(labels, member, n_clusters, int(member.max()) + 1)
        for name, member in members.items()
    }
    values = np.column_stack(list(per_member.values()))
    empty = np.isnan(values).all(axis=1)
    safe = np.where(empty[:, None], 0.0, values)
    sizes = np.bincount(labels, minlength=n_clusters)
    with np.errstate(invalid="ignore", divide="ignore"):
        co_clustering = np.bincount(labels, consensus.agreement, n_clusters) / sizes
    return pd.DataFrame(
        {
            CLUSTER: np.arange(n_clusters),
            "n_mice": sizes,
            "co_clustering": co_clustering,
            "jaccard_mean": np.where(empty, np.nan, safe.mean(axis=1)),
            "jaccard_min": np.where(empty, np.nan, safe.min(axis=1)),
            **per_member,
        }
    )


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
