"""One stability member: the three training stages of ``full_training`` on plain arrays.

A member runs the same stage functions (:mod:`audiometric_clustering.training.stages`) as
the ``pretraining``, ``cluster_init`` and ``joint_training`` nodes, in one function that a
Dask worker can run: no Kedro session, no catalog, no MLflow (the driver
logs each member as a nested run when its result comes back; a worker has no active run,
and several processes writing one SQLite store lock it).

The member's seed sets the weights, the batch order and the k-means restarts. The split
into training and validation lines is the ``split`` column of ``model_input``, made by
``data_processing`` with the project seed: every member trains and stops early on the same
lines, so members differ only in what the seed draws.
"""

from __future__ import annotations

import os
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from audiometric_clustering.evaluation.scoring import Scoring, ScoringSettings, score_clustering
from audiometric_clustering.model import MouseTensors
from audiometric_clustering.model.config import ModelSettings
from audiometric_clustering.stability.settings import MemberSpec
from audiometric_clustering.training import stages
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.cluster_init import ClusterInitSettings
from audiometric_clustering.training.passes import embed
from audiometric_clustering.training.runtime import thread_count
from audiometric_clustering.training.settings import Stage, TrainingSettings


@dataclass(frozen=True)
class MemberParams:
    """The settings of the stages and of the scoring, shared by every member."""

    model: ModelSettings
    pretraining: TrainingSettings
    cluster_init: ClusterInitSettings
    joint_training: TrainingSettings
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


def _member_stage(settings: TrainingSettings, seed: int, stage: str) -> Stage:
    """A stage for a member: one thread (parallelism comes from members), no resume
    checkpoint (members would overwrite one another's), the member's seed."""
    return Stage(stage, settings.model_copy(update={"num_threads": 1, "resume": False}), seed)


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
        model = params.model.model_copy(update={"n_clusters": spec.n_clusters})
        pretrain_stage = _member_stage(params.pretraining, spec.seed, "pretrain")
        pretrained = stages.pretrain(model_input, preprocessor_state, model, pretrain_stage)
        seconds["pretrain"] = time.perf_counter() - started

        mark = time.perf_counter()
        initialised, _ = stages.initialise_clusters(
            pretrained.best, model_input, params.cluster_init, spec.seed
        )
        seconds["cluster_init"] = time.perf_counter() - mark

        mark = time.perf_counter()
        joint_stage = _member_stage(params.joint_training, spec.seed, "joint")
        joint = stages.train_jointly(initialised, model_input, joint_stage)
        seconds["joint"] = time.perf_counter() - mark

        mark = time.perf_counter()
        best = model_from_checkpoint(joint.best)
        embedding = embed(best, MouseTensors.from_frame(model_input, best.config.abr_scale))
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
