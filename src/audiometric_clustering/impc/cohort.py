"""The modelling cohort: which mice are modelled and which split each one is in."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.impc.lines import build_line_id, in_kept_line, is_control, line_sizes
from audiometric_clustering.impc.schema import CENTRE, IS_CONTROL, LINE_ID, SPECIMEN_ID, SPLIT

TRAIN = "train"
VALIDATION = "validation"


def assign_split(frame: pd.DataFrame, validation_fraction: float, seed: int) -> pd.Series:
    """Seeded train/validation split that keeps every knockout line wholly in one split.

    Whole lines go to validation so that validation measures how the model treats lines it
    has never seen; controls have no line and are split one by one. Lines and controls are
    sorted before drawing, so the split does not depend on the row order of the file.
    """
    rng = np.random.default_rng(seed)
    lines = np.sort(frame.loc[~frame[IS_CONTROL], LINE_ID].unique())
    validation_lines = rng.choice(
        lines, size=round(validation_fraction * len(lines)), replace=False
    )
    controls = np.sort(frame.loc[frame[IS_CONTROL], SPECIMEN_ID].to_numpy(dtype=str))
    validation_controls = rng.choice(
        controls, size=round(validation_fraction * len(controls)), replace=False
    )
    in_validation = np.where(
        frame[IS_CONTROL],
        frame[SPECIMEN_ID].isin(validation_controls),
        frame[LINE_ID].isin(validation_lines),
    )
    return pd.Series(np.where(in_validation, VALIDATION, TRAIN), index=frame.index, name=SPLIT)


def _split_counts(cohort: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts = {}
    for split, rows in cohort.groupby(SPLIT, sort=True):
        mutants = rows.loc[~rows[IS_CONTROL]]
        counts[str(split)] = {
            "mice": int(len(rows)),
            "controls": int(rows[IS_CONTROL].sum()),
            "mutants": int(len(mutants)),
            "lines": int(mutants[LINE_ID].nunique()),
        }
    return counts


def build_cohort(
    validated: pd.DataFrame, *, min_line_size: int, validation_fraction: float, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Controls plus mutants of lines with at least ``min_line_size`` mice, split by line.

    Adds ``line_id``, ``is_control`` and ``split`` to the validated table and summarises
    what the line-size filter dropped (in a sample of mostly one-mouse lines, most mutants).
    """
    frame = validated.assign(
        **{LINE_ID: build_line_id(validated), IS_CONTROL: is_control(validated)}
    )
    kept = frame[IS_CONTROL] | in_kept_line(frame[LINE_ID], min_line_size)
    cohort = frame.loc[kept].reset_index(drop=True)
    cohort[SPLIT] = assign_split(cohort, validation_fraction, seed)

    sizes = line_sizes(frame[LINE_ID])
    mutants = frame.loc[~frame[IS_CONTROL]]
    kept_mutants = cohort.loc[~cohort[IS_CONTROL]]
    per_centre = pd.DataFrame(
        {
            "controls": cohort.loc[cohort[IS_CONTROL], CENTRE].value_counts(),
            "mutants_kept": kept_mutants[CENTRE].value_counts(),
            "mutants_dropped": frame.loc[~kept, CENTRE].value_counts(),
            "lines_kept": kept_mutants.groupby(CENTRE)[LINE_ID].nunique(),
        }
    ).fillna(0)
    summary = {
        "min_line_size": int(min_line_size),
        "rows_kept": int(len(cohort)),
        "controls": int(cohort[IS_CONTROL].sum()),
        "mutants": int(len(kept_mutants)),
        "mutants_dropped_by_line_size": int(len(mutants) - len(kept_mutants)),
        "lines_total": int(len(sizes)),
        "lines_kept": int((sizes >= min_line_size).sum()),
        "lines_dropped_by_size": int((sizes < min_line_size).sum()),
        "line_size_histogram": {
            int(k): int(v) for k, v in sizes.value_counts().sort_index().items()
        },
        "per_centre": {
            str(centre): {k: int(v) for k, v in row.items()}
            for centre, row in per_centre.iterrows()
        },
        "split": _split_counts(cohort),
    }
    return cohort, summary
