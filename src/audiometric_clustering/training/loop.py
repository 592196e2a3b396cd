"""The stage loop shared by pretraining and joint training.

Built for speed on a small CPU as much as on a GPU: the data lives in pre-built tensors on
the device, each epoch is reordered once and stepped through by slicing, loss terms are
summed on the device and read once per epoch (no host sync inside the step loop), Adam is
fused on one flat buffer, and the DEC target comes from one inference-mode pass per epoch.
Gradients come from torch autograd.

The loop never imports MLflow: callers pass ``on_epoch_end(epoch, metrics)``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.model.objective import Batch, target_distribution
from audiometric_clustering.training.batching import EpochBatches
from audiometric_clustering.training.checkpoints import checkpoint_from_model, save_atomic
from audiometric_clustering.training.diagnostics import (
    cluster_sizes,
    cluster_statistics,
    collapse_message,
    split_largest_into_empty,
)
from audiometric_clustering.training.optimiser import Optimiser
from audiometric_clustering.training.passes import embed, mean_loss_terms, soft_assignment
from audiometric_clustering.training.progress import (
    Progress,
    epoch_metrics,
    last_checkpoint,
    log_progress,
    restore,
    stage_identity,
)
from audiometric_clustering.training.runtime import (
    autocast,
    cudnn_benchmark,
    resolve_device,
    seed_everything,
    thread_count,
)
from audiometric_clustering.training.settings import Stage

logger = logging.getLogger(__name__)

#: Batch size of the inference-mode passes (DEC target, cluster sizes).
PASS_BATCH_SIZE = 8192

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
        settings: Stage,
    ) -> None:
        if len(train) == 0 or len(validation) == 0:
            raise ValueError(
                f"{settings.name}: need training and validation mice, got {len(train)} "
                f"and {len(validation)} (check the model input's split column)"
            )
        model.check_categorical_codes(train.categorical)
        model.check_categorical_codes(validation.categorical)
        self.settings, self.objective = settings, settings.objective
        self.identity = stage_identity(settings, model, train, validation)
        self.device = resolve_device(settings.settings.device)
        self.mixed_precision = settings.settings.mixed_precision and self.device.type == "cuda"
        self.model = model.to(self.device)
        self.train_data, self.validation_data = train.to(self.device), validation.to(self.device)
        self.optimiser = Optimiser(
            self.model,
            settings.settings.epochs,
            settings.settings.learning_rate,
            settings.settings.min_learning_rate,
            settings.settings.gradient_clip_norm,
            scale_gradients=self.mixed_precision,
        )
        self.rng = np.random.default_rng(settings.seed)
        self._loss_terms = self.loss_terms
        if (
            settings.settings.compile
        ):  # one graph for the forward pass and the loss, and its backward
            self._loss_terms = torch.compile(self.loss_terms, dynamic=True)
        self.weights = self._weights(0)
        self.validation_batches = self.plan_epoch(self.validation_data, rng=None)

    def _weights(self, epoch: int | None) -> Tensor:
        return torch.tensor(self.objective.weights_at(epoch), device=self.device)

    def _autocast(self):
        return autocast(self.device, self.mixed_precision)

    def plan_epoch(self, data: MouseTensors, rng: np.random.Generator | None) -> EpochBatches:
        settings = self.settings
        return EpochBatches.for_epoch(
            data,
            settings.settings.batch_size,
            rng,
            self.device,
            settings.settings.one_centre_per_batch,
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

    # --- passes -------------------------------------------------------------------------

    def train_assignment(self) -> Tensor:
        """q of every training mouse, in dataset order (for the DEC target and cluster sizes)."""
        with self._autocast():
            return soft_assignment(self.model, self.train_data, PASS_BATCH_SIZE)

    def epoch_target(self, batches: EpochBatches, assignment: Tensor) -> Tensor | None:
        """DEC target P of the training mice in the epoch's order (None without that term)."""
        if not self.objective.needs_target:
            return None
        return target_distribution(assignment).index_select(0, batches.order)

    def validate(self) -> list[float]:
        """Validation loss terms, mean over mice, with the latent mean instead of a sample.

        The DEC target of the validation mice comes from their own assignment, as it does for
        training mice.
        """
        batches, target = self.validation_batches, None
        if self.objective.needs_target:
            with self._autocast():
                assignment = soft_assignment(self.model, batches.data, PASS_BATCH_SIZE)
            target = target_distribution(assignment)
        with self._autocast():
            return mean_loss_terms(self.model, self.objective, batches, target).tolist()

    def reseed_empty_clusters(self, assignment: Tensor) -> int:
        """Give every cluster without training mice half of the largest; returns how many.

        A measured collapse (logged as a warning): two neighbouring clusters merged. An extra
        pass for the latent means runs only then.
        """
        labels = assignment.argmax(1)
        if bool((torch.bincount(labels, minlength=assignment.shape[1]) > 0).all()):
            return 0
        latent = embed(self.model, self.train_data, PASS_BATCH_SIZE).latent_mean
        centres = self.model.clustering.centres
        new_centres, splits = split_largest_into_empty(
            latent, labels.cpu().numpy(), centres.detach().cpu().numpy()
        )
        with torch.no_grad():
            centres.copy_(torch.from_numpy(new_centres))
        for empty, split in splits:
            logger.warning(
                "%s: cluster %d lost all its mice; re-seeded by splitting cluster %d",
                self.settings.name,
                empty,
                split,
            )
        return len(splits)

    def train_epoch(self, epoch: int, assignment: Tensor | None) -> tuple[list[float], int, float]:
        """One pass over the training mice in line-grouped batches: mean loss terms, steps,
        and the seconds of the step loop alone (without planning the epoch)."""
        self.weights = self._weights(epoch)
        batches = self.plan_epoch(self.train_data, self.rng)
        target = None if assignment is None else self.epoch_target(batches, assignment)
        interval = self.settings.clustering.target_update_interval if assignment is not None else 0
        sums = torch.zeros(len(self.objective.terms), device=self.device)
        self.model.train()
        loop_started = time.perf_counter()
        for step_index, (start, stop) in enumerate(batches.plan.batches()):
            if target is not None and interval > 0 and step_index and step_index % interval == 0:
                target = self.epoch_target(batches, self.train_assignment())
            sums.add_(self.step(batches, start, stop, target), alpha=stop - start)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the loop's time includes its queued kernels
        loop_seconds = time.perf_counter() - loop_started
        return (sums / len(self.train_data)).tolist(), batches.plan.n_batches, loop_seconds

    # --- the loop -----------------------------------------------------------------------

    def run(
        self, on_epoch_end: OnEpochEnd | None = None, resume_state: dict[str, Any] | None = None
    ) -> StageResult:
        settings, clustering = self.settings, self.settings.clustering
        with thread_count(settings.settings.num_threads), cudnn_benchmark(self.device):
            seed_everything(settings.seed)
            progress = Progress()
            if resume_state is not None:
                progress = restore(
                    resume_state, settings, self.identity, self.model, self.optimiser, self.rng
                )
                if progress.completed:
                    logger.info("%s: already complete in the last checkpoint", settings.name)
                    return self._result(progress)
            assignment = self.train_assignment() if clustering else None
            labels = None if assignment is None else assignment.argmax(1)
            for epoch in range(progress.next_epoch, settings.settings.epochs):
                started = time.perf_counter()
                reseeded = 0
                if clustering and clustering.reseed_empty_clusters:
                    reseeded = self.reseed_empty_clusters(assignment)
                    if reseeded:
                        assignment = self.train_assignment()
                learning_rate = self.optimiser.learning_rate
                train_terms, steps, steps_seconds = self.train_epoch(epoch, assignment)
                with warnings.catch_warnings():
                    # with a zero learning rate no step counts as one, which torch flags
                    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step")
                    self.optimiser.end_epoch()
                metrics = epoch_metrics(
                    settings, epoch, train_terms, self.validate(), learning_rate
                )
                metrics |= {"steps": float(steps), "steps_seconds": steps_seconds}
                converged = False
                if clustering:
                    assignment = self.train_assignment()
                    metrics.update(cluster_statistics(assignment))
                    metrics["clusters_reseeded"] = float(reseeded)
                    previous, labels = labels, assignment.argmax(1)
                    metrics["assignment_change"] = (labels != previous).float().mean().item()
                    tolerance = clustering.assignment_change_tolerance
                    converged = epoch + 1 >= (self.objective.warmup_epochs or 0) and (
                        metrics["assignment_change"] < tolerance
                    )
                metrics["epoch_seconds"] = time.perf_counter() - started
                # Before the warm-up ends the warming terms are not yet at full weight: a
                # model that DEC (or the prior) has barely moved would win on validation loss.
                warmed_up = epoch + 1 >= (self.objective.warmup_epochs or 0)
                progress.record(settings.name, epoch, metrics, self.model, warmed_up)
                stopping = (
                    converged
                    or progress.epochs_since_best >= settings.settings.early_stopping_patience
                )
                progress.completed = stopping or epoch == settings.settings.epochs - 1
                if settings.last_checkpoint_path:
                    state = last_checkpoint(
                        settings, self.identity, self.model, self.optimiser, self.rng, progress
                    )
                    save_atomic(state, settings.last_checkpoint_path)
                log_progress(settings, epoch, metrics, stopping)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, metrics)
                if stopping:
                    break
            return self._result(progress)

    def _result(self, progress: Progress) -> StageResult:
        stage = self.settings.name
        final = checkpoint_from_model(self.model, stage, progress.last_epoch, progress.last_metrics)
        best = progress.best or final  # a stage that ended within its warm-up
        if self.settings.clustering:
            for name, checkpoint in (("best", best), ("final", final)):
                sizes = cluster_sizes(checkpoint["metrics"])
                problem = collapse_message(sizes, self.settings.clustering.max_cluster_share)
                if problem:
                    logger.warning("%s: %s model collapsed: %s", stage, name, problem)
        return StageResult(best=best, final=final, history=progress.history)


def train_stage(
    model: ContrastiveVAEDEC,
    train: MouseTensors,
    validation: MouseTensors,
    settings: Stage,
    on_epoch_end: OnEpochEnd | None = None,
    resume_state: dict[str, Any] | None = None,
) -> StageResult:
    """Train ``model`` for one stage; returns best/final CPU checkpoints and the history.

    Early stopping watches the validation loss (patience from ``settings``); the best
    checkpoint is the epoch with the lowest one. With ``settings.last_checkpoint_path`` a
    "last" checkpoint with optimiser, schedule and RNG state is written atomically every
    epoch; pass it back as ``resume_state`` to continue an interrupted stage exactly.
    """
    return StageTrainer(model, train, validation, settings).run(on_epoch_end, resume_state)
