"""The compiled kernels' own numerics (their gradients are tested against autograd in
test_numpy_gradients.py)."""

from __future__ import annotations

import numpy as np

from audiometric_clustering.model.kernels import exp2_


def test_exp2_matches_numpy_to_float32_precision() -> None:
    values = np.linspace(-126.0, 127.0, 200_001, dtype=np.float32)
    result = values.copy()
    exp2_(result, np.empty(result.size, np.int32))
    expected = np.exp2(values.astype(np.float64))
    assert np.max(np.abs(result / expected - 1.0)) < 1e-6


def test_exp2_floors_below_the_normal_range() -> None:
    values = np.array([-126.5, -1000.0, -np.inf], dtype=np.float32)
    exp2_(values, np.empty(values.size, np.int32))
    assert np.all(values == np.float32(2.0**-126))
