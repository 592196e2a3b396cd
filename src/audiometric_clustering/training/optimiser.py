"""The optimiser of a stage: one flat parameter buffer, fused Adam, cosine schedule, clipping.

A CPU training step of this small model is dominated by per-tensor overhead, not FLOPs:
Adam, gradient clipping and zeroing loop over ~35 tensors in Python. With one flat buffer
they become one fused Adam update, one norm and one ``zero_()``, saving about a millisecond
per step. The module keeps its own Parameter objects (now views), so state dicts, loading
and inference work unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn


def flatten_parameters(model: nn.Module) -> nn.Parameter:
    """Re-point every trainable parameter of ``model`` into one buffer; return that buffer.

    Gradients are pre-allocated as views into a second buffer: autograd then accumulates
    into them in place, so the buffer's ``.grad`` always holds every gradient. Zero it with
    ``flat.grad.zero_()`` (never set it to None) and optimise only the returned parameter.
    """
    parameters = [p for p in model.parameters() if p.requires_grad]
    flat = torch.empty(
        sum(p.numel() for p in parameters),
        device=parameters[0].device,
        dtype=parameters[0].dtype,
    )
    gradient = torch.zeros_like(flat)
    offset = 0
    with torch.no_grad():
        for parameter in parameters:
            size = parameter.numel()
            flat[offset : offset + size].copy_(parameter.reshape(-1))
            parameter.data = flat[offset : offset + size].view_as(parameter)
            parameter.grad = gradient[offset : offset + size].view_as(parameter)
            offset += size
    buffer = nn.Parameter(flat)
    buffer.grad = gradient
    return buffer


def clip_gradient_norm_(parameter: nn.Parameter, max_norm: float) -> None:
    """Scale the gradient down to ``max_norm`` if it is longer.

    On a GPU with tensor operations only (no host sync); on the CPU, where reading a number
    costs nothing, as one BLAS dot product and a scaling only when needed: the four tensor
    operations on 0-d tensors took about 0.3 ms of a 5 ms step there.
    """
    gradient = parameter.grad
    if gradient.device.type == "cpu":
        clip_norm_(gradient.numpy(), max_norm)
        return
    norm = torch.linalg.vector_norm(gradient)
    gradient.mul_((max_norm / (norm + 1e-6)).clamp(max=1.0))


def clip_norm_(values: np.ndarray, max_norm: float) -> None:
    """``clip_gradient_norm_`` of a CPU gradient, as the numpy array on its memory."""
    scale = max_norm / (math.sqrt(float(np.dot(values, values))) + 1e-6)
    if scale < 1.0:
        values *= np.float32(scale)


class Optimiser:
    """Adam (fused) on the flat buffer, cosine annealing per epoch, the fp16 gradient scaler
    (CUDA only) and clipping: everything a step changes besides the model, and what a
    resume checkpoint must restore."""

    def __init__(
        self,
        model: nn.Module,
        epochs: int,
        learning_rate: float,
        min_learning_rate: float,
        clip_norm: float | None,
        scale_gradients: bool,
    ) -> None:
        self.parameters = flatten_parameters(model)
        device = self.parameters.device
        self.adam = torch.optim.Adam(
            [self.parameters], lr=learning_rate, fused=device.type in ("cpu", "cuda")
        )
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.adam, T_max=epochs, eta_min=min_learning_rate
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=scale_gradients)
        self.clip_norm = clip_norm

    @property
    def learning_rate(self) -> float:
        return self.schedule.get_last_lr()[0]

    def step(self, loss: Tensor) -> None:
        """Backpropagate ``loss`` and take one clipped Adam step."""
        self.parameters.grad.zero_()
        self.scaler.scale(loss).backward()
        if self.clip_norm:
            self.scaler.unscale_(self.adam)
            clip_gradient_norm_(self.parameters, self.clip_norm)
        self.scaler.step(self.adam)
        self.scaler.update()

    def end_epoch(self) -> None:
        self.schedule.step()

    def state_dict(self) -> dict:
        return {
            "optimizer": _to_cpu(self.adam.state_dict()),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.adam.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])


def _to_cpu(value):
    """Optimiser state with every tensor on the CPU (a device-independent checkpoint)."""
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(item) for item in value)
    return value
