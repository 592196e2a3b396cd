"""The DEC clustering and phenotype-consistency terms and their gradient, as one compiled
loop over the batch (numba).

Both terms live on (B, 12) arrays of soft assignments: in numpy they are about 50 calls of
a few microseconds each, on arrays too small for any call to be efficient. Here they are
one pass over the mice. ``losses.py`` (``ClusteringLayer.log_assignment``, the DEC KL and
``phenotype_consistency_loss``) is the reference; ``tests/model/test_numpy_gradients.py``
holds this equal to autograd.
"""

from __future__ import annotations

import numpy as np

from audiometric_clustering.model.kernels import compiled

_TINY = np.float32(np.finfo(np.float32).tiny)  # log(0) guard for the DEC target


@compiled
def student_t_assignment(mean, centres, alpha):
    """DEC's soft assignment q (B, K): the rows of (1 + d / alpha)^-((alpha + 1) / 2)
    normalised, with d = |z|^2 + |mu|^2 - 2 z.mu clamped at 0 (as ClusteringLayer); and
    1 / (1 + d / alpha), 0 where d was clamped (no gradient there), for the backward."""
    n, latent_dim = mean.shape
    n_clusters = centres.shape[0]
    power = 0.5 * (alpha + 1.0)
    centre_norms = np.zeros(n_clusters, np.float32)
    for k in range(n_clusters):
        for j in range(latent_dim):
            centre_norms[k] += centres[k, j] * centres[k, j]
    inverse_base = np.empty((n, n_clusters), np.float32)
    assignment = np.empty((n, n_clusters), np.float32)
    for i in range(n):
        norm = np.float32(0.0)
        for j in range(latent_dim):
            norm += mean[i, j] * mean[i, j]
        for k in range(n_clusters):
            dot = np.float32(0.0)
            for j in range(latent_dim):
                dot += mean[i, j] * centres[k, j]
            distance = norm + centre_norms[k] - 2.0 * dot
            inverse = 1.0 / (1.0 + max(distance, 0.0) / alpha)
            inverse_base[i, k] = inverse if distance >= 0.0 else 0.0
            assignment[i, k] = inverse
        if alpha != 1.0:  # a separate loop: in the one above, the power ran for alpha = 1 too
            for k in range(n_clusters):
                assignment[i, k] = assignment[i, k] ** power
        total = np.float32(0.0)
        for k in range(n_clusters):
            total += assignment[i, k]
        for k in range(n_clusters):
            assignment[i, k] /= total
    return assignment, inverse_base


@compiled
def clustering_terms(
    mean, centres, target, alpha, line_starts, line_lengths, mates, anchor_weight,
    clustering_weight, consistency_weight, grad_mean, centres_grad,
):  # fmt: skip
    """(clustering, consistency) of a batch's latent means; adds the weighted terms'
    gradient to ``grad_mean`` and writes the centres' gradient into ``centres_grad``.

    ``target``: the DEC target P (B, K); ``line_starts``/``line_lengths``: each knockout
    line's contiguous run of rows; ``mates`` (B,): line-mates, at least 1; ``anchor_weight``
    (B,): 1 / anchors for mice with line-mates, else 0.
    """
    n, n_clusters = target.shape
    latent_dim = mean.shape[1]
    mean = np.ascontiguousarray(mean)  # a column slice; BLAS below needs rows contiguous
    power = 0.5 * (alpha + 1.0)
    assignment, inverse_base = student_t_assignment(mean, centres, alpha)
    clustering = 0.0
    for i in range(n):
        for k in range(n_clusters):
            p = target[i, k]
            clustering += p * np.log(max(p, _TINY) / assignment[i, k])  # KL(P || Q), one log

    # d terms / d log q: the DEC KL's, then the consistency term's through q = exp(log q)
    grad_log = np.empty((n, n_clusters), np.float32)
    for i in range(n):
        for k in range(n_clusters):
            grad_log[i, k] = target[i, k] * (-clustering_weight / n)
    consistency = 0.0
    line_sum = np.empty(n_clusters, np.float32)
    spread_sum = np.empty(n_clusters, np.float32)
    for line in range(len(line_starts)):
        start = line_starts[line]
        stop = start + line_lengths[line]
        line_sum[:] = 0.0
        for i in range(start, stop):
            for k in range(n_clusters):
                line_sum[k] += assignment[i, k]
        # r = q - mean q of the line-mates; loss sum over anchors of w |r|^2
        spread_sum[:] = 0.0
        for i in range(start, stop):
            for k in range(n_clusters):
                residual = assignment[i, k] - (line_sum[k] - assignment[i, k]) / mates[i]
                consistency += anchor_weight[i] * residual * residual
                spread_sum[k] += 2.0 * anchor_weight[i] * residual / mates[i]
        for i in range(start, stop):
            for k in range(n_clusters):
                residual = assignment[i, k] - (line_sum[k] - assignment[i, k]) / mates[i]
                weighted = 2.0 * anchor_weight[i] * residual
                grad_q = weighted + weighted / mates[i] - spread_sum[k]
                grad_log[i, k] += consistency_weight * grad_q * assignment[i, k]

    # back through log_softmax and the kernel to the squared distances ...
    slope = np.float32(-power / alpha)  # d logit / d distance times (1 + d / alpha)
    grad_distance = grad_log  # overwritten row by row
    for i in range(n):
        log_total = np.float32(0.0)
        for k in range(n_clusters):
            log_total += grad_log[i, k]
        for k in range(n_clusters):
            grad_log_k = grad_log[i, k] - assignment[i, k] * log_total
            grad_distance[i, k] = slope * grad_log_k * inverse_base[i, k]
    # ... and through d = |z|^2 + |mu|^2 - 2 z.mu (the products as BLAS calls: loops over
    # (B, K, latent) here measured several times slower)
    grad_mean -= 2.0 * np.dot(grad_distance, centres)
    for i in range(n):
        distance_total = np.float32(0.0)
        for k in range(n_clusters):
            distance_total += grad_distance[i, k]
        for j in range(latent_dim):
            grad_mean[i, j] += 2.0 * distance_total * mean[i, j]
    centres_grad[:] = np.dot(grad_distance.T, mean)
    for k in range(n_clusters):
        distance_total = np.float32(0.0)
        for i in range(n):
            distance_total += grad_distance[i, k]
        for j in range(latent_dim):
            centres_grad[k, j] = 2.0 * (distance_total * centres[k, j] - centres_grad[k, j])
    return clustering / n, consistency
