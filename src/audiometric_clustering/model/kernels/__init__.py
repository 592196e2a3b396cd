"""Compiled loops (numba) for the CPU training step in ``numpy_gradients``.

A training step of this small model is a few hundred array operations on arrays of a few
thousand values: in numpy each costs several microseconds whatever its size, and each
makes a temporary. Where a chain of them works value by value (a softmax and its
cross-entropy, the Student's-t assignment, the attention over six tokens), one compiled
loop over the batch replaces it. Products with wide inner dimensions stay BLAS calls in
``numpy_gradients``.

Every kernel is compiled once per machine and cached beside its module (``cache=True``);
``error_model="numpy"`` drops division-by-zero checks, and ``fastmath`` lets the compiler
reorder float sums, so loops vectorise (deterministically: the same build gives the same
result). The reference for every kernel is the torch model and losses; the gradient test
(``tests/model/test_numpy_gradients.py``) holds them equal.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

compiled = njit(cache=True, error_model="numpy", fastmath=True)

# 2^f for f in [0, 1): the Taylor series of exp(f ln 2) to degree 7 (relative error < 1e-6)
_EXP2_COEFFICIENTS = tuple(np.float32(math.log(2.0) ** k / math.factorial(k)) for k in range(8))
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7 = _EXP2_COEFFICIENTS


@compiled
def exp2_(values, scratch):
    """values <- 2^values in place, for values below 128 (softmax logits less their
    maximum, scaled similarities); below -126 the result is 2^-126 (about 1e-38), not less.
    ``scratch``: int32, as long. numba calls the C library's exp one value at a time; this
    splits 2^x into 2^n, built from the float's exponent bits, times a polynomial in the
    fraction, and vectorises (as fast as torch's exp2 on a large array, with no extra pass
    or call)."""
    for i in range(values.size):
        clamped = max(values[i], np.float32(-126.0))
        whole = np.floor(clamped)
        f = clamped - whole
        values[i] = _C0 + f * (
            _C1 + f * (_C2 + f * (_C3 + f * (_C4 + f * (_C5 + f * (_C6 + f * _C7)))))
        )
        scratch[i] = (np.int32(whole) + 127) << 23
    powers = scratch.view(np.float32)
    for i in range(values.size):
        values[i] *= powers[i]
