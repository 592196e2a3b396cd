"""The training loss of ContrastiveVAE-DEC and its gradient, written out in numpy.

A CPU training step of this small model (about 10^4 parameters) costs mostly a fixed
amount per operation, and autograd adds a graph node, a backward call and a temporary per
forward operation (about 150 of each in a joint step). Here the forward pass, the loss
terms and the backward pass are plain numpy on arrays that share memory with the torch
parameters and their flat gradient buffer (``flatten_parameters``), so torch's optimiser
updates the same model. ``benchmarks/training_step.py`` compares the two step engines.

``network.py`` and ``losses.py`` stay the reference: inference, checkpoints, the GPU and
mixed precision use them, and ``tests/model/test_numpy_gradients.py`` holds this module's
loss terms and gradients equal to autograd's on the same model, batch and noise. A change
to the network or a loss must be mirrored here; the test fails until it is. Layouts follow
the torch model: the attention block works batch-last (see ``FrequencyAttention``), the
rest batch-first.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from audiometric_clustering.model.network import ContrastiveVAEDEC

Array = np.ndarray


class NumpyBatch(NamedTuple):
    """One batch as numpy arrays (views of the engine's tensors), plus its line plan."""

    abr: Array  # (B, F) dB
    observed: Array  # (B, F) 0/1
    continuous: Array  # (B, n_continuous)
    categorical: Array  # (B, n_categorical) int codes
    pca: Array  # (B, n_pca), unstandardised
    group: Array  # (B,) line number inside the batch; each line one contiguous run
    n_positives: Array  # (B,) float, line-mates in the batch


class _Linear(NamedTuple):
    weight: Array
    bias: Array
    weight_grad: Array
    bias_grad: Array


# Each numpy call inside a step costs several microseconds whatever its size, so the code
# below prefers fewer, fused calls. Where a numpy kernel is much slower than torch's on
# these shapes (maximum, large exp, log1p), torch runs on the same memory (from_numpy: no copy).


@functools.lru_cache(maxsize=64)
def _ones(length: int) -> Array:
    ones = np.ones(length, dtype=np.float32)
    ones.flags.writeable = False
    return ones


def _sum_into(values: Array, axis: int, out: Array) -> None:
    """Sum a 2-D array over ``axis`` into ``out`` as one BLAS product with ones (numpy's
    reduction over the batch axis is about twice as slow)."""
    if axis == 0:
        np.matmul(_ones(values.shape[0]), values, out=out)
    else:
        np.matmul(values, _ones(values.shape[1]), out=out)


def _relu_(values: Array) -> Array:
    torch.from_numpy(values).relu_()
    return values


def _relu_backward_(grad: Array, output: Array) -> Array:
    """Zero ``grad`` where the ReLU's output is 0."""
    np.multiply(grad, output > 0.0, out=grad)
    return grad


def _group_runs(group: Array) -> tuple[Array, Array]:
    """Start and length of each line's run in the batch, checking that runs are whole."""
    if (group[1:] < group[:-1]).any():
        raise ValueError("numpy gradients need each line as one contiguous run (plan_batches)")
    lengths = np.bincount(group)
    return np.cumsum(lengths) - lengths, lengths


def _sum_over_line(values: Array, starts: Array, lengths: Array) -> Array:
    """Per mouse, the sum of ``values`` over its whole line (itself included)."""
    return np.repeat(np.add.reduceat(values, starts, axis=0), lengths, axis=0)


class NumpyGradients:
    """Loss terms of one batch, with their weighted gradient written into the model's
    gradient buffer; the terms come in the engine's order (VAE terms, then, in the joint
    stage, clustering, contrastive and phenotype consistency).

    ``model`` must have flat parameters (``flatten_parameters``), be on the CPU and have no
    dropout. Every parameter's gradient is overwritten on each call (no zeroing needed).
    """

    def __init__(
        self,
        model: ContrastiveVAEDEC,
        *,
        joint: bool,
        abr_noise_db: float,
        contrastive_temperature: float,
    ) -> None:
        config = model.config
        if config.dropout > 0:
            raise ValueError("numpy gradients have no dropout; train with autograd instead")
        parameters = dict(model.named_parameters())
        if any(p.grad is None or p.device.type != "cpu" for p in parameters.values()):
            raise ValueError("numpy gradients need flat parameters on the CPU")
        self.value = {name: p.detach().numpy() for name, p in parameters.items()}
        self.grad = {name: p.grad.numpy() for name, p in parameters.items()}
        self.encoder = self._linears("encoder", model.encoder)
        self.decoder = self._linears("decoder", model.decoder)
        self.joint, self.temperature = joint, contrastive_temperature
        self.abr_scale = 1.0 / abr_noise_db**2
        self.heads = model.frequency_attention.heads
        self.alpha = model.clustering.alpha
        self.abr_low, self.abr_span = model.abr_low, model.abr_span
        self.n_continuous, self.abr_width = config.n_continuous, config.abr_embedding_dim
        self.latent_dim = config.latent_dim
        self.offsets = model.metadata_encoder.offsets.numpy()
        self.absent_bias = model.absent_category_bias.numpy()
        self.category_slots = np.arange(self.absent_bias.shape[1])[:, None]
        self.pca_mean, self.pca_scale = model.pca_mean.numpy(), model.pca_scale.numpy()

    def _linear(self, name: str) -> _Linear:
        return _Linear(
            self.value[f"{name}.weight"],
            self.value[f"{name}.bias"],
            self.grad[f"{name}.weight"],
            self.grad[f"{name}.bias"],
        )

    def _linears(self, prefix: str, sequential: nn.Sequential) -> list[_Linear]:
        return [
            self._linear(f"{prefix}.{index}")
            for index, module in enumerate(sequential)
            if isinstance(module, nn.Linear)
        ]

    def __call__(
        self, batch: NumpyBatch, noise: Array, weights: Array, target: Array | None
    ) -> Array:
        """Loss terms (unweighted) of ``batch``; writes d(weights . terms)/d(parameters).

        ``noise`` is the reparameterisation draw, (B, latent_dim); ``target`` the DEC target
        P of these mice (joint stage only).
        """
        n = len(batch.abr)
        value, grad = self.value, self.grad
        # ---- encoder: ABR thresholds as frequency tokens, batch-last (width, F, B)
        level = np.ascontiguousarray(((batch.abr - self.abr_low) / self.abr_span).T)
        observed = np.ascontiguousarray(batch.observed.T)
        tokens = value["frequency_attention.level_weight"] * level
        tokens += value["frequency_attention.observed_weight"] * observed
        tokens += value["frequency_attention.frequency_embedding"]
        width, n_frequencies = tokens.shape[:2]
        flat_tokens = tokens.reshape(width, -1)
        qkv = value["frequency_attention.qkv.weight"] @ flat_tokens
        qkv += value["frequency_attention.qkv.bias"][:, None]
        head_width = width // self.heads
        query, key, values = qkv.reshape(3, self.heads, head_width, n_frequencies, n)
        scale = head_width**-0.5
        # h: head, d: head width, i and j: tokens, b: mouse
        scores = np.einsum("hdib,hdjb->hijb", query, key)
        scores *= scale
        scores -= scores.max(2, keepdims=True)
        attention = np.exp(scores, out=scores)
        attention /= attention.sum(2, keepdims=True)
        attended = np.einsum("hijb,hdjb->hdib", attention, values).reshape(width, -1)
        tokens_out = value["frequency_attention.out.weight"] @ attended
        tokens_out += value["frequency_attention.out.bias"][:, None]
        tokens_out += flat_tokens
        abr_features = tokens_out.reshape(width * n_frequencies, n)
        abr_embedding = value["abr_encoder.weight"] @ abr_features
        abr_embedding += value["abr_encoder.bias"][:, None]
        _relu_(abr_embedding)  # (abr_width, B)
        # ---- encoder: metadata, then the joint MLP to the latent distribution
        rows = batch.categorical + self.offsets
        embedded = np.take(value["metadata_encoder.embedding.weight"], rows, axis=0).reshape(n, -1)
        pca_standardised = (batch.pca - self.pca_mean) / self.pca_scale
        metadata_input = np.concatenate([embedded, batch.continuous, pca_standardised], axis=1)
        metadata_layer = self._linear("metadata_encoder.project.0")
        metadata_embedding = _relu_(_affine(metadata_input, metadata_layer))
        hidden = np.concatenate([abr_embedding.T, metadata_embedding], axis=1)
        encoder_activations = [hidden]
        for layer in self.encoder:
            hidden = _relu_(_affine(hidden, layer))
            encoder_activations.append(hidden)
        latent_layer = self._linear("to_latent")
        distribution = _affine(hidden, latent_layer)
        mean, raw_log_variance = (
            distribution[:, : self.latent_dim],
            distribution[:, self.latent_dim :],
        )
        log_variance = np.minimum(raw_log_variance, 10.0)
        np.maximum(log_variance, -10.0, out=log_variance)
        spread = np.exp(0.5 * log_variance)
        latent = mean + noise * spread
        # ---- decoder
        decoder_activations = [latent]
        hidden = latent
        for layer in self.decoder:
            hidden = _relu_(_affine(hidden, layer))
            decoder_activations.append(hidden)
        abr_hidden, metadata_hidden = hidden[:, : self.abr_width], hidden[:, self.abr_width :]
        abr_layer, metadata_head, pca_head = (
            self._linear(name) for name in ("abr_head", "metadata_head", "pca_head")
        )
        abr_sigmoid = _affine(abr_hidden, abr_layer)
        torch.from_numpy(abr_sigmoid).sigmoid_()
        abr_hat = abr_sigmoid * self.abr_span + self.abr_low
        # batch-last, so that softmax over a column's categories runs across whole rows
        metadata_out = metadata_head.weight @ metadata_hidden.T
        metadata_out += metadata_head.bias[:, None]
        continuous_hat = metadata_out[: self.n_continuous]
        logits = metadata_out[self.n_continuous :].reshape(*self.absent_bias.shape, n)
        logits = logits + self.absent_bias[..., None]
        pca_hat = _affine(metadata_hidden, pca_head)

        # ---- VAE loss terms (losses.py) and the gradients they seed
        abr_residual = (abr_hat - batch.abr) * batch.observed
        continuous_residual = continuous_hat - batch.continuous.T
        pca_residual = pca_hat - pca_standardised
        logits -= logits.max(1, keepdims=True)
        probability = np.exp(logits)
        normaliser = probability.sum(1)
        probability /= normaliser[:, None]
        codes = batch.categorical.T
        is_code = self.category_slots == codes[:, None]  # (n_categorical, max cardinality, B)
        known = codes != 0
        target_log_probability = (logits * is_code).sum(1)
        cross_entropy = ((np.log(normaliser) - target_log_probability) * known).sum()
        variance = spread * spread
        terms = [
            0.5 * self.abr_scale * np.vdot(abr_residual, abr_residual) / n,
            (0.5 * np.vdot(continuous_residual, continuous_residual) + cross_entropy) / n,
            0.5 * np.vdot(pca_residual, pca_residual) / n,
            0.5 * (mean * mean + variance - 1.0 - log_variance).sum() / n,
        ]
        abr_weight, metadata_weight, pca_weight, kl_weight = (float(w) for w in weights[:4])

        grad_hidden = np.empty_like(hidden)
        grad_abr_logit = abr_residual * (abr_weight * self.abr_scale * self.abr_span / n)
        grad_abr_logit *= abr_sigmoid * (1.0 - abr_sigmoid)
        grad_hidden[:, : self.abr_width] = _affine_backward(grad_abr_logit, abr_hidden, abr_layer)
        probability -= is_code
        probability *= known[:, None]
        grad_metadata_out = np.concatenate(
            [continuous_residual, probability.reshape(-1, n)], axis=0
        )
        grad_metadata_out *= metadata_weight / n
        np.matmul(grad_metadata_out, metadata_hidden, out=metadata_head.weight_grad)
        _sum_into(grad_metadata_out, 1, metadata_head.bias_grad)
        grad_metadata_hidden = grad_metadata_out.T @ metadata_head.weight
        grad_metadata_hidden += _affine_backward(
            pca_residual * (pca_weight / n), metadata_hidden, pca_head
        )
        grad_hidden[:, self.abr_width :] = grad_metadata_hidden
        grad_latent = _mlp_backward(grad_hidden, decoder_activations, self.decoder)

        grad_mean = grad_latent + mean * (kl_weight / n)
        grad_log_variance = grad_latent * noise * spread * 0.5
        grad_log_variance += (variance - 1.0) * (0.5 * kl_weight / n)
        grad_log_variance *= (raw_log_variance >= -10.0) & (raw_log_variance <= 10.0)
        if self.joint:
            terms += self._cluster_terms(batch, mean, target, weights[4:7], grad_mean)
        else:
            grad["clustering.centres"].fill(0.0)

        # ---- encoder backward
        grad_distribution = np.concatenate([grad_mean, grad_log_variance], axis=1)
        grad_hidden = _affine_backward(grad_distribution, encoder_activations[-1], latent_layer)
        grad_joined = _mlp_backward(grad_hidden, encoder_activations, self.encoder)
        grad_metadata = _relu_backward_(
            np.ascontiguousarray(grad_joined[:, self.abr_width :]), metadata_embedding
        )
        grad_metadata_input = _affine_backward(grad_metadata, metadata_input, metadata_layer)
        table_grad = grad["metadata_encoder.embedding.weight"]
        embedding_dim = table_grad.shape[1]
        slots = (rows[..., None] * embedding_dim + np.arange(embedding_dim)).reshape(-1)
        table_grad.reshape(-1)[:] = np.bincount(
            slots,
            weights=grad_metadata_input[:, : embedded.shape[1]].reshape(-1),
            minlength=table_grad.size,
        )
        grad_abr_embedding = _relu_backward_(
            np.ascontiguousarray(grad_joined[:, : self.abr_width].T), abr_embedding
        )
        np.matmul(grad_abr_embedding, abr_features.T, out=grad["abr_encoder.weight"])
        _sum_into(grad_abr_embedding, 1, grad["abr_encoder.bias"])
        grad_tokens_out = (value["abr_encoder.weight"].T @ grad_abr_embedding).reshape(width, -1)
        np.matmul(grad_tokens_out, attended.T, out=grad["frequency_attention.out.weight"])
        _sum_into(grad_tokens_out, 1, grad["frequency_attention.out.bias"])
        grad_attended = value["frequency_attention.out.weight"].T @ grad_tokens_out
        grad_attended = grad_attended.reshape(query.shape)
        # attention backward (as _TokenAttention.backward)
        grad_attention = np.einsum("hdib,hdjb->hijb", grad_attended, values)
        grad_qkv = np.empty_like(qkv).reshape(3, *query.shape)  # query, key, value
        np.einsum("hijb,hdib->hdjb", attention, grad_attended, out=grad_qkv[2])
        grad_attention -= np.einsum("hijb,hijb->hib", grad_attention, attention)[:, :, None]
        grad_scores = grad_attention * attention
        grad_scores *= scale
        np.einsum("hijb,hdjb->hdib", grad_scores, key, out=grad_qkv[0])
        np.einsum("hijb,hdib->hdjb", grad_scores, query, out=grad_qkv[1])
        grad_qkv = grad_qkv.reshape(3 * width, -1)
        np.matmul(grad_qkv, flat_tokens.T, out=grad["frequency_attention.qkv.weight"])
        _sum_into(grad_qkv, 1, grad["frequency_attention.qkv.bias"])
        grad_tokens = value["frequency_attention.qkv.weight"].T @ grad_qkv
        grad_tokens += grad_tokens_out
        grad_tokens = grad_tokens.reshape(tokens.shape)
        grad_tokens.sum(2, keepdims=True, out=grad["frequency_attention.frequency_embedding"])
        (grad_tokens * level).sum(2, keepdims=True, out=grad["frequency_attention.level_weight"])
        (grad_tokens * observed).sum(
            2, keepdims=True, out=grad["frequency_attention.observed_weight"]
        )
        return np.array(terms, dtype=np.float32)

    def _cluster_terms(
        self, batch: NumpyBatch, mean: Array, target: Array, weights: Array, grad_mean: Array
    ) -> list[float]:
        """Clustering, contrastive and consistency terms; adds their gradient to
        ``grad_mean`` and writes the centres' gradient."""
        n = len(mean)
        clustering_weight, contrastive_weight, consistency_weight = (float(w) for w in weights)
        centres = self.value["clustering.centres"]
        alpha = self.alpha
        # Student's-t soft assignment (ClusteringLayer.log_assignment)
        squared_distance = (mean * mean).sum(1, keepdims=True) + (centres * centres).sum(1)
        squared_distance -= 2.0 * (mean @ centres.T)
        inside = squared_distance >= 0.0
        np.maximum(squared_distance, 0.0, out=squared_distance)
        logits = torch.log1p(torch.from_numpy(squared_distance / alpha)).numpy()
        logits *= -0.5 * (alpha + 1.0)
        logits -= logits.max(1, keepdims=True)
        log_assignment = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        assignment = np.exp(log_assignment)
        tiny = np.finfo(target.dtype).tiny
        clustering = (target * (np.log(np.maximum(target, tiny)) - log_assignment)).sum() / n
        grad_log_assignment = target * (-clustering_weight / n)

        starts, lengths = _group_runs(batch.group)
        contrastive, grad_contrastive = self._supervised_contrastive(
            mean, starts, lengths, batch.n_positives
        )
        grad_mean += contrastive_weight * grad_contrastive

        # phenotype consistency: r = q - mean q of the line-mates, averaged over anchors
        mates = np.maximum(batch.n_positives, 1.0)[:, None]
        residual = assignment - (_sum_over_line(assignment, starts, lengths) - assignment) / mates
        anchor_weight = _anchor_weight(batch.n_positives)
        consistency = (anchor_weight * (residual * residual).sum(1)).sum()
        weighted = residual * (2.0 * anchor_weight)[:, None]
        spread_back = weighted / mates
        grad_assignment = weighted + spread_back
        grad_assignment -= _sum_over_line(spread_back, starts, lengths)
        grad_log_assignment += grad_assignment * (consistency_weight * assignment)

        grad_logits = grad_log_assignment
        grad_logits -= assignment * grad_log_assignment.sum(1, keepdims=True)
        grad_distance = grad_logits * (-0.5 * (alpha + 1.0)) / (alpha + squared_distance)
        grad_distance *= inside
        grad_mean += 2.0 * mean * grad_distance.sum(1, keepdims=True)
        grad_mean -= 2.0 * (grad_distance @ centres)
        centres_grad = self.grad["clustering.centres"]
        np.matmul(grad_distance.T, mean, out=centres_grad)
        centres_grad *= -2.0
        centres_grad += 2.0 * centres * grad_distance.sum(0)[:, None]
        return [clustering, contrastive, consistency]

    def _supervised_contrastive(
        self, embedding: Array, starts: Array, lengths: Array, n_positives: Array
    ) -> tuple[float, Array]:
        """SupCon and its gradient (as losses._SupervisedContrastive)."""
        inverse_temperature = 1.0 / self.temperature
        norm = np.maximum(np.sqrt((embedding * embedding).sum(1, keepdims=True)), 1e-12)
        unit = embedding / norm
        pair_exp = (unit * inverse_temperature) @ unit.T
        torch.from_numpy(pair_exp).exp_()
        np.fill_diagonal(pair_exp, 0.0)
        denominator = np.maximum(torch.from_numpy(pair_exp).sum(1).numpy(), 1e-30)
        line_sum = _sum_over_line(unit, starts, lengths)
        positive = (unit * (line_sum - unit)).sum(1)
        anchor_weight = _anchor_weight(n_positives)
        mate_weight = anchor_weight * inverse_temperature / np.maximum(n_positives, 1.0)
        loss = (anchor_weight * np.log(denominator) - mate_weight * positive).sum()
        weight = (anchor_weight / denominator)[:, None]
        products = pair_exp @ np.concatenate([unit, weight * unit], axis=1)
        e_unit, e_weighted = products[:, : unit.shape[1]], products[:, unit.shape[1] :]
        grad_unit = weight * e_unit + e_weighted
        grad_unit *= inverse_temperature
        mate_weight = mate_weight[:, None]
        grad_unit -= mate_weight * line_sum + _sum_over_line(mate_weight * unit, starts, lengths)
        grad_unit -= unit * (unit * grad_unit).sum(1, keepdims=True)
        grad_unit /= norm
        return float(loss), grad_unit


def _anchor_weight(n_positives: Array) -> Array:
    """1 / (number of anchors) for mice with line-mates in the batch, else 0."""
    anchors = (n_positives > 0).astype(n_positives.dtype)
    return anchors / max(float(anchors.sum()), 1.0)


def _affine(inputs: Array, layer: _Linear) -> Array:
    out = inputs @ layer.weight.T
    out += layer.bias
    return out


def _affine_backward(grad_out: Array, inputs: Array, layer: _Linear) -> Array:
    """Writes the layer's weight and bias gradients; returns the gradient of its input."""
    np.matmul(grad_out.T, inputs, out=layer.weight_grad)
    _sum_into(grad_out, 0, layer.bias_grad)
    return grad_out @ layer.weight


def _mlp_backward(grad_out: Array, activations: list[Array], layers: list[_Linear]) -> Array:
    """Back through Linear + ReLU layers; ``activations`` are the MLP's input and each
    layer's output. Overwrites ``grad_out``."""
    grad = grad_out
    for index in range(len(layers) - 1, -1, -1):
        _relu_backward_(grad, activations[index + 1])
        grad = _affine_backward(grad, activations[index], layers[index])
    return grad
