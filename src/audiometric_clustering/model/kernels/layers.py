"""Elementwise parts of the dense layers, the metadata embedding lookup and the VAE's
reparameterisation, each fused into one compiled pass (batch-first arrays).

The products of each layer stay BLAS calls in ``numpy_gradients``; what is around them (a
bias, a ReLU and its mask, a bias's gradient, a gather or scatter of embedding rows, the KL
chain) would otherwise be two to ten numpy calls and temporaries each.
"""

from __future__ import annotations

import math

import numpy as np

from audiometric_clustering.model.kernels import compiled


@compiled
def bias_relu_(out, bias):
    """out <- max(out + bias, 0), row by row."""
    for i in range(out.shape[0]):
        row = out[i]
        for j in range(row.size):
            row[j] = max(row[j] + bias[j], 0.0)


@compiled
def relu_backward_(grad, output, bias_grad):
    """grad <- grad where the ReLU's ``output`` is positive, else 0; bias_grad <- the
    column sums of the result (the gradient of the bias before the ReLU)."""
    bias_grad[:] = 0.0
    for i in range(grad.shape[0]):
        row, active = grad[i], output[i]
        for j in range(row.size):
            value = row[j] if active[j] > 0.0 else np.float32(0.0)
            row[j] = value
            bias_grad[j] += value


@compiled
def embedding_inputs(table, rows, data_inputs):
    """Each mouse's embedding rows of ``table`` (its codes, one row per column) side by
    side, then its ``data_inputs``: the metadata encoder's input (B, columns x E + data)."""
    n, n_columns = rows.shape
    width = table.shape[1]
    inputs = np.empty((n, n_columns * width + data_inputs.shape[1]), np.float32)
    for i in range(n):
        for c in range(n_columns):
            inputs[i, c * width : (c + 1) * width] = table[rows[i, c]]
        inputs[i, n_columns * width :] = data_inputs[i]
    return inputs


@compiled
def embedding_grad_(grad_inputs, rows, table_grad):
    """table_grad <- the embedding table's gradient: each looked-up row's slice of
    ``grad_inputs`` added into its table row, mice in order (deterministic)."""
    n, n_columns = rows.shape
    width = table_grad.shape[1]
    table_grad[:] = 0.0
    for i in range(n):
        for c in range(n_columns):
            table_grad[rows[i, c]] += grad_inputs[i, c * width : (c + 1) * width]


@compiled
def reparameterise(distribution, noise):
    """latent = mean + noise * exp(log_variance / 2), log_variance clamped to [-10, 10] as
    in the model; returns (latent, spread, KL summed over the batch)."""
    n, latent_dim = noise.shape
    latent = np.empty((n, latent_dim), np.float32)
    spread = np.empty((n, latent_dim), np.float32)
    kl = 0.0
    for i in range(n):
        for j in range(latent_dim):
            mean = distribution[i, j]
            log_variance = min(max(distribution[i, latent_dim + j], -10.0), 10.0)
            sigma = math.exp(0.5 * log_variance)
            spread[i, j] = sigma
            latent[i, j] = mean + noise[i, j] * sigma
            kl += mean * mean + sigma * sigma - 1.0 - log_variance
    return latent, spread, 0.5 * kl


@compiled
def reparameterise_backward(grad_latent, grad_mean, distribution, noise, spread, kl_scale):
    """d loss / d distribution (B, 2 x latent) from d loss / d latent and d loss / d mean
    (other terms on the mean), with the KL term times ``kl_scale`` added."""
    n, latent_dim = noise.shape
    grad = np.empty((n, 2 * latent_dim), np.float32)
    for i in range(n):
        for j in range(latent_dim):
            sigma, raw_log_variance = spread[i, j], distribution[i, latent_dim + j]
            grad[i, j] = grad_latent[i, j] + grad_mean[i, j] + distribution[i, j] * kl_scale
            grad_log_variance = 0.5 * (
                grad_latent[i, j] * noise[i, j] * sigma + (sigma * sigma - 1.0) * kl_scale
            )
            inside = raw_log_variance >= -10.0 and raw_log_variance <= 10.0  # the clamp's
            grad[i, latent_dim + j] = grad_log_variance if inside else 0.0
    return grad


@compiled
def bias_relu_batch_last_(out, bias):
    """out <- max(out + bias, 0) for batch-last ``out`` (units, B): one bias per row."""
    for u in range(out.shape[0]):
        row, offset = out[u], bias[u]
        for b in range(row.size):
            row[b] = max(row[b] + offset, 0.0)


@compiled
def relu_backward_batch_last(grad, output, bias_grad):
    """The gradient before a batch-last ReLU layer, (units, B), from ``grad`` batch-first
    (B, units) and the layer's ``output`` (units, B); bias_grad <- its row sums."""
    units, n = output.shape
    masked = np.empty((units, n), np.float32)
    for u in range(units):
        row, active = masked[u], output[u]
        total = np.float32(0.0)
        for b in range(n):
            value = grad[b, u] if active[b] > 0.0 else np.float32(0.0)
            row[b] = value
            total += value
        bias_grad[u] = total
    return masked
