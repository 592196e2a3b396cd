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

import numpy as np
import torch
from sklearn.cluster import KMeans

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.clustering_layer import control_whitening
from audiometric_clustering.training.passes import assignment_latents


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


def phenotype_groups(
    thresholds: np.ndarray,
    is_control: np.ndarray,
    n_groups: int,
    control_share: float,
    n_init: int,
    max_iter: int,
    seed: int,
) -> np.ndarray:
    """Per mouse, its phenotype group 0..n_groups-1, or -1 (a control, or a mutant within
    normal hearing): k-means on (direction, log length) of the departing mutants'
    whitened audiograms (see the module docstring)."""
    white = whitened_departures(thresholds, is_control)
    squared = np.square(white).sum(1)
    limit = np.quantile(squared[is_control], 1.0 - control_share)
    departing = np.flatnonzero(~is_control & (squared > limit))
    if len(departing) < n_groups:
        raise ValueError(
            f"only {len(departing)} mutants depart from the controls' audiograms (beyond all "
            f"but {control_share:.0%} of the controls), fewer than the {n_groups} phenotype "
            "clusters: lower model.n_clusters or set model.normal_cluster: false"
        )
    length = np.sqrt(squared[departing])
    shape_and_size = np.column_stack([white[departing] / length[:, None], np.log(length)])
    kmeans = KMeans(n_clusters=n_groups, n_init=n_init, max_iter=max_iter, random_state=seed)
    groups = np.full(len(thresholds), -1, dtype=np.int64)
    groups[departing] = kmeans.fit_predict(shape_and_size)
    return groups


def initialise_anchored(
    model: ContrastiveVAEDEC,
    tensors: MouseTensors,
    line_pooling: float,
    n_init: int,
    max_iter: int,
    seed: int,
) -> tuple[dict[str, float], np.ndarray]:
    """Anchor the normal cluster on the controls of ``tensors`` and place the phenotype
    centres (see the module docstring), each mutant's thresholds read ``line_pooling`` of
    the way to its line's mean. Returns the group sizes and the calibrated bias, and each
    mouse's phenotype group (-1: none), which the joint stage's centres follow."""
    config = model.config
    is_control = tensors.line.cpu().numpy() < 0
    pooled = torch.lerp(tensors.abr, tensors.line_abr, line_pooling)
    n_phenotypes = config.n_clusters - 1
    groups = phenotype_groups(
        pooled.cpu().numpy().astype(np.float64),
        is_control,
        n_phenotypes,
        config.normal_control_share,
        n_init,
        max_iter,
        seed,
    )
    latent = assignment_latents(model, tensors)
    centres = np.stack([latent[groups == group].mean(0) for group in range(n_phenotypes)])
    clustering = model.clustering
    with torch.no_grad():
        clustering.centres.copy_(torch.from_numpy(centres))
    control_latent = torch.from_numpy(latent[is_control]).to(clustering.centres.device)
    clustering.anchor(control_latent, config.normal_control_share)
    sizes = np.bincount(groups[groups >= 0], minlength=n_phenotypes)
    summary = {
        "departing_mutants": float(sizes.sum()),
        "normal_bias": float(clustering.normal_bias),
        **{f"phenotype_group_size_{group:02d}": float(size) for group, size in enumerate(sizes)},
    }
    return summary, groups
