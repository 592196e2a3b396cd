"""Hearing beyond the control reference range: the model's view of a threshold.

Most mice hear normally, and the spread of normal hearing (control SDs of 5-10 dB, wider at
some centres than others) is most of the variance in referenced thresholds. A model that
must reconstruct it spends its latent space, and its clusters, on normal variation: upper
tails of normal hearing then come out as "mild loss" clusters full of controls. Measuring a
threshold as the dB it lies beyond its centre's control reference range (typical threshold
+ k SD of the centre's controls, per frequency) maps every normal mouse near 0 and keeps a
loss's size in dB, whatever the centre's own spread.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.control_baselines import typical_threshold
from audiometric_clustering.impc.schema import FREQUENCIES


def fit_reference_range(
    features: np.ndarray,
    observed: np.ndarray,
    controls: np.ndarray,
    centres: pd.Series,
    width_sd: float,
    min_controls: int,
) -> dict[str, Any]:
    """Controls' typical threshold (:func:`typical_threshold`) and SD per frequency of the
    referenced features, per centre and overall.

    A centre with fewer than ``min_controls`` measured controls at a frequency takes the
    overall value there. Plain JSON (the preprocessor state).
    """
    measured_all = np.where(observed > 0.5, features, np.nan)
    measured = measured_all[controls]
    centre_of = centres.astype("str").to_numpy()[controls]

    def summary(values: np.ndarray, minimum: int) -> dict[str, list[float | None]]:
        enough = np.isfinite(values).sum(axis=0) >= minimum
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
            typical = np.where(enough, [typical_threshold(column) for column in values.T], np.nan)
            spread = np.where(enough, np.nanstd(values, axis=0), np.nan)
        return {
            "typical": [None if np.isnan(v) else float(v) for v in typical],
            "sd": [None if np.isnan(v) else float(v) for v in spread],
        }

    # overall: the controls, or every mouse at a frequency too few controls were measured at
    overall, everyone = summary(measured, 2), summary(measured_all, 2)
    for key in ("typical", "sd"):
        overall[key] = [
            own if own is not None else all_
            for own, all_ in zip(overall[key], everyone[key], strict=True)
        ]
    if any(value is None for value in overall["typical"] + overall["sd"]):
        raise ValueError(
            f"the control reference range needs measured thresholds at every frequency "
            f"({list(FREQUENCIES)}); measured mice per frequency: "
            f"{np.isfinite(measured_all).sum(axis=0).tolist()}"
        )
    return {
        "width_sd": float(width_sd),
        "frequencies": list(FREQUENCIES),
        "overall": overall,
        "centre": {
            centre: summary(measured[centre_of == centre], min_controls)
            for centre in np.unique(centre_of)
        },
    }


def _per_mouse(centres: pd.Series, state: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each mouse's control typical threshold and SD (N, 6): its centre's, else overall."""
    overall = state["overall"]
    typical = np.tile(np.array(overall["typical"], dtype=float), (len(centres), 1))
    spread = np.tile(np.array(overall["sd"], dtype=float), (len(centres), 1))
    centre_of = centres.astype("str").to_numpy()
    for centre, summary in state["centre"].items():
        rows = centre_of == centre
        own_typical = np.array([np.nan if v is None else v for v in summary["typical"]])
        own_spread = np.array([np.nan if v is None else v for v in summary["sd"]])
        typical[rows] = np.where(np.isnan(own_typical), typical[rows], own_typical)
        spread[rows] = np.where(np.isnan(own_spread), spread[rows], own_spread)
    return typical, spread


def beyond_reference_range(
    features: np.ndarray, centres: pd.Series, state: Mapping[str, Any]
) -> np.ndarray:
    """dB beyond each mouse's centre reference range (0 inside it); unknown centres, and
    frequencies a centre lacks, use the overall range."""
    typical, spread = _per_mouse(centres, state)
    return np.maximum(features - typical - state["width_sd"] * spread, 0.0)


def harmonised_thresholds(
    features: np.ndarray, centres: pd.Series, state: Mapping[str, Any]
) -> np.ndarray:
    """Thresholds with every centre's reference range stretched onto the overall one.

    What the PCA summarises by default. In plain dB a centre whose controls spread 8 dB puts
    its normal mice at the edges of every axis and one whose controls spread 4.5 dB puts
    them in the middle, and the model learns the centres from that. Inside the range a
    threshold keeps its place in SDs of its centre's controls; outside it, each dB still
    counts as one dB, so a loss has the same size at every centre.
    """
    typical, spread = _per_mouse(centres, state)
    overall_typical = np.array(state["overall"]["typical"], dtype=float)
    overall_spread = np.array(state["overall"]["sd"], dtype=float)
    half_width = state["width_sd"] * spread
    inside = np.clip(features - typical, -half_width, half_width)
    beyond = np.maximum(features - typical - half_width, 0.0)
    below = np.maximum(typical - half_width - features, 0.0)
    in_sds = inside / np.where(spread > 0, spread, 1.0)
    return overall_typical + in_sds * overall_spread + beyond - below
