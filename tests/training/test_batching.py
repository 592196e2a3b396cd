"""Model-input table to tensors, and the line-grouped batch plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiometric_clustering.impc.schema import LINE_ID, SPLIT
from audiometric_clustering.model import MouseTensors
from audiometric_clustering.model.inputs import ABR_SCALES
from audiometric_clustering.training.batching import plan_batches, split_tensors
from tests.training.stages import SCALE
from tests.training.synthetic_frame import make_model_input


@pytest.fixture(scope="module")
def frame():
    return make_model_input(300, seed=1)


def test_from_frame_follows_the_contract(frame) -> None:
    tensors = MouseTensors.from_frame(frame, SCALE)
    assert len(tensors) == 300
    assert tensors.abr.dtype == torch.float32 and tensors.abr.shape == (300, 6)
    assert tensors.categorical.dtype == torch.int64 and tensors.categorical.shape == (300, 7)
    assert tensors.continuous.shape == tensors.pca.shape == (300, 2)
    assert tensors.abr.is_contiguous() and tensors.categorical.is_contiguous()  # cheap slices
    for scale, columns in ABR_SCALES.items():  # the thresholds on the scale asked for
        np.testing.assert_array_equal(
            MouseTensors.from_frame(frame, scale).abr.numpy(),
            frame[list(columns)].to_numpy(np.float32),
        )
    with pytest.raises(ValueError, match="abr_scale = 'dB'"):
        MouseTensors.from_frame(frame, "dB")
    line = tensors.line.numpy()
    assert (line[frame["is_control"].to_numpy()] == -1).all()
    mutants = frame[LINE_ID].to_numpy() != ""
    same_line = frame[LINE_ID].to_numpy()[:, None] == frame[LINE_ID].to_numpy()[None, :]
    same_code = line[:, None] == line[None, :]
    np.testing.assert_array_equal(same_line[mutants][:, mutants], same_code[mutants][:, mutants])


def test_split_and_subset(frame) -> None:
    train, validation = split_tensors(frame, SCALE)
    assert len(train) == (frame[SPLIT] == "train").sum()
    assert len(validation) == (frame[SPLIT] == "validation").sum()
    rows = np.array([5, 2])
    part = MouseTensors.from_frame(frame, SCALE).subset(rows)
    np.testing.assert_array_equal(
        part.abr.numpy(), frame[list(ABR_SCALES[SCALE])].to_numpy(np.float32)[rows]
    )


def _line_sizes(rng: np.random.Generator, n_lines: int, n_controls: int) -> np.ndarray:
    lines = np.repeat(np.arange(n_lines), rng.integers(1, 9, n_lines))
    return rng.permutation(np.r_[lines, np.full(n_controls, -1)])


def test_batch_plan_keeps_lines_whole_and_counts_positives() -> None:
    rng = np.random.default_rng(0)
    line = _line_sizes(rng, 300, 400)
    plan = plan_batches(line, batch_size=64, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(np.sort(plan.order), np.arange(len(line)))  # each mouse once
    sizes = np.diff(plan.bounds)
    assert sizes.max() <= 64 and sizes.min() > 0
    for start, stop in plan.batches():
        in_batch = line[plan.order[start:stop]]
        mutant_lines = set(in_batch[in_batch >= 0])
        assert all((line == code).sum() == (in_batch == code).sum() for code in mutant_lines)
        for position in range(start, stop):
            mouse_line = line[plan.order[position]]
            mates = (in_batch == mouse_line).sum() - 1 if mouse_line >= 0 else 0
            assert plan.n_positives[position] == mates
            same_group = plan.group[start:stop] == plan.group[position]
            assert same_group.sum() == mates + 1


def test_batch_plan_shuffles_reproducibly() -> None:
    line = _line_sizes(np.random.default_rng(0), 50, 50)
    first = plan_batches(line, 32, np.random.default_rng(7))
    again = plan_batches(line, 32, np.random.default_rng(7))
    other = plan_batches(line, 32, np.random.default_rng(8))
    np.testing.assert_array_equal(first.order, again.order)
    assert not np.array_equal(first.order, other.order)
    fixed = plan_batches(line, 32)
    np.testing.assert_array_equal(fixed.order, plan_batches(line, 32).order)


def test_batch_plan_splits_a_line_longer_than_a_batch() -> None:
    line = np.r_[np.zeros(10, dtype=int), np.ones(3, dtype=int)]
    plan = plan_batches(line, batch_size=4, rng=np.random.default_rng(0))
    assert np.diff(plan.bounds).max() <= 4
    assert plan.n_positives.max() <= 3


def test_batch_plan_of_no_mice() -> None:
    plan = plan_batches(np.zeros(0, dtype=int), 8, np.random.default_rng(0))
    assert plan.n_batches == 0 and plan.batches() == []


@pytest.mark.parametrize("rng", [np.random.default_rng(3), None], ids=["shuffled", "fixed"])
def test_one_centre_per_batch(rng: np.random.Generator | None) -> None:
    """With a stratum (the centre), no batch mixes centres and lines still lie whole."""
    line = _line_sizes(np.random.default_rng(0), 300, 400)
    line_centre = np.random.default_rng(1).integers(0, 5, 300)
    centre = np.where(line >= 0, line_centre[line], np.arange(len(line)) % 5)
    plan = plan_batches(line, batch_size=64, rng=rng, stratum=centre)
    np.testing.assert_array_equal(np.sort(plan.order), np.arange(len(line)))
    assert np.diff(plan.bounds).max() <= 64
    for start, stop in plan.batches():
        rows = plan.order[start:stop]
        assert len(set(centre[rows])) == 1
        lines_here = set(line[rows][line[rows] >= 0])
        assert all((line == code).sum() == (line[rows] == code).sum() for code in lines_here)
    mixed = plan_batches(line, batch_size=64, rng=np.random.default_rng(3))
    assert any(len(set(centre[mixed.order[a:b]])) > 1 for a, b in mixed.batches())
