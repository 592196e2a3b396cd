"""Cluster collapse: measuring it, and re-seeding clusters that DEC has emptied.

DEC tends to pour imbalanced data into few clusters: most mice hear normally, and two
neighbouring phenotype clusters (e.g. severe and profound loss) can merge, leaving a centre
with no mice.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


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


def collapse_message(sizes: list[int], max_cluster_share: float) -> str | None:
    """Why the clustering counts as collapsed (an empty cluster or one too large), or None."""
    total = sum(sizes)
    problems = []
    empty = [cluster for cluster, size in enumerate(sizes) if size == 0]
    if empty:
        problems.append(f"{len(empty)} of {len(sizes)} clusters empty ({empty})")
    if total and max(sizes) / total > max_cluster_share:
        problems.append(
            f"largest cluster holds {max(sizes) / total:.0%} of mice (limit {max_cluster_share:.0%})"
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
