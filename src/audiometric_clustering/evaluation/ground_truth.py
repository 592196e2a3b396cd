"""Scoring clusters against planted patterns, when the data are synthetic and the truth known.

The synthetic generator plants hearing-loss patterns in some knockout lines; the truth table
says, per mouse, which pattern its line carries and whether the mouse expresses it. Two
questions follow: do the clusters separate the patterns among affected mice (ARI, NMI), and
does enrichment find the planted lines without calling the others (recall, false positives)?
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from audiometric_clustering.impc.schema import LINE_ID, SPECIMEN_ID

PLANTED_PATTERN = "planted_pattern"
AFFECTED = "affected"
NO_EFFECT = "none"


def align_truth(truth: pd.DataFrame, mice: pd.DataFrame) -> pd.DataFrame | None:
    """The truth of each mouse, in the mice's row order; None when there is nothing to score.

    Nothing to score means an empty or malformed truth table, or one that shares no knockout
    line with the data (a real export evaluated after a synthetic run left its truth file).
    Mice missing from the truth get pattern "none", not affected.
    """
    needed = {SPECIMEN_ID, LINE_ID, PLANTED_PATTERN, AFFECTED}
    if truth.empty or not needed <= set(truth.columns):
        return None
    data_lines = set(mice.loc[mice[LINE_ID] != "", LINE_ID].astype(str))
    if not data_lines & set(truth[LINE_ID].dropna().astype(str)):
        return None
    keyed = truth.assign(**{SPECIMEN_ID: truth[SPECIMEN_ID].astype(str)}).drop_duplicates(
        SPECIMEN_ID
    )
    aligned = pd.DataFrame({SPECIMEN_ID: mice[SPECIMEN_ID].astype(str).to_numpy()}).merge(
        keyed[[SPECIMEN_ID, PLANTED_PATTERN, AFFECTED]], on=SPECIMEN_ID, how="left"
    )
    return pd.DataFrame(
        {
            LINE_ID: mice[LINE_ID].astype(str).to_numpy(),
            PLANTED_PATTERN: aligned[PLANTED_PATTERN].fillna(NO_EFFECT).astype(str).to_numpy(),
            AFFECTED: aligned[AFFECTED].fillna(False).astype(bool).to_numpy(),
        }
    )


def truth_scores(
    aligned: pd.DataFrame, labels: np.ndarray, tested_lines: set[str], called_lines: set[str]
) -> dict[str, float]:
    """ARI/NMI among affected mice, and recall / false-positive rate of the line calls.

    ``tested_lines`` are the lines large enough to be tested for enrichment, ``called_lines``
    those enriched in a hearing-loss cluster at the chosen FDR. A line is planted when any of
    its mice carries a pattern; rates are over tested lines only (untestable lines cannot be
    recalled by any method), and are NaN when there is no line to count.
    """
    affected = aligned[AFFECTED].to_numpy(dtype=bool)
    patterns = aligned[PLANTED_PATTERN].to_numpy()[affected]
    clusters = np.asarray(labels)[affected]
    enough = affected.sum() >= 2
    is_line = aligned[LINE_ID] != ""
    planted = (
        (aligned.loc[is_line, PLANTED_PATTERN] != NO_EFFECT)
        .groupby(aligned.loc[is_line, LINE_ID])
        .any()
    )
    planted = planted[planted.index.isin(list(tested_lines))]
    called = planted.index.isin(list(called_lines))
    return {
        "affected_mice": float(affected.sum()),
        "ari_affected": float(adjusted_rand_score(patterns, clusters)) if enough else np.nan,
        "nmi_affected": float(normalized_mutual_info_score(patterns, clusters))
        if enough
        else np.nan,
        "planted_lines_tested": float(planted.sum()),
        "line_recall": _share(called[planted.to_numpy()]),
        "null_lines_tested": float((~planted).sum()),
        "line_false_positive_rate": _share(called[~planted.to_numpy()]),
    }


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")
