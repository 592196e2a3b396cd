"""Knockout lines in latent space: mean embeddings, cluster distributions, nearest lines.

A line's mice vary (penetrance, measurement noise), so a line is compared by the mean of its
mice's latent means: the same space the clusters live in, where nearby lines have similar
audiograms and metadata. The nearest training lines name genes with a similar phenotype.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import CLUSTER
from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    SPLIT,
    ZYGOSITY,
)

N_MICE = "n_mice"
DOMINANT_CLUSTER = "dominant_cluster"
DOMINANT_LABEL = "dominant_label"
DOMINANT_SHARE = "dominant_share"
N_FITS_NO_CLUSTER = "n_fits_no_cluster"
LINE_IDENTITY = (LINE_ID, GENE, ALLELE, ZYGOSITY, CENTRE)
CLUSTER_COUNT_PREFIX = "n_cluster_"
LATENT_PREFIX = "latent_"


def latent_columns(latent_dim: int) -> list[str]:
    return [f"{LATENT_PREFIX}{i + 1}" for i in range(latent_dim)]


def cluster_count_columns(n_clusters: int) -> list[str]:
    return [f"{CLUSTER_COUNT_PREFIX}{j}" for j in range(n_clusters)]


def _mutant_lines(mice: pd.DataFrame) -> np.ndarray:
    """Row mask of mice that belong to a knockout line (controls have none)."""
    line = mice[LINE_ID].astype("str")
    return (
        (~mice[IS_CONTROL].to_numpy(dtype=bool)) & line.notna().to_numpy() & line.ne("").to_numpy()
    )


def line_embeddings(
    mice: pd.DataFrame, latent: np.ndarray, clusters: np.ndarray, n_clusters: int
) -> pd.DataFrame:
    """One row per knockout line: identity, mice, cluster counts, dominant cluster (most mice;
    the lowest number on ties) and the mean latent position (``latent_1..d``). ``split`` is
    kept when ``mice`` has it.

    ``mice`` is a model-input or prediction table; ``latent`` and ``clusters`` follow its rows.
    """
    rows = _mutant_lines(mice)
    identity = [c for c in (*LINE_IDENTITY, SPLIT) if c in mice.columns]
    lines = mice.loc[rows, identity].reset_index(drop=True)
    codes, uniques = pd.factorize(lines[LINE_ID].astype("str"), sort=True)
    counts = np.zeros((len(uniques), n_clusters), dtype=np.int64)
    np.add.at(counts, (codes, np.asarray(clusters)[rows]), 1)
    sizes = np.bincount(codes, minlength=len(uniques))
    sums = np.zeros((len(uniques), latent.shape[1]))
    np.add.at(sums, codes, latent[rows])
    first = lines.groupby(codes, sort=True).first().reset_index(drop=True)
    return pd.concat(
        [
            first,
            pd.DataFrame({N_MICE: sizes, DOMINANT_CLUSTER: counts.argmax(axis=1)}),
            pd.DataFrame(counts, columns=cluster_count_columns(n_clusters)),
            pd.DataFrame(
                sums / np.maximum(sizes, 1)[:, None], columns=latent_columns(latent.shape[1])
            ),
        ],
        axis=1,
    )


def nearest_lines(
    query: np.ndarray, reference: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (Q, k') and Euclidean distances of each query's k nearest reference rows,
    nearest first; k' = min(k, len(reference))."""
    k = min(k, len(reference))
    distance = np.sqrt(((query[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2))
    order = np.argsort(distance, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(distance, order, axis=1)


def new_line_summary(
    lines: pd.DataFrame,
    training_lines: pd.DataFrame,
    labels: Mapping[int, str],
    n_fits_no_cluster: pd.Series,
    min_line_size: int,
    n_similar: int,
) -> pd.DataFrame:
    """Lines of at least ``min_line_size`` mice: cluster distribution, dominant cluster and
    its label, mice that fit no cluster, and the ``n_similar`` nearest training lines
    (``similar_<rank>_line_id``, ``_gene_symbol``, ``_distance``, ``_cluster``).

    ``lines`` and ``training_lines`` come from :func:`line_embeddings` on the same model.
    """
    kept = lines[lines[N_MICE] >= min_line_size].reset_index(drop=True)
    latent = [c for c in kept.columns if c.startswith(LATENT_PREFIX)]
    counts = [c for c in kept.columns if c.startswith(CLUSTER_COUNT_PREFIX)]
    summary = kept.drop(columns=latent)
    summary.insert(
        summary.columns.get_loc(DOMINANT_CLUSTER) + 1,
        DOMINANT_LABEL,
        [labels.get(int(c), "") for c in summary[DOMINANT_CLUSTER]],
    )
    dominant = kept[counts].to_numpy().max(axis=1, initial=0)
    summary.insert(
        summary.columns.get_loc(DOMINANT_LABEL) + 1,
        DOMINANT_SHARE,
        dominant / np.maximum(kept[N_MICE].to_numpy(), 1),
    )
    summary.insert(
        summary.columns.get_loc(N_MICE) + 1,
        N_FITS_NO_CLUSTER,
        n_fits_no_cluster.reindex(kept[LINE_ID]).fillna(0).astype(np.int64).to_numpy(),
    )
    index, distance = nearest_lines(
        kept[latent].to_numpy(dtype=float), training_lines[latent].to_numpy(dtype=float), n_similar
    )
    for rank in range(n_similar):
        found = rank < index.shape[1]
        rows = training_lines.iloc[index[:, rank]] if found else None
        prefix = f"similar_{rank + 1}_"
        summary[prefix + LINE_ID] = rows[LINE_ID].to_numpy() if found else None
        summary[prefix + GENE] = rows[GENE].to_numpy() if found else None
        summary[prefix + "distance"] = distance[:, rank] if found else np.nan
        summary[prefix + CLUSTER] = rows[DOMINANT_CLUSTER].to_numpy() if found else pd.NA
    return summary
