"""The training loss of ContrastiveVAE-DEC and its gradient, written out in numpy.

A CPU training step of this small model (about 10^4 parameters) costs mostly a fixed
amount per operation, and autograd adds a graph node, a backward call and a temporary per
forward operation (about 150 of each in a joint step). Here the forward pass, the loss
terms and the backward pass are written out by hand on arrays that share memory with the
torch parameters and their flat gradient buffer (``flatten_parameters``), so torch's Adam
kernel updates the same model: products as numpy (BLAS) calls, and each chain that works
value by value as one compiled loop (``model/kernels``). ``benchmarks/training_step.py``
compares the two step engines.

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
from torch import Tensor, nn

from audiometric_clustering.model.kernels.attention import (
    AttentionWeights,
    attention_backward,
    attention_forward,
)
from audiometric_clustering.model.kernels.clustering import (
    clustering_terms,
    student_t_assignment,
)
from audiometric_clustering.model.kernels.contrastive import (
    exp2_block_,
    supcon_gradient,
    supcon_loss,
    unit_rows,
)
from audiometric_clustering.model.kernels.layers import (
    bias_relu_,
    bias_relu_batch_last_,
    embedding_grad_,
    embedding_inputs,
    relu_backward_,
    relu_backward_batch_last,
    reparameterise,
    reparameterise_backward,
)
from audiometric_clustering.model.kernels.reconstruction import abr_terms_, metadata_terms_
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
    codes_last: Array  # (n_categorical, B) each mouse's code per column
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

    attention: tuple[Array, ...]  # kernels.attention.attention_forward's
    features: Array  # (width * F, B): the attention block's tokens out
    embedding: Array  # (abr_width, B), after the ReLU


class _Linear(NamedTuple):
    weight: Array
    bias: Array
    weight_grad: Array
    bias_grad: Array


# Each numpy call inside a step costs several microseconds whatever its size, so the code
# below prefers fewer, fused calls: BLAS products here, elementwise chains in model/kernels.


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


class _Lines(NamedTuple):
    """The knockout lines of a batch, each one contiguous run of mice (``plan_batches``)."""

    starts: Array  # (lines,) first row of each line's run
    lengths: Array  # (lines,) mice in each line
    mates: Array  # (B,) line-mates in the batch, at least 1: the divisor of a mean over mates
    anchor_weight: Array  # (B,) 1 / (number of anchors) for mice with line-mates, else 0

    @classmethod
    def of(cls, batch: NumpyBatch) -> _Lines:
        group, n_positives = batch.group, batch.n_positives
        if (group[1:] < group[:-1]).any():
            raise ValueError("numpy gradients need each line as one contiguous run (plan_batches)")
        lengths = np.bincount(group)
        anchors = (n_positives > 0).astype(n_positives.dtype)
        anchor_weight = anchors / max(float(anchors.sum()), 1.0)
        mates = np.maximum(n_positives, 1.0)
        return cls(np.cumsum(lengths) - lengths, lengths, mates, anchor_weight)


class _PairExponentials(NamedTuple):
    """exp(u_i . u_j / T) for all pairs i != j of a batch (0 on the diagonal), kept as the
    blocks of its two row halves without the lower-left one, which is the upper-right one
    transposed: 3/4 of the work of the whole symmetric matrix, and each block is small
    enough to stay in the L2 cache while it is built (measured 3% off a joint step)."""

    upper: Array  # (h, h)
    corner: Array  # (h, B - h)
    lower: Array  # (B - h, B - h)

    @classmethod
    def of(cls, unit: Array, inverse_temperature: float) -> tuple[_PairExponentials, Array]:
        """The matrix, and its row sums (SupCon's denominators) taken while each block is
        still in cache."""
        half = len(unit) // 2
        scaled = unit * (inverse_temperature * _LOG2_E)  # exp(s / T) as 2^(s log2(e) / T)
        first, second = slice(0, half), slice(half, None)
        row_sums = np.zeros(len(unit), np.float32)
        scratch = np.empty((len(unit) - half) ** 2, np.int32)

        def block(rows: slice, columns: slice) -> Array:  # exponentiated while in cache
            values = scaled[rows] @ unit[columns].T
            exp2_block_(values, scratch, rows == columns, row_sums[rows], row_sums[columns])
            return values

        return cls(block(first, first), block(first, second), block(second, second)), row_sums

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
        self.attention = AttentionWeights(self.value)
        self.attention_grad = AttentionWeights(self.grad)
        self.alpha = model.clustering.alpha
        self.abr_low, self.abr_span = model.abr_low, model.abr_span
        self.n_continuous, self.abr_width = config.n_continuous, config.abr_embedding_dim
        self.latent_dim, self.n_clusters = config.latent_dim, config.n_clusters
        self.offsets = model.metadata_encoder.offsets.numpy()
        self.absent_bias = model.absent_category_bias.numpy()
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

    def epoch(
        self, mice: MouseTensors, group: Tensor | None = None, n_positives: Tensor | None = None
    ) -> NumpyEpoch:
        """``mice`` (CPU tensors in epoch order, with their batch plan's ``group`` and
        ``n_positives``; none for a pass that needs no lines) in the step's layouts."""
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
                np.ascontiguousarray(codes_last),
                np.ascontiguousarray(codes_last != 0, dtype=np.float32),
                np.zeros(len(mice), np.int64) if group is None else group.numpy(),
                np.zeros(len(mice), np.float32) if n_positives is None else n_positives.numpy(),
            )
        )

    def __call__(
        self, batch: NumpyBatch, noise: Array, weights: Array, target: Array | None
    ) -> Array:
        """Loss terms (unweighted) of ``batch``; writes d(weights . terms)/d(parameters).

        ``noise`` is the reparameterisation draw, (B, latent_dim); ``target`` the DEC target
        P of these mice (joint stage only).
        """
        return self._terms(batch, noise, weights, target, backward=True)

    def validation_terms(self, batch: NumpyBatch, weights: Array, target: Array | None) -> Array:
        """Loss terms with the latent mean as the sample (the torch loss with
        ``sample=False``), without gradients: the validation loss, in about half a step."""
        noise = np.zeros((len(batch.abr), self.latent_dim), np.float32)  # latent = mean
        return self._terms(batch, noise, weights, target, backward=False)

    def _terms(
        self, batch: NumpyBatch, noise: Array, weights: Array, target: Array | None, backward: bool
    ) -> Array:
        n = len(batch.abr)
        distribution, (abr_saved, metadata_saved, encoder_activations) = self._encode(batch)
        latent, spread, kl = reparameterise(distribution, noise)
        decoder_activations = _mlp(latent, self.decoder)
        terms, grad_decoded = self._reconstruction(
            decoder_activations[-1], batch, weights[:3], backward
        )
        terms.append(kl / n)
        grad_mean = np.zeros_like(noise)  # the joint stage's terms act on the mean
        centres_grad = self.grad["clustering.centres"]
        if not backward:
            centres_grad = np.empty_like(centres_grad)  # written, not kept
        if self.joint:
            mean = distribution[:, : self.latent_dim]
            terms += self._cluster_terms(
                batch, mean, target, weights[4:7], grad_mean, centres_grad, backward
            )
        else:
            centres_grad.fill(0.0)
        if not backward:
            return np.array(terms, dtype=np.float32)

        grad_latent = _mlp_backward(grad_decoded, decoder_activations, self.decoder)
        grad_distribution = reparameterise_backward(
            grad_latent, grad_mean, distribution, noise, spread, np.float32(weights[3] / n)
        )
        grad_hidden = _affine_backward(grad_distribution, encoder_activations[-1], self.to_latent)
        grad_joined = _mlp_backward(grad_hidden, encoder_activations, self.encoder)
        self._metadata_encoder_backward(grad_joined[:, self.abr_width :], metadata_saved)
        self._abr_encoder_backward(grad_joined[:, : self.abr_width], abr_saved)
        return np.array(terms, dtype=np.float32)

    def soft_assignment(self, mice: NumpyEpoch, batch_size: int = 512) -> Array:
        """DEC's q for every mouse of ``mice`` (N, K): ``inference.soft_assignment`` with
        this module's forward, for the full-data passes of CPU training. Batches of 512
        stay in cache: 0.8x the time of batches of 8192."""
        n, parts = len(mice.mice.abr), []
        for start in range(0, n, batch_size):
            distribution, _ = self._encode(mice.batch(start, min(start + batch_size, n)))
            mean = np.ascontiguousarray(distribution[:, : self.latent_dim])
            parts.append(
                student_t_assignment(mean, self.value["clustering.centres"], self.alpha)[0]
            )
        return np.concatenate(parts) if parts else np.zeros((0, self.n_clusters), np.float32)

    def _encode(self, batch: NumpyBatch) -> tuple[Array, tuple]:
        """The encoder's output (B, 2 x latent: mean, then log-variance) and what its
        backward needs."""
        abr_embedding, abr_saved = self._abr_encoder(batch)
        metadata_embedding, metadata_saved = self._metadata_encoder(batch)
        joined = np.concatenate([abr_embedding, metadata_embedding], axis=1)
        encoder_activations = _mlp(joined, self.encoder)
        distribution = _affine(encoder_activations[-1], self.to_latent)
        return distribution, (abr_saved, metadata_saved, encoder_activations)

    def _abr_encoder(self, batch: NumpyBatch) -> tuple[Array, _AbrSaved]:
        """FrequencyAttention + abr_encoder + ReLU, batch-last: returns (B, abr_width)."""
        tokens_out, attention = attention_forward(
            self.attention, batch.level_last, batch.observed_last, self.heads
        )
        features = tokens_out.reshape(-1, len(batch.abr))
        embedding = self.value["abr_encoder.weight"] @ features
        bias_relu_batch_last_(embedding, self.value["abr_encoder.bias"])
        return embedding.T, _AbrSaved(attention, features, embedding)

    def _abr_encoder_backward(self, grad_embedding: Array, saved: _AbrSaved) -> None:
        value, grad = self.value, self.grad
        grad_embedding = relu_backward_batch_last(
            grad_embedding, saved.embedding, grad["abr_encoder.bias"]
        )
        np.matmul(grad_embedding, saved.features.T, out=grad["abr_encoder.weight"])
        grad_tokens_out = value["abr_encoder.weight"].T @ grad_embedding  # (W * F, B)
        attention_backward(
            grad_tokens_out.reshape(self.attention.level.shape + grad_embedding.shape[1:]),
            saved.attention,
            self.attention,
            self.attention_grad,
            self.heads,
        )

    def _metadata_encoder(self, batch: NumpyBatch) -> tuple[Array, tuple[Array, Array, Array]]:
        """MetadataEncoder: embedding lookup, joined with continuous and PCA, Linear + ReLU."""
        rows = batch.embedding_rows
        table = self.value["metadata_encoder.embedding.weight"]
        inputs = embedding_inputs(table, rows, batch.data_inputs)
        embedding = _dense_relu(inputs, self.metadata_layer)
        return embedding, (rows, inputs, embedding)

    def _metadata_encoder_backward(
        self, grad_embedding: Array, saved: tuple[Array, Array, Array]
    ) -> None:
        rows, inputs, embedding = saved
        layer = self.metadata_layer
        grad_embedding = np.ascontiguousarray(grad_embedding)
        relu_backward_(grad_embedding, embedding, layer.bias_grad)
        np.matmul(grad_embedding.T, inputs, out=layer.weight_grad)
        # only the looked-up embeddings need a gradient (continuous and PCA inputs are data)
        table_grad = self.grad["metadata_encoder.embedding.weight"]
        grad_embedded = grad_embedding @ layer.weight[:, : rows.shape[1] * table_grad.shape[1]]
        embedding_grad_(grad_embedded, rows, table_grad)

    def _reconstruction(
        self, decoded: Array, batch: NumpyBatch, weights: Array, backward: bool
    ) -> tuple[list[float], Array | None]:
        """The output heads and the ABR, metadata and PCA reconstruction terms (losses.py);
        with ``backward``, writes the heads' gradients; returns the terms and the gradient
        of ``decoded``."""
        n = len(decoded)
        abr_weight, metadata_weight, pca_weight = (float(w) for w in weights)
        abr_hidden, metadata_hidden = decoded[:, : self.abr_width], decoded[:, self.abr_width :]
        grad_abr_logit = _affine(abr_hidden, self.abr_head)
        abr_error = abr_terms_(
            grad_abr_logit, batch.abr, batch.observed, self.abr_low, self.abr_span,
            np.float32(abr_weight * self.abr_scale / n),
        )  # fmt: skip
        pca_residual = _affine(metadata_hidden, self.pca_head)
        pca_residual -= batch.data_inputs[:, self.n_continuous :]  # the standardised PCA
        # batch-last, so that softmax over a column's categories runs across whole rows
        head = self.metadata_head
        grad_metadata_out = head.weight @ metadata_hidden.T
        grad_metadata_out += head.bias[:, None]
        squared_error, cross_entropy = metadata_terms_(
            grad_metadata_out, self.absent_bias, batch.continuous_last, batch.codes_last,
            batch.known_last, np.float32(metadata_weight / n),
        )  # fmt: skip
        terms = [
            self.abr_scale * abr_error / n,
            (squared_error + cross_entropy) / n,
            0.5 * np.vdot(pca_residual, pca_residual) / n,
        ]
        if not backward:
            return terms, None

        grad_decoded = np.empty_like(decoded)
        grad_decoded[:, : self.abr_width] = _affine_backward(
            grad_abr_logit, abr_hidden, self.abr_head
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
        self,
        batch: NumpyBatch,
        mean: Array,
        target: Array,
        weights: Array,
        grad_mean: Array,
        centres_grad: Array,
        backward: bool,
    ) -> list[float]:
        """Clustering, contrastive and consistency terms; adds their gradient to
        ``grad_mean`` and writes the centres' gradient (the contrastive one only with
        ``backward``)."""
        clustering_weight, contrastive_weight, consistency_weight = (float(w) for w in weights)
        lines = _Lines.of(batch)
        contrastive, grad_contrastive = self._supervised_contrastive(mean, lines, backward)
        if backward:
            grad_mean += contrastive_weight * grad_contrastive
        clustering, consistency = clustering_terms(
            mean, self.value["clustering.centres"], target, self.alpha,
            lines.starts, lines.lengths, lines.mates, lines.anchor_weight,
            clustering_weight, consistency_weight, grad_mean, centres_grad,
        )  # fmt: skip
        return [clustering, contrastive, consistency]

    def _supervised_contrastive(
        self, embedding: Array, lines: _Lines, backward: bool
    ) -> tuple[float, Array | None]:
        """SupCon and, with ``backward``, its gradient (as losses._SupervisedContrastive)."""
        inverse_temperature = 1.0 / self.temperature
        unit, norm = unit_rows(embedding)
        pair_exp, denominator = _PairExponentials.of(unit, inverse_temperature)
        line_runs = (lines.starts, lines.lengths, lines.mates, lines.anchor_weight)
        loss, line_sum, columns = supcon_loss(unit, denominator, *line_runs, inverse_temperature)
        if not backward:
            return float(loss), None
        products = pair_exp @ columns
        grad = supcon_gradient(
            unit, norm, denominator, products, line_sum, *line_runs, inverse_temperature
        )
        return float(loss), grad


def _mlp(inputs: Array, layers: list[_Linear]) -> list[Array]:
    """Linear + ReLU layers (network._mlp); returns the input and every layer's output."""
    activations = [inputs]
    for layer in layers:
        activations.append(_dense_relu(activations[-1], layer))
    return activations


def _dense_relu(inputs: Array, layer: _Linear) -> Array:
    out = inputs @ layer.weight.T
    bias_relu_(out, layer.bias)
    return out


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
        layer = layers[index]
        relu_backward_(grad, activations[index + 1], layer.bias_grad)
        np.matmul(grad.T, activations[index], out=layer.weight_grad)
        grad = grad @ layer.weight
    return grad
