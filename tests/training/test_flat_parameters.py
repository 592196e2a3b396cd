"""One flat parameter buffer, its clipping and the direct fused Adam update."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from audiometric_clustering.training.flat_parameters import (
    FlatAdam,
    clip_gradient_norm_,
    flatten_parameters,
)


def _flat_model(seed: int) -> tuple[nn.Module, nn.Parameter]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    return model, flatten_parameters(model)


def test_parameters_and_gradients_are_views_of_one_buffer() -> None:
    model, flat = _flat_model(0)
    assert flat.numel() == sum(p.numel() for p in model.parameters())
    model(torch.randn(4, 5)).square().sum().backward()
    assert torch.equal(flat.grad, torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    with torch.no_grad():
        flat.zero_()
    assert all(not p.any() for p in model.parameters())


@pytest.mark.parametrize("max_norm", [None, 0.05, 100.0])
def test_flat_adam_follows_torch_adam(max_norm: float | None) -> None:
    """Same trajectory as torch's fused Adam with clip_gradient_norm_, over a changing
    learning rate, and the same state layout (a state dict moves between the two): the very
    same numbers, since the clipping and the kernel are the ones the autograd path uses."""
    (model_a, flat_a), (model_b, flat_b) = _flat_model(0), _flat_model(0)
    torch_adam = torch.optim.Adam([flat_a], lr=0.01, fused=True)
    flat_adam = FlatAdam(torch.optim.Adam([flat_b], lr=0.01, fused=True))
    for step in range(30):
        x = torch.randn(16, 5)
        for model, flat in ((model_a, flat_a), (model_b, flat_b)):
            flat.grad.zero_()
            model(x).square().mean().backward()
        if max_norm:
            clip_gradient_norm_(flat_a, max_norm)
        torch_adam.step()
        flat_adam.step(max_norm)
        for optimizer in (torch_adam, flat_adam.optimizer):
            optimizer.param_groups[0]["lr"] = 0.01 / (1 + step)
    torch.testing.assert_close(flat_b.detach(), flat_a.detach(), rtol=1e-5, atol=1e-6)
    assert torch.equal(flat_b.detach(), flat_a.detach())  # the same clipping and kernel
    state_a = torch_adam.state_dict()["state"][0]
    state_b = flat_adam.optimizer.state_dict()["state"][0]
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        torch.testing.assert_close(state_b[key], state_a[key], rtol=1e-5, atol=1e-7)


def test_flat_adam_refuses_what_it_does_not_implement() -> None:
    _, flat = _flat_model(0)
    with pytest.raises(ValueError, match="plain Adam"):
        FlatAdam(torch.optim.Adam([flat], weight_decay=0.1))
