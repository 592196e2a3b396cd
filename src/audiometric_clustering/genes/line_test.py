"""``line_test``: the plain per-line test that gene calls must beat (issue 32's baseline).

No clustering: each knockout line's mean control-referenced audiogram (thresholds minus the
typical threshold of its centre's controls) is tested against zero per tone. Per tone, the
line mean becomes z = mean x sqrt(n) / SD of the centre's controls; its null centre and
scale are then estimated from all lines (median and 1.4826 x MAD: Efron's empirical null,
which absorbs cohort offsets because most lines are null); one-sided p (a loss raises
thresholds), Bonferroni over the tones measured in 2 or more mice, Benjamini-Hochberg over
lines. It ignores days, setups, the shape of an audiogram and the heavy upper tail that
sporadic loss gives, which is what gene calls add.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, norm

from audiometric_clustering.genes.evidence import robust_sd
from audiometric_clustering.impc.control_baselines import typical_threshold
from audiometric_clustering.impc.lines import build_line_id, is_control
from audiometric_clustering.impc.schema import CENTRE, LINE_ID
from audiometric_clustering.impc.validation import THRESHOLDS


def line_test(mice: pd.DataFrame, fdr: float = 0.05, min_mutants: int = 3) -> pd.DataFrame:
    """Per knockout line of ``mice`` (a validated export) with ``min_mutants`` or more
    mice: ``line_id``, ``n_mutants``, ``p_value``, ``q_value`` and ``called`` (q <= fdr)."""
    frame = mice.reset_index(drop=True)
    controls = is_control(frame).to_numpy(dtype=bool)
    thresholds = frame[list(THRESHOLDS)].to_numpy(dtype="float64")
    centres = frame[CENTRE].astype("str").to_numpy()
    referenced = np.full(thresholds.shape, np.nan)
    spread = np.full(thresholds.shape, np.nan)
    for centre in np.unique(centres):
        rows, reference = centres == centre, thresholds[(centres == centre) & controls]
        typical = [typical_threshold(column) for column in reference.T]
        referenced[rows] = thresholds[rows] - np.array(typical)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a tone never measured there
            spread[rows] = np.nanstd(reference, axis=0, ddof=1)
    line_ids = build_line_id(frame)
    mutants = ~controls & line_ids.notna().to_numpy()
    lines = line_ids[mutants].to_numpy()
    sizes = pd.Series(lines).value_counts()
    kept = sizes.reindex(lines).to_numpy() >= min_mutants  # np.isin on text took 2.6 s
    values = pd.DataFrame(referenced[mutants][kept])
    means = values.groupby(lines[kept]).mean()
    counts = values.groupby(lines[kept]).count()
    sd = pd.DataFrame(spread[mutants][kept]).groupby(lines[kept]).first()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (means * np.sqrt(counts) / sd).where(counts >= 2).to_numpy(dtype="float64", copy=True)
    z[~np.isfinite(z)] = np.nan
    for tone in range(z.shape[1]):
        column = z[:, tone]
        scale = robust_sd(column)
        z[:, tone] = (column - np.nanmedian(column)) / scale if scale > 0 else np.nan
    p_tones = norm.sf(z)
    tones = np.isfinite(p_tones).sum(axis=1)
    smallest = np.where(np.isfinite(p_tones), p_tones, 1.0).min(axis=1, initial=1.0)
    p_values = np.where(tones > 0, np.minimum(1.0, smallest * tones), np.nan)
    q_values = np.full(len(p_values), np.nan)
    finite = np.isfinite(p_values)
    if finite.any():
        q_values[finite] = false_discovery_control(p_values[finite], method="bh")
    return pd.DataFrame(
        {
            LINE_ID: means.index.to_numpy(),
            "n_mutants": sizes.reindex(means.index).to_numpy(),
            "p_value": p_values,
            "q_value": q_values,
            "called": q_values <= fdr,
        }
    )
