"""Stage 3 node: all objectives together (VAE + DEC + contrastive + phenotype consistency)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.data import split_tensors
from audiometric_clustering.training.engine import (
    load_resume_state,
    stage_configuration,
    train_stage,
)
from audiometric_clustering.training.tracking import epoch_logger

STAGE = "joint"


def train_jointly(
    initialised_model: dict[str, Any],
    model_input: pd.DataFrame,
    params_joint_training: dict[str, Any],
    seed: int,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[float]]]:
    """Joint training from the k-means-initialised model.

    Returns best and final checkpoints and the history; each epoch logs losses, validation
    loss, learning rate, cluster sizes and assignment entropy to MLflow as ``joint/<name>``.
    A collapsed clustering (an empty cluster, or one above ``max_cluster_share``) is logged
    as a warning with the sizes.
    """
    settings, objective = stage_configuration(params_joint_training, seed, STAGE, joint=True)
    train, validation = split_tensors(model_input)
    with epoch_logger(STAGE) as on_epoch_end:
        result = train_stage(
            model_from_checkpoint(initialised_model).train(),
            train,
            validation,
            settings,
            objective,
            on_epoch_end=on_epoch_end,
            resume_state=load_resume_state(settings),
        )
    return result.best, result.final, result.history
