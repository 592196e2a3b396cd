"""The optimiser: one flat parameter buffer, its clipping, and the stage's Adam and schedule."""

from __future__ import annotations

import torch
from torch import nn

from audiometric_clustering.training.optimiser import (
    Optimiser,
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


def test_optimiser_steps_clips_and_restores_its_state() -> None:
    """One step is torch's Adam on the clipped gradient; a state dict continues it exactly."""
    (model_a, _), (model_b, flat_b) = _flat_model(0), _flat_model(0)
    ours = Optimiser(model_a, 4, 0.01, 1e-4, clip_norm=0.05, scale_gradients=False)
    reference = torch.optim.Adam([flat_b], lr=0.01)
    x = torch.randn(16, 5)
    ours.step(model_a(x).square().mean())
    flat_b.grad.zero_()
    model_b(x).square().mean().backward()
    assert torch.linalg.vector_norm(flat_b.grad) > 0.05
    clip_gradient_norm_(flat_b, 0.05)
    reference.step()
    torch.testing.assert_close(ours.parameters.detach(), flat_b.detach())
    ours.end_epoch()
    assert ours.learning_rate < 0.01  # cosine annealing per epoch
    state = ours.state_dict()
    (model_c, _) = _flat_model(1)
    resumed = Optimiser(model_c, 4, 0.01, 1e-4, clip_norm=0.05, scale_gradients=False)
    resumed.load_state_dict(state)
    assert resumed.learning_rate == ours.learning_rate
    assert torch.equal(
        resumed.adam.state_dict()["state"][0]["exp_avg"],
        ours.adam.state_dict()["state"][0]["exp_avg"],
    )
