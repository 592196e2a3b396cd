"""The training objective of ContrastiveVAE-DEC: every loss term once, by name.

A stage optimises the weighted sum of the terms named in its ``loss_weights``
(``conf/base/parameters_<stage>.yml``). Each term is a function of one :class:`Batch`
returning a scalar averaged over mice (or over anchors for the line-based terms), so that
the weights compare like with like. Reconstruction terms are negative log-likelihoods:
squared errors scaled by a noise level for continuous values, cross-entropy for categories.

Adding a term: write ``def my_term(batch: Batch, objective: Objective) -> Tensor`` below,
list it in ``TERMS`` (``uses_clusters=True`` if it reads the soft assignment: it then warms
up with the other clustering terms), and give it a weight in the stage's YAML. A setting of
its own (like ``contrastive_temperature``) is a field of :class:`Objective` and a YAML key
(declared, with its bounds, in ``training/settings.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from audiometric_clustering.model.contrastive import supervised_contrastive_loss
from audiometric_clustering.model.inputs import MouseTensors
from audiometric_clustering.model.network import ContrastiveVAEDEC, ModelOutput


@dataclass(frozen=True)
class Batch:
    """What a loss term may read: the mice, the model's pass over them, and the batch plan.

    ``group`` numbers the knockout lines inside the batch (each control a group of its own)
    and ``n_positives`` counts each mouse's line-mates in it; ``target`` is the DEC target
    P of these mice when a clustering term is active.
    """

    model: ContrastiveVAEDEC
    inputs: MouseTensors
    output: ModelOutput
    group: Tensor
    n_positives: Tensor
    target: Tensor | None


# --- the terms ---------------------------------------------------------------------------


def abr_reconstruction(batch: Batch, objective: Objective) -> Tensor:
    """Gaussian NLL of the measured thresholds; imputed ones are masked out.

    Imputed thresholds are guesses, not data: fitting them would teach the decoder the
    imputation rule. ``abr_noise_db`` is the assumed measurement noise (thresholds come in
    5 dB steps), which fixes how much a dB of error weighs against the other terms.
    """
    observed, target = batch.inputs.observed, batch.inputs.abr
    # observed is 0/1, so masking both sides masks the squared error; one fused op sums it
    squared_sum = F.mse_loss(batch.output.abr * observed, target * observed, reduction="sum")
    return squared_sum * (0.5 / (objective.abr_noise_db**2 * len(target)))


def metadata_reconstruction(batch: Batch, objective: Objective) -> Tensor:
    """Standardised continuous features (unit-variance Gaussian NLL) + categorical cross-entropy.

    Code 0 means "unknown": nothing to reconstruct, so it is ignored rather than predicted.
    """
    output, inputs = batch.output, batch.inputs
    squared_sum = F.mse_loss(output.continuous, inputs.continuous, reduction="sum")
    logits = output.categorical_logits
    cross_entropy = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        inputs.categorical.reshape(-1),
        ignore_index=0,
        reduction="sum",
    )
    return (0.5 * squared_sum + cross_entropy) / len(inputs.categorical)


def pca_reconstruction(batch: Batch, objective: Objective) -> Tensor:
    """Unit-variance Gaussian NLL of the standardised PCA scores (the global audiogram summary)."""
    target = batch.model.standardise_pca(batch.inputs.pca)
    return F.mse_loss(batch.output.pca, target, reduction="sum") * (0.5 / len(target))


def kl_divergence(batch: Batch, objective: Objective) -> Tensor:
    """KL(N(mean, var) || N(0, I)), summed over latent dims: keeps the latent space smooth."""
    mean, log_variance = batch.output.mean, batch.output.log_variance
    return 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(1).mean()


def target_distribution(assignment: Tensor) -> Tensor:
    """DEC target P = q^2 / f, row-normalised, with f the soft size of each cluster.

    Squaring sharpens confident assignments; dividing by the cluster frequency f stops large
    clusters from absorbing everything, DEC's main failure on imbalanced data (most mice hear
    normally). Compute it from a full-data pass, not one batch, so f is the real cluster size.
    """
    weight = assignment.square() / assignment.sum(0).clamp_min(1e-12)
    return weight / weight.sum(1, keepdim=True)


def anchored_target_distribution(assignment: Tensor) -> Tensor:
    """DEC's target for a layer with a normal cluster (column 0, model/clustering_layer.py).

    P = q^2 / f would pull mice out of the normal cluster until every cluster had the same
    size, while nearly every mouse hears normally. Here each mouse keeps the normal share q
    gives it, and only its share among the phenotype clusters is sharpened as in DEC (with f
    the soft sizes of the phenotype clusters).
    """
    phenotypes = assignment[:, 1:]
    weight = phenotypes.square() / phenotypes.sum(0).clamp_min(1e-12)
    weight = weight / weight.sum(1, keepdim=True).clamp_min(1e-30)
    return torch.cat([assignment[:, :1], weight * phenotypes.sum(1, keepdim=True)], dim=1)


def clustering(batch: Batch, objective: Objective) -> Tensor:
    """DEC's KL(P || Q) per mouse (``batchmean``): pulls soft assignments towards the target."""
    return F.kl_div(batch.output.log_assignment, batch.target, reduction="batchmean")


def contrastive(batch: Batch, objective: Objective) -> Tensor:
    """SupCon on the latent means with the mouse's line-mates as positives (see
    :mod:`~audiometric_clustering.model.contrastive`)."""
    return supervised_contrastive_loss(
        batch.output.mean, batch.group, batch.n_positives, objective.contrastive_temperature
    )


def phenotype_consistency(batch: Batch, objective: Objective) -> Tensor:
    """Squared distance between a mouse's soft assignment and its line-mates' mean assignment.

    The contrastive loss acts on latent geometry; this one acts on the cluster decision,
    asking the mice of one line to land in the same cluster. Bounded (at most 2 per mouse),
    so it cannot overwhelm the other terms; averaged over mice with line-mates in the batch.
    """
    assignment = batch.output.log_assignment.exp().float()
    group, n_positives = batch.group, batch.n_positives
    line_sum = torch.zeros_like(assignment).index_add_(0, group, assignment)
    mates_mean = (line_sum[group] - assignment) / n_positives.clamp_min(1).unsqueeze(1)
    per_mouse = (assignment - mates_mean).square().sum(1)
    anchors = n_positives > 0
    total = torch.where(anchors, per_mouse, torch.zeros_like(per_mouse)).sum()
    return total / anchors.sum().clamp_min(1)


@dataclass(frozen=True)
class Term:
    compute: Callable[[Batch, Objective], Tensor]
    uses_clusters: bool = False  # reads the soft assignment; warms up in the joint stage


#: Every term by its YAML name, in the order the losses are logged and summed.
TERMS: dict[str, Term] = {
    "abr": Term(abr_reconstruction),
    "metadata": Term(metadata_reconstruction),
    "pca": Term(pca_reconstruction),
    "kl": Term(kl_divergence),
    "clustering": Term(clustering, uses_clusters=True),
    "contrastive": Term(contrastive, uses_clusters=True),
    "phenotype_consistency": Term(phenotype_consistency, uses_clusters=True),
}


# --- the weighted sum ----------------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """A stage's loss: the named terms with their weights, and the terms' own settings.

    The warming terms' weights rise linearly from 1/warmup_epochs to 1 over the first
    ``warmup_epochs`` epochs. In a stage with clustering terms those are the warming terms,
    so that the latent space from pretraining is not torn apart before the centres settle.
    In a stage without them (pretraining) the KL is (KL annealing, Bowman et al. 2016):
    under the prior's full pull from the first step a seed can settle with too few latent
    dimensions in use and never leave, reconstructing the thresholds far worse than other
    seeds (docs/model.md, "KL warm-up"). A setting is None when no active term
    reads it; the stage's settings (training/settings.py) check them.
    """

    weights: Mapping[str, float]
    abr_noise_db: float | None = None
    contrastive_temperature: float | None = None
    warmup_epochs: int | None = None
    terms: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(name for name in TERMS if name in self.weights))

    @property
    def uses_clusters(self) -> bool:
        """Whether the model must soft-assign mice (a joint-stage objective)."""
        return any(TERMS[name].uses_clusters for name in self.terms)

    @property
    def needs_target(self) -> bool:
        return "clustering" in self.terms

    @property
    def warming_terms(self) -> tuple[str, ...]:
        """The terms whose weights rise over the warm-up: the clustering terms, or the KL in
        a stage without them."""
        if self.uses_clusters:
            return tuple(name for name in self.terms if TERMS[name].uses_clusters)
        return tuple(name for name in self.terms if name == "kl")

    def weights_at(self, epoch: int | None) -> list[float]:
        """Weights per term at ``epoch`` (0-based); ``None`` gives the full, warmed-up ones."""
        ramp = 1.0
        if epoch is not None and self.warmup_epochs:
            ramp = min(1.0, (epoch + 1) / self.warmup_epochs)
        warming = self.warming_terms
        return [self.weights[name] * (ramp if name in warming else 1.0) for name in self.terms]

    def epoch_losses(
        self, epoch: int, train_terms: list[float], validation_terms: list[float]
    ) -> dict[str, float]:
        """An epoch's losses, total and per term: the training loss with this epoch's
        (warming-up) weights, the validation loss with the full weights from the first
        epoch, so that the choice of the best checkpoint compares equal objectives."""
        weights, full = self.weights_at(epoch), self.weights_at(None)
        losses = {"loss": sum(w * t for w, t in zip(weights, train_terms, strict=True))}
        losses |= {f"loss_{n}": v for n, v in zip(self.terms, train_terms, strict=True)}
        losses["val_loss"] = sum(w * t for w, t in zip(full, validation_terms, strict=True))
        losses |= {f"val_loss_{n}": v for n, v in zip(self.terms, validation_terms, strict=True)}
        return losses

    def __call__(self, batch: Batch) -> Tensor:
        """The loss terms of one batch, stacked in ``terms`` order (float32)."""
        return torch.stack([TERMS[name].compute(batch, self).float() for name in self.terms])
