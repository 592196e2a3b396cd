"""How large a line's statistic gets by chance: a Monte Carlo null from its centre's controls.

A Gaussian null for a line's statistic, even with its centre and scale estimated from all
lines (Efron's empirical null), fits the middle of the distribution and not its upper tail,
and the tail is where calls are made. A few per cent of mice have sporadic, non-inherited
loss (noise exposure, otitis media, a poor recording), and one or two such mice in a 4-mouse
line, on top of a day's residual offset, make a null line look like a mild phenotype far
more often than a normal tail allows: on IMPC-like synthetic data (60,000 mice) a Gaussian
empirical null gave 8.5 times the nominal share of null lines below p = 0.001, and calls at
q <= 0.05 of which about 20% were false.

So the null is drawn instead: a pseudo-line of n mice is n controls of the line's centre
drawn at random (each as a vector of standardised contrast deviations from its matched
group's typical control, so sporadic loss, skew, the 5 dB grid and missing tones come
along), summarised exactly as the line is (Huber location and variance per contrast), plus
one shared Gaussian day error with the line's own variance (see ``evidence``), and
standardised as the line is; the line's p-value is the share of pseudo-lines whose largest
contrast reaches its own, (1 + count) / (1 + draws), with the draws spent on the lines that
could be called, and beyond the draws' reach a fitted tail. Each control already carries
its own day's estimation error, which makes the draws slightly wider than a null line
(conservative). Mutants may have sporadic loss more often than controls (the synthetic data
give them 1.5 times the controls' rate); see docs/gene_calls.md for the measured calibration.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import genpareto

from audiometric_clustering.genes.evidence import huber_location

#: Lines whose pseudo-line statistics are compared at once (memory: chunk x draws x K).
_CHUNK = 32
#: Every line is first compared with this many pseudo-lines; one that this many of them
#: reach (p > 0.05) keeps that p-value (relative error ~14%, far from any BH cut) and only
#: the others are compared with all draws (sequential Monte Carlo: Besag and Clifford 1991).
FIRST_DRAWS = 1000
SETTLED = 50
#: A line fewer pseudo-lines than this reach gets its p-value from a generalized Pareto
#: tail fitted to the largest pseudo-line statistics (Knijnenburg et al. 2009, Bioinformatics
#: 25:i161), at most TAIL_SHARE of the draws and at most TAIL_SIZE of them: (1 + count) /
#: (1 + draws) has a floor that BH over thousands of lines cannot pass for a lone gene.
TAIL_COUNT = 10
TAIL_SIZE = 250
TAIL_SHARE = 0.025


def max_statistic(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest finite value of each row of (L, K) ``z`` and its column (-inf and -1 where
    the row has none)."""
    finite = np.isfinite(z)
    filled = np.where(finite, z, -np.inf)
    column = filled.argmax(axis=1)
    largest = filled[np.arange(len(z)), column]
    return largest, np.where(finite.any(axis=1), column, -1)


def pareto_fit(excess: np.ndarray) -> tuple[float, float]:
    """Shape and scale of a generalized Pareto distribution (location 0) fitted to the
    positive ``excess`` by Zhang and Stephens (2009, Technometrics 51:316).

    With b = -shape / scale, the profile log-likelihood n (log(-b / k) - k - 1), where
    k = mean(log(1 - b x)) is the shape given b, is evaluated on their fixed grid of
    m = 20 + sqrt(n) values of b, and b is its likelihood-weighted mean. No optimiser: on
    250 values it took 0.1 ms where scipy's maximum likelihood (``genpareto.fit``, a
    Nelder-Mead search) took 6 ms, and those fits were half the time of the gene calls.
    """
    x = np.sort(np.asarray(excess, dtype=float))
    n = len(x)
    m = 20 + int(np.sqrt(n))
    quartile = x[int(n / 4 + 0.5) - 1]
    grid = 1.0 / x[-1] + (1.0 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))) / (3.0 * quartile)
    shapes = np.log1p(-grid[:, None] * x).mean(axis=1)
    profile = n * (np.log(-grid / shapes) - shapes - 1.0)
    weights = np.exp(profile - profile.max())
    b = float((weights * grid).sum() / weights.sum())
    shape = float(np.log1p(-b * x).mean())
    return shape, (-shape / b if b != 0.0 else float(x.mean()))


def tail_p_value(largest: np.ndarray, statistic: float) -> float:
    """P(pseudo-line statistic >= ``statistic``) from the top of ``largest`` (the pseudo-
    lines' statistics, descending): exceedances over the (n+1)-th largest follow a
    generalized Pareto distribution (:func:`pareto_fit`); a fitted shape below 0 (a bounded
    tail, which would put p = 0 just past the largest draw) is replaced by 0, the
    exponential tail."""
    finite = largest[np.isfinite(largest)]
    size = min(TAIL_SIZE, int(TAIL_SHARE * len(largest)))
    if size < 10 or len(finite) <= size:
        return 1.0 / (1.0 + len(largest))
    threshold = finite[size]
    excess = finite[:size] - threshold
    if not (excess > 0).all():  # ties at the threshold: no continuous tail to fit
        return 1.0 / (1.0 + len(largest))
    shape, scale = pareto_fit(excess)
    if shape < 0.0:
        shape, scale = 0.0, float(excess.mean())
    tail = genpareto.sf(statistic - threshold, shape, scale=scale)
    return float(max(size / len(largest) * tail, np.finfo(float).tiny))


@dataclass(frozen=True)
class LineTerms:
    """What standardises each line's contrasts (L lines, K contrasts; see ``standardise``)."""

    statistic: np.ndarray  # (L,) the line's largest standardised contrast
    counts: np.ndarray  # (L, K) mice measured; a contrast with fewer than 2 is left out
    day_var: np.ndarray  # (L,) variance in dB^2 of the error of the line's day shift
    day_response: np.ndarray  # (L, K) the contrasts of 1 dB at every tone
    prior_df: float | None  # weight of the controls' variance against the line's own


def standardise(
    locations: np.ndarray, variances: np.ndarray, terms: LineTerms, lines: np.ndarray
) -> np.ndarray:
    """Locations (..., K) over sqrt(s^2 / n + v_day r^2) of ``lines`` (broadcast on the
    leading axes). s^2 is 1, the controls' variance in these units, or with ``prior_df`` the
    moderated (prior_df x 1 + (n - 1) x the line's own variance) / (prior_df + n - 1), which
    a loss most mice share keeps small and one or two outlying mice make large."""
    counts = terms.counts[lines]
    spread = np.ones_like(variances)
    if terms.prior_df is not None:
        spread = (terms.prior_df + (counts - 1) * variances) / (terms.prior_df + counts - 1)
    day = terms.day_var[lines, None] * terms.day_response[lines] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts >= 2, locations / np.sqrt(spread / counts + day), np.nan)


def monte_carlo_p_values(
    standardisations: Sequence[LineTerms],
    sizes: np.ndarray,
    line_centres: np.ndarray,
    pool: np.ndarray,
    pool_centres: np.ndarray,
    huber_k: float,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """(S, L) one-sided p-values of each line's statistic under each of the S
    ``standardisations``, against its centre's pseudo-lines.

    ``sizes`` (L,): each line's mice; ``pool`` (M, K): control deviations (centred on
    their matched group's typical control), with ``pool_centres`` (M,). The pseudo-lines of
    a centre and line size are drawn and summarised once, for every line of that size and
    every standardisation (their Huber locations are most of the cost). A line whose centre
    has no pool gets p = 1.
    """
    p_values = np.ones((len(standardisations), len(sizes)))
    for centre in np.unique(line_centres):
        candidates = pool[pool_centres == centre]
        candidates = candidates[np.isfinite(candidates).any(axis=1)]
        if len(candidates) == 0:
            continue
        for size in np.unique(sizes[line_centres == centre]):
            lines = np.flatnonzero((line_centres == centre) & (sizes == size))
            picked = candidates[rng.integers(0, len(candidates), size=(draws, int(size)))]
            null = _PseudoLines.of(picked, huber_k, rng.standard_normal(draws))
            for terms, out in zip(standardisations, p_values, strict=True):
                out[lines] = _sequential_p_values(lines, null, terms, draws)
    return p_values


def _sequential_p_values(
    lines: np.ndarray, null: _PseudoLines, terms: LineTerms, draws: int
) -> np.ndarray:
    """P-values of ``lines`` against ``null``: the first draws for all, every draw for those
    the first leave close, a fitted tail for those beyond the draws' reach."""
    first = min(FIRST_DRAWS, draws)
    reached = _reached(lines, null.head(first), terms)
    p_values = (1.0 + reached) / (1.0 + first)
    close = np.flatnonzero(reached < SETTLED)
    if len(close) and first < draws:
        reached = _reached(lines[close], null, terms)
        p_values[close] = (1.0 + reached) / (1.0 + draws)
        for index in close[reached < TAIL_COUNT]:
            largest = null.statistics(lines[index : index + 1], terms)[0]
            p_values[index] = tail_p_value(-np.sort(-largest), terms.statistic[lines[index]])
    return p_values


@dataclass(frozen=True)
class _PseudoLines:
    """Pseudo-lines of one size: their Huber locations and variances per contrast (D, K),
    and one standard normal draw each for the shared day error (D,)."""

    locations: np.ndarray
    variances: np.ndarray
    shared: np.ndarray

    @classmethod
    def of(cls, picked: np.ndarray, huber_k: float, shared: np.ndarray) -> _PseudoLines:
        """From the (D, n, K) contrasts of the controls drawn for each pseudo-line."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # fewer than 2 measured
            variances = np.nanvar(picked, axis=1, ddof=1)
        return cls(huber_location(picked, huber_k), variances, shared)

    def head(self, count: int) -> _PseudoLines:
        return _PseudoLines(self.locations[:count], self.variances[:count], self.shared[:count])

    def statistics(self, lines: np.ndarray, terms: LineTerms) -> np.ndarray:
        """(lines, draws): each pseudo-line's statistic as ``lines`` would standardise it
        (-inf where it has none of the line's contrasts)."""
        day = np.sqrt(terms.day_var[lines, None]) * terms.day_response[lines]
        locations = self.locations[None] + self.shared[None, :, None] * day[:, None, :]
        z = standardise(locations, self.variances[None], terms, lines[:, None])
        return np.where(np.isfinite(z), z, -np.inf).max(axis=2)


def _reached(lines: np.ndarray, null: _PseudoLines, terms: LineTerms) -> np.ndarray:
    """How many pseudo-lines reach each line's statistic."""
    reached = np.zeros(len(lines), dtype=np.int64)
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start : start + _CHUNK]
        largest = null.statistics(chunk, terms)
        reached[start : start + len(chunk)] = (largest >= terms.statistic[chunk, None]).sum(axis=1)
    return reached
