"""Cluster quality metrics: separation, balance, reconstruction and line purity.

Every function takes plain arrays so the maths is testable without a model or Kedro.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score


def cluster_balance(labels: np.ndarray) -> dict[str, float]:
    """How many clusters hold mice and the share of the largest one.

    DEC tends to collapse onto one cluster on imbalanced data; these two numbers show it.
    """
    _, counts = np.unique(labels, return_counts=True)
    return {
        "clusters_used": float(counts.size),
        "largest_cluster_share": float(counts.max() / labels.size),
    }


def separation_scores(
    features: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> dict[str, float]:
    """Silhouette (on a seeded sample: it is O(n^2)), Davies-Bouldin and Calinski-Harabasz.

    All three are undefined for fewer than two clusters (or one mouse per cluster); they are
    NaN then rather than an error, because a collapsed model is a result to report.
    """
    n_clusters = np.unique(labels).size
    if n_clusters < 2 or n_clusters >= labels.size:
        return {"silhouette": np.nan, "davies_bouldin": np.nan, "calinski_harabasz": np.nan}
    return {
        "silhouette": sampled_silhouette(features, labels, sample_size, seed),
        "davies_bouldin": float(davies_bouldin_score(features, labels)),
        "calinski_harabasz": float(calinski_harabasz_score(features, labels)),
    }


def sampled_silhouette(
    features: np.ndarray, labels: np.ndarray, sample_size: int, seed: int
) -> float:
    """Silhouette on a seeded random sample of at most ``sample_size`` rows (NaN if undefined)."""
    sample = min(sample_size, labels.size)
    rng = np.random.default_rng(seed)
    rows = rng.choice(labels.size, size=sample, replace=False)
    n_clusters = np.unique(labels[rows]).size
    if n_clusters < 2 or n_clusters >= sample:
        return float("nan")
    return float(silhouette_score(features[rows], labels[rows]))


def reconstruction_error_db(
    measured: np.ndarray, reconstructed: np.ndarray, observed: np.ndarray
) -> np.ndarray:
    """Mean absolute error in dB per frequency, over measured thresholds only.

    Imputed thresholds are the preprocessor's guesses, not data: scoring them would reward
    the decoder for copying the imputation. A frequency with no measurement gives NaN.
    """
    mask = observed > 0.5
    errors = np.where(mask, np.abs(measured - reconstructed), 0.0)
    counts = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, errors.sum(axis=0) / counts, np.nan)


def reconstruction_summary(
    measured: np.ndarray,
    reconstructed: np.ndarray,
    observed: np.ndarray,
    frequencies: tuple[str, ...],
) -> dict[str, float]:
    """Per-frequency MAE (``reconstruction_mae_db/<frequency>``) and the MAE over all
    measured thresholds (``reconstruction_mae_db``)."""
    per_frequency = reconstruction_error_db(measured, reconstructed, observed)
    mask = observed > 0.5
    overall = np.abs(measured - reconstructed)[mask].mean() if mask.any() else np.nan
    return {
        **{
            f"reconstruction_mae_db/{f}": float(e)
            for f, e in zip(frequencies, per_frequency, strict=True)
        },
        "reconstruction_mae_db": float(overall),
    }


def line_purity(line_ids: np.ndarray, labels: np.ndarray, min_line_size: int) -> float:
    """Mean over knockout lines of >= ``min_line_size`` mice of the share in the modal cluster.

    Mice of one line share a genotype, so a phenotype clustering should keep them together;
    1.0 means every line lies within one cluster. Controls (empty line id) are ignored, and
    small lines are left out because a line of two mice is pure by chance half the time.
    The value is still high for a collapsed clustering; read it beside the balance metrics.
    Returns NaN when no line is large enough.
    """
    is_line = line_ids != ""
    if not is_line.any():
        return float("nan")
    _, line_codes = np.unique(line_ids[is_line], return_inverse=True)
    _, cluster_codes = np.unique(labels[is_line], return_inverse=True)
    counts = contingency(line_codes, cluster_codes)
    sizes = counts.sum(axis=1)
    kept = sizes >= min_line_size
    if not kept.any():
        return float("nan")
    return float(np.mean(counts[kept].max(axis=1) / sizes[kept]))


def contingency(row_codes: np.ndarray, column_codes: np.ndarray, n_columns: int = 0) -> np.ndarray:
    """Counts of (row, column) code pairs as a dense matrix, in one ``bincount``.

    ``n_columns`` widens the matrix to clusters that no mouse of these rows fell in.
    """
    n_rows = int(row_codes.max()) + 1 if row_codes.size else 0
    width = max(n_columns, int(column_codes.max()) + 1 if column_codes.size else 0)
    flat = np.bincount(row_codes * width + column_codes, minlength=n_rows * width)
    return flat.reshape(n_rows, width)
