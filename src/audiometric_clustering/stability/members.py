"""One stability member: the three training stages of ``full_training`` on plain arrays.

A member is what ``pretraining``, ``cluster_init`` and ``joint_training`` do, in one
function that a Dask worker can run: no Kedro session, no catalog, no MLflow (the driver
logs each member as a nested run when its result comes back; a worker has no active run,
and several processes writing one SQLite store lock it).

The member's seed sets the weights, the batch order and the k-means restarts. The split
into training and validation lines is the ``split`` column of ``model_input``, made by
``data_processing`` with the project seed: every member trains and stops early on the same
lines, so members differ only in what the seed draws.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors, model_config_from
from audiometric_clustering.stability.scores import Scoring, ScoringSettings, score_clustering
from audiometric_clustering.training.batching import split_tensors
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.cluster_init import initialise_centres
from audiometric_clustering.training.loop import train_stage
from audiometric_clustering.training.passes import embed
from audiometric_clustering.training.runtime import seed_everything, thread_count
from audiometric_clustering.training.settings import StageSettings, stage_settings


@dataclass(frozen=True)
class MemberSpec:
    """What makes one member differ from the others: its seed and its number of clusters."""

    seed: int
    n_clusters: int

    @property
    def name(self) -> str:
        return f"k{self.n_clusters:02d}_seed{self.seed}"

    def __str__(self) -> str:  # names the member's Dask task and its log lines
        return self.name


@dataclass(frozen=True)
class MemberParams:
    """The parameter dicts of the stages (as in the YAML), shared by every member."""

    model: dict[str, Any]
    pretraining: dict[str, Any]
    cluster_init: dict[str, Any]
    joint_training: dict[str, Any]
    scoring: ScoringSettings


@dataclass(frozen=True)
class MemberResult:
    """A trained member: the cluster of every mouse (model-input order, argmax of the soft
    assignment), its best joint checkpoint, per-epoch histories, scores, and where and how
    long it ran."""

    spec: MemberSpec
    labels: np.ndarray  # (N,) int64
    checkpoint: dict[str, Any]
    histories: dict[str, dict[str, list[float]]]  # "pretrain" and "joint"
    scoring: Scoring
    seconds: dict[str, float]  # per stage and "total"
    worker: dict[str, Any]  # host, pid, peak_rss_mib


def _member_settings(params: dict[str, Any], seed: int, stage: str) -> StageSettings:
    """A stage's settings for a member: one thread (parallelism comes from members), no
    resume checkpoint (members would overwrite one another's), the member's seed."""
    settings = stage_settings(params, seed, stage)
    return dataclasses.replace(settings, num_threads=1, resume=False, last_checkpoint_path=None)


def train_member(
    model_input: pd.DataFrame,
    preprocessor_state: dict[str, Any],
    truth: pd.DataFrame | None,
    params: MemberParams,
    spec: MemberSpec,
) -> MemberResult:
    """Pretrain, initialise the clusters by k-means, train jointly, then embed and score
    every mouse under the best joint checkpoint (what ``evaluation`` scores)."""
    torch.set_num_threads(1)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with thread_count(1):
        config = model_config_from(
            {**params.model, "n_clusters": spec.n_clusters}, preprocessor_state
        )
        train, validation = split_tensors(model_input, config.abr_scale)
        seed_everything(spec.seed)
        model = ContrastiveVAEDEC(config)
        model.set_pca_scaling(train.pca)
        pretrained = train_stage(
            model, train, validation, _member_settings(params.pretraining, spec.seed, "pretrain")
        )
        seconds["pretrain"] = time.perf_counter() - started

        mark = time.perf_counter()
        model = model_from_checkpoint(pretrained.best)
        initialise_centres(
            model,
            train,
            n_init=params.cluster_init["n_init"],
            max_iter=params.cluster_init["max_iter"],
            seed=spec.seed,
            weighting=params.cluster_init["weighting"],
        )
        seconds["cluster_init"] = time.perf_counter() - mark

        mark = time.perf_counter()
        joint = train_stage(
            model.train(),
            train,
            validation,
            _member_settings(params.joint_training, spec.seed, "joint"),
        )
        seconds["joint"] = time.perf_counter() - mark

        mark = time.perf_counter()
        best = model_from_checkpoint(joint.best)
        embedding = embed(best, MouseTensors.from_frame(model_input, config.abr_scale))
        labels = embedding.soft_assignment.argmax(axis=1).astype(np.int64)
        scoring = score_clustering(model_input, labels, spec.n_clusters, truth, params.scoring)
        seconds["scoring"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return MemberResult(
        spec=spec,
        labels=labels,
        checkpoint=joint.best,
        histories={"pretrain": pretrained.history, "joint": joint.history},
        scoring=scoring,
        seconds=seconds,
        worker={
            "host": socket.gethostname(),
            "pid": os.getpid(),
            # this process's peak so far: the worker's, whatever it ran before
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
    )
