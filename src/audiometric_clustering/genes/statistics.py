"""From mouse evidence to one statistic, p-value and effect per knockout line.

Per contrast, a line's location is the Huber location of its mice (``evidence``) less
the empirical null centre: the median location over the lines of its matched group (most
lines are null; this absorbs what all mutants of a group share, such as a higher rate of
sporadic loss than the controls'). It is standardised twice (``null.standardise``):
with the controls' spread, and with the line's own spread moderated towards it. For each,
the line's largest standardised contrast gets a p-value from pseudo-lines of its centre's
controls (``null``), and the line's p-value is twice the smaller one."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from audiometric_clustering.genes.evidence import MouseEvidence, huber_location
from audiometric_clustering.genes.null import (
    LineTerms,
    max_statistic,
    monte_carlo_p_values,
    standardise,
)
from audiometric_clustering.impc.schema import FREQUENCIES

_Z95 = 1.959963984540054


def line_arrays(values: np.ndarray, codes: np.ndarray, n_lines: int) -> np.ndarray:
    """(L, largest line, K) array of each line's rows of ``values`` (NaN padded)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    sizes = np.bincount(sorted_codes, minlength=n_lines)
    position = np.arange(len(order)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    out = np.full((n_lines, max(int(sizes.max(initial=0)), 1), values.shape[1]), np.nan)
    out[sorted_codes, position] = values[order]
    return out


def null_centres(
    locations: np.ndarray, groups: np.ndarray, centres: np.ndarray, min_lines: int
) -> np.ndarray:
    """Each line's empirical null centre per contrast: the median over its matched group's
    lines when they are ``min_lines`` or more, else over its centre's, else over all."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a contrast no line of a group has
        out = np.tile(np.nanmedian(locations, axis=0), (len(locations), 1))
        for keys in (centres, groups):  # the more specific level overwrites
            for key in np.unique(keys):
                rows = keys == key
                if rows.sum() >= min_lines:
                    out[rows] = np.nanmedian(locations[rows], axis=0)
    return out


def test_lines(
    evidence: MouseEvidence,
    rows: np.ndarray,
    codes: np.ndarray,
    n_lines: int,
    pool_rows: np.ndarray,
    centres: np.ndarray,
    *,
    huber_k: float,
    prior_df: float | None,
    min_group_lines: int,
    draws: int,
    seed: int,
) -> pd.DataFrame:
    """Per line (0 .. n_lines - 1): statistic, strongest contrast (its index, -1 for none),
    p-value (NaN when no contrast has 2 measured mice) and day error variance.

    ``rows``: the mice tested, ``codes``: their line; ``pool_rows``: the controls pseudo-
    lines are drawn from; ``centres``: every mouse's centre.
    """
    by_line = line_arrays(evidence.contrasts[rows], codes, n_lines)
    locations = huber_location(by_line, huber_k)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fewer than 2 measured
        variances = np.nanvar(by_line, axis=1, ddof=1)
    first = pd.Series(rows).groupby(codes).first().to_numpy()
    centre = null_centres(locations, evidence.groups[first], centres[first], min_group_lines)
    plain = LineTerms(
        statistic=np.full(n_lines, np.nan),
        counts=np.isfinite(by_line).sum(axis=1),
        day_var=pd.Series(evidence.day_error_var[rows]).groupby(codes).mean().to_numpy(),
        day_response=pd.DataFrame(evidence.day_response[rows]).groupby(codes).mean().to_numpy(),
        prior_df=None,
    )
    pool = pd.DataFrame(evidence.contrasts[pool_rows])
    pool = (pool - pool.groupby(evidence.groups[pool_rows]).transform("median")).to_numpy()
    standardisations, maxima = [], []
    for prior in (None,) if prior_df is None else (None, prior_df):
        terms = replace(plain, prior_df=prior)
        statistic, strongest = max_statistic(
            standardise(locations - centre, variances, terms, np.arange(n_lines))
        )
        standardisations.append(replace(terms, statistic=statistic))
        maxima.append(strongest)
    p_values = monte_carlo_p_values(
        standardisations,
        np.bincount(codes, minlength=n_lines),
        centres[first],
        pool,
        centres[pool_rows],
        huber_k,
        draws,
        np.random.default_rng(seed),
    )
    best = p_values.argmin(axis=0)
    pick = np.arange(n_lines)
    statistic = np.stack([terms.statistic for terms in standardisations])[best, pick]
    return pd.DataFrame(
        {
            "statistic": statistic,
            "strongest": np.stack(maxima)[best, pick],
            "p_value": np.where(
                np.isfinite(statistic),
                np.minimum(1.0, len(standardisations) * p_values.min(axis=0)),
                np.nan,
            ),
            "day_var": plain.day_var,
        }
    )


def tone_effects(
    evidence: MouseEvidence, rows: np.ndarray, codes: np.ndarray, day_var: np.ndarray
) -> pd.DataFrame:
    """Per line: mean dB above matched controls at each tone (day-corrected) with a normal
    95% interval, sqrt(mean control SD^2 / n + day error variance) x 1.96, and that
    root-mean-square SD of the matched controls (their spread about 0, for a figure)."""
    deviations = pd.DataFrame(evidence.deviations[rows], columns=list(FREQUENCIES))
    spread = pd.DataFrame(
        np.where(np.isfinite(evidence.deviations[rows]), evidence.control_sd[rows] ** 2, np.nan),
        columns=list(FREQUENCIES),
    )
    means = deviations.groupby(codes).mean()
    counts = deviations.groupby(codes).count()
    with np.errstate(divide="ignore", invalid="ignore"):
        half = _Z95 * np.sqrt(spread.groupby(codes).mean() / counts + day_var[:, None])
    columns = {}
    for frequency in FREQUENCIES:
        columns[f"effect_{frequency}_db"] = means[frequency]
        columns[f"effect_{frequency}_ci_low_db"] = means[frequency] - half[frequency]
        columns[f"effect_{frequency}_ci_high_db"] = means[frequency] + half[frequency]
    for frequency in FREQUENCIES:
        columns[f"control_sd_{frequency}_db"] = np.sqrt(spread.groupby(codes).mean()[frequency])
    return pd.DataFrame(columns)


def matched_control_counts(
    evidence: MouseEvidence, rows: np.ndarray, codes: np.ndarray
) -> np.ndarray:
    """Per line, the controls of the matched groups its tested mice belong to."""
    table = pd.DataFrame(
        {"line": codes, "group": evidence.groups[rows], "n": evidence.matched_controls[rows]}
    )
    return table.drop_duplicates(["line", "group"]).groupby("line")["n"].sum().to_numpy()
