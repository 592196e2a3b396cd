"""Nuisance of real IMPC ABR exports: what a model must not mistake for a phenotype.

Centre-specific control baselines (correlated across frequencies, right-skewed), offsets
shared by mice tested together (cohorts), sporadic non-inherited loss, and how values are
recorded: a "no response" ceiling per centre, 5 dB grids (one calibrated off the grid, some
mice to 0.1 dB) and missing values by centre. Each function draws the same random numbers
whether its effect is on or off, so switching one effect changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from audiometric_clustering.impc.synthetic.centres import (
    CONTROL_CORRELATION,
    SETUPS,
    centre_table,
)

if TYPE_CHECKING:
    from audiometric_clustering.impc.synthetic.settings import SyntheticSettings

STEP_DB = 5.0
#: "No response" when centre ceilings are off, and the highest level at most centres.
NO_RESPONSE_DB = 100.0
LOWEST_DB = -10.0  # the quietest stimulus tested
NO_LOSS, FLAT_LOSS, TONAL_LOSS = "none", "flat", "tonal"
#: Tonal sporadic loss: one or two adjacent tones (6, 12, 18, 24, 30 kHz), mostly high ones.
TONAL_TONES: tuple[tuple[int, ...], ...] = (
    (0,), (1,), (2,), (3,), (4,), (0, 1), (1, 2), (2, 3), (3, 4),
)  # fmt: skip
TONAL_WEIGHTS = np.array([0.03, 0.05, 0.07, 0.12, 0.23, 0.03, 0.05, 0.12, 0.30])


def _shape_for_skewness(skewness: float) -> float:
    """Shape g of the transform (exp(g z) - 1) / g that gives a standard normal ``skewness``."""
    shape = np.linspace(0.0, 1.0, 2001)
    spread = np.exp(shape**2)
    return float(np.interp(skewness, (spread + 2) * np.sqrt(spread - 1), shape))


def _skewed(z: np.ndarray, skewness: float) -> np.ndarray:
    """Standard normal values made right-skewed, still with mean 0 and SD 1 (log-normal)."""
    g = _shape_for_skewness(skewness)
    if g == 0.0:
        return z
    mean = (np.exp(g**2 / 2) - 1) / g
    sd = np.sqrt(np.exp(g**2) * (np.exp(g**2) - 1)) / g
    return ((np.exp(g * z) - 1) / g - mean) / sd


def control_baseline(
    rng: np.random.Generator, centre: np.ndarray, setup: np.ndarray, settings: SyntheticSettings
) -> np.ndarray:
    """Each mouse's hearing without any loss: its centre's control distribution.

    Off (``centre_baselines``), every centre has the export-weighted mean and spread and no
    setup offsets.
    """
    z = rng.standard_normal((len(centre), 6))
    if settings.baseline.correlated:
        z = z @ np.linalg.cholesky(CONTROL_CORRELATION).T
    z = _skewed(z, settings.baseline.skewness)
    mean, sd = centre_table("mean_db"), centre_table("sd_db")
    offset = np.array([s.offset_db for s in SETUPS])[setup]
    if not settings.baseline.by_centre:
        weights = centre_table("export_mice")
        mean = np.broadcast_to(weights @ mean / weights.sum(), mean.shape)
        sd = np.broadcast_to(weights @ sd / weights.sum(), sd.shape)
        offset = np.zeros_like(offset)
    return mean[centre] + offset[:, None] + sd[centre] * z


def cohort_offsets(rng: np.random.Generator, n_cohorts: int, sd_db: float) -> np.ndarray:
    """One offset per cohort in dB, shared by every mouse and frequency of the cohort."""
    return sd_db * rng.standard_normal(n_cohorts)


@dataclass(frozen=True)
class SporadicLoss:
    """Non-inherited loss per mouse (noise exposure, otitis media, a poor recording)."""

    kind: np.ndarray  # "none", "flat" or "tonal"
    shift_db: np.ndarray  # size of the loss (0 for none)
    shift: np.ndarray  # dB per frequency (n, 6)


def sporadic_loss(
    rng: np.random.Generator, is_control: np.ndarray, settings: SyntheticSettings
) -> SporadicLoss:
    """Flat (every frequency and click) or tonal loss in a small share of mice.

    Mutants get it a little more often than controls (in reality a line's mice are often
    sick or stressed for reasons unrelated to hearing), but it is never inherited.
    """
    n = len(is_control)
    share = np.where(
        is_control, settings.sporadic_loss.control_share, settings.sporadic_loss.mutant_share
    )
    hit = rng.random(n) < share
    flat = rng.random(n) < settings.sporadic_loss.flat_share
    size = np.where(hit, rng.uniform(*settings.sporadic_loss.shift_db, size=n), 0.0)
    tonal_masks = np.zeros((len(TONAL_TONES), 6))
    for row, tones in enumerate(TONAL_TONES):
        tonal_masks[row, list(tones)] = 1.0
    combo = rng.choice(len(TONAL_TONES), size=n, p=TONAL_WEIGHTS / TONAL_WEIGHTS.sum())
    mask = np.where(flat[:, None], 1.0, tonal_masks[combo])
    kind = np.where(hit, np.where(flat, FLAT_LOSS, TONAL_LOSS), NO_LOSS).astype(object)
    return SporadicLoss(kind, size, size[:, None] * mask)


def ceilings(centre: np.ndarray, settings: SyntheticSettings) -> np.ndarray:
    """Each mouse's "no response" level: its centre's highest stimulus, or 100 dB when off."""
    if not settings.recording.centre_ceilings:
        return np.full(len(centre), NO_RESPONSE_DB)
    return centre_table("ceiling_db")[centre]


def record(
    hearing_db: np.ndarray,
    centre: np.ndarray,
    continuous: np.ndarray,
    settings: SyntheticSettings,
) -> np.ndarray:
    """Thresholds as a centre writes them down: on its 5 dB grid (or to 0.1 dB for mice of
    ``continuous`` cohorts), between the quietest stimulus and the centre's ceiling."""
    offset = centre_table("grid_offset_db")[centre] * settings.recording.grid_offsets
    hearing_db = np.maximum(hearing_db, LOWEST_DB)
    gridded = np.round((hearing_db - offset) / STEP_DB) * STEP_DB + offset
    use_continuous = (continuous & settings.recording.continuous_values)[:, None]
    values = np.where(use_continuous, hearing_db, gridded)
    return np.round(np.minimum(values, ceilings(centre, settings)[:, None]), 1) + 0.0  # no -0


def missing_mask(
    rng: np.random.Generator, centre: np.ndarray, settings: SyntheticSettings
) -> np.ndarray:
    """Which thresholds were not recorded, at each centre's rates (none when off)."""
    unrecorded = rng.random((len(centre), 6)) < centre_table("missing")[centre]
    return unrecorded & settings.recording.missing_values
