"""The encoders of the model input: standardised continuous metadata, categorical codes, and
the PCA of the thresholds; each fitted on the training mice, applied to any (plain JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.reference_range import harmonised_thresholds
from audiometric_clustering.impc.schema import (
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CONTINUOUS_METADATA,
)


def fit_continuous(train: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each continuous column (1 where it does not vary)."""
    stats = {}
    for column in CONTINUOUS_METADATA:
        values = train[column].astype("float64")
        mean, std = values.mean(), values.std()
        stats[column] = {
            "mean": float(np.nan_to_num(mean)),
            "std": float(std) if np.isfinite(std) and std > 0 else 1.0,
        }
    return stats


def fit_vocabularies(train: pd.DataFrame) -> dict[str, list[str]]:
    """Sorted values seen in training; code i + 1 for the i-th value, 0 for anything else."""
    return {
        feature: sorted(train[column].dropna().astype("str").unique().tolist())
        for feature, column in zip(CATEGORICAL_FEATURES, CATEGORICAL_METADATA, strict=True)
    }


def fit_pca(features: np.ndarray, n_components: int) -> dict[str, list]:
    """Principal axes of the ABR features; projections scaled to unit variance on training.

    Unit variance keeps the PCA inputs (and their reconstruction loss) on the scale of the
    other standardised metadata instead of tens of dB. Each axis's sign is fixed (largest
    loading positive) so refits on the same data give the same features.
    """
    mean = features.mean(axis=0)
    _, singular, axes = np.linalg.svd(features - mean, full_matrices=False)
    axes = axes[:n_components]
    axes *= np.sign(axes[np.arange(n_components), np.abs(axes).argmax(axis=1)])[:, None]
    scale = singular[:n_components] / np.sqrt(max(len(features) - 1, 1))
    variance = singular**2
    return {
        "mean": mean.tolist(),
        "components": axes.tolist(),
        "scale": np.where(scale > 0, scale, 1.0).tolist(),
        "explained_variance_ratio": (variance[:n_components] / max(variance.sum(), 1e-12)).tolist(),
    }


def pca_thresholds(
    features: np.ndarray, centres: pd.Series, reference_range: Mapping[str, Any], scale: str
) -> np.ndarray:
    """What the PCA reads (``data_processing.pca_scale``): the thresholds stretched onto the
    overall control reference range (``harmonised``) or as they are (``referenced``)."""
    if scale == "harmonised":
        return harmonised_thresholds(features, centres, reference_range)
    return features


def encode(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """Codes of a categorical column: i + 1 for the i-th value of the vocabulary, 0 else."""
    return pd.Index(vocabulary).get_indexer(values.astype("str")).astype("int64") + 1
