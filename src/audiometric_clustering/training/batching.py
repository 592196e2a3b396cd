"""Batches that keep knockout lines whole, planned once per epoch.

Batches are built with numpy once per epoch (no DataLoader): the data is reordered line by
line with one gather, and each step takes a contiguous slice, which costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from audiometric_clustering.impc.schema import CATEGORICAL_FEATURES, SPLIT
from audiometric_clustering.model.inputs import MouseTensors

#: The centre's column among the categorical codes.
CENTRE_COLUMN = CATEGORICAL_FEATURES.index("cat_phenotyping_center")
TRAIN = "train"
VALIDATION = "validation"


def split_tensors(model_input: pd.DataFrame, abr_scale: str) -> tuple[MouseTensors, MouseTensors]:
    """Training and validation mice by the table's ``split`` column (lines lie wholly in one)."""
    tensors = MouseTensors.from_frame(model_input, abr_scale)
    split = model_input[SPLIT].to_numpy()
    return tensors.subset(np.flatnonzero(split == TRAIN)), tensors.subset(
        np.flatnonzero(split == VALIDATION)
    )


@dataclass(frozen=True)
class BatchPlan:
    """One epoch's order of mice and its cut into batches.

    ``order`` lists mouse positions line by line; batch b is ``order[bounds[b]:bounds[b+1]]``.
    ``group`` numbers the lines inside each batch (controls are singletons) and
    ``n_positives`` is each mouse's number of line-mates in its batch; both follow ``order``.
    """

    order: np.ndarray
    bounds: np.ndarray
    group: np.ndarray
    n_positives: np.ndarray

    @property
    def n_batches(self) -> int:
        return len(self.bounds) - 1

    def batches(self) -> list[tuple[int, int]]:
        return list(zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist(), strict=True))


def plan_batches(
    line: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
    stratum: np.ndarray | None = None,
) -> BatchPlan:
    """Order mice line by line (P x K batches) and cut at line boundaries.

    With ``rng``, lines (and controls, as single-mouse units) come in random order, and mice
    in random order within a line; without it the order is fixed (for validation). Batch
    cuts move back to the start of the line that straddles them, so every line lies whole in
    one batch and nearly every mutant has its line-mates as contrastive positives. A line
    longer than a batch is split; ``n_positives`` counts only mates in the same batch.
    With ``stratum`` (a code per mouse, the same for a line's mice, e.g. its centre) every
    batch holds one stratum only: a line's contrastive negatives then come from its own
    centre, so the centre cannot tell positives from negatives.
    """
    n_mice = len(line)
    if n_mice == 0:
        empty = np.zeros(0, dtype=np.int64)
        return BatchPlan(empty, np.zeros(1, dtype=np.int64), empty, empty)
    # Units: every line is one, every control its own (ids above all line codes).
    unit = np.where(line >= 0, line, line.max(initial=-1) + 1 + np.arange(n_mice))
    strata = np.zeros(n_mice, dtype=np.int64) if stratum is None else np.asarray(stratum)
    if rng is None:
        order = np.lexsort((unit, strata))
    else:
        shuffled = rng.permutation(n_mice)
        unit_ids, unit_index = np.unique(unit[shuffled], return_inverse=True)
        unit_rank = rng.permutation(len(unit_ids))[unit_index]
        stratum_rank = np.zeros(n_mice, dtype=np.int64)
        if stratum is not None:
            stratum_ids, stratum_index = np.unique(strata[shuffled], return_inverse=True)
            stratum_rank = rng.permutation(len(stratum_ids))[stratum_index]
        order = shuffled[np.lexsort((unit_rank, stratum_rank))]
    ordered_unit, ordered_stratum = unit[order], strata[order]
    unit_start = np.flatnonzero(np.r_[True, ordered_unit[1:] != ordered_unit[:-1]])
    stratum_start = np.flatnonzero(np.r_[True, ordered_stratum[1:] != ordered_stratum[:-1]])
    stratum_stop = np.r_[stratum_start[1:], n_mice]
    bounds = np.unique(
        np.concatenate(
            [
                start
                + _cut_at_unit_starts(
                    unit_start[(unit_start >= start) & (unit_start < stop)] - start,
                    stop - start,
                    batch_size,
                )
                for start, stop in zip(stratum_start, stratum_stop, strict=True)
            ]
        )
    )
    starts_group = np.zeros(n_mice, dtype=bool)
    starts_group[unit_start] = True
    starts_group[bounds[:-1]] = True
    global_group = np.cumsum(starts_group) - 1
    batch_of = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    group = global_group - global_group[bounds[:-1]][batch_of]
    n_positives = np.bincount(global_group)[global_group] - 1
    return BatchPlan(order.astype(np.int64), bounds.astype(np.int64), group, n_positives)


def _cut_at_unit_starts(unit_start: np.ndarray, n_mice: int, batch_size: int) -> np.ndarray:
    """Batch bounds: each batch ends at the last unit start that keeps it within batch_size.

    One search per batch (about a hundred per epoch at IMPC scale). A unit longer than a
    batch is cut at the batch size.
    """
    bounds = [0]
    while bounds[-1] + batch_size < n_mice:
        limit = bounds[-1] + batch_size
        cut = int(unit_start[np.searchsorted(unit_start, limit, side="right") - 1])
        bounds.append(cut if cut > bounds[-1] else limit)
    bounds.append(n_mice)
    return np.asarray(bounds, dtype=np.int64)


@dataclass(frozen=True)
class EpochBatches:
    """One epoch's mice on the device, reordered by its :class:`BatchPlan`; batch b is rows
    ``plan.bounds[b]:plan.bounds[b + 1]`` of every tensor."""

    data: MouseTensors
    order: Tensor  # positions of these mice in the dataset: ``plan.order`` on the device
    group: Tensor
    n_positives: Tensor  # float, as the line-based losses divide by it
    plan: BatchPlan

    @classmethod
    def for_epoch(
        cls,
        data: MouseTensors,
        batch_size: int,
        rng: np.random.Generator | None,
        device: torch.device,
        one_centre_per_batch: bool = False,
    ) -> EpochBatches:
        stratum = data.categorical[:, CENTRE_COLUMN].cpu().numpy() if one_centre_per_batch else None
        plan = plan_batches(data.line.cpu().numpy(), batch_size, rng, stratum)
        order = torch.from_numpy(plan.order).to(device)
        return cls(
            data=data.subset(order),
            order=order,
            group=torch.from_numpy(plan.group).to(device),
            n_positives=torch.from_numpy(plan.n_positives).to(device, torch.float32),
            plan=plan,
        )
