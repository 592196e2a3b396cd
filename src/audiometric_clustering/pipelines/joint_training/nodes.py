"""Stage 3 node: all objectives together (VAE + DEC + contrastive + phenotype consistency)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audiometric_clustering.training import stages
from audiometric_clustering.training.progress import Progress
from audiometric_clustering.training.settings import Stage, TrainingSettings
from audiometric_clustering.training.tracking import epoch_logger

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
    settings = TrainingSettings.from_params(params_joint_training, "joint_training")
    stage = Stage(STAGE, settings, seed, str(resume_checkpoint))
    with epoch_logger(STAGE) as on_epoch_end:
        result = stages.train_jointly(
            initialised_model, model_input, stage, on_epoch_end, Progress.saved_state(stage)
        )
    return result.best, result.final, result.history
