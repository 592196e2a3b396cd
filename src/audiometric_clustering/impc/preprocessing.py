"""Turn validated mice into the model-input table, with a state that can transform new mice.

``fit_preprocessor(frame, settings) -> state`` learns everything from a cohort (control
baselines, standardisation and vocabularies, PCA); ``apply_preprocessor(frame, state)``
uses only that state plus, for control referencing, the controls of the frame it is given.
The state is plain JSON (no pickle), so a later inference run can load it anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.cohort import TRAIN
from audiometric_clustering.impc.concurrent_controls import (
    cohort_keys,
    day_shifts,
    fit_day_shifts,
    mouse_levels,
)
from audiometric_clustering.impc.control_baselines import (
    BASELINE_SOURCE,
    Baselines,
    baseline_summary,
    control_baseline_table,
    overall_baseline,
    resolve_baselines,
    table_to_records,
)
from audiometric_clustering.impc.encoders import (
    encode,
    fit_continuous,
    fit_pca,
    fit_vocabularies,
    pca_thresholds,
)
from audiometric_clustering.impc.lines import build_line_id, is_control
from audiometric_clustering.impc.reference_range import (
    beyond_reference_range,
    fit_reference_range,
)
from audiometric_clustering.impc.schema import (
    ABR_FEATURES,
    ABR_OBSERVED,
    ALLELE,
    BEYOND_RANGE_FEATURES,
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CENTRE,
    CONTINUOUS_FEATURES,
    CONTINUOUS_METADATA,
    FREQUENCIES,
    GENE,
    IDENTITY_COLUMNS,
    IS_CONTROL,
    LINE_ID,
    PCA_FEATURES,
    RAW_ABR,
    SPECIMEN_ID,
    SPLIT,
    ZYGOSITY,
)
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.impc.validation import THRESHOLDS

STATE_VERSION = 4  # 2: trimmed-mean typical thresholds, the PCA's scale; 3: day shifts;
#                     4: whether the controls' own day shifts are removed
#: Split of mice transformed outside the training pipeline (a new file has no split).
UNASSIGNED = "unassigned"
MODEL_INPUT_COLUMNS: tuple[str, ...] = (
    *IDENTITY_COLUMNS,
    *RAW_ABR,
    *ABR_FEATURES,
    *ABR_OBSERVED,
    *BEYOND_RANGE_FEATURES,
    *CONTINUOUS_FEATURES,
    *CATEGORICAL_FEATURES,
    *PCA_FEATURES,
    BASELINE_SOURCE,
)
# --- features ---------------------------------------------------------------------------


def _overall_thresholds(state: Mapping[str, Any]) -> np.ndarray:
    """The overall typical control threshold per frequency, in feature order."""
    return np.array([state["baselines"]["overall"][f] for f in FREQUENCIES])


def _day_correction_on(state: Mapping[str, Any]) -> bool:
    return bool(state["control_reference"]["enabled"] and state["concurrent_controls"]["enabled"])


def _referenced(
    frame: pd.DataFrame, state: Mapping[str, Any], baselines: Baselines
) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds referenced to the matched controls (missing ones imputed as the baseline),
    unclipped, and the observed mask as booleans."""
    raw = frame[list(THRESHOLDS)].to_numpy(dtype="float64")
    observed = ~np.isnan(raw)
    filled = np.where(observed, raw, baselines.values)
    if state["control_reference"]["enabled"]:
        filled = filled - baselines.values + _overall_thresholds(state)
    return filled, observed


def _day_shifts(
    frame: pd.DataFrame, state: Mapping[str, Any], referenced: np.ndarray, observed: np.ndarray
) -> np.ndarray:
    """Each mouse's day shift in dB (0 everywhere when concurrent controls are off)."""
    if not _day_correction_on(state):
        return np.zeros(len(frame))
    days = state["concurrent_controls"]
    return day_shifts(
        mouse_levels(referenced, observed, _overall_thresholds(state)),
        is_control(frame).to_numpy(bool),
        cohort_keys(frame),
        days,
        correct_controls=days["controls_corrected"],
    )


def abr_features(
    frame: pd.DataFrame, state: Mapping[str, Any], baselines: Baselines
) -> tuple[np.ndarray, np.ndarray]:
    """Control-referenced, imputed, clipped thresholds (N, 6) and the observed mask (N, 6).

    Referenced: threshold - matched controls' typical threshold + the overall one, so a mouse
    reads as "how it compares with its own centre's controls" on the familiar dB scale (in
    the real data the 12 kHz control mean is ~16 dB at ICS and ~46 dB at JAX; raw thresholds
    would cluster centres, not phenotypes). A missing threshold is imputed as its matched
    control baseline, i.e. "like a typical control", and flagged in the mask. With concurrent
    controls, each mutant's day shift is removed as well, and a control's own only when the
    state says ``controls_corrected`` (left in, the controls keep the day-to-day spread that
    the reference range and the model's picture of normal hearing are built on).
    """
    referenced, observed = _referenced(frame, state, baselines)
    shifted = referenced - _day_shifts(frame, state, referenced, observed)[:, None] * observed
    low, high = state["feature_range_db"]
    return np.clip(shifted, low, high), observed.astype("float64")


def day_correction_summary(frame: pd.DataFrame, state: Mapping[str, Any]) -> dict[str, Any]:
    """What the concurrent-controls correction did to ``frame``: the fitted between- and
    within-day SDs, and how many mutants (and controls) were moved, by how much. An export
    without dates, or whose mutants have no controls on their day, is left as it was, and
    this is where a user sees that."""
    if not _day_correction_on(state):
        return {"enabled": False}
    days = state["concurrent_controls"]
    referenced, observed = _referenced(frame, state, resolve_baselines(frame, state))
    shifts = np.abs(_day_shifts(frame, state, referenced, observed))
    controls = is_control(frame).to_numpy(bool)
    moved = shifts > 0
    within = days["within_var"]
    return {
        "enabled": True,
        "controls_corrected": bool(days["controls_corrected"]),
        "between_day_sd_db": float(np.sqrt(days["between_var"])),
        "within_day_sd_db": None if within is None else float(np.sqrt(within)),
        "mutants": int((~controls).sum()),
        "mutants_shifted": int((moved & ~controls).sum()),
        "controls_shifted": int((moved & controls).sum()),
        "median_absolute_shift_db": float(np.median(shifts[moved])) if moved.any() else 0.0,
        "largest_absolute_shift_db": float(shifts.max()) if len(shifts) else 0.0,
    }


def control_reference_summary(frame: pd.DataFrame, state: Mapping[str, Any]) -> dict[str, Any]:
    """How mice were referenced: the baselines' sources and the day correction."""
    return {
        **baseline_summary(frame, state),
        "day_correction": day_correction_summary(frame, state),
    }


def fit_preprocessor(frame: pd.DataFrame, settings: DataProcessingSettings) -> dict[str, Any]:
    """Learn the preprocessing from a cohort (validated mice with ``split``).

    Baselines come from all of the cohort's controls (they are references, not modelled
    outcomes, and :func:`apply_preprocessor` on this same table would use them anyway);
    standardisation, vocabularies and PCA come from the training split only.
    """
    reference = settings.control_reference
    state: dict[str, Any] = {
        "version": STATE_VERSION,
        "frequencies": list(FREQUENCIES),
        "threshold_columns": list(THRESHOLDS),
        "feature_range_db": [float(v) for v in settings.feature_range_db],
        "control_reference": {
            "enabled": reference.enabled,
            "match_columns": list(reference.match_columns),
            "min_group_controls": reference.min_group_controls,
        },
    }
    state["baselines"] = {
        "overall": overall_baseline(frame, state["feature_range_db"]),
        "centre": table_to_records(control_baseline_table(frame, [CENTRE])),
        "group": table_to_records(control_baseline_table(frame, list(reference.match_columns))),
    }
    train_rows = (frame[SPLIT] == TRAIN).to_numpy() if SPLIT in frame else np.ones(len(frame), bool)
    train = frame.loc[train_rows]
    baselines = resolve_baselines(frame, state)
    state["concurrent_controls"] = {"enabled": False}
    if reference.enabled and reference.concurrent_controls:
        referenced, observed = abr_features(frame, state, baselines)
        state["concurrent_controls"] = {
            "enabled": True,
            "controls_corrected": reference.concurrent_controls_on_controls,
            **fit_day_shifts(
                mouse_levels(referenced, observed, _overall_thresholds(state)),
                is_control(frame).to_numpy(dtype=bool),
                cohort_keys(frame),
            ),
        }
    features, observed = abr_features(frame, state, baselines)
    state["reference_range"] = fit_reference_range(
        features,
        observed,
        is_control(frame).to_numpy(dtype=bool),
        frame[CENTRE],
        settings.reference_range.width_sd,
        settings.reference_range.min_controls,
    )
    state["continuous"] = fit_continuous(train)
    state["vocabularies"] = fit_vocabularies(train)
    state["categorical_columns"] = dict(
        zip(CATEGORICAL_FEATURES, CATEGORICAL_METADATA, strict=True)
    )
    state["pca"] = {
        "scale_of_input": settings.pca_scale,
        **fit_pca(
            pca_thresholds(features, frame[CENTRE], state["reference_range"], settings.pca_scale)[
                train_rows
            ],
            settings.n_pca_components,
        ),
    }
    state["fitted_on"] = {
        "mice": int(len(frame)),
        "training_mice": int(train_rows.sum()),
        "controls": int(is_control(frame).sum()),
    }
    return state


def apply_preprocessor(frame: pd.DataFrame, state: Mapping[str, Any]) -> pd.DataFrame:
    """The model-input table for ``frame`` (validated wide mice, any file) under ``state``.

    Control baselines come from ``frame``'s own controls at each mouse's centre when it has
    them, else from the state's training baselines of that centre (column ``baseline_source``
    says which). Everything else (standardisation, vocabularies, PCA) is the state's.
    ``split`` is kept when present, else "unassigned".
    """
    if state.get("version") != STATE_VERSION:
        raise ValueError(
            f"the preprocessor state is version {state.get('version')}, this code reads "
            f"version {STATE_VERSION}: run `kedro run --pipeline data_processing` again"
        )
    baselines = resolve_baselines(frame, state)
    features, observed = abr_features(frame, state, baselines)
    columns: dict[str, Any] = {
        SPECIMEN_ID: frame[SPECIMEN_ID].astype("str").to_numpy(),
        GENE: frame[GENE].to_numpy(),
        ALLELE: frame[ALLELE].to_numpy(),
        ZYGOSITY: frame[ZYGOSITY].to_numpy(),
        CENTRE: frame[CENTRE].to_numpy(),
        LINE_ID: build_line_id(frame).to_numpy(),
        IS_CONTROL: is_control(frame).to_numpy(dtype=bool),
        SPLIT: frame[SPLIT].to_numpy() if SPLIT in frame else np.full(len(frame), UNASSIGNED),
    }
    raw = frame[list(THRESHOLDS)].to_numpy(dtype="float64")
    columns.update(zip(RAW_ABR, raw.T, strict=True))
    columns.update(zip(ABR_FEATURES, features.T, strict=True))
    columns.update(zip(ABR_OBSERVED, observed.T, strict=True))
    beyond = beyond_reference_range(features, frame[CENTRE], state["reference_range"])
    columns.update(zip(BEYOND_RANGE_FEATURES, beyond.T, strict=True))
    pca = state["pca"]
    pca_input = pca_thresholds(
        features, frame[CENTRE], state["reference_range"], pca["scale_of_input"]
    )
    projection = (pca_input - np.array(pca["mean"])) @ np.array(pca["components"]).T
    for feature, column in zip(CONTINUOUS_FEATURES, CONTINUOUS_METADATA, strict=True):
        stats = state["continuous"][column]
        standardised = (frame[column].to_numpy(dtype="float64") - stats["mean"]) / stats["std"]
        columns[feature] = np.nan_to_num(standardised, nan=0.0)
    for feature, column in state["categorical_columns"].items():
        columns[feature] = encode(frame[column], state["vocabularies"][feature])
    columns.update(zip(PCA_FEATURES, (projection / np.array(pca["scale"])).T, strict=True))
    columns[BASELINE_SOURCE] = baselines.source
    return pd.DataFrame(columns, columns=list(MODEL_INPUT_COLUMNS))
