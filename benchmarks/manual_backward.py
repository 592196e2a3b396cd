"""How much of a CPU step is autograd's overhead? The model's MLP stack, three ways.

    .venv/bin/python benchmarks/manual_backward.py [--steps 450]

A training step of this model is dominated by a fixed cost per operation (see
training_step.py's 16-mouse figure), and autograd adds a node per forward operation. This
script measures what a hand-written backward would save, on the part of the model that is
plain layers: the encoder MLP (40 -> 64 -> 32 -> 16 -> mean and log-variance of 10 dims),
the reparameterisation, the decoder MLP (10 -> 16 -> 32 -> 64 -> 40), a squared-error
reconstruction and the KL term, then an Adam update of one flat parameter buffer.

- ``autograd``: ``nn.Linear`` layers with their parameters in one flat buffer,
  ``backward()``, fused Adam: as the training engine does it.
- ``torch by hand``: the same maths with the gradients written out, under ``no_grad``,
  into a flat gradient buffer, then the same fused Adam.
- ``numpy by hand``: the same hand-written maths on numpy arrays, with Adam written out.

Before timing, the hand-written gradients are checked against autograd's on one batch with
the same noise draw. Steps of the three alternate, so all medians share this machine's drift.
Everything runs on one thread.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits  # installed with scikit-learn
from torch import nn
from training_step import time_alternated

from audiometric_clustering.training.flat_parameters import flatten_parameters

ENCODER = [40, 64, 32, 16, 20]  # the last layer gives mean and log-variance (2 x 10)
DECODER = [10, 16, 32, 64, 40]
LAYERS = list(zip(ENCODER[:-1], ENCODER[1:], strict=True)) + list(
    zip(DECODER[:-1], DECODER[1:], strict=True)
)
LATENT = DECODER[0]
Array = np.ndarray | torch.Tensor  # the hand-written maths runs on either

NUMPY = SimpleNamespace(
    exp=np.exp,
    cat=lambda parts: np.concatenate(parts, axis=1),
    relu_=lambda a: np.maximum(a, 0, out=a),
    matmul_into=lambda a, b, out: np.matmul(a, b, out=out),
    sum0_into=lambda a, out: np.sum(a, axis=0, out=out),
)
TORCH = SimpleNamespace(
    exp=torch.exp,
    cat=lambda parts: torch.cat(parts, dim=1),
    relu_=lambda a: a.clamp_(min=0),
    matmul_into=lambda a, b, out: torch.matmul(a, b, out=out),
    sum0_into=lambda a, out: torch.sum(a, 0, out=out),
)


class FlatLayers:
    """Weights and biases as views of one flat buffer, and gradients as views of another, in
    the layout ``flatten_parameters`` gives the torch layers (weight, bias, next layer)."""

    def __init__(self, flat, gradient) -> None:
        self.flat, self.gradient = flat, gradient
        self.weights, self.biases, self.weight_grads, self.bias_grads = [], [], [], []
        offset = 0
        for width_in, width_out in LAYERS:
            size = width_in * width_out
            self.weights.append(flat[offset : offset + size].reshape(width_out, width_in))
            self.weight_grads.append(gradient[offset : offset + size].reshape(width_out, width_in))
            self.biases.append(flat[offset + size : offset + size + width_out])
            self.bias_grads.append(gradient[offset + size : offset + size + width_out])
            offset += size + width_out


def n_parameters() -> int:
    return sum(width_in * width_out + width_out for width_in, width_out in LAYERS)


def torch_layers(initial: np.ndarray) -> tuple[nn.ModuleList, nn.Parameter]:
    """The layers as torch modules whose parameters are views of one flat buffer, as the
    training engine keeps them (``flatten_parameters``), starting from ``initial``."""
    layers = nn.ModuleList(nn.Linear(width_in, width_out) for width_in, width_out in LAYERS)
    flat = flatten_parameters(layers)
    with torch.no_grad():
        flat.copy_(torch.from_numpy(initial))
    return layers, flat


def autograd_loss(layers: nn.ModuleList, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    hidden = x
    for index in range(4):
        hidden = layers[index](hidden)
        hidden = hidden.relu() if index < 3 else hidden
    mean, log_variance = hidden.chunk(2, dim=1)
    hidden = mean + noise * torch.exp(0.5 * log_variance)
    for index in range(4, 8):
        hidden = layers[index](hidden)
        hidden = hidden.relu() if index < 7 else hidden
    reconstruction = F.mse_loss(hidden, x, reduction="sum")
    kl = 0.5 * (mean.square() + log_variance.exp() - log_variance).sum()
    return (reconstruction + kl) / len(x)


def hand_written_gradient(layers: FlatLayers, x: Array, noise: Array, ops: SimpleNamespace) -> None:
    """Forward, then every gradient written into ``layers.gradient``; same loss as above."""
    layer_inputs = []
    hidden = x
    for index in range(8):
        if index == 4:
            mean, log_variance = hidden[:, :LATENT], hidden[:, LATENT:]
            spread = ops.exp(0.5 * log_variance)
            hidden = mean + noise * spread
        layer_inputs.append(hidden)
        hidden = hidden @ layers.weights[index].T
        hidden += layers.biases[index]
        if index not in (3, 7):  # the latent layer and the output are linear
            ops.relu_(hidden)
    grad = (hidden - x) * (2.0 / len(x))
    for index in range(7, -1, -1):
        layer_input = layer_inputs[index]
        ops.matmul_into(grad.T, layer_input, layers.weight_grads[index])
        ops.sum0_into(grad, layers.bias_grads[index])
        if index == 0:
            break
        grad = grad @ layers.weights[index]
        if index == 4:  # through the reparameterisation, plus the KL term
            grad_mean = grad + mean * (1.0 / len(x))
            grad_log_variance = grad * noise * spread * 0.5
            grad_log_variance += (ops.exp(log_variance) - 1.0) * (0.5 / len(x))
            grad = ops.cat([grad_mean, grad_log_variance])
        else:  # through the ReLU that produced this layer's input
            grad *= layer_input > 0


def numpy_adam(learning_rate: float = 1e-3) -> Callable[[np.ndarray, np.ndarray], None]:
    """Adam on flat arrays, written out (numpy has no optimiser)."""
    state = {"step": 0}
    first = second = scratch = None

    def update(flat: np.ndarray, gradient: np.ndarray) -> None:
        nonlocal first, second, scratch
        if first is None:
            first, second, scratch = (np.zeros_like(flat) for _ in range(3))
        state["step"] += 1
        step = state["step"]
        first *= 0.9
        first += 0.1 * gradient
        second *= 0.999
        np.multiply(gradient, gradient, out=scratch)
        second += 0.001 * scratch
        np.sqrt(second / (1 - 0.999**step), out=scratch)
        scratch += 1e-8
        np.divide(first, scratch, out=scratch)
        flat -= (learning_rate / (1 - 0.9**step)) * scratch

    return update


def build_steps(batch: int, rng: np.random.Generator) -> dict[str, Callable[[], None]]:
    initial = rng.normal(scale=0.2, size=n_parameters()).astype(np.float32)
    x = rng.normal(size=(batch, ENCODER[0])).astype(np.float32)
    noise = rng.normal(size=(batch, LATENT)).astype(np.float32)
    tx, tnoise = torch.from_numpy(x), torch.from_numpy(noise)

    modules, flat = torch_layers(initial)
    adam = torch.optim.Adam([flat], lr=1e-3, fused=True)

    def autograd_step() -> None:
        flat.grad.zero_()
        autograd_loss(modules, tx, tnoise).backward()
        adam.step()

    by_hand = nn.Parameter(torch.from_numpy(initial.copy()))
    by_hand.grad = torch.zeros_like(by_hand)
    by_hand_layers = FlatLayers(by_hand.detach(), by_hand.grad)
    by_hand_adam = torch.optim.Adam([by_hand], lr=1e-3, fused=True)

    def torch_step() -> None:
        with torch.no_grad():
            hand_written_gradient(by_hand_layers, tx, tnoise, TORCH)
        by_hand_adam.step()

    numpy_layers = FlatLayers(initial.copy(), np.zeros_like(initial))
    numpy_update = numpy_adam()

    def numpy_step() -> None:
        hand_written_gradient(numpy_layers, x, noise, NUMPY)
        numpy_update(numpy_layers.flat, numpy_layers.gradient)

    return {"autograd": autograd_step, "torch by hand": torch_step, "numpy by hand": numpy_step}


def check_gradients(rng: np.random.Generator) -> float:
    """Largest difference between the hand-written gradients and autograd's."""
    initial = rng.normal(scale=0.2, size=n_parameters()).astype(np.float32)
    x = rng.normal(size=(64, ENCODER[0])).astype(np.float32)
    noise = rng.normal(size=(64, LATENT)).astype(np.float32)
    modules, flat = torch_layers(initial)
    autograd_loss(modules, torch.from_numpy(x), torch.from_numpy(noise)).backward()
    by_torch = FlatLayers(torch.from_numpy(initial.copy()), torch.zeros(n_parameters()))
    with torch.no_grad():
        hand_written_gradient(by_torch, torch.from_numpy(x), torch.from_numpy(noise), TORCH)
    by_numpy = FlatLayers(initial.copy(), np.zeros(n_parameters(), np.float32))
    hand_written_gradient(by_numpy, x, noise, NUMPY)
    return max(
        (by_torch.gradient - flat.grad).abs().max().item(),
        float(np.abs(by_numpy.gradient - flat.grad.numpy()).max()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=450, help="timed steps of each kind")
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy's BLAS too: one thread each, as the training engine uses
    rng = np.random.default_rng(0)
    difference = check_gradients(rng)
    print(f"hand-written gradients against autograd's: largest difference {difference:.1e}")
    if difference > 1e-4:
        raise SystemExit("the hand-written gradients disagree with autograd; timings would mislead")
    for batch in (16, 512):
        times = time_alternated(build_steps(batch, rng), args.steps, args.warmup)
        print(
            f"batch {batch:3d}: "
            + ", ".join(
                f"{name} {1e3 * statistics.median(wall):.2f} ms"
                for name, (wall, _) in times.items()
            )
            + f" (medians of {args.steps} alternated steps)"
        )


if __name__ == "__main__":
    main()
