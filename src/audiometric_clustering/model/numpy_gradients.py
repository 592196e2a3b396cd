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
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from audiometric_clustering.model.network import ContrastiveVAEDEC

if TYPE_CHECKING:
    from audiometric_clustering.training.data import MouseTensors

Array = np.ndarray


class NumpyBatch(NamedTuple):
    """One batch in the layouts the step works in; fields ending in ``_last`` are
    batch-last (the attention block and the softmax over categories work across rows)."""

    abr: Array  # (B, F) dB
    observed: Array  # (B, F) 1 measured, 0 imputed
    level_last: Array  # (F, B) thresholds on the decoder's 0-1 scale
    observed_last: Array  # (F, B)
    data_inputs: Array  # (B, n_continuous + n_pca): continuous, then standardised PCA
    continuous_last: Array  # (n_continuous, B)
    embedding_rows: Array  # (B, n_categorical) each mouse's rows of the embedding table
    code_slots_last: Array  # (n_categorical, B) each mouse's (column, code) logit slot
    known_last: Array  # (n_categorical, B) float32, 0 where the code is unknown (no loss)
    group: Array  # (B,) line number inside the batch; each line one contiguous run
    n_positives: Array  # (B,) float, line-mates in the batch


_BATCH_LAST = tuple(name.endswith("_last") for name in NumpyBatch._fields)


class NumpyEpoch(NamedTuple):
    """An epoch's mice in epoch order, in the step's layouts. What depends on the data
    alone (scaling, transposes, embedding rows, logit slots) is computed here once per
    epoch instead of once per step; ``batch`` slices it without copying."""

    mice: NumpyBatch  # all of the epoch's mice as one "batch"

    def batch(self, start: int, stop: int) -> NumpyBatch:
        rows = slice(start, stop)
        return NumpyBatch(
            *(
                array[:, rows] if last else array[rows]
                for array, last in zip(self.mice, _BATCH_LAST, strict=True)
            )
        )


class _AbrSaved(NamedTuple):
    """What the ABR encoder's backward needs from its forward (batch-last arrays)."""

    level: Array  # (F, B)
    observed: Array  # (F, B)
    flat_tokens: Array  # (width, F * B)
    qkv: Array  # (3 * width, F * B)
    attention: Array  # (heads, F, F, B)
    attended: Array  # (width, F * B)
    features: Array  # (width * F, B)
    embedding: Array  # (abr_width, B), after the ReLU


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


_LOG2_E = 1.0 / math.log(2.0)
_TINY = np.finfo(np.float32).tiny  # log(0) guard for the DEC target


def _exp2_(values: Array) -> Array:
    """2^values in place: exp(x) as 2^(x log2 e), because torch's exp2 takes about half the
    time of exp (torch's or numpy's) on this model's large arrays."""
    torch.from_numpy(values).exp2_()
    return values


def _relu_(values: Array) -> Array:
    torch.from_numpy(values).relu_()
    return values


def _relu_backward_(grad: Array, output: Array) -> Array:
    """Zero ``grad`` where the ReLU's output is 0."""
    np.multiply(grad, output > 0.0, out=grad)
    return grad


def _row_sums(values: Array) -> Array:
    """Sum over the columns of a (B, few) array as one BLAS product: numpy's reduction over a
    short last axis costs several times as much."""
    return values @ _ones(values.shape[1])


class _Lines(NamedTuple):
    """The knockout lines of a batch, each one contiguous run of mice (``plan_batches``)."""

    starts: Array  # (lines,) first row of each line's run
    lengths: Array  # (lines,) mice in each line
    mates: Array  # (B, 1) line-mates in the batch, at least 1: the divisor of a mean over mates
    anchor_weight: Array  # (B,) 1 / (number of anchors) for mice with line-mates, else 0

    @classmethod
    def of(cls, batch: NumpyBatch) -> _Lines:
        group, n_positives = batch.group, batch.n_positives
        if (group[1:] < group[:-1]).any():
            raise ValueError("numpy gradients need each line as one contiguous run (plan_batches)")
        lengths = np.bincount(group)
        anchors = (n_positives > 0).astype(n_positives.dtype)
        anchor_weight = anchors / max(float(anchors.sum()), 1.0)
        mates = np.maximum(n_positives, 1.0)[:, None]
        return cls(np.cumsum(lengths) - lengths, lengths, mates, anchor_weight)

    def sums(self, values: Array) -> Array:
        """Per mouse, the sum of ``values`` over its whole line (itself included)."""
        return np.repeat(np.add.reduceat(values, self.starts, axis=0), self.lengths, axis=0)


class _PairExponentials(NamedTuple):
    """exp(u_i . u_j / T) for all pairs i != j of a batch (0 on the diagonal), kept as the
    blocks of its two row halves without the lower-left one, which is the upper-right one
    transposed: 3/4 of the work of the whole symmetric matrix, and each block is small
    enough to stay in the L2 cache while it is built (measured 3% off a joint step)."""

    upper: Array  # (h, h)
    corner: Array  # (h, B - h)
    lower: Array  # (B - h, B - h)

    @classmethod
    def of(cls, unit: Array, inverse_temperature: float) -> _PairExponentials:
        half = len(unit) // 2
        scaled = unit * (inverse_temperature * _LOG2_E)  # exp(s / T) as 2^(s log2(e) / T)
        upper = _exp2_(scaled[:half] @ unit[:half].T)
        np.fill_diagonal(upper, 0.0)
        lower = _exp2_(scaled[half:] @ unit[half:].T)
        np.fill_diagonal(lower, 0.0)
        return cls(upper, _exp2_(scaled[:half] @ unit[half:].T), lower)

    def __matmul__(self, values: Array) -> Array:
        """The whole matrix times ``values`` ((B,) or (B, k))."""
        half = len(self.upper)
        out = np.empty((half + len(self.lower), *values.shape[1:]), dtype=np.float32)
        np.matmul(self.upper, values[:half], out=out[:half])
        out[:half] += self.corner @ values[half:]
        np.matmul(self.lower, values[half:], out=out[half:])
        out[half:] += self.corner.T @ values[:half]
        return out


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
        self.to_latent = self._linear("to_latent")
        self.metadata_layer = self._linear("metadata_encoder.project.0")
        self.abr_head = self._linear("abr_head")
        self.metadata_head = self._linear("metadata_head")
        self.pca_head = self._linear("pca_head")
        self.joint, self.temperature = joint, contrastive_temperature
        self.abr_scale = 1.0 / abr_noise_db**2
        self.heads = model.frequency_attention.heads
        self.alpha = model.clustering.alpha
        self.abr_low, self.abr_span = model.abr_low, model.abr_span
        self.n_continuous, self.abr_width = config.n_continuous, config.abr_embedding_dim
        self.latent_dim = config.latent_dim
        self.offsets = model.metadata_encoder.offsets.numpy()
        self.absent_bias = model.absent_category_bias.numpy()
        n_columns, n_slots = self.absent_bias.shape
        self.first_slots = n_slots * np.arange(n_columns)[:, None]
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

    def epoch(self, mice: MouseTensors, group: Tensor, n_positives: Tensor) -> NumpyEpoch:
        """``mice`` (CPU tensors in epoch order, with their batch plan's ``group`` and
        ``n_positives``) in the step's layouts."""
        abr, observed = mice.abr.numpy(), mice.observed.numpy()
        continuous, categorical = mice.continuous.numpy(), mice.categorical.numpy()
        pca_standardised = (mice.pca.numpy() - self.pca_mean) / self.pca_scale
        codes_last = categorical.T
        return NumpyEpoch(
            NumpyBatch(
                abr,
                observed,
                np.ascontiguousarray(((abr - self.abr_low) / self.abr_span).T),
                np.ascontiguousarray(observed.T),
                np.concatenate([continuous, pca_standardised], axis=1),
                np.ascontiguousarray(continuous.T),
                categorical + self.offsets,
                np.ascontiguousarray(self.first_slots + codes_last),
                np.ascontiguousarray(codes_last != 0, dtype=np.float32),
                group.numpy(),
                n_positives.numpy(),
            )
        )

    def __call__(
        self, batch: NumpyBatch, noise: Array, weights: Array, target: Array | None
    ) -> Array:
        """Loss terms (unweighted) of ``batch``; writes d(weights . terms)/d(parameters).

        ``noise`` is the reparameterisation draw, (B, latent_dim); ``target`` the DEC target
        P of these mice (joint stage only).
        """
        n = len(batch.abr)
        abr_embedding, abr_saved = self._abr_encoder(batch)
        metadata_embedding, metadata_saved = self._metadata_encoder(batch)
        joined = np.concatenate([abr_embedding, metadata_embedding], axis=1)
        encoder_activations = _mlp(joined, self.encoder)
        distribution = _affine(encoder_activations[-1], self.to_latent)
        mean = distribution[:, : self.latent_dim]
        raw_log_variance = distribution[:, self.latent_dim :]
        log_variance = np.minimum(raw_log_variance, 10.0)  # the model's clamp to [-10, 10]
        np.maximum(log_variance, -10.0, out=log_variance)
        spread = np.exp(0.5 * log_variance)
        decoder_activations = _mlp(mean + noise * spread, self.decoder)
        terms, grad_decoded = self._reconstruction(decoder_activations[-1], batch, weights[:3])
        grad_latent = _mlp_backward(grad_decoded, decoder_activations, self.decoder)

        # KL term, and back through the reparameterisation latent = mean + noise * spread
        kl_weight, variance = float(weights[3]), spread * spread
        terms.append(0.5 * (mean * mean + variance - 1.0 - log_variance).sum() / n)
        grad_mean = grad_latent + mean * (kl_weight / n)
        grad_log_variance = grad_latent * noise * spread * 0.5
        grad_log_variance += (variance - 1.0) * (0.5 * kl_weight / n)
        grad_log_variance *= (raw_log_variance >= -10.0) & (raw_log_variance <= 10.0)
        if self.joint:
            terms += self._cluster_terms(batch, mean, target, weights[4:7], grad_mean)
        else:
            self.grad["clustering.centres"].fill(0.0)

        grad_distribution = np.concatenate([grad_mean, grad_log_variance], axis=1)
        grad_hidden = _affine_backward(grad_distribution, encoder_activations[-1], self.to_latent)
        grad_joined = _mlp_backward(grad_hidden, encoder_activations, self.encoder)
        self._metadata_encoder_backward(grad_joined[:, self.abr_width :], metadata_saved)
        self._abr_encoder_backward(grad_joined[:, : self.abr_width], abr_saved)
        return np.array(terms, dtype=np.float32)

    def _abr_encoder(self, batch: NumpyBatch) -> tuple[Array, _AbrSaved]:
        """FrequencyAttention + abr_encoder + ReLU, batch-last: returns (B, abr_width)."""
        value, n = self.value, len(batch.abr)
        level, observed = batch.level_last, batch.observed_last
        tokens = value["frequency_attention.level_weight"] * level  # (width, F, B)
        tokens += value["frequency_attention.observed_weight"] * observed
        tokens += value["frequency_attention.frequency_embedding"]
        width, n_frequencies = tokens.shape[:2]
        flat_tokens = tokens.reshape(width, -1)
        qkv = value["frequency_attention.qkv.weight"] @ flat_tokens
        qkv += value["frequency_attention.qkv.bias"][:, None]
        query, key, values = qkv.reshape(3, self.heads, width // self.heads, n_frequencies, n)
        # h: head, d: head width, i and j: tokens, b: mouse
        scores = np.einsum("hdib,hdjb->hijb", query, key)
        scores *= query.shape[1] ** -0.5 * _LOG2_E  # softmax with exp2 (see _exp2_)
        scores -= scores.max(2, keepdims=True)
        attention = _exp2_(scores)
        attention /= attention.sum(2, keepdims=True)
        attended = np.einsum("hijb,hdjb->hdib", attention, values).reshape(width, -1)
        tokens_out = value["frequency_attention.out.weight"] @ attended
        tokens_out += value["frequency_attention.out.bias"][:, None]
        tokens_out += flat_tokens  # the residual
        features = tokens_out.reshape(width * n_frequencies, n)
        embedding = value["abr_encoder.weight"] @ features
        embedding += value["abr_encoder.bias"][:, None]
        _relu_(embedding)
        saved = _AbrSaved(
            level, observed, flat_tokens, qkv, attention, attended, features, embedding
        )
        return embedding.T, saved

    def _abr_encoder_backward(self, grad_embedding: Array, saved: _AbrSaved) -> None:
        value, grad = self.value, self.grad
        grad_embedding = _relu_backward_(np.ascontiguousarray(grad_embedding.T), saved.embedding)
        np.matmul(grad_embedding, saved.features.T, out=grad["abr_encoder.weight"])
        _sum_into(grad_embedding, 1, grad["abr_encoder.bias"])
        width = saved.flat_tokens.shape[0]
        grad_tokens_out = (value["abr_encoder.weight"].T @ grad_embedding).reshape(width, -1)
        np.matmul(grad_tokens_out, saved.attended.T, out=grad["frequency_attention.out.weight"])
        _sum_into(grad_tokens_out, 1, grad["frequency_attention.out.bias"])
        grad_attended = value["frequency_attention.out.weight"].T @ grad_tokens_out
        # attention, as _TokenAttention.backward
        query, key, values = saved.qkv.reshape(3, self.heads, -1, *saved.level.shape)
        attention = saved.attention
        grad_attended = grad_attended.reshape(query.shape)
        grad_attention = np.einsum("hdib,hdjb->hijb", grad_attended, values)
        grad_qkv = np.empty_like(saved.qkv).reshape(3, *query.shape)  # query, key, value
        np.einsum("hijb,hdib->hdjb", attention, grad_attended, out=grad_qkv[2])
        grad_attention -= np.einsum("hijb,hijb->hib", grad_attention, attention)[:, :, None]
        grad_scores = grad_attention * attention
        grad_scores *= query.shape[1] ** -0.5
        np.einsum("hijb,hdjb->hdib", grad_scores, key, out=grad_qkv[0])
        np.einsum("hijb,hdib->hdjb", grad_scores, query, out=grad_qkv[1])
        grad_qkv = grad_qkv.reshape(3 * width, -1)
        np.matmul(grad_qkv, saved.flat_tokens.T, out=grad["frequency_attention.qkv.weight"])
        _sum_into(grad_qkv, 1, grad["frequency_attention.qkv.bias"])
        grad_tokens = value["frequency_attention.qkv.weight"].T @ grad_qkv
        grad_tokens += grad_tokens_out
        grad_tokens = grad_tokens.reshape(width, *saved.level.shape)
        # sums over the mice, each (width, F), into the (width, F, 1) parameter gradients
        embedding_grad = grad["frequency_attention.frequency_embedding"]
        _sum_into(grad_tokens.reshape(embedding_grad.size, -1), 1, embedding_grad.reshape(-1))
        for name, inputs in (("level_weight", saved.level), ("observed_weight", saved.observed)):
            out = grad[f"frequency_attention.{name}"][..., 0]
            np.einsum("wfb,fb->wf", grad_tokens, inputs, out=out)

    def _metadata_encoder(self, batch: NumpyBatch) -> tuple[Array, tuple[Array, Array, Array]]:
        """MetadataEncoder: embedding lookup, joined with continuous and PCA, Linear + ReLU."""
        rows = batch.embedding_rows
        table = self.value["metadata_encoder.embedding.weight"]
        embedded = np.take(table, rows, axis=0).reshape(len(rows), -1)
        inputs = np.concatenate([embedded, batch.data_inputs], axis=1)
        embedding = _relu_(_affine(inputs, self.metadata_layer))
        return embedding, (rows, inputs, embedding)

    def _metadata_encoder_backward(
        self, grad_embedding: Array, saved: tuple[Array, Array, Array]
    ) -> None:
        rows, inputs, embedding = saved
        layer = self.metadata_layer
        grad_embedding = _relu_backward_(np.ascontiguousarray(grad_embedding), embedding)
        np.matmul(grad_embedding.T, inputs, out=layer.weight_grad)
        _sum_into(grad_embedding, 0, layer.bias_grad)
        # only the looked-up embeddings need a gradient (continuous and PCA inputs are data);
        # torch's index_add_ scatters it into the table, rows in order (deterministic)
        table_grad = torch.from_numpy(self.grad["metadata_encoder.embedding.weight"])
        grad_embedded = grad_embedding @ layer.weight[:, : rows.shape[1] * table_grad.shape[1]]
        table_grad.zero_().index_add_(
            0,
            torch.from_numpy(rows.reshape(-1)),
            torch.from_numpy(grad_embedded).view(-1, table_grad.shape[1]),
        )

    def _reconstruction(
        self, decoded: Array, batch: NumpyBatch, weights: Array
    ) -> tuple[list[float], Array]:
        """The output heads and the ABR, metadata and PCA reconstruction terms (losses.py);
        writes the heads' gradients, returns the terms and the gradient of ``decoded``."""
        n = len(decoded)
        abr_weight, metadata_weight, pca_weight = (float(w) for w in weights)
        abr_hidden, metadata_hidden = decoded[:, : self.abr_width], decoded[:, self.abr_width :]
        abr_sigmoid = _affine(abr_hidden, self.abr_head)
        torch.from_numpy(abr_sigmoid).sigmoid_()
        abr_residual = (abr_sigmoid * self.abr_span + self.abr_low - batch.abr) * batch.observed
        pca_residual = _affine(metadata_hidden, self.pca_head)
        pca_residual -= batch.data_inputs[:, self.n_continuous :]  # the standardised PCA
        # batch-last, so that softmax over a column's categories runs across whole rows
        head = self.metadata_head
        metadata_out = head.weight @ metadata_hidden.T
        metadata_out += head.bias[:, None]
        continuous_residual = metadata_out[: self.n_continuous] - batch.continuous_last
        logits = metadata_out[self.n_continuous :].reshape(*self.absent_bias.shape, n)
        logits += self.absent_bias[..., None]
        logits -= logits.max(1, keepdims=True)
        probability = _exp2_(logits * _LOG2_E)
        normaliser = probability.sum(1)
        probability /= normaliser[:, None]
        known = batch.known_last
        # where each mouse's code sits in the flat (column, slot, mouse) logits
        code_index = batch.code_slots_last * n
        code_index += np.arange(n)
        cross_entropy = np.vdot(np.log(normaliser) - np.take(logits, code_index), known)
        terms = [
            0.5 * self.abr_scale * np.vdot(abr_residual, abr_residual) / n,
            (0.5 * np.vdot(continuous_residual, continuous_residual) + cross_entropy) / n,
            0.5 * np.vdot(pca_residual, pca_residual) / n,
        ]

        grad_decoded = np.empty_like(decoded)
        grad_abr_logit = abr_residual * (abr_weight * self.abr_scale * self.abr_span / n)
        grad_abr_logit *= abr_sigmoid * (1.0 - abr_sigmoid)
        grad_decoded[:, : self.abr_width] = _affine_backward(
            grad_abr_logit, abr_hidden, self.abr_head
        )
        probability.reshape(-1)[code_index] -= 1.0  # softmax - one-hot
        probability *= (known * (metadata_weight / n))[:, None]
        grad_metadata_out = np.concatenate(
            [continuous_residual * (metadata_weight / n), probability.reshape(-1, n)], axis=0
        )
        np.matmul(grad_metadata_out, metadata_hidden, out=head.weight_grad)
        _sum_into(grad_metadata_out, 1, head.bias_grad)
        grad_metadata_hidden = grad_metadata_out.T @ head.weight
        grad_metadata_hidden += _affine_backward(
            pca_residual * (pca_weight / n), metadata_hidden, self.pca_head
        )
        grad_decoded[:, self.abr_width :] = grad_metadata_hidden
        return terms, grad_decoded

    def _cluster_terms(
        self, batch: NumpyBatch, mean: Array, target: Array, weights: Array, grad_mean: Array
    ) -> list[float]:
        """Clustering, contrastive and consistency terms; adds their gradient to
        ``grad_mean`` and writes the centres' gradient."""
        n = len(mean)
        clustering_weight, contrastive_weight, consistency_weight = (float(w) for w in weights)
        centres = self.value["clustering.centres"]
        alpha = self.alpha
        # Student's-t soft assignment (ClusteringLayer.log_assignment): q is the row-normalised
        # kernel (1 + d / alpha)^(-(alpha + 1) / 2), a reciprocal when alpha = 1 (the default)
        squared_distance = mean @ (-2.0 * centres.T)
        squared_distance += _row_sums(mean * mean)[:, None]
        squared_distance += _row_sums(centres * centres)
        inside = squared_distance >= 0.0
        np.maximum(squared_distance, 0.0, out=squared_distance)
        inverse_base = squared_distance * (1.0 / alpha)
        inverse_base += 1.0
        np.reciprocal(inverse_base, out=inverse_base)
        kernel = inverse_base if alpha == 1.0 else inverse_base ** (0.5 * (alpha + 1.0))
        assignment = kernel / _row_sums(kernel)[:, None]
        log_assignment = np.log(assignment)
        log_target = np.log(np.maximum(target, _TINY))
        clustering = (np.vdot(target, log_target) - np.vdot(target, log_assignment)) / n
        grad_log_assignment = target * (-clustering_weight / n)

        lines = _Lines.of(batch)
        contrastive, grad_contrastive = self._supervised_contrastive(mean, lines)
        grad_mean += contrastive_weight * grad_contrastive

        # phenotype consistency: r = q - mean q of the line-mates, averaged over anchors
        residual = assignment - (lines.sums(assignment) - assignment) / lines.mates
        consistency = np.vdot(lines.anchor_weight, _row_sums(residual * residual))
        weighted = residual * (2.0 * lines.anchor_weight)[:, None]
        spread_back = weighted / lines.mates
        grad_assignment = weighted + spread_back
        grad_assignment -= lines.sums(spread_back)
        grad_log_assignment += grad_assignment * (consistency_weight * assignment)

        grad_logits = grad_log_assignment
        grad_logits -= assignment * _row_sums(grad_log_assignment)[:, None]
        # d logit / d distance = -(alpha + 1) / (2 alpha) / (1 + d / alpha)
        grad_distance = grad_logits * inverse_base
        grad_distance *= inside * np.float32(-0.5 * (alpha + 1.0) / alpha)
        grad_mean += mean * (2.0 * _row_sums(grad_distance))[:, None]
        grad_mean -= grad_distance @ (2.0 * centres)
        centres_grad = self.grad["clustering.centres"]
        np.matmul(grad_distance.T, mean, out=centres_grad)
        centres_grad *= -2.0
        centres_grad += centres * (2.0 * (_ones(n) @ grad_distance))[:, None]
        return [clustering, contrastive, float(consistency)]

    def _supervised_contrastive(self, embedding: Array, lines: _Lines) -> tuple[float, Array]:
        """SupCon and its gradient (as losses._SupervisedContrastive)."""
        n = len(embedding)
        inverse_temperature = 1.0 / self.temperature
        norm = np.sqrt(_row_sums(embedding * embedding))
        np.maximum(norm, 1e-12, out=norm)
        norm = norm[:, None]
        unit = embedding / norm
        pair_exp = _PairExponentials.of(unit, inverse_temperature)
        denominator = np.maximum(pair_exp @ _ones(n), 1e-30)
        line_sum = lines.sums(unit)
        positive = _row_sums(unit * (line_sum - unit))
        anchor_weight = lines.anchor_weight
        mate_weight = anchor_weight * inverse_temperature / lines.mates[:, 0]
        loss = np.vdot(anchor_weight, np.log(denominator)) - np.vdot(mate_weight, positive)
        weight = (anchor_weight / denominator)[:, None]
        products = pair_exp @ np.concatenate([unit, weight * unit], axis=1)
        e_unit, e_weighted = products[:, : unit.shape[1]], products[:, unit.shape[1] :]
        grad_unit = weight * e_unit + e_weighted
        grad_unit *= inverse_temperature
        mate_weight = mate_weight[:, None]
        grad_unit -= mate_weight * line_sum + lines.sums(mate_weight * unit)
        grad_unit -= unit * _row_sums(unit * grad_unit)[:, None]
        grad_unit /= norm
        return float(loss), grad_unit


def _mlp(inputs: Array, layers: list[_Linear]) -> list[Array]:
    """Linear + ReLU layers (network._mlp); returns the input and every layer's output."""
    activations = [inputs]
    for layer in layers:
        activations.append(_relu_(_affine(activations[-1], layer)))
    return activations


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
