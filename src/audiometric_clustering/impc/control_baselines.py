"""Control baselines: the thresholds a mouse is referenced to, from its matched controls.

A mouse's baseline is the typical threshold (:func:`typical_threshold`) of the controls
matched to it (same centre, background, pipeline and equipment) when there are enough of
them, else of its centre's controls, else of all controls. A file with enough controls at
a centre (:data:`MIN_FILE_CENTRE_CONTROLS` in the state's ``control_reference``, set by
inference) is referenced to those (the same day-to-day setting, equipment and calibration);
otherwise to the training baselines stored in the preprocessor state: one control is no
reference for a centre.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.lines import is_control
from audiometric_clustering.impc.schema import CENTRE, FREQUENCIES
from audiometric_clustering.impc.validation import THRESHOLDS

#: Model-input column saying where each mouse's control baselines came from.
BASELINE_SOURCE = "baseline_source"
#: Baselines from controls in the table being transformed (always the case when fitting).
FROM_FILE_CONTROLS = "file_controls"
#: The table has no controls (or too few) at this mouse's centre: stored training baselines
#: of the centre.
FROM_TRAINING_CENTRE = "training_centre"
#: Neither: the centre is unknown to the state too, so the overall training control level.
FROM_TRAINING_OVERALL = "training_overall"
#: Fallback levels, most specific first, as reported by :func:`baseline_summary`.
LEVELS: tuple[str, ...] = ("group", "centre", "overall")
#: Key in the state's ``control_reference``: the fewest controls a file needs at a centre for
#: its mice to be referenced to them (absent: 1, any control; fitting always uses the file's).
MIN_FILE_CENTRE_CONTROLS = "min_file_centre_controls"
_TYPICAL = tuple(f"typical_{f}" for f in FREQUENCIES)
_COUNTS = tuple(f"n_{f}" for f in FREQUENCIES)


#: Share of measured controls cut from each end before averaging (see :func:`typical_threshold`).
TRIM_SHARE = 0.2


def typical_threshold(values: np.ndarray) -> float:
    """The controls' typical threshold: the mean of the middle 60% of the measured values.

    Not the median: thresholds are recorded on a 5 dB grid, so a median is a grid value and
    off the controls' true centre by up to 2.5 dB, differently at each centre and frequency.
    The trimmed mean averages over the grid as a mean does and, like a median, ignores the
    few controls with sporadic loss. NaN when nothing was measured.
    """
    values = np.asarray(values, dtype="float64")
    measured = np.sort(values[~np.isnan(values)])
    cut = int(TRIM_SHARE * len(measured))
    return float(measured[cut : len(measured) - cut].mean()) if len(measured) else float("nan")


def _keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Match keys as text, missing values as "" so that they form a group of their own."""
    return frame[list(columns)].astype("str").fillna("").reset_index(drop=True)


def control_baseline_table(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Typical threshold and number of measured controls per key group and frequency."""
    controls = frame.loc[is_control(frame)]
    thresholds = controls[list(THRESHOLDS)].reset_index(drop=True)
    grouped = pd.concat([_keys(controls, keys), thresholds], axis=1).groupby(list(keys), sort=True)
    levels = grouped[list(THRESHOLDS)].agg(typical_threshold).set_axis(list(_TYPICAL), axis=1)
    counts = grouped[list(THRESHOLDS)].count().set_axis(list(_COUNTS), axis=1)
    return pd.concat([levels, counts], axis=1).reset_index()


def table_to_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: NaN levels become null (the JSON standard has no NaN)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _table_from_records(records: list[dict[str, Any]], keys: Sequence[str]) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records, columns=[*keys, *_TYPICAL, *_COUNTS])
    table[list(keys)] = table[list(keys)].astype("str")
    table[list(_TYPICAL)] = table[list(_TYPICAL)].astype("float64")
    table[list(_COUNTS)] = table[list(_COUNTS)].astype("int64")
    return table


def _lookup(
    keys: pd.DataFrame, table: pd.DataFrame, columns: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each mouse's group levels (N, 6) and control counts (N, 6); 0 controls if no group."""
    merged = keys[list(columns)].merge(table, on=list(columns), how="left")
    levels = merged[list(_TYPICAL)].to_numpy(dtype="float64")
    counts = merged[list(_COUNTS)].fillna(0).to_numpy(dtype="int64")
    return levels, counts


@dataclass(frozen=True)
class Baselines:
    """Per mouse and frequency: the baseline in dB, the fallback level used (index into
    :data:`LEVELS`), and per mouse the source of its baselines."""

    values: np.ndarray
    level: np.ndarray
    source: np.ndarray
    file_controls: np.ndarray  # controls at the mouse's centre in the frame


def _fallback_chain(
    keys: pd.DataFrame,
    group_table: pd.DataFrame,
    centre_table: pd.DataFrame,
    match_columns: Sequence[str],
    min_group_controls: int,
    overall: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched group when it has enough controls, else the centre, else the overall level;
    and per mouse the number of controls at its centre (at its best-measured frequency)."""
    group_level, group_n = _lookup(keys, group_table, match_columns)
    centre_level, centre_n = _lookup(keys, centre_table, [CENTRE])
    use_group = group_n >= min_group_controls
    use_centre = ~use_group & (centre_n > 0)
    values = np.where(use_group, group_level, np.where(use_centre, centre_level, overall))
    level = np.where(use_group, 0, np.where(use_centre, 1, 2))
    return values, level, centre_n.max(axis=1)


def resolve_baselines(frame: pd.DataFrame, state: Mapping[str, Any]) -> Baselines:
    """Control baselines for every mouse of ``frame``.

    Mice whose centre has enough controls in ``frame`` (:data:`MIN_FILE_CENTRE_CONTROLS`)
    are referenced to those controls (the same day-to-day setting, equipment and
    calibration); otherwise to the training baselines stored for the centre; for a centre
    the state has never seen, to the overall level.
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
    own_controls = own[2] >= max(1, int(reference.get(MIN_FILE_CENTRE_CONTROLS, 1)))
    use_own = own_controls[:, None]
    return Baselines(
        values=np.where(use_own, own[0], training[0]),
        level=np.where(use_own, own[1], training[1]),
        source=np.select(
            [own_controls, training[2] > 0],
            [FROM_FILE_CONTROLS, FROM_TRAINING_CENTRE],
            FROM_TRAINING_OVERALL,
        ),
        file_controls=own[2],
    )


def overall_baseline(frame: pd.DataFrame, feature_range_db: Sequence[float]) -> dict[str, float]:
    """Typical threshold of all controls per frequency, so referenced features stay in dB.

    A frequency no control was measured at falls back to all mice, then to the middle of the
    feature range: every frequency needs a finite value to impute.
    """
    thresholds = frame[list(THRESHOLDS)]
    controls = thresholds.loc[is_control(frame).to_numpy()].agg(typical_threshold)
    everyone = thresholds.agg(typical_threshold)
    midpoint = float(np.mean(feature_range_db))
    return {
        f: float(np.nan_to_num(controls[c], nan=np.nan_to_num(everyone[c], nan=midpoint)))
        for f, c in zip(FREQUENCIES, THRESHOLDS, strict=True)
    }


def baseline_summary(frame: pd.DataFrame, state: Mapping[str, Any]) -> dict[str, Any]:
    """How mice were referenced: mice per baseline source, per centre the controls the frame
    has there and the source its mice got, and per frequency the number of mice whose
    baseline came from their matched group, their centre or the overall level."""
    baselines = resolve_baselines(frame, state)
    sources, counts = np.unique(baselines.source, return_counts=True)
    reference = state["control_reference"]
    by_centre = (
        pd.DataFrame(
            {
                "centre": frame[CENTRE].astype("str").to_numpy(),
                "controls_in_file": baselines.file_controls,
                "baselines": baselines.source,
            }
        )
        .drop_duplicates("centre")
        .sort_values("centre")
    )
    return {
        "enabled": bool(reference["enabled"]),
        "match_columns": list(reference["match_columns"]),
        "min_group_controls": int(reference["min_group_controls"]),
        MIN_FILE_CENTRE_CONTROLS: int(reference.get(MIN_FILE_CENTRE_CONTROLS, 1)),
        "mice_by_source": {str(s): int(n) for s, n in zip(sources, counts, strict=True)},
        "by_centre": {
            row.centre: {"controls_in_file": int(row.controls_in_file), "baselines": row.baselines}
            for row in by_centre.itertuples(index=False)
        },
        "mice_by_level": {
            f: {level: int((baselines.level[:, i] == j).sum()) for j, level in enumerate(LEVELS)}
            for i, f in enumerate(FREQUENCIES)
        },
    }
