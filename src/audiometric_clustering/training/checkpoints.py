"""Weights-only checkpoints: plain dicts of CPU tensors and python values.

A checkpoint is ``{"stage", "epoch", "config", "state_dict", "metrics"}`` (plus optional
plain extras), so ``torch.load(path, weights_only=True)`` can read it: no pickled code runs
on load and no class needs to be importable to inspect one.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from audiometric_clustering.atomic_files import replaced_atomically
from audiometric_clustering.model import ContrastiveVAEDEC, ModelConfig


def cpu_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy, safe to keep while training goes on and to hand between nodes."""
    return {
        name: tensor.detach().to("cpu", copy=True) for name, tensor in module.state_dict().items()
    }


def checkpoint_from_model(
    model: ContrastiveVAEDEC, stage: str, epoch: int, metrics: dict[str, float]
) -> dict[str, Any]:
    return {
        "stage": stage,
        "epoch": int(epoch),
        "config": model.config.to_dict(),
        "state_dict": cpu_state_dict(model),
        "metrics": {name: float(value) for name, value in metrics.items()},
    }


def model_from_checkpoint(checkpoint: dict[str, Any]) -> ContrastiveVAEDEC:
    """Rebuild the model on the CPU, in eval mode, with every weight checked (strict load)."""
    model = ContrastiveVAEDEC(ModelConfig.from_dict(checkpoint["config"]))
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.eval()


def save_atomic(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """torch.save through a file beside ``path`` renamed over it: a crash mid-write leaves
    the previous checkpoint intact, which matters most for the one resuming relies on."""
    with replaced_atomically(path) as partial:
        torch.save(payload, partial)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Weights-only load onto the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)
