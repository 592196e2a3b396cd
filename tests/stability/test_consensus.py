"""The stability maths: each score is shown to move the way it should, and to be able to fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist, squareform

from audiometric_clustering.evaluation.scoring import (
    BEST_Q,
    ENRICHED,
    ENRICHED_ANY,
    HEARING_LOSS_CLUSTER,
)
from audiometric_clustering.stability.agreement import (
    best_match_jaccard,
    match_clusters,
    mean_pairwise_jaccard,
    off_diagonal,
    pairwise_ari,
    reference_member,
    select_k,
)
from audiometric_clustering.stability.consensus import (
    average_linkage,
    cluster_stability,
    consensus_clusters,
    dissolve_unstable_normal,
    item_consensus,
    line_stability,
    merge_normal_hearing,
    stable_line_rates,
)

K = 4


def _labels(n: int = 400, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, K, n)


def _noisy(labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    flipped = rng.random(labels.size) < share
    return np.where(flipped, rng.integers(0, K, labels.size), labels)


def test_identical_members_agree_completely() -> None:
    labels = np.stack([_labels()] * 3)
    ari = pairwise_ari(labels)
    assert ari == pytest.approx(np.ones((3, 3)))
    consensus = consensus_clusters(labels, K)
    assert np.array_equal(consensus.labels, labels[0])
    assert consensus.agreement == pytest.approx(1.0)
    table = cluster_stability(consensus, {"a": labels[1], "b": labels[2]})
    assert table["jaccard_mean"].to_numpy() == pytest.approx(1.0)
    assert table["co_clustering"].to_numpy() == pytest.approx(1.0)


def test_permuted_labels_align_back() -> None:
    truth = _labels()
    permutation = np.array([2, 0, 3, 1])
    permuted = permutation[truth]
    assert pairwise_ari(np.stack([truth, permuted]))[0, 1] == pytest.approx(1.0)
    mapping = match_clusters(permuted, truth, K)
    assert np.array_equal(mapping[permuted], truth)
    consensus = consensus_clusters(np.stack([truth, permuted, permuted]), K)
    assert np.array_equal(consensus.labels, truth)  # numbered after the reference, member 0
    assert consensus.agreement == pytest.approx(1.0)


def test_a_random_member_lowers_agreement_and_cluster_stability() -> None:
    truth = _labels()
    random = _labels(seed=99)
    stable = np.stack([truth, truth, truth])
    mixed = np.stack([truth, truth, random])
    assert np.median(off_diagonal(pairwise_ari(mixed))) < 0.1
    assert reference_member(pairwise_ari(mixed)) in (0, 1)
    assert mean_pairwise_jaccard(mixed, K) < mean_pairwise_jaccard(stable, K) == 1.0
    consensus = consensus_clusters(mixed, K)
    assert np.array_equal(consensus.labels, truth)  # two votes of three
    # with its own cluster's mice: together in the two copies, by chance in the random one
    assert consensus.agreement == pytest.approx(2 / 3 + 1 / 3 / K, abs=0.05)
    table = cluster_stability(consensus, {"a": truth, "b": truth, "c": random})
    assert (table["jaccard/c"] < 0.5).all() and (table["jaccard_min"] < 0.5).all()
    assert (table["jaccard_mean"] < 1.0).all() and (table["co_clustering"] < 0.8).all()


def test_consensus_is_better_than_its_noisy_members() -> None:
    truth = _labels(n=2000)
    permutations = [np.arange(K), np.array([1, 2, 3, 0]), np.array([3, 2, 1, 0])] * 3
    members = np.stack([p[_noisy(truth, 0.3, seed)] for seed, p in enumerate(permutations)])
    consensus = consensus_clusters(members, K)
    member_ari = [pairwise_ari(np.stack([m, truth]))[0, 1] for m in members]
    consensus_ari = pairwise_ari(np.stack([consensus.labels, truth]))[0, 1]
    assert consensus_ari > max(member_ari) + 0.2


def test_consensus_follows_the_majority_when_members_merge_and_split_clusters() -> None:
    truth = _labels(n=1000)
    half = (truth == 0) & (np.arange(truth.size) % 2 == 0)
    # also K clusters: 2 and 3 merged, half of cluster 0 split off as 3
    other = np.where(half, 3, np.where(truth == 3, 2, truth))
    for majority, minority in ((truth, other), (other, truth)):
        consensus = consensus_clusters(np.stack([majority, minority, majority]), K)
        assert pairwise_ari(np.stack([consensus.labels, majority]))[0, 1] == pytest.approx(1.0)


def test_item_consensus_is_the_mean_co_association_with_each_cluster() -> None:
    members = np.stack([_noisy(_labels(n=60), 0.4, seed) for seed in range(4)])
    consensus_labels = _labels(n=60, seed=7)
    co_association = (members[:, :, None] == members[:, None, :]).mean(axis=0)
    expected = np.column_stack(
        [co_association[:, consensus_labels == c].mean(axis=1) for c in range(K)]
    )
    assert item_consensus(members, consensus_labels, K) == pytest.approx(expected)


def test_unstable_normal_clusters_dissolve_and_unstable_hearing_loss_stays() -> None:
    rng = np.random.default_rng(5)
    group = np.repeat([0, 1, 2], [200, 400, 400])  # hearing loss, stable normal, unstable normal
    # every member splits hearing loss (0|4) and the unstable normal mice (2|3) at random
    members = np.stack(
        [
            np.choose(
                group, [rng.choice([0, 4], 1000), np.ones(1000, int), rng.choice([2, 3], 1000)]
            )
            for _ in range(6)
        ]
    )
    n_clusters = 5
    consensus = consensus_clusters(members, n_clusters)
    hearing_loss = np.array([(group[consensus.labels == c] == 0).mean() > 0.5 for c in range(5)])
    table = cluster_stability(consensus, {str(i): m for i, m in enumerate(members)})
    jaccard = table["jaccard_mean"].to_numpy()
    assert (jaccard[~hearing_loss & (np.arange(5) != consensus.labels[group == 1][0])] < 0.5).all()
    assert (jaccard[hearing_loss] < 0.5).all()  # as unstable, and kept

    settled, dissolved = dissolve_unstable_normal(consensus, members, hearing_loss, jaccard, 0.5)
    stable_normal = consensus.labels[group == 1][0]
    assert (settled.labels[group >= 1] == stable_normal).all()
    assert np.array_equal(settled.labels[group == 0], consensus.labels[group == 0])
    assert dissolved.tolist() == [
        c not in (stable_normal, *consensus.labels[group == 0]) for c in range(5)
    ]
    assert settled.co_clustering == pytest.approx(item_consensus(members, settled.labels, 5))
    # with nothing below the threshold, nothing moves
    unchanged, none = dissolve_unstable_normal(consensus, members, hearing_loss, jaccard, 0.0)
    assert unchanged is consensus and not none.any()


def test_merging_normal_hearing_joins_even_stable_normal_splits() -> None:
    group = np.repeat([0, 1, 2, 3], [100, 500, 300, 100])  # hearing loss, 3 normal groups
    members = np.stack([group] * 4)  # every member repeats every split: all stable
    consensus = consensus_clusters(members, 4)
    hearing_loss = np.array([(group[consensus.labels == c] == 0).all() for c in range(4)])
    jaccard = cluster_stability(consensus, {str(i): m for i, m in enumerate(members)})
    assert (jaccard["jaccard_mean"] == 1.0).all()
    kept, none = dissolve_unstable_normal(
        consensus, members, hearing_loss, jaccard["jaccard_mean"].to_numpy(), 0.5
    )
    assert kept is consensus and not none.any()

    merged, dissolved = merge_normal_hearing(consensus, members, hearing_loss)
    largest = consensus.labels[group == 1][0]
    assert (merged.labels[group >= 1] == largest).all()
    assert np.array_equal(merged.labels[group == 0], consensus.labels[group == 0])
    assert dissolved.tolist() == [not hearing_loss[c] and c != largest for c in range(4)]
    assert merged.co_clustering == pytest.approx(item_consensus(members, merged.labels, 4))
    # one normal-hearing cluster already: nothing to merge
    again, none = merge_normal_hearing(merged, members, hearing_loss)
    assert again is merged and not none.any()


def test_weighted_average_linkage_is_scipys_with_unit_weights_and_counts_mice() -> None:
    points = np.random.default_rng(3).normal(size=(40, 2))
    distance = squareform(pdist(points))
    ours = average_linkage(distance, np.ones(40), 5)
    theirs = fcluster(linkage(pdist(points), "average"), 5, criterion="maxclust")
    assert pairwise_ari(np.stack([ours, theirs]))[0, 1] == pytest.approx(1.0)
    # once 0 and 1 are merged, a group that is mostly the heavy point 0 is far from 2.2
    line = squareform(pdist(np.array([[0.0], [1.0], [2.2], [4.0]])))
    assert average_linkage(line, np.ones(4), 2).tolist() == [0, 0, 0, 1]
    assert average_linkage(line, np.array([100.0, 1.0, 1.0, 1.0]), 2).tolist() == [0, 0, 1, 1]


def test_pairwise_ari_over_a_subset_of_mice() -> None:
    a = np.array([0, 0, 1, 1, 2, 2])
    b = np.array([0, 0, 1, 1, 1, 2])
    mask = np.array([True, True, True, True, False, False])
    assert pairwise_ari(np.stack([a, b]), mask)[0, 1] == pytest.approx(1.0)
    assert pairwise_ari(np.stack([a, b]))[0, 1] < 1.0
    assert np.isnan(pairwise_ari(np.stack([a, b]), np.eye(6, dtype=bool)[0])[0, 1])


def test_best_match_jaccard_by_hand() -> None:
    a = np.array([0, 0, 0, 1, 1, 2])
    b = np.array([1, 1, 0, 0, 0, 0])
    # cluster 0 of a {0,1,2}: with b1 {0,1} 2/3, with b0 {2,3,4,5} 1/6; cluster 1 {3,4}:
    # with b0 2/4; cluster 2 {5}: with b0 1/4; cluster 3 is empty.
    expected = [2 / 3, 2 / 4, 1 / 4, np.nan]
    assert best_match_jaccard(a, b, 4, 2) == pytest.approx(expected, nan_ok=True)


def _calls(enriched: dict[str, bool], any_cluster: dict[str, bool], q: dict[str, float]):
    return pd.DataFrame(
        {
            "line_id": list(enriched),
            ENRICHED: list(enriched.values()),
            ENRICHED_ANY: [any_cluster[line] for line in enriched],
            BEST_Q: [q[line] for line in enriched],
            HEARING_LOSS_CLUSTER: 0,
        }
    )


def test_line_stability_counts_members_and_ranks() -> None:
    q = {"L1": 0.001, "L2": 0.01, "L3": 0.9}
    calls = {
        "m1": _calls({"L1": True, "L2": True, "L3": False}, {"L1": 1, "L2": 1, "L3": 1}, q),
        "m2": _calls({"L1": True, "L2": False, "L3": False}, {"L1": 1, "L2": 0, "L3": 0}, q),
        "m3": _calls({"L1": True, "L2": False, "L3": False}, {"L1": 1, "L2": 0, "L3": 0}, q),
    }
    table = line_stability(calls)
    assert table["line_id"].tolist() == ["L1", "L2", "L3"]
    assert table["share_enriched"].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert table["share_enriched_any_cluster"].tolist() == pytest.approx([1.0, 1 / 3, 1 / 3])


def test_stable_line_rates_against_the_truth() -> None:
    share = pd.Series({"P1": 1.0, "P2": 0.4, "N1": 0.8, "N2": 0.0, "N3": 0.2, "N4": 0.6})
    planted = pd.Series({"P1": True, "P2": True, "N1": False, "N2": False, "N3": False})
    rates = stable_line_rates(share, planted, 0.8)
    assert rates["stable_lines"] == 2
    assert rates["stable_null_line_false_positive_rate"] == pytest.approx(1 / 4)  # N4: null
    assert rates["stable_line_recall"] == pytest.approx(1 / 2)


def test_select_k_takes_the_most_stable_and_the_smaller_on_ties() -> None:
    table = pd.DataFrame({"n_clusters": [8, 10, 12], "score": [0.5, 0.7, 0.7]})
    assert select_k(table, "score") == 10
    table["score"] = np.nan
    assert select_k(table, "score") == 8
