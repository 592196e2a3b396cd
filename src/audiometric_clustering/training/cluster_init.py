"""Stage 2: k-means on the pretrained latent means sets the clustering layer's centres."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.training.passes import embed


def initialise_centres(
    model: ContrastiveVAEDEC, tensors: MouseTensors, n_init: int, max_iter: int, seed: int
) -> dict[str, float]:
    """Fit k-means on the latent means of ``tensors`` and write its centres into ``model``.

    A data-driven start keeps DEC out of poor minima; several restarts (``n_init``, explicit
    because scikit-learn's "auto" means a single run) keep the best of several partitions,
    which matters when one dense mass of normal-hearing mice dominates the data. Returns the
    k-means inertia and hard cluster sizes.
    """
    n_clusters = model.config.n_clusters
    if len(tensors) < n_clusters:
        raise ValueError(f"k-means needs at least {n_clusters} mice, got {len(tensors)}")
    latent = embed(model, tensors).latent_mean.astype(np.float64)
    kmeans = KMeans(n_clusters=n_clusters, n_init=n_init, max_iter=max_iter, random_state=seed)
    labels = kmeans.fit_predict(latent)
    with torch.no_grad():
        model.clustering.centres.copy_(torch.from_numpy(kmeans.cluster_centers_))
    sizes = np.bincount(labels, minlength=n_clusters)
    return {
        "inertia": float(kmeans.inertia_),
        "iterations": float(kmeans.n_iter_),
        "largest_cluster_share": float(sizes.max() / sizes.sum()),
        "clusters_used": float((sizes > 0).sum()),
        **{f"cluster_size_{cluster:02d}": float(size) for cluster, size in enumerate(sizes)},
    }
