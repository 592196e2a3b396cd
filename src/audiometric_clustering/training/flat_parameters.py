"""All of a model's parameters (and gradients) as views into one contiguous buffer.

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
from torch import nn


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


class LastNumpyView:
    """``tensor.numpy()``, remembered for the last tensor it was called with: inside a CPU
    training step a torch call costs 20-90 us (the step's numpy work has evicted torch's
    code and data from the caches), an identity check nothing."""

    def __init__(self) -> None:
        self.tensor: torch.Tensor | None = None
        self.values: np.ndarray | None = None

    def __call__(self, tensor: torch.Tensor) -> np.ndarray:
        if tensor is not self.tensor:
            self.tensor, self.values = tensor, tensor.numpy()
        return self.values


class FlatAdam:
    """Gradient clipping and torch's fused Adam kernel on the flat buffer, called directly.

    On a small CPU, ``optimizer.step()`` spends most of its time in Python bookkeeping
    around that one kernel: about 0.1 ms a step, against 0.03 ms for the kernel alone. The
    update is the kernel's own, so it equals ``torch.optim.Adam(fused=True)``; the moments
    and step count stay in ``optimizer.state`` in torch's layout, so checkpoints, resuming
    and the learning-rate scheduler work unchanged. Supports the settings the engine uses:
    one flat parameter on the CPU, plain Adam (no weight decay, amsgrad or maximize).
    """

    def __init__(self, optimizer: torch.optim.Adam) -> None:
        (group,) = optimizer.param_groups
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ValueError("FlatAdam supports plain Adam only")
        (self.parameter,) = group["params"]
        if self.parameter.device.type != "cpu":
            raise ValueError("FlatAdam runs on the CPU; use optimizer.step() on a GPU")
        self.optimizer = optimizer
        self.gradient_values = self.parameter.grad.numpy()  # the flat gradient buffer
        self._step_values = LastNumpyView()  # of state["step"], replaced by load_state_dict

    def step(self, max_norm: float | None) -> None:
        """Clip the gradient to ``max_norm`` (None: no clipping), then one Adam update."""
        parameter, gradient = self.parameter, self.parameter.grad
        if max_norm:
            clip_norm_(self.gradient_values, max_norm)
        state = self.optimizer.state[parameter]
        if not state:  # as torch initialises it for the fused kernel
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        # torch.optim increments it before the kernel, too; here through numpy, on the same
        # memory (see LastNumpyView)
        step_value = self._step_values(state["step"])
        step_value += 1
        # looked up each step: load_state_dict and the scheduler replace or change the group
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        torch._fused_adam_(
            [parameter.detach()],
            [gradient],
            [state["exp_avg"]],
            [state["exp_avg_sq"]],
            [],
            [state["step"]],
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=group["eps"],
            maximize=False,
        )
