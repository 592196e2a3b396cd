"""Cluster assignments of the model and the baselines, and the feature space of each.

The comparison scores every method on the same mice; this module says which clusters each
method gives and in which space its separation is measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.baselines import (
    gaussian_mixture_labels,
    impute_column_medians,
    kmeans_labels,
)
from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ALLELE,
    CENTRE,
    GENE,
    RAW_ABR,
    SPECIMEN_ID,
    ZYGOSITY,
)

MODEL = "model"
KMEANS_RAW = "kmeans_raw"
GMM_REFERENCED = "gmm_referenced"
KMEANS_PRETRAINED = "kmeans_pretrained_latent"
METHODS = (MODEL, KMEANS_RAW, GMM_REFERENCED, KMEANS_PRETRAINED)

CLUSTER = "cluster"
MAX_PROBABILITY = "max_probability"


def cluster_predictions(mice: pd.DataFrame, soft_assignment: np.ndarray) -> pd.DataFrame:
    """Per mouse: identity, hard cluster (argmax), its probability and every probability."""
    identity = mice[[SPECIMEN_ID, GENE, ALLELE, ZYGOSITY, CENTRE]].reset_index(drop=True)
    probabilities = pd.DataFrame(
        soft_assignment, columns=[f"prob_cluster_{j}" for j in range(soft_assignment.shape[1])]
    )
    hard = pd.DataFrame(
        {
            CLUSTER: soft_assignment.argmax(axis=1).astype(np.int64),
            MAX_PROBABILITY: soft_assignment.max(axis=1),
        }
    )
    return pd.concat([identity, hard, probabilities], axis=1)


def feature_spaces(
    mice: pd.DataFrame, latent: np.ndarray, pretrained_latent: np.ndarray
) -> dict[str, np.ndarray]:
    """The space each method clusters in (and where its separation scores are measured)."""
    return {
        MODEL: latent,
        KMEANS_RAW: impute_column_medians(mice[list(RAW_ABR)].to_numpy(dtype=float)),
        GMM_REFERENCED: mice[list(ABR_FEATURES)].to_numpy(dtype=float),
        KMEANS_PRETRAINED: pretrained_latent,
    }


def all_assignments(
    spaces: dict[str, np.ndarray],
    model_labels: np.ndarray,
    n_clusters: int,
    gmm_components: int,
    gmm_covariance: str,
    seed: int,
    n_init: int,
    fit_size: int,
) -> dict[str, np.ndarray]:
    """The model's clusters beside the three baselines fitted on the same mice.

    The k-means baselines get the model's cluster count, so they differ from it only in the
    features; the mixture follows the issue's k=4 as a coarse severity split.
    """
    return {
        MODEL: np.asarray(model_labels, dtype=np.int64),
        KMEANS_RAW: kmeans_labels(spaces[KMEANS_RAW], n_clusters, seed, n_init, fit_size),
        GMM_REFERENCED: gaussian_mixture_labels(
            spaces[GMM_REFERENCED], gmm_components, gmm_covariance, seed, fit_size
        ),
        KMEANS_PRETRAINED: kmeans_labels(
            spaces[KMEANS_PRETRAINED], n_clusters, seed, n_init, fit_size
        ),
    }


def cluster_counts(n_model_clusters: int, gmm_components: int) -> dict[str, int]:
    """Clusters each method may use; empty clusters still count (a collapse is a result)."""
    return {
        MODEL: n_model_clusters,
        KMEANS_RAW: n_model_clusters,
        GMM_REFERENCED: gmm_components,
        KMEANS_PRETRAINED: n_model_clusters,
    }
