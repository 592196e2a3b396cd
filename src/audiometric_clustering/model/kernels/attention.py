"""The frequency-attention block's forward and backward, each one compiled call.

The block works on tokens only 8 wide, 6 per mouse: in numpy each of its products is a call
on tiny matrices (an einsum, or a BLAS product with an inner dimension of 8), and the ~40
calls of a forward and backward pass cost about 1.7 ms of a 7 ms joint step, mostly in call
overhead and temporaries. Here the batch axis is innermost in every loop, so the compiler
vectorises it: the layouts are ``FrequencyAttention``'s, batch-last.
``network.FrequencyAttention`` is the reference.

Shapes: W token width, F frequencies (tokens), B mice, H heads of width D = W / H; ``qkv``
rows are query, key and value, each head's D rows together, as ``qkv.view(3, H, D, F, B)``.
"""

from __future__ import annotations

import numpy as np

from audiometric_clustering.model.kernels import compiled, exp2_


class AttentionWeights:
    """The block's parameters as arrays (views of the model's flat buffer): values or
    gradients, in the shapes the kernels take."""

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str = "frequency_attention") -> None:
        def get(name: str) -> np.ndarray:
            return arrays[f"{prefix}.{name}"]

        width, n_frequencies, _ = get("level_weight").shape
        self.level = get("level_weight").reshape(width, n_frequencies)
        self.observed = get("observed_weight").reshape(width, n_frequencies)
        self.embedding = get("frequency_embedding").reshape(width, n_frequencies)
        self.qkv, self.qkv_bias = get("qkv.weight"), get("qkv.bias")
        self.out, self.out_bias = get("out.weight"), get("out.bias")


def attention_forward(
    weights: AttentionWeights, level: np.ndarray, observed: np.ndarray, heads: int
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Tokens out, (W, F, B), of ``level`` and ``observed`` (F, B); and what the backward
    needs."""
    width, (n_frequencies, n) = weights.level.shape[0], level.shape
    tokens = np.empty((width, n_frequencies, n), np.float32)
    qkv = np.empty((3 * width, n_frequencies, n), np.float32)
    attention = np.empty((heads, n_frequencies, n_frequencies, n), np.float32)
    attended, tokens_out = np.empty_like(tokens), np.empty_like(tokens)
    scale = np.float32((width // heads) ** -0.5 / np.log(2.0))  # softmax logits in base 2
    _attention_forward(
        level, observed, weights.level, weights.observed, weights.embedding,
        weights.qkv, weights.qkv_bias, weights.out, weights.out_bias, heads, scale,
        tokens, qkv, attention, attended, tokens_out,
    )  # fmt: skip
    return tokens_out, (level, observed, tokens, qkv, attention, attended)


def attention_backward(
    grad_tokens_out: np.ndarray,
    saved: tuple[np.ndarray, ...],
    weights: AttentionWeights,
    grads: AttentionWeights,
    heads: int,
) -> None:
    """Writes the block's parameter gradients given d loss / d tokens out (W, F, B)."""
    level, observed, tokens, qkv, attention, attended = saved
    scale = np.float32((tokens.shape[0] // heads) ** -0.5)
    _attention_backward(
        grad_tokens_out, level, observed, tokens, qkv, attention, attended,
        weights.qkv, weights.out, heads, scale,
        grads.level, grads.observed, grads.embedding,
        grads.qkv, grads.qkv_bias, grads.out, grads.out_bias,
    )  # fmt: skip


# Inner loops run over 1-D rows (contiguous slices), which the compiler vectorises; indexing
# a 3-D array inside the innermost loop measured 2-3x slower.


@compiled
def _attention_forward(
    level, observed, level_weight, observed_weight, embedding, qkv_weight, qkv_bias,
    out_weight, out_bias, heads, scale, tokens, qkv, attention, attended, tokens_out,
):  # fmt: skip
    """tokens = embedding + level_weight * level + observed_weight * observed;
    qkv = qkv_weight @ tokens + qkv_bias; attention = softmax over keys of scale * q.k
    (``scale`` includes log2(e): exponentials in base 2); tokens_out = tokens + out_bias +
    out_weight @ (attention-weighted values)."""
    width, n_frequencies = level_weight.shape
    n = level.shape[1]
    head_width = width // heads
    scratch = np.empty(n_frequencies * n, np.int32)
    for c in range(width):
        for f in range(n_frequencies):
            row, levels, flags = tokens[c, f], level[f], observed[f]
            lw, ow, base = level_weight[c, f], observed_weight[c, f], embedding[c, f]
            for b in range(row.size):
                row[b] = (base + lw * levels[b]) + ow * flags[b]
    _affine_over_tokens(qkv_weight, qkv_bias, tokens, qkv)
    for h in range(heads):
        for i in range(n_frequencies):
            logits = attention[h, i]  # (keys, B), softmax over the keys
            for j in range(n_frequencies):
                logit = logits[j]
                logit[:] = 0.0
                for d in range(head_width):
                    query, key = qkv[h * head_width + d, i], qkv[width + h * head_width + d, j]
                    for b in range(logit.size):
                        logit[b] += query[b] * key[b]
                for b in range(logit.size):
                    logit[b] *= scale
            top = logits[0].copy()
            for j in range(1, n_frequencies):
                logit = logits[j]
                for b in range(top.size):
                    top[b] = max(top[b], logit[b])
            for j in range(n_frequencies):
                logit = logits[j]
                for b in range(top.size):
                    logit[b] -= top[b]
            exp2_(logits.reshape(-1), scratch)
            weights = logits
            total = weights[0].copy()
            for j in range(1, n_frequencies):
                weight = weights[j]
                for b in range(n):
                    total[b] += weight[b]
            for b in range(n):
                total[b] = 1.0 / total[b]
            for j in range(n_frequencies):
                weight = weights[j]
                for b in range(n):
                    weight[b] *= total[b]
            for d in range(head_width):
                out = attended[h * head_width + d, i]
                out[:] = 0.0
                for j in range(n_frequencies):
                    weight, value = weights[j], qkv[2 * width + h * head_width + d, j]
                    for b in range(n):
                        out[b] += weight[b] * value[b]
    _affine_over_tokens(out_weight, out_bias, attended, tokens_out)
    tokens_out += tokens  # the residual


@compiled
def _attention_backward(
    grad_tokens_out, level, observed, tokens, qkv, attention, attended,
    qkv_weight, out_weight, heads, scale,
    level_weight_grad, observed_weight_grad, embedding_grad,
    qkv_weight_grad, qkv_bias_grad, out_weight_grad, out_bias_grad,
):  # fmt: skip
    """Back through _attend, the softmax and _tokens_and_scores (``scale``: 1 / sqrt(D))."""
    width, n_frequencies, n = tokens.shape
    head_width = width // heads
    _affine_grads(grad_tokens_out, attended, out_weight_grad, out_bias_grad)
    grad_attended = _transposed_product(out_weight, grad_tokens_out)
    grad_qkv = np.zeros_like(qkv)
    grad_weights = np.empty((n_frequencies, n), np.float32)
    mean = np.empty(n, np.float32)
    for h in range(heads):
        query, key, values = h * head_width, width + h * head_width, 2 * width + h * head_width
        for i in range(n_frequencies):
            weights = attention[h, i]
            # d loss / d attention weights, and the values' gradient
            grad_weights[:] = 0.0
            for j in range(n_frequencies):
                grad_weight, weight = grad_weights[j], weights[j]
                for d in range(head_width):
                    grad_out, value = grad_attended[query + d, i], qkv[values + d, j]
                    grad_value = grad_qkv[values + d, j]
                    for b in range(n):
                        grad_weight[b] += grad_out[b] * value[b]
                        grad_value[b] += weight[b] * grad_out[b]
            # through the softmax: g_s = a * (g_a - sum_j a g_a), times the score scale
            mean[:] = 0.0
            for j in range(n_frequencies):
                grad_weight, weight = grad_weights[j], weights[j]
                for b in range(n):
                    mean[b] += weight[b] * grad_weight[b]
            for j in range(n_frequencies):
                grad_weight, weight = grad_weights[j], weights[j]
                for b in range(n):
                    grad_weight[b] = (grad_weight[b] - mean[b]) * weight[b] * scale
            for j in range(n_frequencies):
                grad_score = grad_weights[j]
                for d in range(head_width):
                    grad_query, grad_key = grad_qkv[query + d, i], grad_qkv[key + d, j]
                    query_row, key_row = qkv[query + d, i], qkv[key + d, j]
                    for b in range(n):
                        grad_query[b] += grad_score[b] * key_row[b]
                        grad_key[b] += grad_score[b] * query_row[b]
    _affine_grads(grad_qkv, tokens, qkv_weight_grad, qkv_bias_grad)
    grad_tokens = _transposed_product(qkv_weight, grad_qkv)
    for c in range(width):
        for f in range(n_frequencies):
            grad, grad_residual, levels, flags = (
                grad_tokens[c, f],
                grad_tokens_out[c, f],
                level[f],
                observed[f],
            )
            total = level_total = observed_total = np.float32(0.0)
            for b in range(n):
                g = grad[b] + grad_residual[b]  # the residual
                total += g
                level_total += g * levels[b]
                observed_total += g * flags[b]
            embedding_grad[c, f] = total
            level_weight_grad[c, f] = level_total
            observed_weight_grad[c, f] = observed_total


@compiled
def _affine_over_tokens(weight, bias, inputs, out):
    """out = weight @ inputs + bias, rows features, each row (F, B) of tokens."""
    n_out, n_in = weight.shape
    flat_in, flat_out = inputs.reshape(n_in, -1), out.reshape(n_out, -1)
    for o in range(n_out):
        row = flat_out[o]
        row[:] = bias[o]
        for c in range(n_in):
            w, source = weight[o, c], flat_in[c]
            for b in range(row.size):
                row[b] += w * source[b]


@compiled
def _affine_grads(grad_out, inputs, weight_grad, bias_grad):
    """The weight's and bias's gradients of out = weight @ inputs + bias over tokens."""
    n_out, n_in = weight_grad.shape
    flat_grad, flat_in = grad_out.reshape(n_out, -1), inputs.reshape(n_in, -1)
    for o in range(n_out):
        grad = flat_grad[o]
        bias_total = np.float32(0.0)
        for b in range(grad.size):
            bias_total += grad[b]
        bias_grad[o] = bias_total
        for c in range(n_in):
            source = flat_in[c]
            total = np.float32(0.0)
            for b in range(grad.size):
                total += grad[b] * source[b]
            weight_grad[o, c] = total


@compiled
def _transposed_product(weight, grad_out):
    """weight.T @ grad_out over tokens: d loss / d inputs of out = weight @ inputs + bias."""
    n_out, n_in = weight.shape
    flat_grad = grad_out.reshape(n_out, -1)
    grad_in = np.zeros((n_in, flat_grad.shape[1]), np.float32)
    for c in range(n_in):
        row = grad_in[c]
        for o in range(n_out):
            w, grad = weight[o, c], flat_grad[o]
            for b in range(row.size):
                row[b] += w * grad[b]
    return grad_in.reshape(n_in, grad_out.shape[1], grad_out.shape[2])
