"""Stage 2 node: k-means on the pretrained latent means initialises the cluster centres."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.training import stages
from audiometric_clustering.training.cluster_init import ClusterInitSettings
from audiometric_clustering.training.tracking import log_metrics


def initialise_clusters(
    pretrained_model: dict[str, Any],
    model_input: pd.DataFrame,
    params_cluster_init: Mapping[str, Any],
    seed: int,
) -> dict[str, Any]:
    """The pretrained model with k-means centres (fitted on the training mice) in its DEC layer;
    the k-means summary goes to MLflow as ``cluster_init/<name>``."""
    settings = ClusterInitSettings.from_params(params_cluster_init)
    initialised, summary = stages.initialise_clusters(pretrained_model, model_input, settings, seed)
    log_metrics(stages.CLUSTER_INIT, summary)
    return initialised
