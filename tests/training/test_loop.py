"""The stage loop: learning, schedule, early stopping, reproducibility, resuming, collapse."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from audiometric_clustering.model import MouseTensors
from audiometric_clustering.training import stages as stages_module
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.loop import train_stage
from audiometric_clustering.training.passes import assignment_latents, embed
from tests.training import stages
from tests.training.stages import SCALE, initialise, joint, pretrain
from tests.training.synthetic_frame import make_model_input


@pytest.fixture(scope="module")
def frame():
    return make_model_input(600, seed=0)


@pytest.fixture(scope="module")
def pretrained(frame):
    return pretrain(frame, seed=3, epochs=6)


def _weights_only(checkpoint: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _without_timing(history: dict) -> dict:
    return {
        name: values
        for name, values in history.items()
        if name not in ("epoch_seconds", "steps_seconds")
    }


def test_pretraining_learns_on_a_cosine_schedule(pretrained, frame) -> None:
    history = pretrained.history
    assert history["epoch"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # the benchmark's step figures: steps per epoch (batches of 128 cut at line boundaries)
    # and the step loop's own time, a part of the epoch's
    n_train = int((frame["split"] == "train").sum())
    assert all(math.ceil(n_train / 128) <= steps < n_train / 64 for steps in history["steps"])
    assert all(
        0 < loop < epoch
        for loop, epoch in zip(history["steps_seconds"], history["epoch_seconds"], strict=True)
    )
    assert history["val_loss"][-1] < history["val_loss"][0]
    assert {"loss_abr", "loss_pca", "loss_kl", "val_loss_kl", "lr"} <= set(history)
    assert "loss_metadata" not in history  # a term without a weight is not computed
    expected_lr = [1e-6 + (1e-3 - 1e-6) * (1 + math.cos(math.pi * e / 6)) / 2 for e in range(6)]
    np.testing.assert_allclose(history["lr"], expected_lr, rtol=1e-6)
    best_epoch = int(np.argmin(history["val_loss"]))
    assert pretrained.best["epoch"] == best_epoch
    assert pretrained.best["metrics"]["val_loss"] == min(history["val_loss"])
    assert pretrained.final["epoch"] == 5


def test_checkpoints_are_plain_and_weights_only_loadable(pretrained) -> None:
    loaded = _weights_only(pretrained.best)
    assert set(loaded) == {"stage", "epoch", "config", "state_dict", "metrics"}
    assert loaded["stage"] == "pretrain"
    assert all(t.device.type == "cpu" for t in loaded["state_dict"].values())
    model_from_checkpoint(loaded)  # strict load: every weight present


def test_same_seed_gives_identical_clusters_on_cpu(frame) -> None:
    def assignments(seed: int) -> tuple[np.ndarray, dict]:
        pretrained = pretrain(frame, seed)
        trained = joint(frame, initialise(frame, pretrained.best, seed), seed)
        model = model_from_checkpoint(trained.final)
        return embed(model, MouseTensors.from_frame(frame, SCALE)).soft_assignment, trained.final

    first, first_checkpoint = assignments(seed=11)
    second, second_checkpoint = assignments(seed=11)
    np.testing.assert_array_equal(first.argmax(1), second.argmax(1))
    np.testing.assert_array_equal(first, second)
    for name, tensor in first_checkpoint["state_dict"].items():
        assert torch.equal(tensor, second_checkpoint["state_dict"][name]), name
    other, _ = assignments(seed=12)
    assert not np.array_equal(first, other)


def test_early_stopping_when_validation_stalls(frame) -> None:
    frozen = {"learning_rate": 0.0, "min_learning_rate": 0.0, "warmup_epochs": 0}
    result = pretrain(frame, seed=0, epochs=10, early_stopping_patience=2, **frozen)
    assert result.history["epoch"] == [0.0, 1.0, 2.0]  # epoch 0 best, two more without gain
    assert result.best["epoch"] == 0


def test_joint_stage_stops_once_assignments_settle(frame, pretrained) -> None:
    """DEC's convergence test: with a frozen model no mouse changes cluster after warm-up."""
    initialised = initialise(frame, pretrained.best, seed=0)
    frozen = {"learning_rate": 0.0, "min_learning_rate": 0.0, "warmup_epochs": 3}
    result = joint(
        frame, initialised, seed=0, epochs=8, assignment_change_tolerance=0.001, **frozen
    )
    assert result.history["epoch"] == [0.0, 1.0, 2.0]  # stops at the end of the warm-up
    assert result.history["assignment_change"] == [0.0, 0.0, 0.0]
    running = joint(frame, initialised, seed=0, epochs=4, assignment_change_tolerance=0, **frozen)
    assert len(running.history["epoch"]) == 4


def test_resume_continues_an_interrupted_stage_exactly(frame, tmp_path: Path) -> None:
    last = tmp_path / "last_pretrain.pt"
    uninterrupted = pretrain(frame, seed=5, epochs=4)

    def crash_after_second_epoch(epoch: int, metrics: dict) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    settings = replace(stages.pretrain_settings(5, epochs=4), last_checkpoint_path=str(last))
    model = stages.new_model(frame, 5)
    with pytest.raises(KeyboardInterrupt):
        train_stage(model, *split_tensors(frame, stages.SCALE), settings, crash_after_second_epoch)
    state = torch.load(last, weights_only=True)
    assert state["epoch"] == 1 and "optimizer" in state and not state["progress"]["completed"]

    resumed = train_stage(
        stages.new_model(frame, 5),
        *split_tensors(frame, stages.SCALE),
        settings,
        resume_state=state,
    )
    assert _without_timing(resumed.history) == _without_timing(uninterrupted.history)
    for name, tensor in uninterrupted.final["state_dict"].items():
        assert torch.equal(tensor, resumed.final["state_dict"][name]), name

    completed = train_stage(
        stages.new_model(frame, 5),
        *split_tensors(frame, stages.SCALE),
        settings,
        resume_state=torch.load(last, weights_only=True),
    )
    assert _without_timing(completed.history) == _without_timing(uninterrupted.history)


@pytest.mark.parametrize(
    ("changes", "seed", "named"),
    [
        ({}, 6, r"seed = 5 \(this run: 6\)"),
        ({"loss_weights": {"kl": 0.5}}, 5, r"loss_weights.kl = 0.25 \(this run: 0.5\)"),
        ({"batch_size": 64}, 5, r"batch_size = 128 \(this run: 64\)"),
    ],
)
def test_resume_refuses_a_checkpoint_of_other_settings_naming_them(
    frame, tmp_path: Path, changes: dict, seed: int, named: str
) -> None:
    """A completed checkpoint of seed 5 must not come back as the model of another run."""
    last = tmp_path / "last_pretrain.pt"
    written = replace(stages.pretrain_settings(5, epochs=2), last_checkpoint_path=str(last))
    train_stage(stages.new_model(frame, 5), *split_tensors(frame, SCALE), written)
    other = replace(
        stages.pretrain_settings(seed, epochs=2, **changes), last_checkpoint_path=str(last)
    )
    with pytest.raises(ValueError, match=named) as refused:
        train_stage(
            stages.new_model(frame, seed),
            *split_tensors(frame, SCALE),
            other,
            resume_state=torch.load(last, weights_only=True),
        )
    assert "pretraining.resume=false" in str(refused.value) and str(last) in str(refused.value)


def test_resume_refuses_a_checkpoint_of_other_data(frame, tmp_path: Path) -> None:
    last = tmp_path / "last_pretrain.pt"
    settings = replace(stages.pretrain_settings(5, epochs=2), last_checkpoint_path=str(last))
    train_stage(stages.new_model(frame, 5), *split_tensors(frame, SCALE), settings)
    other = make_model_input(600, seed=1)
    with pytest.raises(ValueError, match=r"data = \w+ \(this run: \w+\)"):
        train_stage(
            stages.new_model(other, 5),
            *split_tensors(other, SCALE),
            settings,
            resume_state=torch.load(last, weights_only=True),
        )


def test_joint_stage_measures_clusters_and_warns_on_collapse(frame, pretrained, caplog) -> None:
    initialised = initialise(frame, pretrained.best, seed=0)
    with caplog.at_level(logging.WARNING):
        result = joint(frame, initialised, seed=0, epochs=3, max_cluster_share=0.01)
    history = result.history
    sizes = [history[f"cluster_size_{k:02d}"] for k in range(6)]
    n_train = sum(size[0] for size in sizes)
    assert all(sum(size[epoch] for size in sizes) == n_train for epoch in range(3))
    for name in ("loss_clustering", "loss_contrastive", "loss_phenotype_consistency"):
        assert all(value > 0 for value in history[name]), name
    assert {"assignment_entropy", "largest_cluster_share", "clusters_used"} <= set(history)
    assert 0 < history["assignment_entropy"][-1] <= math.log(6) + 1e-6
    assert "collapsed" in caplog.text and "sizes [" in caplog.text


def test_an_emptied_cluster_is_reseeded(frame, caplog) -> None:
    pretrained = pretrain(frame, seed=3, epochs=2, model_settings=stages.PLAIN)
    initialised = initialise(frame, pretrained.best, seed=0)
    initialised["state_dict"]["clustering.centres"][2] = 1e3  # no mouse anywhere near
    with caplog.at_level(logging.WARNING):
        result = joint(frame, initialised, seed=0, epochs=1)
    assert result.history["clusters_reseeded"] == [1.0]
    assert "cluster 2 lost all its mice" in caplog.text
    assert result.final["state_dict"]["clustering.centres"][2].abs().max() < 100
    unguarded = joint(frame, initialised, seed=0, epochs=1, reseed_empty_clusters=False)
    assert unguarded.history["clusters_reseeded"] == [0.0]
    assert unguarded.final["state_dict"]["clustering.centres"][2].abs().min() > 900


def test_on_epoch_end_gets_every_metric(frame, pretrained) -> None:
    calls: list[tuple[int, dict]] = []
    initialised = initialise(frame, pretrained.best, seed=0)
    train_stage(
        model_from_checkpoint(initialised),
        *split_tensors(frame, stages.SCALE),
        stages.joint_settings(0),
        on_epoch_end=lambda epoch, metrics: calls.append((epoch, metrics)),
        phenotype_groups=initialised[stages_module.PHENOTYPE_GROUPS].numpy(),
    )
    assert [epoch for epoch, _ in calls] == [0, 1]
    assert {"val_loss", "lr", "loss_clustering", "cluster_size_05", "assignment_entropy"} <= set(
        calls[0][1]
    )


def test_with_a_normal_cluster_the_centres_follow_their_groups(frame, pretrained) -> None:
    """Frozen weights: after an epoch every phenotype centre is the mean latent position of
    the mice cluster_init grouped into it, and the normal cluster holds all but the set share
    of the training controls."""
    initialised = initialise(frame, pretrained.best, seed=0)
    groups = initialised[stages_module.PHENOTYPE_GROUPS].numpy()
    frozen = {"learning_rate": 0.0, "min_learning_rate": 0.0, "warmup_epochs": 0}
    result = joint(frame, initialised, seed=0, epochs=1, **frozen)
    model = model_from_checkpoint(result.final)
    train, _ = split_tensors(frame, SCALE)
    latent = assignment_latents(model, train)
    centres = model.clustering.centres.detach().numpy()
    for group in range(len(centres)):
        np.testing.assert_allclose(centres[group], latent[groups == group].mean(0), rtol=1e-4)
    is_control = train.line.numpy() < 0
    labels = embed(model, train).soft_assignment.argmax(1)
    share = model.config.normal_control_share
    assert (labels[is_control] != 0).mean() == pytest.approx(share, abs=1 / is_control.sum())
    assert result.history["clusters_reseeded"] == [0.0]


def test_a_normal_cluster_needs_the_phenotype_groups(frame, pretrained) -> None:
    initialised = initialise(frame, pretrained.best, seed=0)
    del initialised[stages_module.PHENOTYPE_GROUPS]
    with pytest.raises(ValueError, match="phenotype group of each of its \\d+ training mice"):
        joint(frame, initialised, seed=0, epochs=1)
