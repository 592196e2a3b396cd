"""Classical clusterings on the same mice, to show what the deep model adds (or does not)."""

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


def kmeans_labels(features: np.ndarray, n_clusters: int, seed: int, n_init: int) -> np.ndarray:
    """k-means cluster of each row (n_init explicit: scikit-learn 1.9 defaults to one run)."""
    model = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed)
    return model.fit_predict(features).astype(np.int64)


def gaussian_mixture_labels(
    features: np.ndarray, n_components: int, covariance_type: str, seed: int
) -> np.ndarray:
    """Most probable mixture component of each row."""
    model = GaussianMixture(
        n_components=n_components, covariance_type=covariance_type, random_state=seed
    )
    return model.fit_predict(features).astype(np.int64)
