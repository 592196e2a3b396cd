"""Thresholds beyond the control reference range: centre by centre, normal hearing near 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc.reference_range import (
    beyond_reference_range,
    fit_reference_range,
)


def _cohort(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Controls of a quiet centre (SD 4 dB) and a noisy one (SD 10 dB), same median."""
    spread = np.repeat([4.0, 10.0], 500)
    features = 40.0 + rng.standard_normal((1000, 6)) * spread[:, None]
    observed = np.ones((1000, 6))
    controls = np.ones(1000, dtype=bool)
    centres = pd.Series(np.repeat(["quiet", "noisy"], 500))
    return features, observed, controls, centres


def test_each_centre_gets_its_own_range() -> None:
    features, observed, controls, centres = _cohort(np.random.default_rng(0))
    state = fit_reference_range(features, observed, controls, centres, 1.5, 20)
    assert state["centre"]["quiet"]["sd"][0] == pytest.approx(4.0, rel=0.1)
    assert state["centre"]["noisy"]["sd"][0] == pytest.approx(10.0, rel=0.1)
    beyond = beyond_reference_range(features, centres, state)
    assert (beyond >= 0).all()
    # about the same share of each centre's normal mice lies beyond its range (1.5 SD: ~7%)
    shares = [(beyond[centres == c] > 0).mean() for c in ("quiet", "noisy")]
    assert shares == pytest.approx([0.067, 0.067], abs=0.02)
    loss = np.full((2, 6), 40.0 + 30.0)  # a 30 dB loss at each centre
    sized = beyond_reference_range(loss, pd.Series(["quiet", "noisy"]), state)
    assert sized[0, 0] == pytest.approx(30 - 1.5 * 4, abs=1.5)
    assert sized[1, 0] == pytest.approx(30 - 1.5 * 10, abs=2.5)


def test_unknown_centres_and_sparse_frequencies_use_the_overall_range() -> None:
    features, observed, controls, centres = _cohort(np.random.default_rng(1))
    observed[centres.to_numpy() == "quiet", 5] = 0.0  # the quiet centre never measured click
    state = fit_reference_range(features, observed, controls, centres, 2.0, 20)
    assert state["centre"]["quiet"]["sd"][5] is None
    beyond = beyond_reference_range(np.full((2, 6), 60.0), pd.Series(["quiet", "elsewhere"]), state)
    overall_sd = np.array(state["overall"]["sd"])
    expected = 60.0 - np.array(state["overall"]["median"]) - 2.0 * overall_sd
    np.testing.assert_allclose(beyond[1], np.maximum(expected, 0))
    assert beyond[0, 5] == pytest.approx(max(expected[5], 0))


def test_a_frequency_nobody_measured_is_refused() -> None:
    features, observed, controls, centres = _cohort(np.random.default_rng(2))
    observed[:, 5] = 0.0
    with pytest.raises(ValueError, match="measured thresholds at every frequency"):
        fit_reference_range(features, observed, controls, centres, 1.5, 20)
