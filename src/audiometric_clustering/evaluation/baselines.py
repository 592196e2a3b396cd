"""Classical clusterings on the same mice, to show what the deep model adds (or does not).

Each is fitted on a seeded sample of at most ``fit_size`` mice and then assigns every mouse:
k-means centres and mixture parameters from 20,000 mice are as good as from 60,000 for a
dozen clusters in six to ten dimensions, at a third of the cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def centre_control_z_scores(
    thresholds: np.ndarray, centres: np.ndarray, is_control: np.ndarray
) -> np.ndarray:
    """Each threshold as a z-score against the controls of the mouse's own centre, per column.

    Centres differ in control baseline and spread (calibration, ceiling, step grid); dividing
    by the centre's control spread as well as subtracting its mean puts a 10 dB loss at a noisy
    centre and at a quiet one on one scale. A centre (or column) without two measured controls
    uses all controls. NaN stays NaN.
    """
    values = pd.DataFrame(np.asarray(thresholds, dtype=float))
    controls = values[np.asarray(is_control, dtype=bool)]
    by_centre = controls.groupby(np.asarray(centres)[np.asarray(is_control, dtype=bool)])
    enough = by_centre.count() >= 2
    mean = by_centre.mean().where(enough).reindex(np.unique(centres)).fillna(controls.mean())
    spread = by_centre.std().where(enough & (by_centre.std() > 0))
    spread = spread.reindex(np.unique(centres)).fillna(controls.std())
    return ((values - mean.loc[centres].to_numpy()) / spread.loc[centres].to_numpy()).to_numpy()


def fill_from_neighbouring_columns(values: np.ndarray) -> np.ndarray:
    """Missing entries from the nearest measured column to their left, else to their right.

    For an audiogram that is the nearest lower frequency (30 kHz from 24 kHz, where it is
    missing at whole centres): closer to the mouse's own loss than a column median. A row
    with nothing measured is 0 (the controls' mean on a z-scale).
    """
    return pd.DataFrame(values).ffill(axis=1).bfill(axis=1).fillna(0.0).to_numpy()


def shrink_toward_line_means(
    features: np.ndarray, line_ids: np.ndarray, weight: float
) -> np.ndarray:
    """Each mutant moved ``weight`` of the way toward its knockout line's mean; controls
    (empty line id) unchanged.

    Mice of a line share a genotype, so partial shrinkage pools the line's evidence against
    measurement noise and partial penetrance, the way the model's line-contrastive loss does,
    while a mouse that differs from its line stays apart from it.
    """
    line_ids = np.asarray(line_ids, dtype=str)
    is_line = line_ids != ""
    line_rows = pd.DataFrame(features[is_line])
    means = line_rows.groupby(line_ids[is_line]).transform("mean").to_numpy()
    shrunk = np.array(features, dtype=float)
    shrunk[is_line] += weight * (means - shrunk[is_line])
    return shrunk
