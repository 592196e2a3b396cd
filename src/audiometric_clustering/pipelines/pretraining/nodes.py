"""Stage 1 nodes: build the model and pretrain it as a VAE (reconstruction + KL)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from audiometric_clustering.model import ContrastiveVAEDEC, model_config_from
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.runtime import seed_everything
from audiometric_clustering.training.settings import stage_settings
from audiometric_clustering.training.tracking import train_stage_tracked

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
    settings = stage_settings(params_pretraining, seed, STAGE, str(resume_checkpoint))
    config = model_config_from(ModelSettings.from_params(params_model), preprocessor_state)
    train, validation = split_tensors(model_input, config.abr_scale)
    seed_everything(seed)
    model = ContrastiveVAEDEC(config)
    model.set_pca_scaling(train.pca)
    result = train_stage_tracked(model, train, validation, settings)
    return result.best, result.final, result.history
