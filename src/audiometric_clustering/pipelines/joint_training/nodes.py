"""Stage 3 node: all objectives together (VAE + DEC + contrastive + phenotype consistency)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.settings import stage_settings
from audiometric_clustering.training.tracking import train_stage_tracked

STAGE = "joint"


def train_jointly(
    initialised_model: dict[str, Any],
    model_input: pd.DataFrame,
    params_joint_training: Mapping[str, Any],
    seed: int,
    resume_checkpoint: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[float]]]:
    """Joint training from the k-means-initialised model.

    Returns best and final checkpoints and the history; each epoch logs losses, validation
    loss, learning rate, cluster sizes and assignment entropy to MLflow as ``joint/<name>``.
    A collapsed clustering (an empty cluster, or one above ``max_cluster_share``) is logged
    as a warning with the sizes. The ``resume_checkpoint`` file is rewritten after every epoch.
    """
    settings = stage_settings(params_joint_training, seed, STAGE, str(resume_checkpoint))
    model = model_from_checkpoint(initialised_model).train()
    train, validation = split_tensors(model_input, model.config.abr_scale)
    result = train_stage_tracked(model, train, validation, settings)
    return result.best, result.final, result.history
