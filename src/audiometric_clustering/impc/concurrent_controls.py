"""Concurrent controls: the shift shared by the mice a centre tested on one day.

A knockout line is tested as one cohort, with controls tested beside it, and whatever differs
that day (calibration, anaesthesia, room noise, the tester) shifts the whole cohort's
thresholds together. Referenced only to the centre's controls of all days, a null line whose
cohort sat 6 dB high looks like a mild phenotype, its mice land in one cluster and the line
comes out "enriched" by the day it was tested. The same day's controls measure that shift,
but a day has few of them (5 as the median in the default data), so their estimate is shrunk
towards 0 by how much days really differ: the between-day variance against the within-day
variance of the controls, as a random-effects model would (an empirical Bayes estimate).

One shift per cohort, shared by all frequencies: a day moves the level of a whole audiogram,
and the median over a mouse's tones ignores a loss at one or two of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.control_baselines import typical_threshold
from audiometric_clustering.impc.schema import CENTRE, DATE_OF_EXPERIMENT


def cohort_keys(frame: pd.DataFrame) -> np.ndarray:
    """Centre and day of each mouse; "" where the day is unknown (the mouse has no cohort)."""
    if DATE_OF_EXPERIMENT not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    day = pd.to_datetime(frame[DATE_OF_EXPERIMENT], errors="coerce", utc=True, format="mixed")
    keys = frame[CENTRE].astype("str") + "|" + day.dt.strftime("%Y-%m-%d")
    return keys.fillna("").to_numpy(dtype=object)


def mouse_levels(features: np.ndarray, observed: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """How far each mouse's audiogram sits from the overall typical one: the median over its
    measured tones of the referenced thresholds minus the overall typical thresholds (NaN
    when nothing was measured)."""
    measured = np.where(observed > 0.5, features - overall, np.nan)
    levels = np.full(len(features), np.nan)
    any_measured = ~np.isnan(measured).all(axis=1)
    levels[any_measured] = np.nanmedian(measured[any_measured], axis=1)
    return levels


def _by_cohort(keys: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of ``rows`` (a mask) per cohort key, unknown days left out."""
    selected = np.flatnonzero(rows & (keys != ""))
    return {
        str(key): selected[positions]
        for key, positions in pd.Series(keys[selected]).groupby(keys[selected]).indices.items()
    }


def _day_control_levels(
    levels: np.ndarray, by_day: Mapping[str, np.ndarray]
) -> dict[str, list[float]]:
    """Per day with controls: their typical level and how many they are (plain JSON)."""
    return {
        key: [typical_threshold(levels[rows]), float(len(rows))] for key, rows in by_day.items()
    }


def fit_day_shifts(levels: np.ndarray, controls: np.ndarray, keys: np.ndarray) -> dict[str, Any]:
    """What :func:`day_shifts` needs, fitted on a cohort: the within-day and between-day
    variance of the controls' levels (method of moments) and each day's control level.

    Within: pooled over days with two controls or more. Between: the variance of the days'
    mean levels less the part their sampling noise explains (0 if that is all of it).
    """
    by_day = _by_cohort(keys, controls & np.isfinite(levels))
    cohorts = [levels[rows] for rows in by_day.values()]
    pooled = [values for values in cohorts if len(values) >= 2]
    degrees = sum(len(values) - 1 for values in pooled)
    fitted: dict[str, Any] = {"within_var": None, "between_var": 0.0}
    if degrees > 0 and len(cohorts) >= 2:
        within = sum(float(((v - v.mean()) ** 2).sum()) for v in pooled) / degrees
        means = np.array([values.mean() for values in cohorts])
        noise = float(np.mean([within / len(values) for values in cohorts]))
        fitted = {"within_var": within, "between_var": float(max(means.var(ddof=1) - noise, 0.0))}
    return fitted | {"days": _day_control_levels(levels, by_day)}


def day_shifts(
    levels: np.ndarray,
    controls: np.ndarray,
    keys: np.ndarray,
    fitted: Mapping[str, Any],
    correct_controls: bool = True,
) -> np.ndarray:
    """Each mouse's estimated day shift in dB: the typical level of the controls tested at
    its centre that day, shrunk by between / (between + within / n).

    The day's controls are this table's when it has some (a control's own level left out),
    else the training controls of that day; 0 without a day or without controls that day.
    ``correct_controls=False`` gives the controls 0: they keep the day-to-day spread.
    """
    shifts = np.zeros(len(levels))
    within, between = fitted["within_var"], float(fitted["between_var"])
    if within is None or between <= 0.0:
        return shifts

    def shrunk(level: float, n_controls: float) -> float:
        return between / (between + within / n_controls) * level

    own = _by_cohort(keys, controls & np.isfinite(levels))
    for key, rows in _by_cohort(keys, np.ones(len(levels), dtype=bool)).items():
        if key in own:
            members = own[key]
            shifts[rows] = shrunk(typical_threshold(levels[members]), len(members))
            if not correct_controls:
                shifts[members] = 0.0
                continue
            for row in members:  # a control's own level must not explain itself
                others = members[members != row]
                shifts[row] = (
                    shrunk(typical_threshold(levels[others]), len(others)) if len(others) else 0.0
                )
        elif key in fitted["days"]:
            shifts[rows] = shrunk(*fitted["days"][key])
    return shifts
