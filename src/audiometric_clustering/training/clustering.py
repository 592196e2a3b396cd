"""What a stage with clustering terms adds to the stage loop: DEC's clusters.

The loop (:mod:`~audiometric_clustering.training.loop`) knows steps and epochs; it asks its
stage's :class:`ClusterHooks` for the rest at fixed points. A stage without clustering terms
(pretraining) has the hooks that do nothing; :class:`DecClusters` keeps the soft assignment
of the training mice from full passes, gives the DEC target P of each batch, re-seeds
clusters left empty, measures the clusters every epoch, says when the assignments have
settled (DEC's convergence test) and warns when the result collapsed.

DEC tends to pour imbalanced data into few clusters: most mice hear normally, and two
neighbouring phenotype clusters (e.g. severe and profound loss) can merge, leaving a centre
with no mice.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.objective import (
    Objective,
    anchored_target_distribution,
    target_distribution,
)
from audiometric_clustering.training.batching import EpochBatches
from audiometric_clustering.training.passes import assignment_latents, soft_assignment
from audiometric_clustering.training.settings import ClusteringSettings

logger = logging.getLogger(__name__)

#: Batch size of the inference-mode passes (DEC target, cluster sizes).
PASS_BATCH_SIZE = 8192


class ClusterHooks:
    """The hooks of a stage without clustering terms: nothing to add to the loop."""

    def start(self) -> None:
        """Before the first epoch (after a resume, too)."""

    def before_epoch(self) -> None:
        """At the start of each epoch, before its batches are planned."""

    def epoch_target(self, batches: EpochBatches) -> Tensor | None:
        """The DEC target of the epoch's training mice in its order (None: no such term)."""
        return None

    def step_target(self, step: int, batches: EpochBatches, target: Tensor | None) -> Tensor | None:
        """The target for step ``step`` of the epoch: ``target`` or a fresher one."""
        return target

    def validation_target(self, batches: EpochBatches) -> Tensor | None:
        """The DEC target of the validation mice in ``batches`` order."""
        return None

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Add the epoch's cluster metrics to ``metrics``; True once the clusters settled."""
        return False

    def describe(self, metrics: dict[str, float]) -> str:
        """The clusters' part of a progress line."""
        return ""

    def check(self, name: str, checkpoint: dict[str, Any]) -> None:
        """Warn when a returned checkpoint's clustering collapsed."""


def cluster_statistics(assignment: Tensor) -> dict[str, float]:
    """Hard cluster sizes, share of the largest, clusters in use, entropy of the mean q.

    The entropy of the average assignment is ln K when mice spread evenly and 0 when all
    sit in one cluster: a single number that shows collapse before sizes hit zero.
    """
    n_mice, n_clusters = assignment.shape
    sizes = torch.bincount(assignment.argmax(1), minlength=n_clusters).tolist()
    mean_assignment = assignment.float().mean(0).clamp_min(1e-12)
    entropy = float(-(mean_assignment * mean_assignment.log()).sum())
    statistics = {f"cluster_size_{cluster:02d}": float(size) for cluster, size in enumerate(sizes)}
    statistics["largest_cluster_share"] = max(sizes) / n_mice if n_mice else math.nan
    statistics["clusters_used"] = float(sum(size > 0 for size in sizes))
    statistics["assignment_entropy"] = entropy
    return statistics


def cluster_sizes(statistics: dict[str, float]) -> list[int]:
    """The sizes stored by ``cluster_statistics``, in cluster order."""
    keys = sorted(key for key in statistics if key.startswith("cluster_size_"))
    return [int(statistics[key]) for key in keys]


def collapse_message(
    sizes: list[int], max_cluster_share: float, normal_cluster: bool = False
) -> str | None:
    """Why the clustering counts as collapsed (an empty cluster or one too large), or None.

    With a normal cluster (cluster 0, which holds most mice by design) the share is that of
    the largest phenotype cluster among the mice in phenotype clusters.
    """
    problems = []
    empty = [cluster for cluster, size in enumerate(sizes) if size == 0]
    if empty:
        problems.append(f"{len(empty)} of {len(sizes)} clusters empty ({empty})")
    judged = sizes[1:] if normal_cluster else sizes
    total, what = sum(judged), "phenotype mice" if normal_cluster else "mice"
    if total and max(judged) / total > max_cluster_share:
        problems.append(
            f"largest {'phenotype ' if normal_cluster else ''}cluster holds "
            f"{max(judged) / total:.0%} of {what} (limit {max_cluster_share:.0%})"
        )
    return "; ".join(problems) + f"; sizes {sizes}" if problems else None


def split_largest_into_empty(
    latent: np.ndarray, labels: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """New centres in which every empty cluster takes half of the then-largest cluster.

    The largest cluster is bisected along its principal axis (as in LBG codebook
    splitting): its centre and the empty one move to the members' mean minus and plus one
    standard deviation along that axis. Returns the centres and (empty, split) pairs.
    """
    centres, labels = centres.copy(), labels.copy()
    sizes = np.bincount(labels, minlength=len(centres))
    splits = []
    for empty in np.flatnonzero(sizes == 0):
        largest = int(sizes.argmax())
        members = np.flatnonzero(labels == largest)
        points = latent[members]
        mean = points.mean(0)
        variances, axes = np.linalg.eigh(np.cov(points, rowvar=False))
        offset = np.sqrt(max(variances[-1], 0.0)) * axes[:, -1]
        centres[largest], centres[empty] = mean - offset, mean + offset
        moved = members[(points - mean) @ axes[:, -1] > 0]
        labels[moved] = empty
        sizes[largest] -= len(moved)
        sizes[empty] = len(moved)
        splits.append((int(empty), largest))
    return centres, splits


class DecClusters(ClusterHooks):
    """DEC's hooks (see the module docstring), on the model and training mice of one stage.

    ``autocast`` is the loop's mixed-precision context for the full passes; the soft
    assignment of the training mice is kept from the start of each epoch.
    """

    def __init__(
        self,
        model: ContrastiveVAEDEC,
        train: MouseTensors,
        objective: Objective,
        settings: ClusteringSettings,
        autocast: Callable[[], AbstractContextManager],
        stage_name: str,
        phenotype_groups: np.ndarray | None = None,
    ) -> None:
        self.model, self.train, self.objective, self.settings = model, train, objective, settings
        self.autocast, self.stage_name = autocast, stage_name
        self.assignment = torch.zeros(0)
        self.labels = torch.zeros(0, dtype=torch.long)
        self.reseeded = 0
        self.anchored = model.clustering.normal_cluster
        self.target = anchored_target_distribution if self.anchored else target_distribution
        if self.anchored and (phenotype_groups is None or len(phenotype_groups) != len(train)):
            raise ValueError(
                f"{stage_name}: a model with a normal cluster needs the phenotype group of "
                f"each of its {len(train)} training mice, as cluster_init writes them into "
                "the initialised checkpoint (phenotype_groups); run cluster_init first"
            )
        self.groups = phenotype_groups

    def _train_assignment(self) -> Tensor:
        """q of every training mouse, in dataset order."""
        with self.autocast():
            return soft_assignment(self.model, self.train, PASS_BATCH_SIZE)

    def start(self) -> None:
        self.assignment = self._train_assignment()
        self.labels = self.assignment.argmax(1)

    def before_epoch(self) -> None:
        self.reseeded = 0
        if self.settings.reseed_empty_clusters:
            self.reseeded = self._reseed_empty_clusters()
            if self.reseeded:
                self.assignment = self._train_assignment()

    def _reseed_empty_clusters(self) -> int:
        """Give every cluster without training mice half of the largest; returns how many.

        A measured collapse (logged as a warning): two neighbouring clusters merged. An extra
        pass for the latent positions runs only then. With a normal cluster nothing is
        re-seeded: each phenotype centre follows its group (:meth:`_follow_the_mice`).
        """
        labels = self.assignment.argmax(1)
        sizes = torch.bincount(labels, minlength=self.assignment.shape[1])
        if self.anchored or bool((sizes > 0).all()):
            return 0
        latent = assignment_latents(self.model, self.train, PASS_BATCH_SIZE)
        centres = self.model.clustering.centres
        new_centres, splits = split_largest_into_empty(
            latent, labels.cpu().numpy(), centres.detach().cpu().numpy()
        )
        with torch.no_grad():
            centres.copy_(torch.from_numpy(new_centres))
        for empty, split in splits:
            logger.warning(
                "%s: cluster %d lost all its mice; re-seeded by splitting cluster %d",
                self.stage_name,
                empty,
                split,
            )
        return len(splits)

    def _follow_the_mice(self) -> Tensor:
        """With a normal cluster: each phenotype centre moves to the mean latent position of
        its phenotype group (the mice cluster_init found it in), and the normal cluster is
        anchored again on the training controls' latent positions.

        The encoder keeps learning to reconstruct, and the latent drifts under centres that
        only the clustering gradient moves: on data seed 1 the mice of a phenotype then left
        their centre for normal hearing (ARI over affected mice fell from 0.63 after
        cluster_init to 0.52). Moving each centre to the mean of the mice assigned to it
        instead (k-means steps in the latent) drifted towards the latent's own k-means
        partition, which separates the phenotypes worse (0.67 to 0.47 on data seed 3).
        Returns the training mice's q under the moved clusters, from the same pass.
        """
        latent = assignment_latents(self.model, self.train, PASS_BATCH_SIZE)
        clustering = self.model.clustering
        centres = clustering.centres.detach().cpu().numpy().astype(np.float64)
        for group in range(len(centres)):
            members = self.groups == group
            if members.any():
                centres[group] = latent[members].mean(0)
        device = clustering.centres.device
        with torch.no_grad():
            clustering.centres.copy_(torch.from_numpy(centres))
        controls = torch.from_numpy(latent[self.train.line.cpu().numpy() < 0]).to(device)
        clustering.anchor(controls, self.model.config.normal_control_share)
        positions = torch.from_numpy(latent).float().to(device)  # the encoder's float32 values
        with torch.inference_mode(), self.autocast():
            parts = [clustering.log_assignment(p).float() for p in positions.split(PASS_BATCH_SIZE)]
        return torch.cat(parts).exp()

    def epoch_target(self, batches: EpochBatches) -> Tensor | None:
        if not self.objective.needs_target:
            return None
        return self.target(self.assignment).index_select(0, batches.order)

    def step_target(self, step: int, batches: EpochBatches, target: Tensor | None) -> Tensor | None:
        """Every ``target_update_interval`` steps (0: never) a target from a fresh pass."""
        interval = self.settings.target_update_interval
        if target is None or interval == 0 or step == 0 or step % interval:
            return target
        return self.target(self._train_assignment()).index_select(0, batches.order)

    def validation_target(self, batches: EpochBatches) -> Tensor | None:
        """From the validation mice's own assignment, as for the training mice."""
        if not self.objective.needs_target:
            return None
        with self.autocast():
            assignment = soft_assignment(self.model, batches.data, PASS_BATCH_SIZE)
        return self.target(assignment)

    def after_epoch(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Cluster sizes, entropy, re-seeded clusters and the share of mice that changed
        cluster; DEC's convergence test (Xie et al., 2016) after the warm-up. With a normal
        cluster the centres follow the mice first (:meth:`_follow_the_mice`)."""
        self.assignment = self._follow_the_mice() if self.anchored else self._train_assignment()
        metrics.update(cluster_statistics(self.assignment))
        metrics["clusters_reseeded"] = float(self.reseeded)
        previous, self.labels = self.labels, self.assignment.argmax(1)
        metrics["assignment_change"] = (self.labels != previous).float().mean().item()
        warmed_up = epoch + 1 >= (self.objective.warmup_epochs or 0)
        return (
            warmed_up and metrics["assignment_change"] < self.settings.assignment_change_tolerance
        )

    def describe(self, metrics: dict[str, float]) -> str:
        return (
            f" largest cluster {metrics['largest_cluster_share']:.0%},"
            f" {metrics['clusters_used']:.0f} used,"
            f" {metrics['assignment_change']:.2%} changed cluster"
        )

    def check(self, name: str, checkpoint: dict[str, Any]) -> None:
        sizes = cluster_sizes(checkpoint["metrics"])
        problem = collapse_message(sizes, self.settings.max_cluster_share, self.anchored)
        if problem:
            logger.warning("%s: %s model collapsed: %s", self.stage_name, name, problem)
