"""Turn validated mice into the model-input table, with a state that can transform new mice.

``fit_preprocessor(frame, params) -> state`` learns everything from a cohort (control
baselines, standardisation and vocabularies, PCA); ``apply_preprocessor(frame, state)``
uses only that state plus, for control referencing, the controls of the frame it is given.
The state is plain JSON (no pickle), so a later inference run can load it anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.cohort import TRAIN
from audiometric_clustering.impc.lines import build_line_id, is_control
from audiometric_clustering.impc.reference_range import beyond_reference_range, fit_reference_range
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
from audiometric_clustering.impc.validation import THRESHOLDS

STATE_VERSION = 1
#: Model-input column saying where each mouse's control baselines came from.
BASELINE_SOURCE = "baseline_source"
#: Baselines from controls in the table being transformed (always the case when fitting).
FROM_FILE_CONTROLS = "file_controls"
#: The table has no controls at this mouse's centre: stored training baselines of the centre.
FROM_TRAINING_CENTRE = "training_centre"
#: Neither: the centre is unknown to the state too, so the overall training control median.
FROM_TRAINING_OVERALL = "training_overall"
#: Split of mice transformed outside the training pipeline (a new file has no split).
UNASSIGNED = "unassigned"
#: Fallback levels, most specific first, as reported by :func:`baseline_summary`.
LEVELS: tuple[str, ...] = ("group", "centre", "overall")
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
_MEDIANS = tuple(f"median_{f}" for f in FREQUENCIES)
_COUNTS = tuple(f"n_{f}" for f in FREQUENCIES)


# --- control baselines ------------------------------------------------------------------


def _keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Match keys as text, missing values as "" so that they form a group of their own."""
    return frame[list(columns)].astype("str").fillna("").reset_index(drop=True)


def control_baseline_table(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Median and number of measured control thresholds per key group and frequency."""
    controls = frame.loc[is_control(frame)]
    thresholds = controls[list(THRESHOLDS)].reset_index(drop=True)
    grouped = pd.concat([_keys(controls, keys), thresholds], axis=1).groupby(list(keys), sort=True)
    medians = grouped[list(THRESHOLDS)].median().set_axis(list(_MEDIANS), axis=1)
    counts = grouped[list(THRESHOLDS)].count().set_axis(list(_COUNTS), axis=1)
    return pd.concat([medians, counts], axis=1).reset_index()


def _table_to_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: NaN medians become null (the JSON standard has no NaN)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _table_from_records(records: list[dict[str, Any]], keys: Sequence[str]) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records, columns=[*keys, *_MEDIANS, *_COUNTS])
    table[list(keys)] = table[list(keys)].astype("str")
    table[list(_MEDIANS)] = table[list(_MEDIANS)].astype("float64")
    table[list(_COUNTS)] = table[list(_COUNTS)].astype("int64")
    return table


def _lookup(
    keys: pd.DataFrame, table: pd.DataFrame, columns: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each mouse's group medians (N, 6) and control counts (N, 6); 0 controls if no group."""
    merged = keys[list(columns)].merge(table, on=list(columns), how="left")
    medians = merged[list(_MEDIANS)].to_numpy(dtype="float64")
    counts = merged[list(_COUNTS)].fillna(0).to_numpy(dtype="int64")
    return medians, counts


@dataclass(frozen=True)
class Baselines:
    """Per mouse and frequency: the baseline in dB, the fallback level used (index into
    :data:`LEVELS`), and per mouse the source of its baselines."""

    values: np.ndarray
    level: np.ndarray
    source: np.ndarray


def _fallback_chain(
    keys: pd.DataFrame,
    group_table: pd.DataFrame,
    centre_table: pd.DataFrame,
    match_columns: Sequence[str],
    min_group_controls: int,
    overall: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched group when it has enough controls, else the centre, else the overall median."""
    group_median, group_n = _lookup(keys, group_table, match_columns)
    centre_median, centre_n = _lookup(keys, centre_table, [CENTRE])
    use_group = group_n >= min_group_controls
    use_centre = ~use_group & (centre_n > 0)
    values = np.where(use_group, group_median, np.where(use_centre, centre_median, overall))
    level = np.where(use_group, 0, np.where(use_centre, 1, 2))
    return values, level, centre_n.sum(axis=1) > 0


def resolve_baselines(frame: pd.DataFrame, state: Mapping[str, Any]) -> Baselines:
    """Control baselines for every mouse of ``frame``.

    Mice whose centre has controls in ``frame`` are referenced to those controls (the same
    day-to-day setting, equipment and calibration); otherwise to the training baselines
    stored for the centre; for a centre the state has never seen, to the overall median.
    """
    reference = state["control_reference"]
    match_columns = reference["match_columns"]
    min_group = int(reference["min_group_controls"])
    stored = state["baselines"]
    overall = np.array([stored["overall"][f] for f in FREQUENCIES], dtype="float64")
    keys = _keys(frame, match_columns)
    own = _fallback_chain(
        keys,
        control_baseline_table(frame, match_columns),
        control_baseline_table(frame, [CENTRE]),
        match_columns,
        min_group,
        overall,
    )
    training = _fallback_chain(
        keys,
        _table_from_records(stored["group"], match_columns),
        _table_from_records(stored["centre"], [CENTRE]),
        match_columns,
        min_group,
        overall,
    )
    use_own = own[2][:, None]
    return Baselines(
        values=np.where(use_own, own[0], training[0]),
        level=np.where(use_own, own[1], training[1]),
        source=np.select(
            [own[2], training[2]], [FROM_FILE_CONTROLS, FROM_TRAINING_CENTRE], FROM_TRAINING_OVERALL
        ),
    )


def _overall_baseline(frame: pd.DataFrame, feature_range_db: Sequence[float]) -> dict[str, float]:
    """Median of all controls per frequency, so referenced features stay on the dB scale.

    A frequency no control was measured at falls back to all mice, then to the middle of the
    feature range: every frequency needs a finite value to impute.
    """
    thresholds = frame[list(THRESHOLDS)]
    controls = thresholds.loc[is_control(frame).to_numpy()].median()
    everyone = thresholds.median()
    midpoint = float(np.mean(feature_range_db))
    return {
        f: float(np.nan_to_num(controls[c], nan=np.nan_to_num(everyone[c], nan=midpoint)))
        for f, c in zip(FREQUENCIES, THRESHOLDS, strict=True)
    }


# --- features ---------------------------------------------------------------------------


def abr_features(
    frame: pd.DataFrame, state: Mapping[str, Any], baselines: Baselines
) -> tuple[np.ndarray, np.ndarray]:
    """Control-referenced, imputed, clipped thresholds (N, 6) and the observed mask (N, 6).

    Referenced: threshold - matched control median + overall control median, so a mouse
    reads as "how it compares with its own centre's controls" on the familiar dB scale (in
    the real data the 12 kHz control mean is ~16 dB at ICS and ~46 dB at JAX; raw thresholds
    would cluster centres, not phenotypes). A missing threshold is imputed as its matched
    control baseline, i.e. "like a typical control", and flagged in the mask.
    """
    raw = frame[list(THRESHOLDS)].to_numpy(dtype="float64")
    observed = ~np.isnan(raw)
    filled = np.where(observed, raw, baselines.values)
    if state["control_reference"]["enabled"]:
        overall = np.array([state["baselines"]["overall"][f] for f in FREQUENCIES])
        filled = filled - baselines.values + overall
    low, high = state["feature_range_db"]
    return np.clip(filled, low, high), observed.astype("float64")


def _fit_continuous(train: pd.DataFrame) -> dict[str, dict[str, float]]:
    stats = {}
    for column in CONTINUOUS_METADATA:
        values = train[column].astype("float64")
        mean, std = values.mean(), values.std()
        stats[column] = {
            "mean": float(np.nan_to_num(mean)),
            "std": float(std) if np.isfinite(std) and std > 0 else 1.0,
        }
    return stats


def _fit_vocabularies(train: pd.DataFrame) -> dict[str, list[str]]:
    """Sorted values seen in training; code i + 1 for the i-th value, 0 for anything else."""
    return {
        feature: sorted(train[column].dropna().astype("str").unique().tolist())
        for feature, column in zip(CATEGORICAL_FEATURES, CATEGORICAL_METADATA, strict=True)
    }


def _fit_pca(features: np.ndarray, n_components: int) -> dict[str, list]:
    """Principal axes of the ABR features; projections scaled to unit variance on training.

    Unit variance keeps the PCA inputs (and their reconstruction loss) on the scale of the
    other standardised metadata instead of tens of dB. Each axis's sign is fixed (largest
    loading positive) so refits on the same data give the same features.
    """
    mean = features.mean(axis=0)
    _, singular, axes = np.linalg.svd(features - mean, full_matrices=False)
    axes = axes[:n_components]
    axes *= np.sign(axes[np.arange(n_components), np.abs(axes).argmax(axis=1)])[:, None]
    scale = singular[:n_components] / np.sqrt(max(len(features) - 1, 1))
    variance = singular**2
    return {
        "mean": mean.tolist(),
        "components": axes.tolist(),
        "scale": np.where(scale > 0, scale, 1.0).tolist(),
        "explained_variance_ratio": (variance[:n_components] / max(variance.sum(), 1e-12)).tolist(),
    }


def fit_preprocessor(frame: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    """Learn the preprocessing from a cohort (validated mice with ``split``).

    Baselines come from all of the cohort's controls (they are references, not modelled
    outcomes, and :func:`apply_preprocessor` on this same table would use them anyway);
    standardisation, vocabularies and PCA come from the training split only.
    """
    reference = params["control_reference"]
    state: dict[str, Any] = {
        "version": STATE_VERSION,
        "frequencies": list(FREQUENCIES),
        "threshold_columns": list(THRESHOLDS),
        "feature_range_db": [float(v) for v in params["feature_range_db"]],
        "control_reference": {
            "enabled": bool(reference["enabled"]),
            "match_columns": list(reference["match_columns"]),
            "min_group_controls": int(reference["min_group_controls"]),
        },
    }
    state["baselines"] = {
        "overall": _overall_baseline(frame, state["feature_range_db"]),
        "centre": _table_to_records(control_baseline_table(frame, [CENTRE])),
        "group": _table_to_records(control_baseline_table(frame, reference["match_columns"])),
    }
    train_rows = (frame[SPLIT] == TRAIN).to_numpy() if SPLIT in frame else np.ones(len(frame), bool)
    train = frame.loc[train_rows]
    features, observed = abr_features(frame, state, resolve_baselines(frame, state))
    reference_range = params["reference_range"]
    state["reference_range"] = fit_reference_range(
        features,
        observed,
        is_control(frame).to_numpy(dtype=bool),
        frame[CENTRE],
        float(reference_range["width_sd"]),
        int(reference_range["min_controls"]),
    )
    state["continuous"] = _fit_continuous(train)
    state["vocabularies"] = _fit_vocabularies(train)
    state["categorical_columns"] = dict(
        zip(CATEGORICAL_FEATURES, CATEGORICAL_METADATA, strict=True)
    )
    state["pca"] = _fit_pca(features[train_rows], int(params["n_pca_components"]))
    state["fitted_on"] = {
        "mice": int(len(frame)),
        "training_mice": int(train_rows.sum()),
        "controls": int(is_control(frame).sum()),
    }
    return state


def _encode(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    return pd.Index(vocabulary).get_indexer(values.astype("str")).astype("int64") + 1


def apply_preprocessor(frame: pd.DataFrame, state: Mapping[str, Any]) -> pd.DataFrame:
    """The model-input table for ``frame`` (validated wide mice, any file) under ``state``.

    Control baselines come from ``frame``'s own controls at each mouse's centre when it has
    them, else from the state's training baselines of that centre (column ``baseline_source``
    says which). Everything else (standardisation, vocabularies, PCA) is the state's.
    ``split`` is kept when present, else "unassigned".
    """
    baselines = resolve_baselines(frame, state)
    features, observed = abr_features(frame, state, baselines)
    pca = state["pca"]
    projection = (features - np.array(pca["mean"])) @ np.array(pca["components"]).T
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
    if "reference_range" not in state:
        raise ValueError(
            "the preprocessor state has no control reference range (an older "
            "preprocessor_state.json): run `kedro run --pipeline data_processing` again"
        )
    beyond = beyond_reference_range(features, frame[CENTRE], state["reference_range"])
    columns.update(zip(BEYOND_RANGE_FEATURES, beyond.T, strict=True))
    for feature, column in zip(CONTINUOUS_FEATURES, CONTINUOUS_METADATA, strict=True):
        stats = state["continuous"][column]
        standardised = (frame[column].to_numpy(dtype="float64") - stats["mean"]) / stats["std"]
        columns[feature] = np.nan_to_num(standardised, nan=0.0)
    for feature, column in state["categorical_columns"].items():
        columns[feature] = _encode(frame[column], state["vocabularies"][feature])
    columns.update(zip(PCA_FEATURES, (projection / np.array(pca["scale"])).T, strict=True))
    columns[BASELINE_SOURCE] = baselines.source
    return pd.DataFrame(columns, columns=list(MODEL_INPUT_COLUMNS))


def baseline_summary(frame: pd.DataFrame, state: Mapping[str, Any]) -> dict[str, Any]:
    """How mice were referenced: mice per baseline source, and per frequency the number of
    mice whose baseline came from their matched group, their centre or the overall median."""
    baselines = resolve_baselines(frame, state)
    sources, counts = np.unique(baselines.source, return_counts=True)
    return {
        "enabled": bool(state["control_reference"]["enabled"]),
        "match_columns": list(state["control_reference"]["match_columns"]),
        "min_group_controls": int(state["control_reference"]["min_group_controls"]),
        "mice_by_source": {str(s): int(n) for s, n in zip(sources, counts, strict=True)},
        "mice_by_level": {
            f: {level: int((baselines.level[:, i] == j).sum()) for j, level in enumerate(LEVELS)}
            for i, f in enumerate(FREQUENCIES)
        },
    }
