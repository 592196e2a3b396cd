"""Stage 2 node: k-means on the pretrained latent means initialises the cluster centres."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import (
    checkpoint_from_model,
    model_from_checkpoint,
)
from audiometric_clustering.training.cluster_init import ClusterInitSettings, initialise_centres
from audiometric_clustering.training.tracking import log_metrics

logger = logging.getLogger(__name__)

STAGE = "cluster_init"


def initialise_clusters(
    pretrained_model: dict[str, Any],
    model_input: pd.DataFrame,
    params_cluster_init: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """The pretrained model with k-means centres (fitted on the training mice) in its DEC layer."""
    model = model_from_checkpoint(pretrained_model)
    train, _ = split_tensors(model_input, model.config.abr_scale)
    settings = ClusterInitSettings.from_params(params_cluster_init)
    summary = initialise_centres(model, train, settings, seed)
    logger.info(
        "k-means: inertia %.1f after %d iterations, largest cluster %.0f%% of mice",
        summary["inertia"],
        summary["iterations"],
        100 * summary["largest_cluster_share"],
    )
    log_metrics(STAGE, summary)
    return checkpoint_from_model(model, STAGE, pretrained_model["epoch"], summary)
