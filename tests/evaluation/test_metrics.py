from __future__ import annotations

import numpy as np
import pytest

from audiometric_clustering.evaluation.metrics import (
    cluster_balance,
    contingency,
    line_purity,
    reconstruction_error_db,
    reconstruction_summary,
    sampled_silhouette,
    separation_scores,
)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0]])
    labels = np.repeat(np.arange(3), 200)
    return centres[labels] + rng.normal(0, 0.5, (600, 3)), labels


def test_separated_blobs_score_far_better_than_random_labels():
    features, labels = _blobs()
    random_labels = np.random.default_rng(1).integers(0, 3, labels.size)
    good = separation_scores(features, labels, sample_size=300, seed=0)
    bad = separation_scores(features, random_labels, sample_size=300, seed=0)
    assert good["silhouette"] > 0.8
    assert abs(bad["silhouette"]) < 0.1
    assert good["davies_bouldin"] < 0.2 < bad["davies_bouldin"]
    assert good["calinski_harabasz"] > 100 * bad["calinski_harabasz"]


def test_sampled_silhouette_is_seeded_and_nan_for_one_cluster():
    features, labels = _blobs()
    assert sampled_silhouette(features, labels, 100, seed=7) == sampled_silhouette(
        features, labels, 100, seed=7
    )
    assert np.isnan(sampled_silhouette(features, np.zeros(600, int), 100, seed=0))
    assert np.isnan(separation_scores(features, np.zeros(600, int), 100, 0)["davies_bouldin"])


def test_cluster_balance_reports_collapse():
    assert cluster_balance(np.array([0, 0, 0, 3])) == {
        "clusters_used": 2.0,
        "largest_cluster_share": 0.75,
    }


def test_reconstruction_error_ignores_imputed_thresholds():
    measured = np.array([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    reconstructed = np.array([[12.0, 20.0], [26.0, 0.0], [50.0, 90.0]])
    observed = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(
        reconstruction_error_db(measured, reconstructed, observed), [2.0, 0.0]
    )
    observed[0, 1] = 0.0
    per_frequency = reconstruction_error_db(measured, reconstructed, observed)
    assert per_frequency[0] == 2.0 and np.isnan(per_frequency[1])
    summary = reconstruction_summary(measured, reconstructed, observed, ("6kHz", "12kHz"))
    assert summary["reconstruction_mae_db/6kHz"] == 2.0
    assert summary["reconstruction_mae_db"] == pytest.approx(2.0)


def test_line_purity_averages_modal_share_over_large_lines():
    lines = np.array(["a"] * 4 + ["b"] * 3 + ["c"] * 2 + [""] * 5)
    labels = np.array([0, 0, 0, 1] + [2, 1, 0] + [0, 1] + [1] * 5)
    # a: 3/4, b: 1/3; c is too small, controls are ignored.
    assert line_purity(lines, labels, min_line_size=3) == pytest.approx((0.75 + 1 / 3) / 2)
    assert np.isnan(line_purity(lines, labels, min_line_size=5))


def test_contingency_counts_pairs_and_pads_columns():
    table = contingency(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 1]), n_columns=4)
    np.testing.assert_array_equal(table, [[0, 2, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
