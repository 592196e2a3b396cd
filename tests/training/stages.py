"""Run the three training stages in plain Python on a small synthetic table (no Kedro)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.model import ContrastiveVAEDEC, model_config_from
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.training import stages
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.cluster_init import ClusterInitSettings
from audiometric_clustering.training.loop import StageResult
from audiometric_clustering.training.runtime import seed_everything
from audiometric_clustering.training.settings import Stage, stage_settings
from tests.parameters import parameters, with_changes
from tests.training.synthetic_frame import preprocessor_state

N_CLUSTERS = 6
#: The scale of thresholds the default model reads (model.abr_scale).
SCALE = parameters("model")["abr_scale"]
#: The default model with the tests' cluster count (a normal cluster and 5 phenotypes).
MODEL = ModelSettings.from_params(parameters("model") | {"n_clusters": N_CLUSTERS})
#: DEC as the training guide has it: every cluster a free centre, read from the mouse alone.
PLAIN = MODEL.model_copy(update={"normal_cluster": False, "assignment_line_pooling": 0.0})
#: Small and quick, and never writing a resume checkpoint into the project's data/.
FAST = {"epochs": 2, "batch_size": 128, "log_every_n_epochs": 1}
#: The joint tests weight every term, the contrastive one (off by default) included.
JOINT = {"warmup_epochs": 2, "loss_weights": {"contrastive": 0.5}}


def new_model(
    frame: pd.DataFrame, seed: int, model_settings: ModelSettings = MODEL
) -> ContrastiveVAEDEC:
    """The model the pretraining stage starts from (as :func:`stages.pretrain` builds it)."""
    train, _ = split_tensors(frame, SCALE)
    seed_everything(seed)
    model = ContrastiveVAEDEC(model_config_from(model_settings, preprocessor_state()))
    model.set_pca_scaling(train.pca)
    return model


def pretrain_settings(seed: int, **changes: Any) -> Stage:
    return stage_settings(with_changes("pretraining", **(FAST | changes)), seed, "pretrain")


def joint_settings(seed: int, **changes: Any) -> Stage:
    return stage_settings(with_changes("joint_training", **(FAST | JOINT | changes)), seed, "joint")


def pretrain(
    frame: pd.DataFrame, seed: int, model_settings: ModelSettings = MODEL, **changes: Any
) -> StageResult:
    settings = pretrain_settings(seed, **changes)
    return stages.pretrain(frame, preprocessor_state(), model_settings, settings)


def initialise(frame: pd.DataFrame, pretrained: dict[str, Any], seed: int) -> dict[str, Any]:
    settings = ClusterInitSettings.from_params(parameters("cluster_init") | {"n_init": 3})
    return stages.initialise_clusters(pretrained, frame, settings, seed)[0]


def joint(
    frame: pd.DataFrame, initialised: dict[str, Any], seed: int, **changes: Any
) -> StageResult:
    return stages.train_jointly(initialised, frame, joint_settings(seed, **changes))
