"""A stage's progress: the per-epoch history, the best checkpoint, and resuming after a crash.

After every epoch the stage writes a "last" checkpoint (weights, optimiser, schedule, random
state, progress) atomically; passing it back as ``resume_state`` continues the stage
exactly where it stopped, as if it had never been interrupted.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiometric_clustering.model import ContrastiveVAEDEC
from audiometric_clustering.training.checkpoints import checkpoint_from_model
from audiometric_clustering.training.optimiser import Optimiser
from audiometric_clustering.training.settings import StageSettings

logger = logging.getLogger(__name__)


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
        self, stage: str, epoch: int, metrics: dict[str, float], model: ContrastiveVAEDEC
    ) -> None:
        """Append the epoch's metrics; keep a checkpoint when its validation loss is the best."""
        self.history.setdefault("epoch", []).append(float(epoch))
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))
        if metrics["val_loss"] < self.best_val_loss:
            self.best_val_loss = metrics["val_loss"]
            self.best = checkpoint_from_model(model, stage, epoch, metrics)
            self.epochs_since_best = 0
        else:
            self.epochs_since_best += 1


def last_checkpoint(
    settings: StageSettings,
    model: ContrastiveVAEDEC,
    optimiser: Optimiser,
    rng: np.random.Generator,
    progress: Progress,
) -> dict[str, Any]:
    """Everything needed to continue exactly: weights, optimiser, schedule, RNG, progress."""
    checkpoint = checkpoint_from_model(
        model, settings.stage, progress.last_epoch, progress.last_metrics
    )
    random_state = {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state}
    if torch.cuda.is_available() and next(model.parameters()).is_cuda:
        random_state["cuda"] = torch.cuda.get_rng_state_all()
    return checkpoint | optimiser.state_dict() | {"rng": random_state, "progress": asdict(progress)}


def restore(
    state: dict[str, Any],
    settings: StageSettings,
    model: ContrastiveVAEDEC,
    optimiser: Optimiser,
    rng: np.random.Generator,
) -> Progress:
    """Load a last checkpoint into the stage's model, optimiser and random state."""
    if state["stage"] != settings.stage or state["config"] != model.config.to_dict():
        raise ValueError(
            f"the last checkpoint is from stage {state['stage']!r} with another model "
            f"configuration; delete it or set resume: false to start {settings.stage} afresh"
        )
    model.load_state_dict(state["state_dict"])
    optimiser.load_state_dict(state)
    torch.set_rng_state(state["rng"]["torch"])
    rng.bit_generator.state = state["rng"]["numpy"]
    if "cuda" in state["rng"] and next(model.parameters()).is_cuda:
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    progress = Progress(**state["progress"])
    logger.info("%s: resuming after epoch %d", settings.stage, progress.last_epoch + 1)
    return progress


def load_resume_state(settings: StageSettings) -> dict[str, Any] | None:
    """The last checkpoint when ``resume`` is on and one exists, else None (a fresh start)."""
    if not settings.resume or not settings.last_checkpoint_path:
        return None
    path = Path(settings.last_checkpoint_path)
    if not path.is_file():
        logger.info("resume: no last checkpoint at %s, starting afresh", path)
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
