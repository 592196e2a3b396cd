"""Stage 1 node: build the model and pretrain it as a VAE (reconstruction + KL)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.training import stages
from audiometric_clustering.training.progress import Progress
from audiometric_clustering.training.settings import Stage, TrainingSettings
from audiometric_clustering.training.tracking import epoch_logger

STAGE = "pretrain"


def pretrain(
    model_input: pd.DataFrame,
    preprocessor_state: dict[str, Any],
    params_model: Mapping[str, Any],
    params_pretraining: Mapping[str, Any],
    seed: int,
    resume_checkpoint: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[float]]]:
    """A fresh ContrastiveVAE-DEC trained on reconstruction + KL.

    Returns the best checkpoint (lowest validation loss), the final one and the per-epoch
    history; every epoch's metrics also go to MLflow as ``pretrain/<name>``, and the
    ``resume_checkpoint`` file is rewritten after every epoch.
    """
    settings = TrainingSettings.from_params(params_pretraining, "pretraining")
    stage = Stage(STAGE, settings, seed, str(resume_checkpoint))
    with epoch_logger(STAGE) as on_epoch_end:
        result = stages.pretrain(
            model_input,
            preprocessor_state,
            ModelSettings.from_params(params_model),
            stage,
            on_epoch_end,
            Progress.saved_state(stage),
        )
    return result.best, result.final, result.history
