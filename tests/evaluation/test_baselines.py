from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.evaluation.baselines import (
    centre_control_z_scores,
    fill_from_neighbouring_columns,
    fit_sample,
    gaussian_mixture_labels,
    impute_column_medians,
    kmeans_labels,
    shrink_toward_line_means,
)


def test_impute_column_medians_fills_only_missing_entries():
    values = np.array([[1.0, np.nan, np.nan], [3.0, 4.0, np.nan], [np.nan, 8.0, np.nan]])
    np.testing.assert_array_equal(
        impute_column_medians(values), [[1.0, 6.0, 0.0], [3.0, 4.0, 0.0], [2.0, 8.0, 0.0]]
    )


def test_kmeans_and_mixture_recover_separated_groups():
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(4), 50)
    features = np.array([[0, 0], [20, 0], [0, 20], [20, 20]])[truth] + rng.normal(0, 1, (200, 2))
    kmeans = kmeans_labels(features, n_clusters=4, seed=0, n_init=3, fit_size=1000)
    mixture = gaussian_mixture_labels(features, 4, "tied", seed=0, fit_size=1000)
    assert adjusted_rand_score(truth, kmeans) == 1.0
    assert adjusted_rand_score(truth, mixture) == 1.0
    np.testing.assert_array_equal(
        kmeans, kmeans_labels(features, 4, seed=0, n_init=3, fit_size=1000)
    )
    # Fitted on a quarter of the rows, every row is still assigned, and correctly.
    subsampled = kmeans_labels(features, 4, seed=0, n_init=3, fit_size=50)
    assert subsampled.size == 200 and adjusted_rand_score(truth, subsampled) == 1.0
    assert adjusted_rand_score(truth, gaussian_mixture_labels(features, 4, "tied", 0, 50)) == 1.0


def test_fit_sample_is_seeded_and_bounded():
    np.testing.assert_array_equal(fit_sample(5, 10, seed=0), np.arange(5))
    rows = fit_sample(1000, 100, seed=3)
    assert rows.size == np.unique(rows).size == 100
    np.testing.assert_array_equal(rows, fit_sample(1000, 100, seed=3))


def test_centre_control_z_scores_put_each_centre_on_its_own_controls_scale():
    rng = np.random.default_rng(0)
    centres = np.repeat(["quiet", "noisy"], 200)
    spread = np.where(centres == "quiet", 3.0, 9.0)[:, None]
    thresholds = np.where(centres == "quiet", 20.0, 50.0)[:, None] + spread * rng.normal(
        size=(400, 2)
    )
    is_control = np.arange(400) % 200 < 150
    thresholds[~is_control] += 2 * spread[~is_control]  # mutants two control SDs above
    thresholds[0, 1] = np.nan
    z = centre_control_z_scores(thresholds, centres, is_control)
    assert np.isnan(z[0, 1]) and np.isfinite(np.delete(z.ravel(), 1)).all()
    for centre in ("quiet", "noisy"):
        controls = z[(centres == centre) & is_control]
        np.testing.assert_allclose(np.nanmean(controls, axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(np.nanstd(controls, axis=0, ddof=1), 1.0, rtol=1e-9)
        assert np.abs(z[(centres == centre) & ~is_control].mean() - 2.0) < 0.3


def test_centre_without_controls_falls_back_to_all_controls():
    thresholds = np.array([[10.0], [20.0], [30.0], [50.0]])
    z = centre_control_z_scores(thresholds, np.array(["a", "a", "a", "b"]), np.array([1, 1, 1, 0]))
    np.testing.assert_allclose(z[:, 0], [-1.0, 0.0, 1.0, 3.0])


def test_fill_from_neighbouring_columns_prefers_the_lower_frequency():
    values = np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, 2.0, np.nan, np.nan], [np.nan] * 4])
    np.testing.assert_array_equal(
        fill_from_neighbouring_columns(values),
        [[1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0], [0.0] * 4],
    )


def test_shrink_toward_line_means_moves_mutants_only_and_keeps_line_means():
    features = np.array([[0.0, 4.0], [4.0, 0.0], [10.0, 10.0], [7.0, 7.0]])
    line_ids = np.array(["L", "L", "", "M"])
    shrunk = shrink_toward_line_means(features, line_ids, weight=0.25)
    np.testing.assert_allclose(shrunk, [[0.5, 3.5], [3.5, 0.5], [10.0, 10.0], [7.0, 7.0]])
    np.testing.assert_allclose(shrunk[:2].mean(axis=0), features[:2].mean(axis=0))
