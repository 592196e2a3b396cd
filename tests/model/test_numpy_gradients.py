"""The hand-written numpy loss and gradient against torch autograd on the same model.

A change to network.py or losses.py that is not mirrored in numpy_gradients.py fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiometric_clustering.model import ContrastiveVAEDEC, ModelConfig
from audiometric_clustering.model.numpy_gradients import NumpyGradients
from audiometric_clustering.training.data import MouseTensors
from audiometric_clustering.training.engine import (
    LossWeights,
    Objective,
    StageTrainer,
    TrainingSettings,
)

CARDINALITIES = [3, 3, 4, 5, 5, 4, 6]
N_MICE = 96


def _mice(rng: np.random.Generator) -> MouseTensors:
    """Mice in lines of 1-6 plus controls, with some imputed thresholds and unknown codes."""
    n = N_MICE
    line = np.repeat(np.arange(30), rng.integers(1, 6, 30))[:n]
    line = np.where(rng.random(n) < 0.2, -1, np.pad(line, (0, n - len(line)), constant_values=-1))
    categorical = np.stack([rng.integers(0, c, n) for c in CARDINALITIES], axis=1)
    return MouseTensors(
        abr=torch.from_numpy(rng.uniform(-5.0, 110.0, (n, 6)).astype(np.float32)),
        observed=torch.from_numpy((rng.random((n, 6)) < 0.8).astype(np.float32)),
        continuous=torch.from_numpy(rng.normal(size=(n, 2)).astype(np.float32)),
        categorical=torch.from_numpy(categorical.astype(np.int64)),
        pca=torch.from_numpy(rng.normal(0.0, 30.0, (n, 2)).astype(np.float32)),
        line=torch.from_numpy(line.astype(np.int64)),
    )


def _trainer(joint: bool, seed: int, alpha: float = 1.0, engine: str = "autograd") -> StageTrainer:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    config = ModelConfig(
        categorical_cardinalities=CARDINALITIES, n_clusters=5, student_t_alpha=alpha
    )
    model = ContrastiveVAEDEC(config)
    mice = _mice(rng)
    model.set_pca_scaling(mice.pca)
    with torch.no_grad():  # spread-out latent means with centres on five of them, so that
        # assignments are far from uniform and some log-variances hit their clamp
        model.to_latent.weight.mul_(30.0)
        mean, _ = model.encode(mice.abr, mice.observed, mice.continuous, mice.categorical, mice.pca)
        model.clustering.centres.copy_(mean[:5])
    weights = LossWeights(
        abr=2.0, metadata=0.7, pca=1.5, kl=1.1, clustering=0.9, contrastive=0.5,
        phenotype_consistency=0.3,
    )  # fmt: skip
    objective = Objective(stage="joint" if joint else "pretrain", weights=weights, joint=joint)
    settings = TrainingSettings(epochs=1, cpu_gradients=engine, seed=seed)
    return StageTrainer(model, mice, mice, settings, objective)


@pytest.mark.parametrize(
    ("joint", "alpha"),
    [(False, 1.0), (True, 1.0), (True, 2.5)],  # alpha = 1 has its own, reciprocal, kernel
    ids=["pretraining", "joint", "joint-alpha-2.5"],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_terms_and_gradients_match_autograd(joint: bool, alpha: float, seed: int) -> None:
    trainer = _trainer(joint, seed, alpha)
    plan = trainer.plan_epoch(trainer.train_data, np.random.default_rng(seed))
    target = None
    if joint:
        target = trainer.epoch_target(plan, trainer.train_assignment())
    weights = trainer._weight_tensor(None)
    flat = trainer.parameters

    torch.manual_seed(100 + seed)
    terms = trainer.loss_terms(plan.data, plan.group, plan.n_positives, target, sample=True)
    flat.grad.zero_()
    (terms * weights).sum().backward()
    autograd_gradient = flat.grad.clone()

    torch.manual_seed(100 + seed)  # the same reparameterisation noise as randn_like above
    noise = torch.randn(N_MICE, trainer.model.config.latent_dim).numpy()
    flat.grad.fill_(float("nan"))  # every gradient must be written, none left over
    by_hand = NumpyGradients(
        trainer.model,
        joint=joint,
        abr_noise_db=trainer.objective.abr_noise_db,
        contrastive_temperature=trainer.objective.contrastive_temperature,
    )
    numpy_terms = by_hand(
        by_hand.epoch(plan.data, plan.group, plan.n_positives).batch(0, N_MICE),
        noise,
        weights.numpy(),
        None if target is None else target.numpy(),
    )

    np.testing.assert_allclose(numpy_terms, terms.detach().numpy(), rtol=2e-5, atol=1e-6)
    assert torch.isfinite(flat.grad).all()
    for name, parameter in trainer.model.named_parameters():
        expected = autograd_gradient[_span(flat, parameter)].view_as(parameter)
        tolerance = 1e-4 * expected.abs().max().item() + 1e-7
        assert (parameter.grad - expected).abs().max().item() <= tolerance, name
    if not joint:
        assert not trainer.model.clustering.centres.grad.any()


@pytest.mark.parametrize("joint", [False, True], ids=["pretraining", "joint"])
def test_numpy_passes_match_the_torch_model(joint: bool) -> None:
    """The CPU engine's own passes against the torch model's: q of every mouse (the DEC
    target's pass) and the validation loss (latent mean as the sample, no gradients)."""
    with_numpy = _trainer(joint, seed=3, engine="numpy")
    with_torch = _trainer(joint, seed=3, engine="autograd")  # the same model and data
    assert with_numpy.numpy_gradients is not None and with_torch.numpy_gradients is None
    np.testing.assert_allclose(
        with_numpy.train_assignment().numpy(),
        with_torch.train_assignment().numpy(),
        rtol=1e-4,
        atol=1e-6,
    )
    gradient_before = with_numpy.parameters.grad.clone()
    np.testing.assert_allclose(with_numpy.validate(), with_torch.validate(), rtol=2e-5, atol=1e-6)
    assert torch.equal(with_numpy.parameters.grad, gradient_before)  # no gradient written


def _span(flat: torch.nn.Parameter, parameter: torch.nn.Parameter) -> slice:
    start = (parameter.data_ptr() - flat.data_ptr()) // flat.element_size()
    return slice(start, start + parameter.numel())


def test_lines_must_be_contiguous_runs() -> None:
    trainer = _trainer(joint=True, seed=0)
    batch = trainer.train_data.slice(0, 4)
    by_hand = NumpyGradients(
        trainer.model, joint=True, abr_noise_db=5.0, contrastive_temperature=0.1
    )
    group = torch.tensor([0, 1, 0, 1])  # line 0 split in two runs
    with pytest.raises(ValueError, match="contiguous"):
        by_hand(
            by_hand.epoch(batch, group, torch.ones(4)).batch(0, 4),
            np.zeros((4, 10), np.float32),
            np.ones(7, np.float32),
            np.full((4, 5), 0.2, np.float32),
        )
