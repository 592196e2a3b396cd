"""The metadata reconstruction term (squared error on the continuous columns, softmax
cross-entropy on each categorical one) and its gradient, as one compiled pass.

``losses.py``'s metadata reconstruction is the reference. Works batch-last: the head's
output is (n_continuous + columns x slots, B), so each softmax runs across rows of B values.
"""

from __future__ import annotations

import math

import numpy as np

from audiometric_clustering.model.kernels import compiled, exp2_

_LOG2_E = np.float32(1.0 / math.log(2.0))


@compiled
def metadata_terms_(head_out, absent_bias, continuous, codes, known, grad_scale):
    """(half squared error, cross-entropy), summed over the batch, of the metadata head's
    output ``head_out`` (bias included); overwrites ``head_out`` with d(grad_scale x
    (both terms)) / d head_out.

    ``absent_bias`` (columns, slots): 0 for a column's codes, a large negative number for
    the slots past its cardinality; ``continuous`` (n_continuous, B); ``codes`` and
    ``known`` (columns, B): each mouse's code per column, and 0 where it is unknown (no loss).
    """
    n_continuous, n = continuous.shape
    n_columns, n_slots = absent_bias.shape
    squared_error = 0.0
    for r in range(n_continuous):
        row, target = head_out[r], continuous[r]
        for b in range(n):
            residual = row[b] - target[b]
            squared_error += residual * residual
            row[b] = residual * grad_scale
    cross_entropy = 0.0
    top = np.empty(n, np.float32)
    total = np.empty(n, np.float32)
    code_logit = np.empty(n, np.float32)
    scratch = np.empty(n_slots * n, np.int32)
    for c in range(n_columns):
        first = n_continuous + c * n_slots
        logits = head_out[first : first + n_slots]
        for s in range(n_slots):
            row, bias = logits[s], absent_bias[c, s]
            for b in range(n):
                row[b] += bias
        top[:] = logits[0]
        for s in range(1, n_slots):
            row = logits[s]
            for b in range(n):
                top[b] = max(top[b], row[b])
        for s in range(n_slots):
            row = logits[s]
            for b in range(n):
                row[b] = (row[b] - top[b]) * _LOG2_E  # in base 2, for exp2_
        for b in range(n):
            code_logit[b] = logits[codes[c, b], b]
        exp2_(logits.reshape(-1), scratch)
        total[:] = logits[0]
        for s in range(1, n_slots):
            row = logits[s]
            for b in range(n):
                total[b] += row[b]
        for b in range(n):
            # -log softmax at the code: log(total) - (logit - top), back in natural units
            cross_entropy += known[c, b] * (math.log(total[b]) - code_logit[b] / _LOG2_E)
            total[b] = known[c, b] * grad_scale / total[b]
        for s in range(n_slots):
            row = logits[s]
            for b in range(n):
                row[b] *= total[b]  # softmax, weighted
        for b in range(n):
            logits[codes[c, b], b] -= known[c, b] * grad_scale  # minus the one-hot
    return 0.5 * squared_error, cross_entropy


@compiled
def abr_terms_(logits, abr, observed, low, span, grad_scale):
    """Half the squared error, summed over measured thresholds, of the ABR head's
    thresholds low + span x sigmoid(``logits``) (B, F) against ``abr`` (dB; ``observed``: 1
    measured, 0 imputed); overwrites ``logits`` with d(grad_scale x that) / d logits."""
    squared_error = 0.0
    for i in range(logits.shape[0]):
        for f in range(logits.shape[1]):
            sigmoid = 1.0 / (1.0 + math.exp(-logits[i, f]))
            residual = (low + span * sigmoid - abr[i, f]) * observed[i, f]
            squared_error += residual * residual
            logits[i, f] = grad_scale * span * residual * sigmoid * (1.0 - sigmoid)
    return 0.5 * squared_error
