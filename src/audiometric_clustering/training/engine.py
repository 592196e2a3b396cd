"""The training loop shared by the pretraining and joint stages.

Design for speed on a small CPU as much as on a GPU: the data lives in pre-built tensors on
the device, each epoch is reordered once and stepped through by slicing, loss terms are
summed on the device and read once per epoch (no host sync inside the step loop), Adam is
fused, and the DEC target comes from one inference-mode pass per epoch. On a CPU the step
skips autograd: hand-written numpy gradients (``model.numpy_gradients``) and ``FlatAdam``.

The engine never imports MLflow: callers pass ``on_epoch_end(epoch, metrics)``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from audiometric_clustering.model import ContrastiveVAEDEC
from audiometric_clustering.model.losses import (
    abr_reconstruction_loss,
    clustering_loss,
    kl_divergence,
    metadata_reconstruction_loss,
    pca_reconstruction_loss,
    phenotype_consistency_loss,
    supervised_contrastive_loss,
    target_distribution,
)
from audiometric_clustering.model.numpy_gradients import NumpyEpoch, NumpyGradients
from audiometric_clustering.training.checkpoints import checkpoint_from_model, save_atomic
from audiometric_clustering.training.data import BatchPlan, MouseTensors, plan_batches
from audiometric_clustering.training.diagnostics import (
    cluster_sizes,
    cluster_statistics,
    collapse_message,
    split_largest_into_empty,
)
from audiometric_clustering.training.flat_parameters import (
    FlatAdam,
    LastNumpyView,
    clip_gradient_norm_,
    flatten_parameters,
)
from audiometric_clustering.training.inference import embed, soft_assignment

logger = logging.getLogger(__name__)

VAE_TERMS = ("abr", "metadata", "pca", "kl")
CLUSTER_TERMS = ("clustering", "contrastive", "phenotype_consistency")
#: Batch size of the inference-mode passes (DEC target, cluster sizes, validation q).
PASS_BATCH_SIZE = 8192

OnEpochEnd = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainingSettings:
    """How to optimise: one stage's parameters minus its loss definition."""

    epochs: int
    batch_size: int = 512
    learning_rate: float = 1.0e-3
    min_learning_rate: float = 1.0e-6
    early_stopping_patience: int = 20
    gradient_clip_norm: float | None = 5.0
    device: str = "auto"
    mixed_precision: bool = True
    cpu_gradients: str = "numpy"
    num_threads: int = 1
    log_every_n_epochs: int = 5
    resume: bool = False
    last_checkpoint_path: str | None = None
    seed: int = 42

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {self}")
        if self.cpu_gradients not in ("numpy", "autograd"):
            raise ValueError(f"cpu_gradients must be numpy or autograd, got {self.cpu_gradients!r}")


@dataclass(frozen=True)
class LossWeights:
    abr: float = 2.0
    metadata: float = 1.0
    pca: float = 1.5
    kl: float = 1.0
    clustering: float = 0.0
    contrastive: float = 0.0
    phenotype_consistency: float = 0.0


@dataclass(frozen=True)
class Objective:
    """What to optimise in a stage.

    ``joint`` adds the clustering, contrastive and consistency terms; their weights rise
    linearly from 1/warmup_epochs to 1 over the first ``warmup_epochs`` epochs, so that the
    latent space from pretraining is not torn apart before the centres settle. The DEC
    target is recomputed from a full pass over the training mice at the start of every epoch
    and, if ``target_update_interval`` > 0, also every that many steps within an epoch.
    With ``reseed_empty_clusters``, a cluster left without mice at the start of an epoch is
    re-seeded by splitting the largest one (see ``split_largest_into_empty``).
    ``assignment_change_tolerance`` is DEC's convergence test (Xie et al., 2016): after the
    warm-up, the stage stops once fewer than this share of training mice change their most
    likely cluster from one epoch to the next; further epochs would only polish weights that
    no longer move any mouse. 0 switches it off.
    """

    stage: str
    weights: LossWeights
    joint: bool = False
    abr_noise_db: float = 5.0
    contrastive_temperature: float = 0.1
    warmup_epochs: int = 0
    target_update_interval: int = 0
    max_cluster_share: float = 0.6
    reseed_empty_clusters: bool = True
    assignment_change_tolerance: float = 0.0

    @property
    def terms(self) -> tuple[str, ...]:
        return VAE_TERMS + CLUSTER_TERMS if self.joint else VAE_TERMS

    def term_weights(self, epoch: int | None) -> list[float]:
        """Weights per term at ``epoch`` (0-based); ``None`` gives the full, warmed-up ones."""
        ramp = 1.0
        if epoch is not None and self.warmup_epochs > 0:
            ramp = min(1.0, (epoch + 1) / self.warmup_epochs)
        return [
            getattr(self.weights, term) * (ramp if term in CLUSTER_TERMS else 1.0)
            for term in self.terms
        ]


def stage_configuration(
    params: dict[str, Any], seed: int, stage: str, joint: bool
) -> tuple[TrainingSettings, Objective]:
    """Split a stage's parameter dict into settings and objective; unknown keys are errors.

    Catching a misspelt key (``epoch`` for ``epochs``) here beats a silent default.
    """
    params = dict(params)
    weights = LossWeights(**params.pop("loss_weights", {}))
    setting_names = {f.name for f in fields(TrainingSettings)} - {"seed"}
    objective_names = {f.name for f in fields(Objective)} - {"stage", "weights", "joint"}
    unknown = set(params) - setting_names - objective_names
    if unknown:
        raise ValueError(f"unknown {stage} parameters: {sorted(unknown)}")
    settings = TrainingSettings(
        seed=seed, **{key: value for key, value in params.items() if key in setting_names}
    )
    objective = Objective(
        stage=stage,
        weights=weights,
        joint=joint,
        **{key: value for key, value in params.items() if key in objective_names},
    )
    return settings, objective


@dataclass
class StageResult:
    """Best (lowest validation loss) and final checkpoints, and per-epoch metric lists."""

    best: dict[str, Any]
    final: dict[str, Any]
    history: dict[str, list[float]]


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when present, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed python, numpy's global state and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def thread_count(n_threads: int) -> Iterator[None]:
    """Run with ``n_threads`` intra-op and BLAS threads (0 keeps the libraries' choice).

    Small matrices gain little from threads, and a busy second core makes two threads
    several times slower than one, so the count is a deliberate parameter.
    """
    previous = torch.get_num_threads()
    if n_threads <= 0:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(n_threads):  # numpy's BLAS (numpy_gradients) as well
            yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class EpochBatches:
    """One epoch's batch plan with its per-mouse tensors on the device, in epoch order;
    batch b is rows ``plan.bounds[b]:plan.bounds[b + 1]`` of each. ``numpy`` holds the same
    mice in the numpy step's layouts when the trainer uses numpy gradients."""

    data: MouseTensors
    order: Tensor  # positions of these mice in the dataset, i.e. ``plan.order`` on the device
    group: Tensor
    n_positives: Tensor
    plan: BatchPlan
    numpy: NumpyEpoch | None = None


class StageTrainer:
    """Trains one stage; ``run`` is the loop, ``step`` one optimisation step (benchmarked)."""

    def __init__(
        self,
        model: ContrastiveVAEDEC,
        train: MouseTensors,
        validation: MouseTensors,
        settings: TrainingSettings,
        objective: Objective,
    ) -> None:
        if len(train) == 0 or len(validation) == 0:
            raise ValueError(
                f"{objective.stage}: need training and validation mice, got {len(train)} "
                f"and {len(validation)} (check the model input's split column)"
            )
        model.check_categorical_codes(train.categorical)
        model.check_categorical_codes(validation.categorical)
        self.settings, self.objective = settings, objective
        self.device = resolve_device(settings.device)
        self.mixed_precision = settings.mixed_precision and self.device.type == "cuda"
        self.model = model.to(self.device)
        self.train_data, self.validation_data = train.to(self.device), validation.to(self.device)
        self.parameters = flatten_parameters(self.model)
        self.optimizer = torch.optim.Adam(
            [self.parameters],
            lr=settings.learning_rate,
            fused=self.device.type in ("cpu", "cuda"),
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=settings.epochs, eta_min=settings.min_learning_rate
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.mixed_precision)
        self.rng = np.random.default_rng(settings.seed)
        self.weights = self._weight_tensor(0)
        self.numpy_gradients = self._numpy_gradients()
        self.flat_adam = FlatAdam(self.optimizer) if self.numpy_gradients else None
        self.validation_plan = self.plan_epoch(self.validation_data, rng=None)
        # the training mice in dataset order, laid out once for the numpy DEC-target passes
        self.train_layout = None
        if self.numpy_gradients is not None:
            self.train_layout = self.numpy_gradients.epoch(self.train_data)
        # a torch call costs 20-90 us inside a numpy step (cold caches), so the step takes
        # the numpy views of an epoch's weights and target once
        self._weight_values, self._target_values = LastNumpyView(), LastNumpyView()

    # --- one step -----------------------------------------------------------------------

    def _numpy_gradients(self) -> NumpyGradients | None:
        """The hand-written CPU backward when asked for and possible, else None (autograd)."""
        if self.device.type != "cpu" or self.settings.cpu_gradients != "numpy":
            return None
        if self.model.config.dropout > 0:
            logger.info("%s: dropout > 0, so autograd computes the gradients", self.objective.stage)
            return None
        return NumpyGradients(
            self.model,
            joint=self.objective.joint,
            abr_noise_db=self.objective.abr_noise_db,
            contrastive_temperature=self.objective.contrastive_temperature,
        )

    def _autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.mixed_precision:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _weight_tensor(self, epoch: int | None) -> Tensor:
        return torch.tensor(self.objective.term_weights(epoch), device=self.device)

    def loss_terms(
        self,
        batch: MouseTensors,
        group: Tensor,
        n_positives: Tensor,
        target: Tensor | None,
        sample: bool,
    ) -> Tensor:
        """The objective's loss terms for one batch, stacked in ``objective.terms`` order."""
        model, objective = self.model, self.objective
        out = model(
            batch.abr,
            batch.observed,
            batch.continuous,
            batch.categorical,
            batch.pca,
            sample=sample,
            assign=objective.joint,
        )
        terms = [
            abr_reconstruction_loss(out.abr, batch.abr, batch.observed, objective.abr_noise_db),
            metadata_reconstruction_loss(
                out.continuous, batch.continuous, out.categorical_logits, batch.categorical
            ),
            pca_reconstruction_loss(out.pca, model.standardise_pca(batch.pca)),
            kl_divergence(out.mean, out.log_variance),
        ]
        if objective.joint:
            terms += [
                clustering_loss(out.log_assignment, target),
                supervised_contrastive_loss(
                    out.mean, group, n_positives, objective.contrastive_temperature
                ),
                phenotype_consistency_loss(out.log_assignment.exp(), group, n_positives),
            ]
        return torch.stack([term.float() for term in terms])

    def step(self, batches: EpochBatches, start: int, stop: int, target: Tensor | None) -> Tensor:
        """One optimisation step on rows start:stop of an epoch's ``batches`` (``target``:
        the epoch's DEC target, joint stage only); returns the detached loss terms (no host
        sync)."""
        if batches.numpy is not None:
            return self._numpy_step(batches.numpy, start, stop, target)
        target = None if target is None else target[start:stop]
        batch = batches.data.slice(start, stop)
        group, n_positives = batches.group[start:stop], batches.n_positives[start:stop]
        with self._autocast():
            terms = self.loss_terms(batch, group, n_positives, target, sample=True)
            loss = (terms * self.weights).sum()
        self.parameters.grad.zero_()
        self.scaler.scale(loss).backward()
        if self.settings.gradient_clip_norm:
            self.scaler.unscale_(self.optimizer)
            clip_gradient_norm_(self.parameters, self.settings.gradient_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return terms.detach()

    def _numpy_step(
        self, epoch: NumpyEpoch, start: int, stop: int, target: Tensor | None
    ) -> Tensor:
        """``step`` with the hand-written gradients and ``FlatAdam`` (CPU only)."""
        # the same draw as the model's randn_like, so both engines see the same noise
        noise = torch.randn(stop - start, self.model.config.latent_dim).numpy()
        target_values = None if target is None else self._target_values(target)[start:stop]
        terms = self.numpy_gradients(
            epoch.batch(start, stop), noise, self._weight_values(self.weights), target_values
        )
        self.flat_adam.step(self.settings.gradient_clip_norm)
        return torch.from_numpy(terms)

    # --- passes -------------------------------------------------------------------------

    def plan_epoch(self, data: MouseTensors, rng: np.random.Generator | None) -> EpochBatches:
        plan = plan_batches(data.line.cpu().numpy(), self.settings.batch_size, rng)
        order = torch.from_numpy(plan.order).to(self.device)
        ordered = data.subset(order)
        group = torch.from_numpy(plan.group).to(self.device)
        n_positives = torch.from_numpy(plan.n_positives).to(self.device, torch.float32)
        numpy = None
        if self.numpy_gradients is not None:
            numpy = self.numpy_gradients.epoch(ordered, group, n_positives)
        return EpochBatches(ordered, order, group, n_positives, plan, numpy)

    def train_assignment(self) -> Tensor:
        """q of every training mouse, in dataset order (for the DEC target and cluster sizes)."""
        return self._assignment(self.train_data, self.train_layout)

    def _assignment(self, data: MouseTensors, layout: NumpyEpoch | None) -> Tensor:
        """q of every mouse of ``data``; with the CPU engine, its own forward on ``layout``
        (the same mice), which with the compiled attention takes about half the time."""
        if layout is not None:
            return torch.from_numpy(self.numpy_gradients.soft_assignment(layout))
        with self._autocast():
            return soft_assignment(self.model, data, PASS_BATCH_SIZE)

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
                self.objective.stage,
                empty,
                split,
            )
        return len(splits)

    def epoch_target(self, epoch_plan: EpochBatches, assignment: Tensor) -> Tensor:
        """DEC target P of the training mice, in the epoch's order."""
        return target_distribution(assignment).index_select(0, epoch_plan.order)

    def validate(self) -> list[float]:
        """Validation loss terms, mean over mice, with the latent mean instead of a sample.

        Deterministic, so epochs compare without sampling noise. The DEC target of the
        validation mice comes from their own assignment, as it does for training mice.
        """
        plan = self.validation_plan
        target = None
        if self.objective.joint:
            target = target_distribution(self._assignment(plan.data, plan.numpy))
        sums = torch.zeros(len(self.objective.terms), device=self.device)
        self.model.eval()
        with torch.inference_mode(), self._autocast():
            for start, stop in plan.plan.batches():
                batch_target = None if target is None else target[start:stop]
                if plan.numpy is not None:  # the CPU engine's forward, without gradients
                    terms = torch.from_numpy(
                        self.numpy_gradients.validation_terms(
                            plan.numpy.batch(start, stop),
                            self.weights.numpy(),
                            None if batch_target is None else batch_target.numpy(),
                        )
                    )
                else:
                    terms = self.loss_terms(
                        plan.data.slice(start, stop),
                        plan.group[start:stop],
                        plan.n_positives[start:stop],
                        batch_target,
                        sample=False,
                    )
                sums += terms * (stop - start)
        self.model.train()
        return (sums / len(plan.data)).tolist()

    def train_epoch(self, epoch: int, assignment: Tensor | None) -> tuple[list[float], int, float]:
        """One pass over the training mice in line-grouped batches: mean loss terms, steps,
        and the seconds of the step loop alone (without planning the epoch)."""
        self.weights = self._weight_tensor(epoch)
        epoch_plan = self.plan_epoch(self.train_data, self.rng)
        target = None if assignment is None else self.epoch_target(epoch_plan, assignment)
        interval = self.objective.target_update_interval
        sums = torch.zeros(len(self.objective.terms), device=self.device)
        self.model.train()
        loop_started = time.perf_counter()
        for step_index, (start, stop) in enumerate(epoch_plan.plan.batches()):
            if target is not None and interval > 0 and step_index and step_index % interval == 0:
                target = self.epoch_target(epoch_plan, self.train_assignment())
            sums.add_(self.step(epoch_plan, start, stop, target), alpha=stop - start)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # the loop's time includes its queued kernels
        loop_seconds = time.perf_counter() - loop_started
        terms = (sums / len(self.train_data)).tolist()
        return terms, epoch_plan.plan.n_batches, loop_seconds

    # --- the loop -----------------------------------------------------------------------

    def run(
        self,
        on_epoch_end: OnEpochEnd | None = None,
        resume_state: dict[str, Any] | None = None,
    ) -> StageResult:
        settings, objective = self.settings, self.objective
        with thread_count(settings.num_threads), _cudnn_benchmark(self.device):
            seed_everything(settings.seed)
            progress = _Progress()
            if resume_state is not None:
                progress = self._restore(resume_state)
                if progress.completed:
                    logger.info("%s: already complete in the last checkpoint", objective.stage)
                    return self._result(progress)
            assignment = self.train_assignment() if objective.joint else None
            labels = None if assignment is None else assignment.argmax(1)
            for epoch in range(progress.next_epoch, settings.epochs):
                started = time.perf_counter()
                reseeded = 0
                if objective.joint and objective.reseed_empty_clusters:
                    reseeded = self.reseed_empty_clusters(assignment)
                    if reseeded:
                        assignment = self.train_assignment()
                learning_rate = self.scheduler.get_last_lr()[0]
                train_terms, steps, steps_seconds = self.train_epoch(epoch, assignment)
                with warnings.catch_warnings():
                    # FlatAdam updates without optimizer.step(), which this check looks for
                    warnings.filterwarnings(
                        "ignore", "Detected call of `lr_scheduler.step", UserWarning
                    )
                    self.scheduler.step()
                validation_terms = self.validate()
                metrics = self._epoch_metrics(epoch, train_terms, validation_terms, learning_rate)
                metrics |= {"steps": float(steps), "steps_seconds": steps_seconds}
                converged = False
                if objective.joint:
                    assignment = self.train_assignment()
                    metrics.update(cluster_statistics(assignment))
                    metrics["clusters_reseeded"] = float(reseeded)
                    previous, labels = labels, assignment.argmax(1)
                    metrics["assignment_change"] = (labels != previous).float().mean().item()
                    converged = (
                        epoch + 1 >= objective.warmup_epochs
                        and metrics["assignment_change"] < objective.assignment_change_tolerance
                    )
                metrics["epoch_seconds"] = time.perf_counter() - started
                progress.record(epoch, metrics)
                if metrics["val_loss"] < progress.best_val_loss:
                    progress.best_val_loss = metrics["val_loss"]
                    progress.best = checkpoint_from_model(
                        self.model, objective.stage, epoch, metrics
                    )
                    progress.epochs_since_best = 0
                else:
                    progress.epochs_since_best += 1
                stopping = converged or (
                    progress.epochs_since_best >= settings.early_stopping_patience
                )
                progress.completed = stopping or epoch == settings.epochs - 1
                if settings.last_checkpoint_path:
                    save_atomic(self._last_checkpoint(progress), settings.last_checkpoint_path)
                self._log_progress(epoch, metrics, stopping)
                if on_epoch_end is not None:
                    on_epoch_end(epoch, metrics)
                if stopping:
                    break
            return self._result(progress)

    def _epoch_metrics(
        self, epoch: int, train_terms: list[float], validation_terms: list[float], lr: float
    ) -> dict[str, float]:
        """Train loss with this epoch's (warming-up) weights; validation loss with the full
        weights from the first epoch, so the best-checkpoint choice compares equal objectives."""
        weights, full = self.objective.term_weights(epoch), self.objective.term_weights(None)
        metrics = {"loss": sum(w * t for w, t in zip(weights, train_terms, strict=True))}
        metrics |= {f"loss_{n}": v for n, v in zip(self.objective.terms, train_terms, strict=True)}
        metrics["val_loss"] = sum(w * t for w, t in zip(full, validation_terms, strict=True))
        metrics |= {
            f"val_loss_{n}": v for n, v in zip(self.objective.terms, validation_terms, strict=True)
        }
        metrics["lr"] = lr
        if not all(math.isfinite(value) for value in metrics.values()):
            raise FloatingPointError(f"{self.objective.stage} epoch {epoch}: {metrics}")
        return metrics

    def _log_progress(self, epoch: int, metrics: dict[str, float], stopping: bool) -> None:
        every = max(self.settings.log_every_n_epochs, 1)
        last = epoch == self.settings.epochs - 1
        if epoch == 0 or last or stopping or (epoch + 1) % every == 0:
            extra = ""
            if self.objective.joint:
                extra = (
                    f" largest cluster {metrics['largest_cluster_share']:.0%},"
                    f" {metrics['clusters_used']:.0f} used,"
                    f" {metrics['assignment_change']:.2%} changed cluster"
                )
            logger.info(
                "%s epoch %d/%d: loss %.4f val %.4f lr %.2e%s (%.2f s)%s",
                self.objective.stage,
                epoch + 1,
                self.settings.epochs,
                metrics["loss"],
                metrics["val_loss"],
                metrics["lr"],
                extra,
                metrics["epoch_seconds"],
                "; early stop" if stopping else "",
            )

    # --- checkpoints and resuming -------------------------------------------------------

    def _last_checkpoint(self, progress: _Progress) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, schedule, RNG, history."""
        checkpoint = checkpoint_from_model(
            self.model, self.objective.stage, progress.last_epoch, progress.last_metrics
        )
        return checkpoint | {
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": self.rng.bit_generator.state,
                **({"cuda": torch.cuda.get_rng_state_all()} if self.device.type == "cuda" else {}),
            },
            "progress": progress.to_dict(),
        }

    def _restore(self, state: dict[str, Any]) -> _Progress:
        if state["stage"] != self.objective.stage or state["config"] != self.model.config.to_dict():
            raise ValueError(
                f"the last checkpoint is from stage {state['stage']!r} with another model "
                f"configuration; delete it or set resume: false to start {self.objective.stage} afresh"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        progress = _Progress.from_dict(state["progress"])
        logger.info("%s: resuming after epoch %d", self.objective.stage, progress.last_epoch + 1)
        return progress

    def _result(self, progress: _Progress) -> StageResult:
        final = checkpoint_from_model(
            self.model, self.objective.stage, progress.last_epoch, progress.last_metrics
        )
        if self.objective.joint:
            for name, checkpoint in (("best", progress.best), ("final", final)):
                problem = collapse_message(
                    cluster_sizes(checkpoint["metrics"]), self.objective.max_cluster_share
                )
                if problem:
                    logger.warning(
                        "%s: %s model collapsed: %s", self.objective.stage, name, problem
                    )
        return StageResult(best=progress.best, final=final, history=progress.history)


@dataclass
class _Progress:
    """Loop state that a resumed run must get back (plain types only)."""

    history: dict[str, list[float]] | None = None
    best: dict[str, Any] | None = None
    best_val_loss: float = math.inf
    epochs_since_best: int = 0
    completed: bool = False

    def __post_init__(self) -> None:
        self.history = self.history or {}

    @property
    def last_epoch(self) -> int:
        return int(self.history["epoch"][-1]) if self.history.get("epoch") else -1

    @property
    def next_epoch(self) -> int:
        return self.last_epoch + 1

    @property
    def last_metrics(self) -> dict[str, float]:
        return {name: values[-1] for name, values in self.history.items() if name != "epoch"}

    def record(self, epoch: int, metrics: dict[str, float]) -> None:
        self.history.setdefault("epoch", []).append(float(epoch))
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "best": self.best,
            "best_val_loss": self.best_val_loss,
            "epochs_since_best": self.epochs_since_best,
            "completed": self.completed,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> _Progress:
        return cls(**values)


def _to_cpu(value: Any) -> Any:
    """Optimizer state with every tensor on the CPU (for a device-independent checkpoint)."""
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(item) for item in value)
    return value


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN autotuning on CUDA only (shapes repeat every epoch, so tuning pays off)."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = device.type == "cuda" or previous
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def load_resume_state(settings: TrainingSettings) -> dict[str, Any] | None:
    """The last checkpoint when ``resume`` is on and one exists, else None (a fresh start)."""
    if not settings.resume or not settings.last_checkpoint_path:
        return None
    path = Path(settings.last_checkpoint_path)
    if not path.is_file():
        logger.info("resume: no last checkpoint at %s, starting afresh", path)
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def train_stage(
    model: ContrastiveVAEDEC,
    train: MouseTensors,
    validation: MouseTensors,
    settings: TrainingSettings,
    objective: Objective,
    on_epoch_end: OnEpochEnd | None = None,
    resume_state: dict[str, Any] | None = None,
) -> StageResult:
    """Train ``model`` for one stage; returns best/final CPU checkpoints and the history.

    Early stopping watches the validation loss (patience from ``settings``); the best
    checkpoint is the epoch with the lowest one. With ``settings.last_checkpoint_path`` a
    "last" checkpoint with optimiser, schedule and RNG state is written atomically every
    epoch; pass it back as ``resume_state`` to continue an interrupted stage exactly.
    """
    trainer = StageTrainer(model, train, validation, settings, objective)
    return trainer.run(on_epoch_end, resume_state)


__all__ = [
    "LossWeights",
    "Objective",
    "StageResult",
    "StageTrainer",
    "TrainingSettings",
    "load_resume_state",
    "resolve_device",
    "seed_everything",
    "stage_configuration",
    "train_stage",
]
