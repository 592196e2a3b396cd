"""A stage's progress: the per-epoch history, the best checkpoint, and resuming after a crash.

After every epoch the stage writes a "last" checkpoint (weights, optimiser, schedule, random
state, progress) atomically; passing it back as ``resume_state`` continues the stage
exactly where it stopped, as if it had never been interrupted. The checkpoint carries the
stage's identity (data, seed, settings, starting weights): a resume with another one is
refused, naming what differs, since it would return a model the run's settings do not
describe.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.training.checkpoints import checkpoint_from_model
from audiometric_clustering.training.optimiser import Optimiser
from audiometric_clustering.training.settings import Stage

logger = logging.getLogger(__name__)

#: Settings that change how a stage runs, not what it computes: a resume may change them.
HOW_IT_RUNS = frozenset(
    {"resume", "last_checkpoint_path", "log_every_n_epochs", "num_threads", "device"}
    | {"mixed_precision", "compile"}
)


def _digest(tensors: list[torch.Tensor]) -> str:
    hasher = hashlib.sha256()
    for tensor in tensors:
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()[:16]


def stage_identity(
    settings: Stage,
    model: ContrastiveVAEDEC,
    train: MouseTensors,
    validation: MouseTensors,
) -> dict[str, str]:
    """Everything that makes a stage's result, by the name a user would change it under:
    the seed and each setting (``loss_weights.kl``), the model's configuration
    (``model.latent_dim``), its starting weights and the training and validation data."""
    identity = {"seed": repr(settings.seed)}
    for name, value in settings.settings.model_dump().items():
        if name in HOW_IT_RUNS or value is None:
            continue
        if name == "loss_weights":
            identity |= {f"loss_weights.{term}": repr(w) for term, w in value.items()}
        else:
            identity[name] = repr(value)
    identity |= {f"model.{key}": repr(value) for key, value in model.config.to_dict().items()}
    identity["starting weights"] = _digest(list(model.state_dict().values()))
    identity["data"] = _digest(
        [getattr(tensors, f.name) for tensors in (train, validation) for f in fields(tensors)]
    )
    return identity


def identity_differences(written: dict[str, str], current: dict[str, str]) -> list[str]:
    """``key = written value (this run: current value)`` for every difference."""
    return [
        f"{key} = {written.get(key, 'absent')} (this run: {current.get(key, 'absent')})"
        for key in sorted(set(written) | set(current))
        if written.get(key) != current.get(key)
    ]


@dataclass
class Progress:
    """Loop state that a resumed run must get back (plain types only)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    best_val_loss: float = math.inf
    epochs_since_best: int = 0
    completed: bool = False

    @property
    def last_epoch(self) -> int:
        return int(self.history["epoch"][-1]) if self.history.get("epoch") else -1

    @property
    def next_epoch(self) -> int:
        return self.last_epoch + 1

    @property
    def last_metrics(self) -> dict[str, float]:
        return {name: values[-1] for name, values in self.history.items() if name != "epoch"}

    def record(
        self,
        stage: str,
        epoch: int,
        metrics: dict[str, float],
        model: ContrastiveVAEDEC,
        eligible: bool = True,
    ) -> None:
        """Append the epoch's metrics; keep a checkpoint when its validation loss is the best
        of the ``eligible`` epochs (the others count towards no patience either)."""
        self.history.setdefault("epoch", []).append(float(epoch))
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))
        if not eligible:
            return
        if metrics["val_loss"] < self.best_val_loss:
            self.best_val_loss = metrics["val_loss"]
            self.best = checkpoint_from_model(model, stage, epoch, metrics)
            self.epochs_since_best = 0
        else:
            self.epochs_since_best += 1


def last_checkpoint(
    settings: Stage,
    identity: dict[str, str],
    model: ContrastiveVAEDEC,
    optimiser: Optimiser,
    rng: np.random.Generator,
    progress: Progress,
) -> dict[str, Any]:
    """Everything needed to continue exactly: weights, optimiser, schedule, RNG, progress,
    and the stage's identity to check a resume against."""
    checkpoint = checkpoint_from_model(
        model, settings.name, progress.last_epoch, progress.last_metrics
    )
    random_state = {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state}
    if torch.cuda.is_available() and next(model.parameters()).is_cuda:
        random_state["cuda"] = torch.cuda.get_rng_state_all()
    extra = {"rng": random_state, "progress": asdict(progress), "identity": identity}
    return checkpoint | optimiser.state_dict() | extra


def restore(
    state: dict[str, Any],
    settings: Stage,
    identity: dict[str, str],
    model: ContrastiveVAEDEC,
    optimiser: Optimiser,
    rng: np.random.Generator,
) -> Progress:
    """Load a last checkpoint into the stage's model, optimiser and random state, after
    checking that it was written by a run with this ``identity``."""
    differences = identity_differences(state.get("identity", {}), identity)
    if state["stage"] != settings.name or differences:
        entry = settings.entry
        what = differences if state["stage"] == settings.name else [f"stage {state['stage']}"]
        raise ValueError(
            f"{entry}: cannot resume from {settings.last_checkpoint_path or 'the checkpoint'}: "
            f"it was written with {'; '.join(what)}. Resume with the settings it was written "
            f"with, or set {entry}.resume=false to start the stage afresh."
        )
    model.load_state_dict(state["state_dict"])
    optimiser.load_state_dict(state)
    torch.set_rng_state(state["rng"]["torch"])
    rng.bit_generator.state = state["rng"]["numpy"]
    if "cuda" in state["rng"] and next(model.parameters()).is_cuda:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    progress = Progress(**state["progress"])
    logger.info("%s: resuming after epoch %d", settings.name, progress.last_epoch + 1)
    return progress


def load_resume_state(settings: Stage) -> dict[str, Any] | None:
    """The last checkpoint when ``resume`` is on and one exists, else None (a fresh start)."""
    if not settings.settings.resume or not settings.last_checkpoint_path:
        return None
    path = Path(settings.last_checkpoint_path)
    if not path.is_file():
        logger.info("resume: no last checkpoint at %s, starting afresh", path)
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def epoch_metrics(
    settings: Stage,
    epoch: int,
    train_terms: list[float],
    validation_terms: list[float],
    learning_rate: float,
) -> dict[str, float]:
    """Train loss with this epoch's (warming-up) weights; validation loss with the full
    weights from the first epoch, so the best-checkpoint choice compares equal objectives."""
    objective = settings.objective
    names = objective.terms
    weights, full = objective.weights_at(epoch), objective.weights_at(None)
    metrics = {"loss": sum(w * t for w, t in zip(weights, train_terms, strict=True))}
    metrics |= {f"loss_{n}": v for n, v in zip(names, train_terms, strict=True)}
    metrics["val_loss"] = sum(w * t for w, t in zip(full, validation_terms, strict=True))
    metrics |= {f"val_loss_{n}": v for n, v in zip(names, validation_terms, strict=True)}
    metrics["lr"] = learning_rate
    if not all(math.isfinite(value) for value in metrics.values()):
        raise FloatingPointError(f"{settings.name} epoch {epoch}: {metrics}")
    return metrics


def log_progress(settings: Stage, epoch: int, metrics: dict[str, float], stopping: bool) -> None:
    """A progress line every ``log_every_n_epochs`` epochs, and at the first and last."""
    every, epochs = settings.settings.log_every_n_epochs, settings.settings.epochs
    if not (epoch == 0 or epoch == epochs - 1 or stopping or (epoch + 1) % every == 0):
        return
    clusters = ""
    if settings.clustering:
        clusters = (
            f" largest cluster {metrics['largest_cluster_share']:.0%},"
            f" {metrics['clusters_used']:.0f} used,"
            f" {metrics['assignment_change']:.2%} changed cluster"
        )
    logger.info(
        "%s epoch %d/%d: loss %.4f val %.4f lr %.2e%s (%.2f s)%s",
        settings.name,
        epoch + 1,
        epochs,
        metrics["loss"],
        metrics["val_loss"],
        metrics["lr"],
        clusters,
        metrics["epoch_seconds"],
        "; early stop" if stopping else "",
    )
