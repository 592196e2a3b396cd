"""Each mouse against its matched controls: the evidence a per-line gene test is built from.

A mouse's deviation at a tone is its threshold minus the typical threshold of its matched
controls (same centre, background, pipeline and equipment: ``control_reference``'s
``match_columns``), less the shift of the day it was tested, and is read in units of those
controls' spread. Its audiogram is then summarised by a few one-sided audiogram contrasts
(each tone, flat, low, mid and high), each in units of the matched controls' spread of that
contrast, so that a 4-mouse line with a loss at two neighbouring tones is seen as one
signal rather than two weak ones.

The day shift: lines are tested in dated batches and whatever differs that day moves every
mouse tested then. It is estimated, as in ``impc.concurrent_controls``, from the typical
level of what else the centre tested that day (its controls, one by one, and every other
line as the median level of its mice, so a deaf line moves it little), shrunk towards 0 by
between-day / (between-day + within-day / n); the variance of that estimate's error (the
posterior variance of the random day effect) goes into the line's variance, because all
line-mates share it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.impc.concurrent_controls import (
    cohort_keys,
    fit_day_shifts,
    mouse_levels,
)
from audiometric_clustering.impc.control_baselines import typical_threshold
from audiometric_clustering.impc.schema import FREQUENCIES

#: Weight of each tone (6, 12, 18, 24, 30 kHz, click) in each named audiogram contrast; a
#: mouse's contrast is the weighted mean of its measured standardised tones.
CONTRAST_SHAPES: dict[str, tuple[float, ...]] = {
    **{f: tuple(float(i == j) for j in range(len(FREQUENCIES))) for i, f in enumerate(FREQUENCIES)},
    "flat": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "low": (1.0, 1.0, 0.5, 0.0, 0.0, 0.5),
    "mid": (0.0, 0.5, 1.0, 0.5, 0.0, 0.5),
    "high": (0.0, 0.0, 0.5, 1.0, 1.0, 0.5),
}
#: A mouse has a contrast when its measured tones carry at least this share of its weight.
MIN_CONTRAST_WEIGHT = 0.5
#: Reweighting steps of the Huber location: from the median, 10 steps came within 0.01 (in
#: control SDs) of the converged value on every line of a 60,000-mouse synthetic export.
HUBER_STEPS = 10
_MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class MouseEvidence:
    """Per mouse (rows of the export): what a line test needs."""

    deviations: np.ndarray  # (N, 6) dB above matched controls, day shift removed; NaN unmeasured
    control_sd: np.ndarray  # (N, 6) SD of the matched controls' (day-corrected) deviations
    contrasts: np.ndarray  # (N, K) contrasts in units of the matched controls' robust SD
    day_response: np.ndarray  # (N, K) the contrasts of a 1 dB shift at every tone
    day_error_var: np.ndarray  # (N,) variance in dB^2 of the error of the mouse's day shift
    matched_controls: np.ndarray  # (N,) controls in the mouse's matched group
    groups: np.ndarray  # (N,) matched-group code


def robust_sd(values: np.ndarray) -> float:
    """1.4826 x the median absolute deviation of the finite values (NaN if fewer than 3)."""
    finite = values[np.isfinite(values)]
    if len(finite) < 3:
        return float("nan")
    return float(_MAD_TO_SD * np.median(np.abs(finite - np.median(finite))))


def matched_groups(frame: pd.DataFrame, match_columns: Sequence[str]) -> np.ndarray:
    """Each mouse's matched-control group (an integer code): mice with the same values of
    ``match_columns`` (missing ones as "nan") share one."""
    missing = [c for c in match_columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the mice table has no column {missing} (control_reference.match_columns); "
            f"columns: {list(frame.columns)}"
        )
    keys = frame[list(match_columns)].astype("str")
    return keys.groupby(list(match_columns), sort=True).ngroup().to_numpy()


def contrast_weights(names: Sequence[str]) -> np.ndarray:
    """(K, 6) weights of the named contrasts (see :data:`CONTRAST_SHAPES`)."""
    unknown = [n for n in names if n not in CONTRAST_SHAPES]
    if unknown:
        raise ValueError(f"unknown audiogram contrasts {unknown}; known: {list(CONTRAST_SHAPES)}")
    return np.array([CONTRAST_SHAPES[n] for n in names])


def mouse_contrasts(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, K) weighted means of each row's finite values; NaN where they carry less than
    :data:`MIN_CONTRAST_WEIGHT` of the contrast's weight."""
    measured = np.isfinite(values)
    carried = measured.astype(float) @ weights.T
    sums = np.where(measured, values, 0.0) @ weights.T
    enough = carried >= MIN_CONTRAST_WEIGHT * weights.sum(axis=1)
    return np.where(enough, sums / np.where(enough, carried, 1.0), np.nan)


def _per_group(
    groups: np.ndarray, controls: np.ndarray, values: np.ndarray, statistic
) -> np.ndarray:
    """``statistic`` of each column over the controls of each mouse's group, per mouse."""
    out = np.full(values.shape, np.nan)
    for rows in pd.Series(np.arange(len(groups))).groupby(groups).indices.values():
        reference = values[rows[controls[rows]]]
        out[rows] = [statistic(column) for column in reference.T]
    return out


def _day_shifts(
    levels: np.ndarray, controls: np.ndarray, units: np.ndarray, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each mouse's day shift and its error variance (see the module docstring).

    ``units`` are what the day's reference is made of: a control is its own unit, a line's
    mice are one (their median level). Without dates, or when days do not differ, every
    shift is 0 and the error variance is the between-day variance (0 when unknown).
    """
    fitted = fit_day_shifts(levels, controls, days)
    within, between = fitted["within_var"], float(fitted["between_var"])
    shifts, error_var = np.zeros(len(levels)), np.full(len(levels), max(between, 0.0))
    dated = days != ""
    if within is None or between <= 0.0 or not dated.any():
        return shifts, error_var
    unit_levels = pd.Series(levels[dated]).groupby([days[dated], units[dated]], sort=True).median()
    values = unit_levels.to_numpy()
    unit_shift, unit_var = np.zeros(len(values)), np.full(len(values), between)
    day_of_unit = unit_levels.index.get_level_values(0).to_numpy()
    _, starts = np.unique(day_of_unit, return_index=True)
    for start, stop in zip(starts, [*starts[1:], len(values)], strict=True):
        for unit in range(start, stop):
            reference = np.delete(values[start:stop], unit - start)
            reference = reference[np.isfinite(reference)]
            if len(reference):
                noise = within / len(reference)
                unit_shift[unit] = between / (between + noise) * typical_threshold(reference)
                unit_var[unit] = between * noise / (between + noise)
    position = unit_levels.index.get_indexer(pd.MultiIndex.from_arrays([days, units]))
    known = position >= 0
    shifts[known], error_var[known] = unit_shift[position[known]], unit_var[position[known]]
    return shifts, error_var


def _line_overdispersion(levels: np.ndarray, controls: np.ndarray, line_ids: np.ndarray) -> float:
    """Without days: the variance in dB^2 that line-mates share beyond their own noise (an
    empirical null: most lines are null), from the robust spread of line mean levels less
    what the controls' spread explains at the lines' sizes; 0 when nothing is left."""
    mutants = ~controls & np.isfinite(levels)
    by_line = pd.Series(levels[mutants]).groupby(line_ids[mutants])
    means, sizes = by_line.mean().to_numpy(), by_line.size().to_numpy()
    if len(means) < 3:
        return 0.0
    noise = robust_sd(levels[controls]) ** 2 * float(np.mean(1.0 / sizes))
    return float(max(robust_sd(means) ** 2 - np.nan_to_num(noise), 0.0))


def mouse_evidence(
    thresholds: np.ndarray,
    frame: pd.DataFrame,
    controls: np.ndarray,
    line_ids: np.ndarray,
    match_columns: Sequence[str],
    contrast_names: Sequence[str],
    day_correction: bool,
) -> MouseEvidence:
    """Deviations from matched controls, day-corrected and summarised by contrasts.

    ``thresholds`` (N, 6) in dB with NaN where unmeasured; ``frame`` gives the match columns
    and, when present, ``date_of_experiment``; ``line_ids`` are "" for controls.
    """
    groups = matched_groups(frame, match_columns)
    deviations = thresholds - _per_group(groups, controls, thresholds, typical_threshold)
    matched = pd.Series(controls).groupby(groups).transform("sum").to_numpy()
    days = cohort_keys(frame) if day_correction else np.full(len(frame), "", dtype=object)
    levels = mouse_levels(
        np.nan_to_num(deviations), np.isfinite(deviations).astype(float), np.zeros(6)
    )
    units = np.where(controls, np.arange(len(frame)).astype(str), "line:" + line_ids.astype(str))
    shifts, error_var = _day_shifts(levels, controls, units, days)
    if not (days != "").any():
        error_var = np.full(len(frame), _line_overdispersion(levels, controls, line_ids))
    deviations = deviations - shifts[:, None]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a tone no control was measured at
        sd = _per_group(groups, controls, deviations, lambda c: np.nanstd(c, ddof=1))
    sd = np.where(sd > 0, sd, np.nan)
    weights = contrast_weights(contrast_names)
    contrasts = mouse_contrasts(deviations / sd, weights)
    response = mouse_contrasts(1.0 / sd, weights)
    contrast_sd = _per_group(groups, controls, contrasts, robust_sd)
    contrast_sd = np.where(contrast_sd > 0, contrast_sd, np.nan)
    return MouseEvidence(
        deviations=deviations,
        control_sd=sd,
        contrasts=contrasts / contrast_sd,
        day_response=response / contrast_sd,
        day_error_var=error_var,
        matched_controls=matched,
        groups=groups,
    )


def huber_location(values: np.ndarray, k: float, iterations: int = HUBER_STEPS) -> np.ndarray:
    """Huber M-estimate of location along axis 1 of (L, n, K) ``values`` (NaN skipped),
    with the scale known to be 1; NaN where fewer than 2 values.

    Unlike a mean, one mouse k or more SDs off the others moves it by about k / n; unlike a
    median, a loss shared by most mice counts in full. A fixed number of reweighted means
    from the median: lines and their Monte Carlo pseudo-lines get exactly the same statistic.
    """
    measured = np.isfinite(values)
    filled = np.where(measured, values, 0.0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN
        location = np.nan_to_num(np.nanmedian(np.where(measured, values, np.nan), axis=1))
    for _ in range(iterations):
        distance = np.abs(filled - location[:, None, :])
        weight = np.where(measured, np.minimum(1.0, k / np.maximum(distance, 1e-12)), 0.0)
        location = (weight * filled).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-12)
    return np.where(measured.sum(axis=1) >= 2, location, np.nan)
