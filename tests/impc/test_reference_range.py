"""Thresholds beyond the control reference range: centre by centre, normal hearing near 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc.control_baselines import typical_threshold
from audiometric_clustering.impc.reference_range import (
    beyond_reference_range,
    fit_reference_range,
    harmonised_thresholds,
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
    expected = 60.0 - np.array(state["overall"]["typical"]) - 2.0 * overall_sd
    np.testing.assert_allclose(beyond[1], np.maximum(expected, 0))
    assert beyond[0, 5] == pytest.approx(max(expected[5], 0))


def test_a_frequency_nobody_measured_is_refused() -> None:
    features, observed, controls, centres = _cohort(np.random.default_rng(2))
    observed[:, 5] = 0.0
    with pytest.raises(ValueError, match="measured thresholds at every frequency"):
        fit_reference_range(features, observed, controls, centres, 1.5, 20)


def test_the_typical_threshold_ignores_outliers_and_missing_values() -> None:
    values = np.array([40.0, 45.0, 45.0, 50.0, np.nan, 50.0, 100.0, 100.0, 45.0, 50.0, 45.0])
    assert typical_threshold(values) == pytest.approx(47.5)  # 45, 45, 45, 50, 50, 50
    assert np.isnan(typical_threshold(np.array([np.nan, np.nan])))


def test_a_5_db_grid_does_not_hide_a_difference_between_centres() -> None:
    """Two centres whose controls differ by 2.4 dB, recorded on a 5 dB grid: the median of
    both is 45 dB, the typical threshold keeps them apart."""
    rng = np.random.default_rng(3)
    truth = np.repeat([42.6, 45.0], 4000)
    features = np.round((truth[:, None] + 5.0 * rng.standard_normal((8000, 6))) / 5.0) * 5.0
    centres = pd.Series(np.repeat(["lower", "higher"], 4000))
    state = fit_reference_range(features, np.ones((8000, 6)), np.ones(8000, bool), centres, 1.5, 20)
    assert [np.median(features[centres == c, 0]) for c in ("lower", "higher")] == [45.0, 45.0]
    typical = [state["centre"][c]["typical"][0] for c in ("lower", "higher")]
    assert typical == pytest.approx([42.6, 45.0], abs=0.3)


def test_harmonised_thresholds_give_every_centre_the_same_normal_range() -> None:
    features, observed, controls, centres = _cohort(np.random.default_rng(4))
    state = fit_reference_range(features, observed, controls, centres, 1.5, 20)
    harmonised = harmonised_thresholds(features, centres, state)
    inside = np.abs(features - 40.0) < 1.0 * np.where(centres == "quiet", 4.0, 10.0)[:, None]
    spreads = [
        harmonised[(centres == c).to_numpy()][inside[centres == c]].std()
        for c in ("quiet", "noisy")
    ]
    assert spreads[0] == pytest.approx(spreads[1], rel=0.1)
    # beyond the range, a dB is a dB: a 30 dB loss lies as far beyond the overall range
    loss = harmonised_thresholds(np.full((2, 6), 70.0), pd.Series(["quiet", "noisy"]), state)
    upper = np.array(state["overall"]["typical"]) + 1.5 * np.array(state["overall"]["sd"])
    np.testing.assert_allclose(
        loss - upper,
        beyond_reference_range(np.full((2, 6), 70.0), pd.Series(["quiet", "noisy"]), state),
    )
