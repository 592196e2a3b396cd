from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.evaluation.baselines import (
    fit_sample,
    gaussian_mixture_labels,
    impute_column_medians,
    kmeans_labels,
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
