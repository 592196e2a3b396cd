"""The three training stages, one function each: what a pipeline node runs and what a
stability member runs, so that a stage is written once.

Each takes the model-input table and the stage's settings and returns what the next stage
starts from: :func:`pretrain` a fresh model, :func:`initialise_clusters` its k-means centres,
:func:`train_jointly` the joint objective. Tracking (MLflow, resume checkpoints) is the
caller's: it passes ``on_epoch_end`` and ``resume_state``, or nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from audiometric_clustering.model import ContrastiveVAEDEC, model_config_from
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import (
    checkpoint_from_model,
    model_from_checkpoint,
)
from audiometric_clustering.training.cluster_init import ClusterInitSettings, initialise_centres
from audiometric_clustering.training.loop import OnEpochEnd, StageResult, train_stage
from audiometric_clustering.training.phenotype_init import phenotype_count, pooled_thresholds
from audiometric_clustering.training.runtime import seed_everything
from audiometric_clustering.training.settings import Stage

logger = logging.getLogger(__name__)

#: The stage name a k-means-initialised checkpoint carries.
CLUSTER_INIT = "cluster_init"
#: With a normal cluster, the initialised checkpoint's phenotype group of every training
#: mouse (-1: none): the mice each phenotype centre follows in the joint stage.
PHENOTYPE_GROUPS = "phenotype_groups"


def pretrain(
    model_input: pd.DataFrame,
    preprocessor_state: dict[str, Any],
    model_settings: ModelSettings,
    stage: Stage,
    on_epoch_end: OnEpochEnd | None = None,
    resume_state: dict[str, Any] | None = None,
) -> StageResult:
    """A fresh ContrastiveVAE-DEC (sizes from ``model_settings``, vocabularies from the
    preprocessor state; weights drawn with the stage's seed) trained on ``stage``'s
    objective, reconstruction + KL."""
    config = model_config_from(model_settings, preprocessor_state)
    train, validation = split_tensors(model_input, config.abr_scale)
    seed_everything(stage.seed)
    model = ContrastiveVAEDEC(config)
    model.set_pca_scaling(train.pca)
    return train_stage(model, train, validation, stage, on_epoch_end, resume_state)


def initialise_clusters(
    pretrained: dict[str, Any],
    model_input: pd.DataFrame,
    settings: ClusterInitSettings,
    seed: int,
) -> tuple[dict[str, Any], dict[str, float]]:
    """The pretrained checkpoint with k-means centres (fitted on the training mice) in its
    DEC layer, and the initialisation's summary (cluster sizes; k-means inertia and
    iterations, or the phenotype groups)."""
    model = model_from_checkpoint(pretrained)
    train, _ = split_tensors(model_input, model.config.abr_scale)
    summary, groups = initialise_centres(model, train, settings, seed)
    if model.config.normal_cluster:
        chosen = {k: v for k, v in summary.items() if k.startswith("davies_bouldin_k")}
        logger.info(
            "Normal cluster anchored on the controls; %d departing mutants grouped into %d "
            "phenotype clusters%s; the normal cluster holds %.0f%% of the training mice",
            summary["departing_mutants"],
            model.config.n_clusters - 1,
            f" (Davies-Bouldin index by count: {chosen}, lowest chosen)" if chosen else "",
            100 * summary["cluster_size_00"] / len(train),
        )
    else:
        logger.info(
            "k-means: inertia %.1f after %d iterations, largest cluster %.0f%% of mice",
            summary["inertia"],
            summary["iterations"],
            100 * summary["largest_cluster_share"],
        )
    checkpoint = checkpoint_from_model(model, CLUSTER_INIT, pretrained["epoch"], summary)
    if groups is not None:
        checkpoint[PHENOTYPE_GROUPS] = torch.from_numpy(groups)
    return checkpoint, summary


def chosen_cluster_count(
    model_input: pd.DataFrame, model_settings: ModelSettings, settings: ClusterInitSettings
) -> int:
    """The cluster count of the model: ``model.n_clusters``, or, when null, the normal
    cluster and the phenotype count cluster_init chooses on these training mice (the same
    for every training seed, see ``phenotype_count``)."""
    if model_settings.n_clusters is not None:
        return model_settings.n_clusters
    train, _ = split_tensors(model_input, model_settings.abr_scale)
    fewest, most = settings.phenotype_clusters
    count, _ = phenotype_count(
        pooled_thresholds(train, settings.line_pooling),
        train.line.numpy() < 0,
        range(fewest, most + 1),
        model_settings.normal_control_share,
        settings.n_init,
        settings.max_iter,
    )
    return count + 1


def train_jointly(
    initialised: dict[str, Any],
    model_input: pd.DataFrame,
    stage: Stage,
    on_epoch_end: OnEpochEnd | None = None,
    resume_state: dict[str, Any] | None = None,
) -> StageResult:
    """The k-means-initialised model trained on every objective of ``stage``."""
    model = model_from_checkpoint(initialised).train()
    train, validation = split_tensors(model_input, model.config.abr_scale)
    groups = initialised.get(PHENOTYPE_GROUPS)
    groups = None if groups is None else groups.numpy()
    return train_stage(model, train, validation, stage, on_epoch_end, resume_state, groups)
