"""Day shifts from the controls tested beside a line: estimated, shrunk, and never circular."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.impc import schema
from audiometric_clustering.impc.concurrent_controls import (
    cohort_keys,
    day_shifts,
    fit_day_shifts,
    mouse_levels,
)
from audiometric_clustering.impc.preprocessing import (
    apply_preprocessor,
    day_correction_summary,
    fit_preprocessor,
)
from audiometric_clustering.impc.settings import DataProcessingSettings
from tests.impc.frames import export, mice


def _days(rng: np.random.Generator, n_days: int = 400, per_day: int = 5):
    """Controls' levels: a day shift (SD 3 dB) plus each mouse's own (SD 4.5 dB)."""
    shift = 3.0 * rng.standard_normal(n_days)
    keys = np.repeat([f"A|day{d}" for d in range(n_days)], per_day).astype(object)
    levels = np.repeat(shift, per_day) + 4.5 * rng.standard_normal(n_days * per_day)
    return levels, keys, shift


def test_the_between_and_within_day_variances_are_recovered() -> None:
    levels, keys, _ = _days(np.random.default_rng(0))
    fitted = fit_day_shifts(levels, np.ones(len(levels), bool), keys)
    assert fitted["within_var"] == pytest.approx(4.5**2, rel=0.1)
    assert fitted["between_var"] == pytest.approx(3.0**2, rel=0.25)
    assert len(fitted["days"]) == 400


def test_shifts_are_shrunk_and_a_control_does_not_explain_itself() -> None:
    levels, keys, shift = _days(np.random.default_rng(1))
    controls = np.ones(len(levels), bool)
    fitted = fit_day_shifts(levels, controls, keys)
    # a mutant tested on each day, level 0 of its own: its shift is the day's estimate
    mutant_keys = np.array([f"A|day{d}" for d in range(400)], dtype=object)
    all_keys = np.concatenate([keys, mutant_keys])
    all_levels = np.concatenate([levels, np.zeros(400)])
    is_control = np.concatenate([controls, np.zeros(400, bool)])
    shifts = day_shifts(all_levels, is_control, all_keys, fitted)
    estimated = shifts[len(levels) :]
    assert np.corrcoef(estimated, shift)[0, 1] > 0.7
    assert estimated.std() < shift.std()  # shrunk towards 0
    # leave one out: a control's shift does not move with its own level
    moved = all_levels.copy()
    moved[0] += 50.0
    again = day_shifts(moved, is_control, all_keys, fitted)
    assert again[0] == pytest.approx(shifts[0])
    assert again[len(levels)] != pytest.approx(shifts[len(levels)])


def test_days_without_controls_here_use_the_training_days_and_unknown_days_nothing() -> None:
    levels, keys, _ = _days(np.random.default_rng(2))
    fitted = fit_day_shifts(levels, np.ones(len(levels), bool), keys)
    new_keys = np.array(["A|day7", "A|day7", "A|never", ""], dtype=object)
    shifts = day_shifts(np.zeros(4), np.zeros(4, bool), new_keys, fitted)
    level, n_controls = fitted["days"]["A|day7"]
    between, within = fitted["between_var"], fitted["within_var"]
    day7 = between / (between + within / n_controls) * level
    assert shifts[:2] == pytest.approx([day7, day7])
    assert shifts[2:].tolist() == [0.0, 0.0]


def test_cohort_keys_read_iso_dates_and_leave_missing_days_out() -> None:
    frame = pd.DataFrame(
        {
            schema.CENTRE: ["A", "A", "B"],
            schema.DATE_OF_EXPERIMENT: ["2017-05-04T00:00:00Z", "nan", "2017-05-04"],
        }
    )
    assert cohort_keys(frame).tolist() == ["A|2017-05-04", "", "B|2017-05-04"]
    assert cohort_keys(frame.drop(columns=[schema.DATE_OF_EXPERIMENT])).tolist() == ["", "", ""]


def test_the_level_is_the_median_over_measured_tones() -> None:
    features = np.array([[40.0, 40.0, 40.0, 90.0, 90.0, 40.0], [0.0] * 6])
    observed = np.array([[1, 1, 1, 1, 1, 0], [0] * 6], dtype=float)
    levels = mouse_levels(features, observed, np.full(6, 30.0))
    assert levels[0] == pytest.approx(10.0)
    assert np.isnan(levels[1])


def _shifted_day(
    concurrent: bool, processing_params: dict, on_controls: bool = True
) -> pd.DataFrame:
    """The model input of :func:`_shifted_day_fitted`."""
    return apply_preprocessor(*_shifted_day_fitted(concurrent, processing_params, on_controls))


def _shifted_day_fitted(
    concurrent: bool, processing_params: dict, on_controls: bool = True
) -> tuple[pd.DataFrame, dict]:
    """Controls on 30 days, each day shifted; a null line tested on a day 8 dB high; the
    frame and the state fitted on it."""
    rng = np.random.default_rng(3)
    parts = []
    for day in range(30):
        offset = 8.0 if day == 0 else 3.0 * rng.standard_normal()
        for _ in range(4):
            level = 40.0 + offset + 2.0 * rng.standard_normal()
            parts.append(
                mice(
                    1,
                    control=True,
                    thresholds=[level] * 6,
                    date_of_experiment=f"2020-01-{day + 1:02d}",
                )
            )
    parts.append(mice(4, gene="Null", thresholds=[48.0] * 6, date_of_experiment="2020-01-01"))
    frame = export(*parts)
    frame[schema.SPLIT] = "train"
    params = json.loads(json.dumps(processing_params))
    params["control_reference"]["concurrent_controls"] = concurrent
    params["control_reference"]["concurrent_controls_on_controls"] = on_controls
    params["reference_range"]["min_controls"] = 10
    return frame, fit_preprocessor(frame, DataProcessingSettings.from_params(params))


def test_a_null_line_on_a_shifted_day_reads_like_its_controls_only_with_concurrent_controls(
    processing_params,
) -> None:
    def line_above_controls(out: pd.DataFrame) -> float:
        features = out[list(schema.ABR_FEATURES)].to_numpy()
        line = (out[schema.GENE] == "Null").to_numpy()
        return float(features[line].mean() - features[out[schema.IS_CONTROL]].mean())

    assert line_above_controls(_shifted_day(False, processing_params)) > 6.0
    assert abs(line_above_controls(_shifted_day(True, processing_params))) < 3.0


def test_controls_can_keep_their_day_shift_while_mutants_lose_theirs(processing_params) -> None:
    def controls_spread(out: pd.DataFrame) -> float:
        return float(out.loc[out[schema.IS_CONTROL], "abr_6kHz"].std())

    def null_line(out: pd.DataFrame) -> float:
        return float(out.loc[out[schema.GENE] == "Null", "abr_6kHz"].mean())

    everyone = _shifted_day(True, processing_params)
    mutants_only = _shifted_day(True, processing_params, on_controls=False)
    uncorrected = _shifted_day(False, processing_params)
    assert controls_spread(mutants_only) == pytest.approx(controls_spread(uncorrected))
    assert controls_spread(everyone) < 0.8 * controls_spread(uncorrected)
    assert null_line(mutants_only) == pytest.approx(null_line(everyone))
    assert null_line(mutants_only) < null_line(uncorrected) - 3.0


def test_the_summary_says_which_mice_the_day_correction_moved(processing_params) -> None:
    frame, state = _shifted_day_fitted(True, processing_params, on_controls=False)
    summary = day_correction_summary(frame, state)
    assert summary["enabled"] and not summary["controls_corrected"]
    assert summary["mutants"] == summary["mutants_shifted"] == 4
    assert summary["controls_shifted"] == 0
    assert 3.0 < summary["median_absolute_shift_db"] <= summary["largest_absolute_shift_db"] < 8.0
    undated = frame.drop(columns=[schema.DATE_OF_EXPERIMENT])
    assert day_correction_summary(undated, state)["mutants_shifted"] == 0
    off = _shifted_day_fitted(False, processing_params)
    assert day_correction_summary(*off) == {"enabled": False}
