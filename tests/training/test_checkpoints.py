"""Checkpoints (dicts and the Kedro dataset), embedding, and k-means initialisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from audiometric_clustering.io.checkpoint import TorchCheckpointDataset
from audiometric_clustering.model import MouseTensors
from audiometric_clustering.training import stages
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import (
    checkpoint_from_model,
    model_from_checkpoint,
    save_atomic,
)
from audiometric_clustering.training.cluster_init import (
    ClusterInitSettings,
    control_distance,
    initialise_centres,
)
from audiometric_clustering.training.clustering import (
    cluster_statistics,
    collapse_message,
    split_largest_into_empty,
)
from audiometric_clustering.training.passes import assignment_latents, embed
from audiometric_clustering.training.phenotype_init import phenotype_count, phenotype_groups
from tests.training.stages import MODEL, PLAIN, SCALE, new_model
from tests.training.synthetic_frame import make_model_input


@pytest.fixture(scope="module")
def frame():
    return make_model_input(200, seed=2)


@pytest.fixture
def model(frame):
    return new_model(frame, seed=0)


def test_dataset_round_trip_is_weights_only(model, tmp_path: Path) -> None:
    checkpoint = checkpoint_from_model(model, "pretrain", 3, {"val_loss": 1.5})
    dataset = TorchCheckpointDataset(filepath=str(tmp_path / "nested" / "best.pt"))
    dataset.save(checkpoint)
    assert dataset.exists()
    on_disk = torch.load(tmp_path / "nested" / "best.pt", weights_only=True)
    assert on_disk["epoch"] == 3 and on_disk["metrics"] == {"val_loss": 1.5}
    loaded = dataset.load()
    assert loaded["config"] == model.config.to_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded["state_dict"][name], tensor)


def test_failed_save_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    save_atomic({"epoch": 1}, path)
    with pytest.raises(Exception):  # noqa: B017 - whatever torch.save raises for a lambda
        save_atomic({"epoch": 2, "not_saveable": lambda: None}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left


def test_rebuilt_model_embeds_identically(model, frame) -> None:
    tensors = MouseTensors.from_frame(frame, SCALE)
    rebuilt = model_from_checkpoint(checkpoint_from_model(model, "pretrain", 0, {}))
    assert not rebuilt.training
    original, copy = embed(model, tensors), embed(rebuilt, tensors)
    np.testing.assert_array_equal(original.latent_mean, copy.latent_mean)
    np.testing.assert_array_equal(original.soft_assignment, copy.soft_assignment)


def test_embedding_shapes_ranges_and_batch_independence(model, frame) -> None:
    tensors = MouseTensors.from_frame(frame, SCALE)
    whole = embed(model, tensors)
    assert whole.latent_mean.shape == (200, 10)
    assert whole.soft_assignment.shape == (200, 6)
    np.testing.assert_allclose(whole.soft_assignment.sum(1), 1.0, rtol=1e-5)
    assert whole.abr_reconstruction.shape == (200, 6)
    assert whole.abr_reconstruction.min() >= 0 and whole.abr_reconstruction.max() <= 100
    in_pieces = embed(model, tensors, batch_size=7)
    np.testing.assert_allclose(in_pieces.latent_mean, whole.latent_mean, rtol=1e-5, atol=1e-6)
    assert model.training  # embedding leaves the caller's mode alone
    empty = embed(model, tensors.subset(np.zeros(0, dtype=np.int64)))
    assert empty.soft_assignment.shape == (0, 6)


@pytest.mark.parametrize("weighting", ["none", "control_distance"])
def test_cluster_init_writes_kmeans_centres(frame, weighting) -> None:
    model = new_model(frame, seed=0, model_settings=PLAIN)
    train, _ = split_tensors(frame, SCALE)
    settings = ClusterInitSettings(
        n_init=4, max_iter=300, weighting=weighting, line_pooling=1.0, phenotype_clusters=[3, 8]
    )
    summary, groups = initialise_centres(model, train, settings, seed=0)
    assert groups is None
    latent = embed(model, train).latent_mean.astype(np.float64)
    weights = None
    if weighting == "control_distance":
        weights = control_distance(latent, train.line.numpy() < 0)
    reference = KMeans(n_clusters=6, n_init=4, max_iter=300, random_state=0).fit(
        latent, sample_weight=weights
    )
    np.testing.assert_allclose(
        model.clustering.centres.detach().numpy(), reference.cluster_centers_, rtol=1e-5
    )
    sizes = [summary[f"cluster_size_{k:02d}"] for k in range(6)]
    assert sum(sizes) == len(train)
    assert summary["largest_cluster_share"] == max(sizes) / len(train)
    assert summary["inertia"] == pytest.approx(reference.inertia_, rel=1e-6)


def test_cluster_init_anchors_normal_hearing_and_centres_each_phenotype_group(model, frame) -> None:
    train, _ = split_tensors(frame, SCALE)
    settings = ClusterInitSettings(
        n_init=4, max_iter=300, weighting="none", line_pooling=1.0, phenotype_clusters=[3, 8]
    )
    summary, groups = initialise_centres(model, train, settings, seed=0)
    share = model.config.normal_control_share
    is_control = train.line.numpy() < 0
    pooled = torch.lerp(train.abr, train.line_abr, 1.0).double().numpy()
    expected = phenotype_groups(pooled, is_control, 5, share, 4, 300)
    np.testing.assert_array_equal(groups, expected)
    latent = assignment_latents(model, train)
    for group in range(5):
        np.testing.assert_allclose(
            model.clustering.centres[group].detach().numpy(),
            latent[groups == group].mean(0),
            rtol=1e-5,
            atol=1e-6,
        )
    labels = embed(model, train).soft_assignment.argmax(1)
    outside = (labels[is_control] != 0).mean()
    assert outside == pytest.approx(share, abs=1 / is_control.sum())
    assert summary["departing_mutants"] == (groups >= 0).sum()
    assert summary["cluster_size_00"] == (labels == 0).sum() > 0.5 * len(train)


def test_phenotype_groups_do_not_depend_on_the_training_seed(frame) -> None:
    """Stability members differ only by what their seed draws in training: the phenotype
    groups, read from the thresholds, are the data's."""
    train, _ = split_tensors(frame, SCALE)
    settings = ClusterInitSettings(
        n_init=1, max_iter=300, weighting="none", line_pooling=1.0, phenotype_clusters=[3, 8]
    )
    _, first = initialise_centres(new_model(frame, seed=0), train, settings, seed=0)
    _, second = initialise_centres(new_model(frame, seed=0), train, settings, seed=7)
    np.testing.assert_array_equal(first, second)


def test_split_gives_an_empty_cluster_half_of_the_largest() -> None:
    rng = np.random.default_rng(0)
    blob = rng.normal(size=(200, 3)) * np.array([5.0, 0.1, 0.1])  # long along axis 0
    latent = np.r_[blob, rng.normal(size=(20, 3)) + 50.0]
    labels = np.r_[np.zeros(200, dtype=int), np.ones(20, dtype=int)]
    centres = np.array([[0.0, 0, 0], [50.0, 50, 50], [999.0, 999, 999]])
    new, splits = split_largest_into_empty(latent, labels, centres)
    assert splits == [(2, 0)]
    np.testing.assert_array_equal(new[1], centres[1])  # other clusters untouched
    assert abs(new[0, 0] + new[2, 0]) < 1.0 and abs(new[0, 0]) > 2.0  # split along axis 0
    relabelled = np.argmin(((latent[:, None] - new[None]) ** 2).sum(-1), axis=1)
    halves = np.bincount(relabelled, minlength=3)[[0, 2]]
    assert halves.min() > 60  # the long cluster is cut in two sizeable halves


def test_cluster_statistics_and_collapse_message() -> None:
    assignment = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.2, 0.8, 0.0]])
    statistics = cluster_statistics(assignment)
    assert [statistics[f"cluster_size_{k:02d}"] for k in range(3)] == [2.0, 1.0, 0.0]
    assert statistics["clusters_used"] == 2.0
    assert statistics["largest_cluster_share"] == pytest.approx(2 / 3)
    mean = assignment.mean(0)
    expected = -(mean[:2] * mean[:2].log()).sum().item()
    assert statistics["assignment_entropy"] == pytest.approx(expected, rel=1e-5)
    message = collapse_message([2, 1, 0], max_cluster_share=0.6)
    assert "1 of 3 clusters empty" in message and "67%" in message and "[2, 1, 0]" in message
    assert collapse_message([2, 2, 2], max_cluster_share=0.6) is None


def test_cluster_init_chooses_the_phenotype_count_when_none_is_set(frame) -> None:
    settings = MODEL.model_copy(update={"n_clusters": None})
    model = new_model(frame, seed=0, model_settings=settings)
    assert model.config.n_clusters is None and model.clustering.centres.shape[0] == 1
    train, _ = split_tensors(frame, SCALE)
    init = ClusterInitSettings(
        n_init=2, max_iter=100, weighting="none", line_pooling=1.0, phenotype_clusters=[2, 5]
    )
    summary, groups = initialise_centres(model, train, init, seed=0)
    count, scores = phenotype_count(
        torch.lerp(train.abr, train.line_abr, 1.0).double().numpy(),
        train.line.numpy() < 0,
        range(2, 6),
        settings.normal_control_share,
        2,
        100,
    )
    assert model.config.n_clusters == count + 1 == summary["phenotype_clusters"] + 1
    assert model.clustering.centres.shape == (count, model.config.latent_dim)
    assert summary[f"davies_bouldin_k{count:02d}"] == min(scores.values())
    assert set(np.unique(groups)) == {-1, *range(count)}
    rebuilt = model_from_checkpoint(checkpoint_from_model(model, "cluster_init", 0, summary))
    assert rebuilt.config.n_clusters == count + 1
    assert stages.chosen_cluster_count(frame, settings, init) == count + 1
