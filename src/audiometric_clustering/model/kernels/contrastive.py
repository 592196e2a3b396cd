"""The supervised contrastive (SupCon) loss's elementwise parts, compiled.

``losses._SupervisedContrastive`` is the reference. The pair similarities and the products
with the pair matrix stay BLAS calls in ``numpy_gradients``; these kernels do what is
around them: unit vectors, the exponentials with their row sums while each block is still
in cache, the loss and its gradient per mouse.
"""

from __future__ import annotations

import math

import numpy as np

from audiometric_clustering.model.kernels import compiled, exp2_


@compiled
def unit_rows(embedding):
    """(rows scaled to unit length, their lengths floored at 1e-12), as F.normalize."""
    n, width = embedding.shape
    unit = np.empty((n, width), np.float32)
    norm = np.empty(n, np.float32)
    for i in range(n):
        total = np.float32(0.0)
        for j in range(width):
            total += embedding[i, j] * embedding[i, j]
        length = max(math.sqrt(total), 1e-12)
        norm[i] = length
        for j in range(width):
            unit[i, j] = embedding[i, j] / length
    return unit, norm


@compiled
def exp2_block_(block, scratch, diagonal, row_totals, column_totals):
    """block <- 2^block in place, its diagonal set to 0 if ``diagonal`` (a block on the
    pair matrix's diagonal: no self-pairs); adds its row sums to ``row_totals`` and, for an
    off-diagonal block, its column sums to ``column_totals``."""
    exp2_(block.reshape(-1), scratch)
    rows, columns = block.shape
    for i in range(rows):
        row = block[i]
        if diagonal:
            row[i] = 0.0
        total = np.float32(0.0)
        for j in range(columns):
            total += row[j]
        row_totals[i] += total
        if not diagonal:
            for j in range(columns):
                column_totals[j] += row[j]


@compiled
def supcon_loss(
    unit, denominator, line_starts, line_lengths, mates, anchor_weight, inverse_temperature
):
    """The loss (mean over anchors of log(denominator) - mean over line-mates of u.u' / T),
    each mouse's line sum of unit vectors, and the columns [u, w u] (w: anchor weight /
    denominator) that the gradient multiplies by the pair matrix."""
    n, width = unit.shape
    line_sum = _line_sums(unit, line_starts, line_lengths)
    columns = np.empty((n, 2 * width), np.float32)
    loss = 0.0
    for i in range(n):
        positive = np.float32(0.0)
        for j in range(width):
            positive += unit[i, j] * (line_sum[i, j] - unit[i, j])
        denominator[i] = max(denominator[i], 1e-30)
        loss += anchor_weight[i] * (
            math.log(denominator[i]) - inverse_temperature * positive / mates[i]
        )
        weight = anchor_weight[i] / denominator[i]
        for j in range(width):
            columns[i, j] = unit[i, j]
            columns[i, width + j] = weight * unit[i, j]
    return loss, line_sum, columns


@compiled
def supcon_gradient(
    unit, norm, denominator, products, line_sum, line_starts, line_lengths, mates,
    anchor_weight, inverse_temperature,
):  # fmt: skip
    """d loss / d embedding, from the pair matrix times [u, w u] (``products``)."""
    n, width = unit.shape
    grad = np.empty((n, width), np.float32)
    # the positives' term reaches each mouse from its own anchor and from its line-mates'
    mate_weight = np.empty(n, np.float32)
    weighted = np.empty((n, width), np.float32)
    for i in range(n):
        mate_weight[i] = anchor_weight[i] * inverse_temperature / mates[i]
        for j in range(width):
            weighted[i, j] = mate_weight[i] * unit[i, j]
    mates_sum = _line_sums(weighted, line_starts, line_lengths)  # per mouse, of its line
    for i in range(n):
        weight = anchor_weight[i] / denominator[i]
        along = np.float32(0.0)
        for j in range(width):
            value = inverse_temperature * (weight * products[i, j] + products[i, width + j])
            value -= mate_weight[i] * line_sum[i, j] + mates_sum[i, j]
            grad[i, j] = value
            along += unit[i, j] * value
        # back through u = e / |e|: remove the radial part, divide by the length
        for j in range(width):
            grad[i, j] = (grad[i, j] - unit[i, j] * along) / norm[i]
    return grad


@compiled
def _line_sums(values, line_starts, line_lengths):
    """Per mouse (row), the sum of ``values`` over its knockout line's run of rows."""
    sums = np.empty_like(values)
    for line in range(len(line_starts)):
        start = line_starts[line]
        stop = start + line_lengths[line]
        for j in range(values.shape[1]):
            total = np.float32(0.0)
            for i in range(start, stop):
                total += values[i, j]
            for i in range(start, stop):
                sums[i, j] = total
    return sums
