"""Classical clusterings on the same mice, to show what the deep model adds (or does not).

Each is fitted on a seeded sample of at most ``fit_size`` mice and then assigns every mouse:
k-means centres and mixture parameters from 20,000 mice are as good as from 60,000 for a
dozen clusters in six to ten dimensions, at a third of the cost.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture


def impute_column_medians(values: np.ndarray) -> np.ndarray:
    """Missing entries replaced by their column's median (0 for a column with no data).

    The simplest imputation a baseline could use; click is missing for whole centres.
    """
    medians = np.nanmedian(np.where(np.isnan(values).all(axis=0), 0.0, values), axis=0)
    return np.where(np.isnan(values), medians, values)


def fit_sample(n_rows: int, fit_size: int, seed: int) -> np.ndarray:
    """Rows to fit on: all of them, or a seeded random subset of ``fit_size``."""
    if n_rows <= fit_size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=fit_size, replace=False))


def kmeans_labels(
    features: np.ndarray, n_clusters: int, seed: int, n_init: int, fit_size: int
) -> np.ndarray:
    """k-means cluster of each row (n_init explicit: scikit-learn 1.9 defaults to one run)."""
    model = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    model.fit(features[fit_sample(len(features), fit_size, seed)])
    return model.predict(features).astype(np.int64)


def gaussian_mixture_labels(
    features: np.ndarray, n_components: int, covariance_type: str, seed: int, fit_size: int
) -> np.ndarray:
    """Most probable mixture component of each row."""
    model = GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, random_state=seed
    )
    model.fit(features[fit_sample(len(features), fit_size, seed)])
    return model.predict(features).astype(np.int64)
