"""Run the three training stages in plain Python on a small synthetic table (no Kedro)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.model import ContrastiveVAEDEC, model_config_from
from audiometric_clustering.training.checkpoints import checkpoint_from_model, model_from_checkpoint
from audiometric_clustering.training.cluster_init import initialise_centres
from audiometric_clustering.training.data import split_tensors
from audiometric_clustering.training.engine import (
    StageResult,
    seed_everything,
    stage_configuration,
    train_stage,
)
from tests.training.synthetic_frame import preprocessor_state

MODEL_PARAMS = {"n_clusters": 6, "latent_dim": 10}
FAST = {"batch_size": 128, "log_every_n_epochs": 1}
JOINT = {
    "warmup_epochs": 2,
    "loss_weights": {"clustering": 1.0, "contrastive": 0.5, "phenotype_consistency": 0.3},
}


def new_model(frame: pd.DataFrame, seed: int) -> ContrastiveVAEDEC:
    train, _ = split_tensors(frame)
    seed_everything(seed)
    model = ContrastiveVAEDEC(model_config_from(MODEL_PARAMS, preprocessor_state()))
    model.set_pca_scaling(train.pca)
    return model


def pretrain(frame: pd.DataFrame, seed: int, **params: Any) -> StageResult:
    settings, objective = stage_configuration(
        {"epochs": 2, **FAST, **params}, seed, "pretrain", joint=False
    )
    return train_stage(new_model(frame, seed), *split_tensors(frame), settings, objective)


def initialise(frame: pd.DataFrame, pretrained: dict[str, Any], seed: int) -> dict[str, Any]:
    model = model_from_checkpoint(pretrained)
    summary = initialise_centres(model, split_tensors(frame)[0], n_init=3, max_iter=300, seed=seed)
    return checkpoint_from_model(model, "cluster_init", pretrained["epoch"], summary)


def joint(
    frame: pd.DataFrame, initialised: dict[str, Any], seed: int, **params: Any
) -> StageResult:
    settings, objective = stage_configuration(
        {"epochs": 2, **FAST, **JOINT, **params}, seed, "joint", joint=True
    )
    model = model_from_checkpoint(initialised).train()
    return train_stage(model, *split_tensors(frame), settings, objective)
