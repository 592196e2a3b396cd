"""Stage settings come from the YAML alone, and bad parameters fail naming key and value."""

from __future__ import annotations

import pytest

from audiometric_clustering.training.settings import stage_settings
from tests.parameters import parameters, with_changes


def test_the_yaml_defaults_make_valid_settings() -> None:
    pretrain = stage_settings(parameters("pretraining"), 42, "pretrain")
    assert pretrain.clustering is None and not pretrain.objective.uses_clusters
    assert pretrain.objective.terms[0] == "abr" and pretrain.seed == 42
    joint = stage_settings(parameters("joint_training"), 42, "joint")
    assert joint.clustering is not None and joint.objective.needs_target
    assert (
        joint.objective.weights["clustering"]
        == parameters("joint_training")["loss_weights"]["clustering"]
    )


@pytest.mark.parametrize(
    ("entry", "stage", "changes", "message"),
    [
        ("pretraining", "pretrain", {"epoch": 3}, r"pretraining: unknown parameters \['epoch'\]"),
        ("pretraining", "pretrain", {"epochs": -1}, r"pretraining.epochs = -1: expected a.* >= 1"),
        ("pretraining", "pretrain", {"epochs": 2.5}, r"pretraining.epochs = 2.5"),
        ("pretraining", "pretrain", {"batch_size": 1}, r"pretraining.batch_size = 1"),
        ("pretraining", "pretrain", {"resume": "yes"}, r"pretraining.resume = 'yes'"),
        (
            "pretraining",
            "pretrain",
            {"min_learning_rate": 0.1},
            r"pretraining.min_learning_rate = 0.1: expected at most learning_rate",
        ),
        (
            "pretraining",
            "pretrain",
            {"max_cluster_share": 0.5},
            r"\['max_cluster_share'\] apply only to a stage with clustering terms",
        ),
        (
            "joint_training",
            "joint",
            {"max_cluster_share": 1.5},
            r"joint_training.max_cluster_share = 1.5: expected a number in \[1e-12, 1\]",
        ),
        (
            "joint_training",
            "joint",
            {"loss_weights": {"contrastve": 0.5}},
            r"joint_training.loss_weights: unknown terms \['contrastve'\]",
        ),
        (
            "joint_training",
            "joint",
            {"contrastive_temperature": 0.001},
            r"joint_training.contrastive_temperature = 0.001",
        ),
    ],
)
def test_bad_parameters_name_the_key(entry: str, stage: str, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stage_settings(with_changes(entry, **changes), 0, stage)


def test_missing_parameters_are_named() -> None:
    params = parameters("joint_training")
    del params["early_stopping_patience"], params["reseed_empty_clusters"]
    with pytest.raises(ValueError, match=r"missing parameters \['early_stopping_patience', "):
        stage_settings(params, 0, "joint")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"loss_weights": {"abr": 1.0, "kl2": 1.0}}, r"unknown terms \['kl2'\]"),
        ({"loss_weights": {"abr": -1.0}}, r"loss_weights.abr = -1.0"),
        (
            {"loss_weights": {"abr": 1.0}, "abr_noise_db": None},
            "abr_noise_db = None: expected a number > 0",
        ),
        (
            {"loss_weights": {"contrastive": 1.0}, "contrastive_temperature": None},
            "contrastive_temperature = None",
        ),
        (
            {"loss_weights": {"contrastive": 1.0}, "contrastive_temperature": 0.01},
            "contrastive_temperature = 0.01: expected a number >= 0.02",
        ),
        (
            {"loss_weights": {"clustering": 1.0}, "warmup_epochs": None},
            "warmup_epochs = None: expected an integer >= 0",
        ),
    ],
)
def test_objective_refuses_bad_settings_naming_them(changes: dict, message: str) -> None:
    """The objective's settings (model/objective.py) are a stage's YAML keys, checked with
    the stage's settings; its weights replace the stage's."""
    with pytest.raises(ValueError, match=message):
        stage_settings(parameters("joint_training") | changes, 0, "joint")
