"""The training objectives of ContrastiveVAE-DEC.

Every loss returns a scalar averaged over mice (or over anchors for the line-based losses),
so that the configured weights compare like with like. Reconstruction terms are negative
log-likelihoods: squared errors scaled by a fixed noise level for continuous values and
cross-entropy for categories, summed over a mouse's features.

The two line-based losses take ``group`` and ``n_positives`` from the batch plan instead of
a B x B label mask: ``group`` numbers the knockout lines inside the batch (each control is a
group of its own) and ``n_positives`` counts each mouse's line-mates in the batch. Sums over
positives then become per-group sums, computed in O(B) with ``index_add``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def abr_reconstruction_loss(
    predicted_db: Tensor, target_db: Tensor, observed: Tensor, noise_db: float
) -> Tensor:
    """Gaussian NLL of the measured thresholds; imputed ones are masked out.

    Imputed thresholds are guesses, not data: fitting them would teach the decoder the
    imputation rule. ``noise_db`` is the assumed measurement noise (thresholds come in 5 dB
    steps), which fixes how much a dB of error weighs against the other terms.
    """
    # observed is 0/1, so masking both sides masks the squared error; one fused op sums it
    squared_sum = F.mse_loss(predicted_db * observed, target_db * observed, reduction="sum")
    return squared_sum * (0.5 / (noise_db**2 * len(target_db)))


def metadata_reconstruction_loss(
    continuous_hat: Tensor, continuous: Tensor, categorical_logits: Tensor, categorical: Tensor
) -> Tensor:
    """Standardised continuous features (unit-variance Gaussian NLL) + categorical cross-entropy.

    Code 0 means "unknown": nothing to reconstruct, so it is ignored rather than predicted.
    """
    squared_sum = F.mse_loss(continuous_hat, continuous, reduction="sum")
    cross_entropy = F.cross_entropy(
        categorical_logits.reshape(-1, categorical_logits.shape[-1]),
        categorical.reshape(-1),
        ignore_index=0,
        reduction="sum",
    )
    return (0.5 * squared_sum + cross_entropy) / len(categorical)


def pca_reconstruction_loss(pca_hat: Tensor, pca_standardised: Tensor) -> Tensor:
    """Unit-variance Gaussian NLL of the standardised PCA scores (the global audiogram summary)."""
    return F.mse_loss(pca_hat, pca_standardised, reduction="sum") * (0.5 / len(pca_hat))


def kl_divergence(mean: Tensor, log_variance: Tensor) -> Tensor:
    """KL(N(mean, var) || N(0, I)), summed over latent dims: keeps the latent space smooth."""
    return 0.5 * (mean.square() + log_variance.exp() - 1.0 - log_variance).sum(1).mean()


def target_distribution(assignment: Tensor) -> Tensor:
    """DEC target P = q^2 / f, row-normalised, with f the soft size of each cluster.

    Squaring sharpens confident assignments; dividing by the cluster frequency f stops large
    clusters from absorbing everything, DEC's main failure on imbalanced data (most mice hear
    normally). Compute it from a full-data pass, not one batch, so f is the real cluster size.
    """
    weight = assignment.square() / assignment.sum(0).clamp_min(1e-12)
    return weight / weight.sum(1, keepdim=True)


def clustering_loss(log_assignment: Tensor, target: Tensor) -> Tensor:
    """KL(P || Q) per mouse (``batchmean``): pulls soft assignments towards the sharper target."""
    return F.kl_div(log_assignment, target, reduction="batchmean")


def _sum_over_line_mates(values: Tensor, group: Tensor) -> Tensor:
    """For each row, the sum of ``values`` over its group, itself excluded."""
    sums = torch.zeros_like(values).index_add_(0, group, values)
    return sums[group] - values


def _mean_over_anchors(per_mouse: Tensor, n_positives: Tensor) -> Tensor:
    """Average over mice that have a line-mate in the batch; 0 (not NaN) when none has."""
    anchors = n_positives > 0
    total = torch.where(anchors, per_mouse, torch.zeros_like(per_mouse)).sum()
    return total / anchors.sum().clamp_min(1)


class _SupervisedContrastive(torch.autograd.Function):
    """SupCon forward and a hand-written backward, normalisation included.

    One B x B similarity product gives the denominators; the positive term needs only
    per-line sums. The backward uses the symmetry of the B x B matrix E = exp(s / T) (zero
    diagonal) to need one (2d x B) @ (B x B) product and no other B x B temporary, and it
    replaces autograd's ~40 small nodes with ~20 operations (forward and backward at
    B = 512 on one CPU thread: 1.32 ms against 1.53 ms).
    Unit rows bound every exponent by 1/T, so exp needs no max shift for T >= 0.02 (see
    ``MIN_TEMPERATURE``); the diagonal is zeroed rather than subtracted.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.float32)
    def forward(
        ctx: Any, embedding: Tensor, group: Tensor, n_positives: Tensor, temperature: float
    ) -> Tensor:
        norm = torch.linalg.vector_norm(embedding, dim=1, keepdim=True).clamp_min_(1e-12)
        unit = embedding / norm
        pair_exp = torch.mm(unit * (1.0 / temperature), unit.T).exp_()
        pair_exp.diagonal().zero_()
        # clamp: a one-mouse batch has no other mouse (its row is not an anchor)
        denominator = pair_exp.sum(1).clamp_min_(1e-30)
        line_sum = torch.zeros_like(unit).index_add_(0, group, unit)
        positive = (unit * (line_sum[group] - unit)).sum(1)  # sum over mates of u_i . u_p
        # anchor weight: 1 / (number of anchors) for mice with line-mates, else 0
        anchors = (n_positives > 0).to(unit.dtype)
        anchor_weight = anchors / anchors.sum().clamp_min(1.0)
        mate_weight = anchor_weight / (temperature * n_positives.clamp_min(1.0))
        loss = (anchor_weight * denominator.log() - mate_weight * positive).sum()
        ctx.save_for_backward(
            unit, norm, pair_exp, denominator, line_sum, group, anchor_weight, mate_weight
        )
        ctx.inverse_temperature = 1.0 / temperature
        return loss

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        unit, norm, pair_exp, denominator, line_sum, group, anchor_weight, mate_weight = (
            ctx.saved_tensors
        )
        width = unit.shape[1]
        # denominators: d/du_k = (1/T) [w_k (E u)_k + (E (w u))_k], E symmetric, w = a / den
        weight = (anchor_weight / denominator).unsqueeze(1)
        stacked = torch.cat([unit, weight * unit], dim=1)
        e_unit, e_weighted = (stacked.T @ pair_exp).T.split(width, dim=1)
        grad_unit = (weight * e_unit + e_weighted).mul_(ctx.inverse_temperature)
        # positives: d/du_k = -(c_k S_line(k) + sum over k's line of c_i u_i), up to terms
        # along u_k, which the projection below removes anyway
        mate_weight = mate_weight.unsqueeze(1)
        weighted_sum = torch.zeros_like(unit).index_add_(0, group, mate_weight * unit)
        grad_unit -= mate_weight * line_sum[group] + weighted_sum[group]
        # through u = x / |x|: project out the radial part, divide by |x|
        grad_unit -= unit * (unit * grad_unit).sum(1, keepdim=True)
        return grad_unit.mul_(grad / norm), None, None, None


#: Below this temperature exp(1/T) could overflow float32 in the SupCon denominators.
MIN_TEMPERATURE = 0.02


def supervised_contrastive_loss(
    embedding: Tensor, group: Tensor, n_positives: Tensor, temperature: float
) -> Tensor:
    """Supervised contrastive loss (SupCon) with mice of the same knockout line as positives.

    Mice sharing a genotype and centre should share a phenotype, so each anchor is pulled
    towards its line-mates and pushed from every other mouse in the batch (controls act as
    negatives only). One B x B similarity product gives the denominators; the positive term
    is sum_p s_ip = e_i . (sum of the line's embeddings - e_i), a per-group sum. Averaged
    over anchors that have positives, so lineless mice do not dilute it.
    """
    if temperature < MIN_TEMPERATURE:
        raise ValueError(f"contrastive temperature must be >= {MIN_TEMPERATURE}, got {temperature}")
    return _SupervisedContrastive.apply(embedding.float(), group, n_positives, temperature)


def phenotype_consistency_loss(assignment: Tensor, group: Tensor, n_positives: Tensor) -> Tensor:
    """Squared distance between a mouse's soft assignment and its line-mates' mean assignment.

    The contrastive loss acts on latent geometry; this one acts on the cluster decision,
    asking the mice of one line to land in the same cluster. Bounded (at most 2 per mouse),
    so it cannot overwhelm the other terms; averaged over anchors with line-mates.
    """
    assignment = assignment.float()
    line_mean = _sum_over_line_mates(assignment, group) / n_positives.clamp_min(1).unsqueeze(1)
    return _mean_over_anchors((assignment - line_mean).square().sum(1), n_positives)
