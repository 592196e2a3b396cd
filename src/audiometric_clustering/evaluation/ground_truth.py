"""Scoring clusters against planted patterns, when the data are synthetic and the truth known.

The synthetic generator plants hearing-loss patterns in some knockout lines; the truth table
says, per mouse, which pattern its line carries and whether the mouse expresses it, and may
say which mice have sporadic, non-inherited loss. Two questions follow: do the clusters
separate the patterns among affected mice (ARI, NMI), and does enrichment find the planted
lines without calling the others (recall, false positives)?
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from audiometric_clustering.impc.schema import LINE_ID, SPECIMEN_ID

PLANTED_PATTERN = "planted_pattern"
AFFECTED = "affected"
SPORADIC_LOSS = "sporadic_loss"
NO_EFFECT = "none"


def align_truth(truth: pd.DataFrame, mice: pd.DataFrame) -> pd.DataFrame | None:
    """The truth of each mouse, in the mice's row order; None when there is nothing to score.

    Nothing to score means an empty or malformed truth table, or one that shares no knockout
    line with the data (a real export evaluated after a synthetic run left its truth file).
    Mice missing from the truth get pattern "none", not affected. ``sporadic_loss`` is kept,
    as a flag, when the truth has it: the generator names the kind of loss ("flat", "tonal",
    "none" for no loss); a boolean column is read as it is; missing mice have none.
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
    sporadic = [SPORADIC_LOSS] if SPORADIC_LOSS in truth.columns else []
    aligned = pd.DataFrame({SPECIMEN_ID: mice[SPECIMEN_ID].astype(str).to_numpy()}).merge(
        keyed[[SPECIMEN_ID, PLANTED_PATTERN, AFFECTED, *sporadic]], on=SPECIMEN_ID, how="left"
    )
    no_loss = [NO_EFFECT, "", "false", "0"]
    return pd.DataFrame(
        {
            LINE_ID: mice[LINE_ID].astype(str).to_numpy(),
            PLANTED_PATTERN: aligned[PLANTED_PATTERN].fillna(NO_EFFECT).astype(str).to_numpy(),
            AFFECTED: aligned[AFFECTED].fillna(False).astype(bool).to_numpy(),
            **{
                flag: ~aligned[flag].fillna(NO_EFFECT).astype(str).str.lower().isin(no_loss)
                for flag in sporadic
            },
        }
    )


def truth_scores(
    aligned: pd.DataFrame,
    labels: np.ndarray,
    tested_lines: set[str],
    called_lines: set[str],
    called_anywhere: set[str],
) -> dict[str, float]:
    """ARI/NMI among affected mice, and recall / false-positive rates of the line calls.

    ``tested_lines`` are the lines large enough to be tested for enrichment, ``called_lines``
    those enriched in a hearing-loss cluster at the chosen FDR and ``called_anywhere`` those
    enriched in any cluster. A line is planted when any of its mice carries a pattern; rates
    are over tested lines only (untestable lines cannot be recalled by any method), and are
    NaN when there is no line to count.

    ``line_false_positive_rate_any_cluster`` is the honest one: a null line enriched in any
    cluster was grouped by something other than its genotype (its centre's setup, its
    cohort), whatever that cluster is called; counting hearing-loss clusters only misses a
    clustering that splits normal mice by where they were tested.
    """
    affected = aligned[AFFECTED].to_numpy(dtype=bool)
    patterns = aligned[PLANTED_PATTERN].to_numpy()[affected]
    clusters = np.asarray(labels)[affected]
    enough = affected.sum() >= 2
    line_pattern = _line_patterns(aligned)
    line_pattern = line_pattern[line_pattern.index.isin(list(tested_lines))]
    planted = (line_pattern != NO_EFFECT).to_numpy()
    called = line_pattern.index.isin(list(called_lines))
    called_any = line_pattern.index.isin(list(called_anywhere))
    scores = {
        "affected_mice": float(affected.sum()),
        "ari_affected": float(adjusted_rand_score(patterns, clusters)) if enough else np.nan,
        "nmi_affected": float(normalized_mutual_info_score(patterns, clusters))
        if enough
        else np.nan,
        "planted_lines_tested": float(planted.sum()),
        "line_recall": _share(called[planted]),
        "null_lines_tested": float((~planted).sum()),
        "line_false_positive_rate": _share(called[~planted]),
        "line_false_positive_rate_any_cluster": _share(called_any[~planted]),
    }
    for pattern in sorted(set(line_pattern[planted])):
        scores[f"line_recall/{pattern}"] = _share(called[line_pattern.to_numpy() == pattern])
    if SPORADIC_LOSS in aligned.columns:
        controls = aligned[LINE_ID].to_numpy() == ""
        scores["controls_with_sporadic_loss"] = _share(
            aligned[SPORADIC_LOSS].to_numpy(dtype=bool)[controls]
        )
    return scores


def _line_patterns(aligned: pd.DataFrame) -> pd.Series:
    """The planted pattern of every knockout line ("none" when no mouse carries one)."""
    is_line = aligned[LINE_ID] != ""
    lines = aligned.loc[is_line, LINE_ID]
    carried = aligned.loc[is_line, PLANTED_PATTERN].where(lambda p: p != NO_EFFECT)
    return carried.groupby(lines).first().reindex(lines.unique()).fillna(NO_EFFECT)


def _share(flags: np.ndarray) -> float:
    return float(flags.mean()) if flags.size else float("nan")
