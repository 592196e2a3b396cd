"""Stage 2 with a normal cluster (``model.normal_cluster``): the controls anchor normal
hearing, and k-means on the audiograms of the mutants that depart from it places the
phenotype centres.

The phenotypes are sought in the thresholds the model reads, not in its latent space, and
among line means: each mutant is read ``cluster_init.line_pooling`` of the way to its line's
mean audiogram, so that a mouse's sporadic loss is diluted by its line-mates while a line's
shared loss is not. The audiograms are whitened by the controls' spread, and a mutant departs
from normal hearing when it lies further from the controls' median than all but
``normal_control_share`` of the controls. Its departure is described by its direction (the
shape of the loss) and the log of its length (the size): k-means on that groups one shape at
one size band, so that profound, severe and mild flat loss, which share a shape, fall apart
by size. Each group's centre in latent space is the mean latent position of its mice; the
joint stage keeps it there (training/clustering.py). docs/nuisance.md has the measurements
behind each choice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import davies_bouldin_score

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.clustering_layer import ClusteringLayer, control_whitening
from audiometric_clustering.training.passes import assignment_latents

if TYPE_CHECKING:
    from audiometric_clustering.training.cluster_init import ClusterInitSettings

logger = logging.getLogger(__name__)

#: The phenotype groups and their count are properties of the data, not of a training seed:
#: their k-means always starts from this seed, so every member of the stability pipeline
#: starts from the same groups (with the member's seed, one seed in five fell into another
#: local optimum of k-means on the default data, ARI 0.76 against the others' groups).
KMEANS_SEED = 0


def whitened_departures(values: np.ndarray, is_control: np.ndarray) -> np.ndarray:
    """``values`` minus the controls' median, in units of the controls' spread."""
    if is_control.sum() <= values.shape[1]:
        raise ValueError(
            f"model.normal_cluster needs more control mice than threshold columns "
            f"({values.shape[1]}) among the training mice, found {is_control.sum()}; set "
            "model.normal_cluster: false for data without controls"
        )
    centre, whitening = control_whitening(torch.from_numpy(values[is_control]))
    return (values - centre.numpy()) @ whitening.numpy()


def shape_and_size(
    thresholds: np.ndarray, is_control: np.ndarray, control_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """The mutants that depart from the controls' audiograms (beyond all but
    ``control_share`` of the controls, whitened) and, per departing mutant, the direction of
    its departure and the log of its length: (positions, (n, columns + 1))."""
    white = whitened_departures(thresholds, is_control)
    squared = np.square(white).sum(1)
    limit = np.quantile(squared[is_control], 1.0 - control_share)
    departing = np.flatnonzero(~is_control & (squared > limit))
    length = np.sqrt(squared[departing])
    return departing, np.column_stack([white[departing] / length[:, None], np.log(length)])


def phenotype_groups(
    thresholds: np.ndarray,
    is_control: np.ndarray,
    n_groups: int,
    control_share: float,
    n_init: int,
    max_iter: int,
) -> np.ndarray:
    """Per mouse, its phenotype group 0..n_groups-1, or -1 (a control, or a mutant within
    normal hearing): k-means on the departing mutants' :func:`shape_and_size`."""
    departing, features = shape_and_size(thresholds, is_control, control_share)
    distinct = len(np.unique(features, axis=0))  # a line's mice are one point at full pooling
    if distinct < n_groups:
        raise ValueError(
            f"only {len(departing)} mutants (distinct audiograms: {distinct}) depart from the "
            f"controls' audiograms (beyond all but {control_share:.0%} of the controls), "
            f"fewer than the {n_groups} phenotype clusters: lower model.n_clusters or set "
            "model.normal_cluster: false"
        )
    kmeans = KMeans(n_clusters=n_groups, n_init=n_init, max_iter=max_iter, random_state=KMEANS_SEED)
    groups = np.full(len(thresholds), -1, dtype=np.int64)
    groups[departing] = kmeans.fit_predict(features)
    return groups


def phenotype_count(
    thresholds: np.ndarray,
    is_control: np.ndarray,
    candidates: range,
    control_share: float,
    n_init: int,
    max_iter: int,
) -> tuple[int, dict[int, float]]:
    """The number of phenotype groups among ``candidates`` whose k-means partition of the
    departing mutants' :func:`shape_and_size` has the lowest Davies-Bouldin index (groups
    compact and far apart; Davies and Bouldin 1979), and the index of every candidate. With
    fewer distinct departing audiograms than the smallest candidate (a small export), as
    many groups as there are audiograms, with a warning.

    Like the groups, the count is a property of the data (``KMEANS_SEED``).
    """
    departing, features = shape_and_size(thresholds, is_control, control_share)
    distinct = len(np.unique(features, axis=0))  # a line's mice are one point at full pooling
    scores = {
        k: float(
            davies_bouldin_score(
                features,
                KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=KMEANS_SEED)
                .fit(features)
                .labels_,
            )
        )
        for k in candidates
        if 2 <= k < distinct
    }
    if not scores:
        if distinct == 0:
            raise ValueError(
                f"no mutant departs from the controls' audiograms (beyond all but "
                f"{control_share:.0%} of the controls): no phenotype to cluster; set "
                "model.normal_cluster: false"
            )
        count = min(candidates.start, distinct)
        logger.warning(
            "only %d mutants (distinct audiograms: %d) depart from the controls' audiograms: "
            "too few to choose among %d-%d phenotype clusters; %d phenotype cluster(s)",
            len(departing),
            distinct,
            candidates.start,
            candidates.stop - 1,
            count,
        )
        return count, scores
    return min(scores, key=scores.__getitem__), scores


def pooled_thresholds(tensors: MouseTensors, line_pooling: float) -> np.ndarray:
    """Each mouse's thresholds (on the model's scale) read ``line_pooling`` of the way to its
    line's mean audiogram (a control's own), float64."""
    pooled = torch.lerp(tensors.abr, tensors.line_abr, line_pooling)
    return pooled.cpu().numpy().astype(np.float64)


def initialise_anchored(
    model: ContrastiveVAEDEC,
    tensors: MouseTensors,
    settings: ClusterInitSettings,
) -> tuple[dict[str, float], np.ndarray]:
    """Anchor the normal cluster on the controls of ``tensors`` and place the phenotype
    centres (see the module docstring); with ``model.n_clusters`` null, first choose their
    number (:func:`phenotype_count`) and rebuild the clustering layer for it. Returns a
    summary (the count, its Davies-Bouldin indices, the group sizes, the calibrated bias)
    and each mouse's phenotype group (-1: none), which the joint stage's centres follow."""
    config = model.config
    is_control = tensors.line.cpu().numpy() < 0
    thresholds = pooled_thresholds(tensors, settings.line_pooling)
    share = config.normal_control_share
    summary: dict[str, float] = {}
    if config.n_clusters is None:
        fewest, most = settings.phenotype_clusters
        count, scores = phenotype_count(
            thresholds,
            is_control,
            range(fewest, most + 1),
            share,
            settings.n_init,
            settings.max_iter,
        )
        summary = {f"davies_bouldin_k{k:02d}": score for k, score in scores.items()}
        device = model.clustering.centres.device
        model.config = replace(config, n_clusters=count + 1)
        model.clustering = ClusteringLayer(
            count + 1, config.latent_dim, config.student_t_alpha, normal_cluster=True
        ).to(device)
    n_phenotypes = model.config.n_clusters - 1
    groups = phenotype_groups(
        thresholds, is_control, n_phenotypes, share, settings.n_init, settings.max_iter
    )
    latent = assignment_latents(model, tensors)
    centres = np.stack([latent[groups == group].mean(0) for group in range(n_phenotypes)])
    clustering = model.clustering
    with torch.no_grad():
        clustering.centres.copy_(torch.from_numpy(centres))
    control_latent = torch.from_numpy(latent[is_control]).to(clustering.centres.device)
    clustering.anchor(control_latent, share)
    sizes = np.bincount(groups[groups >= 0], minlength=n_phenotypes)
    summary |= {
        "phenotype_clusters": float(n_phenotypes),
        "departing_mutants": float(sizes.sum()),
        "normal_bias": float(clustering.normal_bias),
        **{f"phenotype_group_size_{group:02d}": float(size) for group, size in enumerate(sizes)},
    }
    return summary, groups
