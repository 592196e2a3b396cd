"""Each loss term against a direct, slow reference implementation of its definition, and the
objective's names, weights and warm-up."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from audiometric_clustering.model.contrastive import (
    _SupervisedContrastive,
    supervised_contrastive_loss,
)
from audiometric_clustering.model.network import ModelOutput
from audiometric_clustering.model.objective import (
    TERMS,
    Batch,
    Objective,
    abr_reconstruction,
    anchored_target_distribution,
    clustering,
    kl_divergence,
    metadata_reconstruction,
    phenotype_consistency,
    target_distribution,
)
from audiometric_clustering.training.batching import plan_batches

# Two lines of three mice, one line of two, a lone mutant and two controls (-1).
LINES = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, -1, -1])


def _groups(lines: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    plan = plan_batches(lines, batch_size=len(lines))
    return (
        torch.from_numpy(plan.group),
        torch.from_numpy(plan.n_positives).float(),
        lines[plan.order],
    )


def _batch(
    group: torch.Tensor | None = None,
    n_positives: torch.Tensor | None = None,
    target: torch.Tensor | None = None,
    inputs: object = None,
    **output: torch.Tensor,
) -> Batch:
    """A Batch holding just what the term under test reads."""
    fields = dict.fromkeys(ModelOutput._fields) | output
    return Batch(None, inputs, ModelOutput(**fields), group, n_positives, target)


OBJECTIVE = Objective(weights={"abr": 1.0}, abr_noise_db=5.0)


def _reference_supcon(
    embedding: torch.Tensor, lines: np.ndarray, temperature: float
) -> torch.Tensor:
    """SupCon written out with explicit masks, as in Khosla et al. (2020)."""
    unit = F.normalize(embedding, dim=1)
    similarity = unit @ unit.T / temperature
    labels = torch.from_numpy(lines)
    self_mask = torch.eye(len(lines), dtype=torch.bool)
    positives = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0) & ~self_mask
    log_prob = similarity - torch.logsumexp(similarity.masked_fill(self_mask, -math.inf), 1, True)
    anchors = positives.any(1)
    per_anchor = -(log_prob * positives).sum(1)[anchors] / positives.sum(1)[anchors]
    return per_anchor.mean()


def test_supervised_contrastive_matches_mask_reference() -> None:
    group, n_positives, lines = _groups(LINES)
    embedding = torch.randn(len(lines), 10, dtype=torch.float64)
    ours = supervised_contrastive_loss(embedding, group, n_positives, temperature=0.1)
    expected = _reference_supcon(embedding, lines, 0.1)
    torch.testing.assert_close(ours.double(), expected, rtol=1e-5, atol=0)  # computed in fp32


def test_supervised_contrastive_gradient_matches_reference() -> None:
    group, n_positives, lines = _groups(LINES)
    embedding = torch.randn(len(lines), 10, dtype=torch.float64, requires_grad=True)
    supervised_contrastive_loss(embedding, group, n_positives, temperature=0.5).backward()
    ours = embedding.grad.clone()
    embedding.grad = None
    _reference_supcon(embedding, lines, 0.5).backward()
    torch.testing.assert_close(ours, embedding.grad)


def test_supervised_contrastive_gradcheck() -> None:
    group, n_positives, _ = _groups(LINES)
    embedding = torch.randn(len(LINES), 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: _SupervisedContrastive.apply(x, group, n_positives.double(), 0.5), (embedding,)
    )


def test_supervised_contrastive_ignores_mice_without_line_mates() -> None:
    group, n_positives, lines = _groups(np.array([-1, -1, 5, 7]))
    loss = supervised_contrastive_loss(torch.randn(4, 10), group, n_positives, 0.1)
    assert loss.item() == 0.0  # no anchor: zero, not NaN


def test_supervised_contrastive_rewards_tight_lines() -> None:
    group, n_positives, lines = _groups(LINES)
    directions = torch.eye(10)[torch.from_numpy(np.where(lines >= 0, lines, 9))]
    tight = supervised_contrastive_loss(directions, group, n_positives, 0.1)
    shuffled = supervised_contrastive_loss(directions[torch.randperm(11)], group, n_positives, 0.1)
    assert tight < shuffled


def test_phenotype_consistency_matches_reference_and_is_zero_for_agreeing_lines() -> None:
    group, n_positives, lines = _groups(LINES)
    assignment = torch.softmax(torch.randn(len(lines), 4, dtype=torch.float64), 1)
    expected = []
    for i, line in enumerate(lines):
        mates = [j for j, other in enumerate(lines) if other == line and j != i and line >= 0]
        if mates:
            expected.append((assignment[i] - assignment[mates].mean(0)).square().sum())
    ours = phenotype_consistency(
        _batch(group, n_positives, log_assignment=assignment.log()), OBJECTIVE
    )
    torch.testing.assert_close(ours.double(), torch.stack(expected).mean())
    per_line = torch.softmax(torch.randn(21, 4), 1)
    agreeing = per_line[torch.from_numpy(np.where(lines >= 0, lines, 10 + np.arange(11)))]
    batch = _batch(group, n_positives, log_assignment=agreeing.log())
    assert phenotype_consistency(batch, OBJECTIVE).item() == pytest.approx(0.0, abs=1e-7)


def test_target_distribution_sharpens_and_counters_large_clusters() -> None:
    assignment = torch.tensor([[0.7, 0.3], [0.7, 0.3], [0.7, 0.3], [0.1, 0.9]])
    target = target_distribution(assignment)
    torch.testing.assert_close(target.sum(1), torch.ones(4))
    weight = assignment.square() / assignment.sum(0)
    torch.testing.assert_close(target, weight / weight.sum(1, keepdim=True))
    assert target[3, 1] > assignment[3, 1]  # a confident row gets more confident
    # cluster 0 is softly the larger (2.2 vs 1.8): frequency division pulls rows from it
    assert target[0, 0] < assignment[0, 0] ** 2 / (assignment[0] ** 2).sum()


def test_anchored_target_keeps_the_normal_share_and_sharpens_among_phenotypes() -> None:
    # column 0 is normal hearing: nearly every mouse's largest share
    assignment = torch.tensor(
        [[0.9, 0.06, 0.04], [0.95, 0.04, 0.01], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [1.0, 0.0, 0.0]]
    )
    target = anchored_target_distribution(assignment)
    torch.testing.assert_close(target.sum(1), torch.ones(5))
    torch.testing.assert_close(target[:, 0], assignment[:, 0])  # no pull out of normal hearing
    phenotypes = assignment[:, 1:]
    # within the phenotypes, DEC's own target (sizes from the unnormalised shares)
    weight = phenotypes.square() / phenotypes.sum(0)
    expected = weight / weight.sum(1, keepdim=True) * phenotypes.sum(1, keepdim=True)
    torch.testing.assert_close(target[:4, 1:], expected[:4])
    assert target[2, 1] > assignment[2, 1] and target[3, 2] > assignment[3, 2]
    torch.testing.assert_close(target[4], torch.tensor([1.0, 0.0, 0.0]))  # no 0/0


def test_clustering_loss_is_kl_of_target_from_assignment() -> None:
    q = torch.softmax(torch.randn(8, 5), 1)
    p = target_distribution(q)
    expected = (p * (p.log() - q.log())).sum(1).mean()
    torch.testing.assert_close(
        clustering(_batch(target=p, log_assignment=q.log()), OBJECTIVE), expected
    )
    assert clustering(_batch(target=q, log_assignment=q.log()), OBJECTIVE).abs() < 1e-6


def test_abr_loss_ignores_imputed_thresholds() -> None:
    predicted = torch.full((2, 6), 30.0)
    target = torch.full((2, 6), 40.0)
    observed = torch.ones(2, 6)
    observed[0, 5] = 0.0

    def loss(target: torch.Tensor) -> torch.Tensor:
        inputs = SimpleNamespace(abr=target, observed=observed)
        return abr_reconstruction(_batch(inputs=inputs, abr=predicted), OBJECTIVE)

    base = loss(target)
    changed = target.clone()
    changed[0, 5] = 100.0  # an imputed value: must not matter
    assert loss(changed) == base
    # 11 measured errors of 10 dB = 2 noise units each: 0.5 * 4 * 11 / 2 mice
    assert base.item() == pytest.approx(11.0)


def test_metadata_loss_ignores_unknown_codes() -> None:
    logits = torch.randn(3, 2, 4)
    codes = torch.tensor([[1, 0], [2, 3], [0, 0]])
    continuous = torch.zeros(3, 2)
    inputs = SimpleNamespace(continuous=continuous, categorical=codes)
    batch = _batch(inputs=inputs, continuous=continuous, categorical_logits=logits)
    ours = metadata_reconstruction(batch, OBJECTIVE)
    known = codes != 0
    expected = F.cross_entropy(logits[known], codes[known], reduction="sum") / 3
    torch.testing.assert_close(ours, expected)


def test_kl_divergence() -> None:
    def kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
        return kl_divergence(_batch(mean=mean, log_variance=log_variance), OBJECTIVE)

    assert kl(torch.zeros(4, 10), torch.zeros(4, 10)).item() == 0.0
    mean, log_variance = torch.randn(4, 3), torch.randn(4, 3)
    posterior = torch.distributions.Normal(mean, (0.5 * log_variance).exp())
    prior = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    torch.testing.assert_close(kl(mean, log_variance), expected)


def test_objective_sums_the_named_terms_in_a_fixed_order() -> None:
    objective = Objective(
        weights={"phenotype_consistency": 0.3, "abr": 2.0, "clustering": 1.0, "kl": 1.0},
        abr_noise_db=5.0,
        warmup_epochs=4,
    )
    assert objective.terms == ("abr", "kl", "clustering", "phenotype_consistency")
    assert objective.uses_clusters and objective.needs_target
    assert objective.weights_at(0) == [2.0, 1.0, 0.25, 0.075]  # clustering terms warm up
    assert objective.weights_at(3) == objective.weights_at(None) == [2.0, 1.0, 1.0, 0.3]
    vae = Objective(weights={"abr": 2.0, "kl": 1.0}, abr_noise_db=5.0)
    assert not vae.uses_clusters and not vae.needs_target
    assert vae.weights_at(0) == [2.0, 1.0]  # no warm-up given: full weights from the start
    assert list(TERMS)[:4] == ["abr", "metadata", "pca", "kl"]


def test_pretraining_warms_up_the_kl_alone() -> None:
    """Without clustering terms the warm-up is KL annealing: the prior's pull rises, the
    reconstruction is at full weight from the first epoch."""
    vae = Objective(weights={"abr": 2.0, "pca": 1.5, "kl": 0.25}, abr_noise_db=5.0, warmup_epochs=5)
    assert vae.warming_terms == ("kl",)
    assert vae.weights_at(0) == [2.0, 1.5, 0.05]
    assert vae.weights_at(4) == vae.weights_at(None) == [2.0, 1.5, 0.25]
    joint = Objective(
        weights={"abr": 2.0, "kl": 0.25, "clustering": 1.0}, abr_noise_db=5.0, warmup_epochs=5
    )
    assert joint.warming_terms == ("clustering",)  # the latent is made: its KL stays as it is
    assert joint.weights_at(0) == [2.0, 0.25, 0.2]
