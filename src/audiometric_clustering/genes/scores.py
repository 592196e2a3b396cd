"""Scoring line calls against planted patterns, when the data are synthetic.

A line is planted when any of its mice carries a pattern (``ground_truth``'s definition: a
silent recessive heterozygote line is null). Every line of the scored set counts, so a line
a method could not test is a line it did not find.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.ground_truth import NO_EFFECT, PLANTED_PATTERN, align_truth
from audiometric_clustering.impc.schema import LINE_ID


def line_patterns(truth: pd.DataFrame, mice: pd.DataFrame) -> pd.Series | None:
    """The planted pattern of every knockout line of ``mice`` ("none" for a null line), or
    None when the truth cannot be aligned (see ``ground_truth.align_truth``)."""
    aligned = align_truth(truth, mice)
    if aligned is None:
        return None
    mutants = aligned.loc[aligned[LINE_ID] != ""]
    carried = mutants[PLANTED_PATTERN].where(mutants[PLANTED_PATTERN] != NO_EFFECT)
    return (
        carried.groupby(mutants[LINE_ID])
        .first()
        .reindex(mutants[LINE_ID].unique())
        .fillna(NO_EFFECT)
    )


def line_call_scores(
    patterns: pd.Series, called: Iterable[str], lines: Iterable[str] | None = None
) -> dict[str, float]:
    """Recall of planted lines, null-line false-positive rate, false share among calls (the
    realised false discovery proportion) and recall per planted pattern, over ``lines``
    (default: every line of ``patterns``); NaN where there is nothing to count."""
    if lines is not None:
        patterns = patterns.reindex(list(lines)).fillna(NO_EFFECT)
    planted = (patterns != NO_EFFECT).to_numpy()
    is_called = patterns.index.isin(list(called))
    calls = int(is_called.sum())
    scores = {
        "lines": float(len(patterns)),
        "planted_lines": float(planted.sum()),
        "calls": float(calls),
        "recall": _share(is_called[planted]),
        "null_fpr": _share(is_called[~planted]),
        "false_share": float((is_called & ~planted).sum() / calls) if calls else float("nan"),
    }
    for pattern in sorted(set(patterns[planted])):
        scores[f"recall/{pattern}"] = _share(is_called[(patterns == pattern).to_numpy()])
    return scores


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")
