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
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audiometric_clustering.model import ContrastiveVAEDEC, MouseTensors
from audiometric_clustering.training.checkpoints import checkpoint_from_model, save_atomic
from audiometric_clustering.training.optimiser import Optimiser
from audiometric_clustering.training.settings import Stage

logger = logging.getLogger(__name__)

#: Settings that change how a stage runs, not what it computes: a resume may change them.
HOW_IT_RUNS = frozenset(
    {"resume", "log_every_n_epochs", "num_threads", "device", "mixed_precision", "compile"}
)
#: What a resume gets back of the progress (the "progress" entry of a last checkpoint).
STATE = ("history", "best", "best_val_loss", "epochs_since_best", "completed")


class Progress:
    """One stage's progress: history, best checkpoint, patience, and its last checkpoint.

    ``identity`` is everything that makes the stage's result, by the name a user would
    change it under: the seed and each setting (``loss_weights.kl``), the model's
    configuration (``model.latent_dim``), its starting weights and the training and
    validation data.
    """

    def __init__(
        self,
        stage: Stage,
        model: ContrastiveVAEDEC,
        train: MouseTensors,
        validation: MouseTensors,
    ) -> None:
        self.stage = stage
        self.identity = {"seed": repr(stage.seed)}
        for name, value in stage.settings.model_dump().items():
            if name == "loss_weights":
                self.identity |= {f"loss_weights.{term}": repr(w) for term, w in value.items()}
            elif name not in HOW_IT_RUNS and value is not None:
                self.identity[name] = repr(value)
        self.identity |= {
            f"model.{key}": repr(value) for key, value in model.config.to_dict().items()
        }
        self.identity["starting weights"] = _digest(list(model.state_dict().values()))
        self.identity["data"] = _digest(
            [getattr(tensors, f.name) for tensors in (train, validation) for f in fields(tensors)]
        )
        self.history: dict[str, list[float]] = {}
        self.best: dict[str, Any] | None = None
        self.best_val_loss = math.inf
        self.epochs_since_best = 0
        self.completed = False

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
        self, epoch: int, metrics: dict[str, float], model: ContrastiveVAEDEC, converged: bool
    ) -> bool:
        """Append the epoch's metrics; keep a checkpoint when its validation loss is the best
        since the warm-up; returns whether the stage stops here (converged, or out of
        patience) and marks it completed then or at its last epoch.

        Before the warm-up ends the warming terms are not yet at full weight: a model that
        DEC (or the prior) has barely moved would win on validation loss, so those epochs
        keep no checkpoint and count towards no patience.
        """
        self.history.setdefault("epoch", []).append(float(epoch))
        for name, value in metrics.items():
            self.history.setdefault(name, []).append(float(value))
        if epoch + 1 >= (self.stage.objective.warmup_epochs or 0):
            if metrics["val_loss"] < self.best_val_loss:
                self.best_val_loss = metrics["val_loss"]
                self.best = checkpoint_from_model(model, self.stage.name, epoch, metrics)
                self.epochs_since_best = 0
            else:
                self.epochs_since_best += 1
        settings = self.stage.settings
        stopping = converged or self.epochs_since_best >= settings.early_stopping_patience
        self.completed = stopping or epoch == settings.epochs - 1
        return stopping

    def save(
        self, model: ContrastiveVAEDEC, optimiser: Optimiser, rng: np.random.Generator
    ) -> None:
        """Write the last checkpoint, if the stage keeps one: everything needed to continue
        exactly (weights, optimiser, schedule, RNG, progress) and the identity to check."""
        if not self.stage.last_checkpoint_path:
            return
        checkpoint = checkpoint_from_model(
            model, self.stage.name, self.last_epoch, self.last_metrics
        )
        random_state = {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state}
        if torch.cuda.is_available() and next(model.parameters()).is_cuda:
            random_state["cuda"] = torch.cuda.get_rng_state_all()
        progress = {name: getattr(self, name) for name in STATE}
        extra = {"rng": random_state, "progress": progress, "identity": self.identity}
        save_atomic(checkpoint | optimiser.state_dict() | extra, self.stage.last_checkpoint_path)

    def resume(
        self,
        state: dict[str, Any],
        model: ContrastiveVAEDEC,
        optimiser: Optimiser,
        rng: np.random.Generator,
    ) -> None:
        """Load a last checkpoint into the model, optimiser, random state and this progress,
        after checking that it was written by a run with this stage's identity."""
        written = state.get("identity", {})
        differences = [
            f"{key} = {written.get(key, 'absent')} (this run: {self.identity.get(key, 'absent')})"
            for key in sorted(set(written) | set(self.identity))
            if written.get(key) != self.identity.get(key)
        ]
        name, entry = self.stage.name, self.stage.entry
        if state["stage"] != name or differences:
            what = differences if state["stage"] == name else [f"stage {state['stage']}"]
            raise ValueError(
                f"{entry}: cannot resume from {self.stage.last_checkpoint_path or 'the checkpoint'}"
                f": it was written with {'; '.join(what)}. Resume with the settings it was "
                f"written with, or set {entry}.resume=false to start the stage afresh."
            )
        model.load_state_dict(state["state_dict"])
        optimiser.load_state_dict(state)
        torch.set_rng_state(state["rng"]["torch"])
        rng.bit_generator.state = state["rng"]["numpy"]
        if "cuda" in state["rng"] and next(model.parameters()).is_cuda:
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        for key in STATE:
            setattr(self, key, state["progress"][key])
        logger.info("%s: resuming after epoch %d", name, self.last_epoch + 1)

    def log(self, epoch: int, metrics: dict[str, float], stopping: bool, clusters: str) -> None:
        """A progress line every ``log_every_n_epochs`` epochs, and at the first and last."""
        every, epochs = self.stage.settings.log_every_n_epochs, self.stage.settings.epochs
        if not (epoch == 0 or epoch == epochs - 1 or stopping or (epoch + 1) % every == 0):
            return
        logger.info(
            "%s epoch %d/%d: loss %.4f val %.4f lr %.2e%s (%.2f s)%s",
            self.stage.name,
            epoch + 1,
            epochs,
            metrics["loss"],
            metrics["val_loss"],
            metrics["lr"],
            clusters,
            metrics["epoch_seconds"],
            "; early stop" if stopping else "",
        )

    @staticmethod
    def saved_state(stage: Stage) -> dict[str, Any] | None:
        """The stage's last checkpoint when ``resume`` is on and one exists, else None (a
        fresh start)."""
        if not stage.settings.resume or not stage.last_checkpoint_path:
            return None
        path = Path(stage.last_checkpoint_path)
        if not path.is_file():
            logger.info("resume: no last checkpoint at %s, starting afresh", path)
            return None
        return torch.load(path, map_location="cpu", weights_only=True)


def _digest(tensors: list[torch.Tensor]) -> str:
    hasher = hashlib.sha256()
    for tensor in tensors:
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()[:16]
