"""The stage loop shared by pretraining and joint training.

Built for speed on a small CPU as much as on a GPU: the data lives in pre-built tensors on
the device, each epoch is reordered once and stepped through by slicing, loss terms are
summed on the device and read once per epoch (no host sync inside the step loop), Adam is
fused on one flat buffer, and the DEC target comes from one inference-mode pass per epoch.
Gradients come from torch autograd.

The loop knows epochs and steps; what the clustering terms need (the DEC target, re-seeding,
the convergence test, the collapse warning) it asks of the stage's cluster hooks
(:mod:`~audiometric_clustering.training.clustering`), and the history, best checkpoint and
resume checkpoint are the :class:`~audiometric_clustering.training.progress.Progress`'s.
The loop never imports MLflow: callers pass ``on_epoch_end(epoch, metrics)``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.objective import Batch
from audiometric_clustering.training.batching import EpochBatches
from audiometric_clustering.training.checkpoints import checkpoint_from_model
from audiometric_clustering.training.clustering import ClusterHooks, DecClusters
from audiometric_clustering.training.optimiser import Optimiser
from audiometric_clustering.training.passes import mean_loss_terms
from audiometric_clustering.training.progress import Progress
from audiometric_clustering.training.runtime import (
    autocast,
    cudnn_benchmark,
    resolve_device,
    seed_everything,
    thread_count,
)
from audiometric_clustering.training.settings import Stage

logger = logging.getLogger(__name__)

OnEpochEnd = Callable[[int, dict[str, float]], None]


@dataclass
class StageResult:
    """Best (lowest validation loss) and final checkpoints, and per-epoch metric lists."""

    best: dict[str, Any]
    final: dict[str, Any]
    history: dict[str, list[float]]


class StageTrainer:
    """Trains one stage; ``run`` is the loop, ``step`` one optimisation step (benchmarked)."""

    def __init__(
        self,
        model: ContrastiveVAEDEC,
        train: MouseTensors,
        validation: MouseTensors,
        stage: Stage,
        phenotype_groups: np.ndarray | None = None,
    ) -> None:
        if len(train) == 0 or len(validation) == 0:
            raise ValueError(
                f"{stage.name}: need training and validation mice, got {len(train)} "
                f"and {len(validation)} (check the model input's split column)"
            )
        model.check_categorical_codes(train.categorical)
        model.check_categorical_codes(validation.categorical)
        settings = stage.settings
        self.stage, self.settings, self.objective = stage, settings, stage.objective
        self.progress = Progress(stage, model, train, validation)
        self.device = resolve_device(settings.device)
        self.mixed_precision = settings.mixed_precision and self.device.type == "cuda"
        self.model = model.to(self.device)
        self.train_data, self.validation_data = train.to(self.device), validation.to(self.device)
        self.optimiser = Optimiser(
            self.model,
            settings.epochs,
            settings.learning_rate,
            settings.min_learning_rate,
            settings.gradient_clip_norm,
            scale_gradients=self.mixed_precision,
        )
        self.rng = np.random.default_rng(stage.seed)
        self.clusters = ClusterHooks()
        if stage.clustering is not None:
            self.clusters = DecClusters(
                self.model,
                self.train_data,
                self.objective,
                stage.clustering,
                self._autocast,
                stage.name,
                phenotype_groups,
            )
        self._loss_terms = self.loss_terms
        if settings.compile:  # one graph for the forward pass and the loss, and its backward
            self._loss_terms = torch.compile(self.loss_terms, dynamic=True)
        self.weights = self._weights(0)
        self.validation_batches = self.plan_epoch(self.validation_data, rng=None)

    def _weights(self, epoch: int | None) -> Tensor:
        return torch.tensor(self.objective.weights_at(epoch), device=self.device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.mixed_precision)

    def plan_epoch(self, data: MouseTensors, rng: np.random.Generator | None) -> EpochBatches:
        settings = self.settings
        return EpochBatches.for_epoch(
            data, settings.batch_size, rng, self.device, settings.one_centre_per_batch
        )

    # --- one step -----------------------------------------------------------------------

    def loss_terms(
        self, inputs: MouseTensors, group: Tensor, n_positives: Tensor, target: Tensor | None
    ) -> Tensor:
        """The objective's terms on one batch, with a sampled latent."""
        output = self.model(inputs, sample=True, assign=self.objective.uses_clusters)
        return self.objective(Batch(self.model, inputs, output, group, n_positives, target))

    def step(self, batches: EpochBatches, start: int, stop: int, target: Tensor | None) -> Tensor:
        """One optimisation step on rows start:stop of an epoch's ``batches`` (``target``: the
        epoch's DEC target, when a clustering term is active); returns the detached loss
        terms (no host sync)."""
        with self._autocast():
            terms = self._loss_terms(
                batches.data.slice(start, stop),
                batches.group[start:stop],
                batches.n_positives[start:stop],
                None if target is None else target[start:stop],
            )
            loss = (terms * self.weights).sum()
        self.optimiser.step(loss)
        return terms.detach()

    # --- one epoch ----------------------------------------------------------------------

    def train_epoch(self, epoch: int) -> tuple[list[float], int, float]:
        """One pass over the training mice in line-grouped batches: mean loss terms, steps,
        and the seconds of the step loop alone (without planning the epoch)."""
        self.weights = self._weights(epoch)
        batches = self.plan_epoch(self.train_data, self.rng)
        target = self.clusters.epoch_target(batches)
        sums = torch.zeros(len(self.objective.terms), device=self.device)
        self.model.train()
        loop_started = time.perf_counter()
        for step, (start, stop) in enumerate(batches.plan.batches()):
            target = self.clusters.step_target(step, batches, target)
            sums.add_(self.step(batches, start, stop, target), alpha=stop - start)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the loop's time includes its queued kernels
        loop_seconds = time.perf_counter() - loop_started
        return (sums / len(self.train_data)).tolist(), batches.plan.n_batches, loop_seconds

    def validate(self) -> list[float]:
        """Validation loss terms, mean over mice, with the latent mean instead of a sample."""
        batches = self.validation_batches
        target = self.clusters.validation_target(batches)
        with self._autocast():
            return mean_loss_terms(self.model, self.objective, batches, target).tolist()

    def epoch(self, epoch: int) -> tuple[dict[str, float], bool]:
        """Train and validate one epoch: its metrics, and whether the clusters settled."""
        started = time.perf_counter()
        self.clusters.before_epoch()
        learning_rate = self.optimiser.learning_rate
        train_terms, steps, steps_seconds = self.train_epoch(epoch)
        with warnings.catch_warnings():
            # with a zero learning rate no step counts as one, which torch flags
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
            self.optimiser.end_epoch()
        metrics = self.objective.epoch_losses(epoch, train_terms, self.validate())
        metrics["lr"] = learning_rate
        if not all(math.isfinite(value) for value in metrics.values()):
            raise FloatingPointError(f"{self.stage.name} epoch {epoch}: {metrics}")
        metrics |= {"steps": float(steps), "steps_seconds": steps_seconds}
        converged = self.clusters.after_epoch(epoch, metrics)
        metrics["epoch_seconds"] = time.perf_counter() - started
        return metrics, converged

    # --- the loop -----------------------------------------------------------------------

    def run(
        self, on_epoch_end: OnEpochEnd | None = None, resume_state: dict[str, Any] | None = None
    ) -> StageResult:
        progress = self.progress
        with thread_count(self.settings.num_threads), cudnn_benchmark(self.device):
            seed_everything(self.stage.seed)
            if resume_state is not None:
                progress.resume(resume_state, self.model, self.optimiser, self.rng)
                if progress.completed:
                    logger.info("%s: already complete in the last checkpoint", self.stage.name)
                    return self._result()
            self.clusters.start()
            for epoch in range(progress.next_epoch, self.settings.epochs):
                metrics, converged = self.epoch(epoch)
                stopping = progress.record(epoch, metrics, self.model, converged)
                progress.save(self.model, self.optimiser, self.rng)
                progress.log(epoch, metrics, stopping, self.clusters.describe(metrics))
                if on_epoch_end is not None:
                    on_epoch_end(epoch, metrics)
                if stopping:
                    break
            return self._result()

    def _result(self) -> StageResult:
        progress = self.progress
        final = checkpoint_from_model(
            self.model, self.stage.name, progress.last_epoch, progress.last_metrics
        )
        best = progress.best or final  # a stage that ended within its warm-up
        self.clusters.check("best", best)
        self.clusters.check("final", final)
        return StageResult(best=best, final=final, history=progress.history)


def train_stage(
    model: ContrastiveVAEDEC,
    train: MouseTensors,
    validation: MouseTensors,
    stage: Stage,
    on_epoch_end: OnEpochEnd | None = None,
    resume_state: dict[str, Any] | None = None,
    phenotype_groups: np.ndarray | None = None,
) -> StageResult:
    """Train ``model`` for one stage; returns best/final CPU checkpoints and the history.

    Early stopping watches the validation loss (patience from the stage's settings); the
    best checkpoint is the epoch with the lowest one. With ``stage.last_checkpoint_path`` a
    "last" checkpoint with optimiser, schedule and RNG state is written atomically every
    epoch; pass it back as ``resume_state`` to continue an interrupted stage exactly. A
    model with a normal cluster needs ``phenotype_groups`` in a stage with clustering terms
    (see :class:`~audiometric_clustering.training.clustering.DecClusters`).
    """
    trainer = StageTrainer(model, train, validation, stage, phenotype_groups)
    return trainer.run(on_epoch_end, resume_state)
