"""Who is in the synthetic export: centres, knockout lines, genes, cohorts and mice.

A line (allele x zygosity x centre) is tested as one cohort; controls are tested in the
same cohorts, which are dated batches of a centre. Some genes are tested by more than one
line (another zygosity or centre), which the recessive rule of the planted patterns needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.impc.synthetic.centres import (
    CENTRES,
    SETUP_CENTRE,
    SETUPS,
    CentreProfile,
    centre_table,
)

MUTANT_ZYGOSITIES = np.array(["homozygote", "heterozygote", "hemizygote"], dtype=object)
MUTANT_ZYGOSITY_SHARES = (0.7, 0.27, 0.03)
GENE_REUSE_SHARE = 0.2  # lines testing a gene that another line (zygosity, centre) also tests
MAX_LINE_SIZE = 16


@dataclass(frozen=True)
class Population:
    """Lines, cohorts and mice; mice are ordered mutants (line by line) first, then controls."""

    line_centre: np.ndarray
    line_males: np.ndarray
    line_gene: np.ndarray  # gene index; lines sharing one test the same gene
    line_zygosity: np.ndarray
    cohort_centre: np.ndarray
    cohort_day: np.ndarray  # datetime64[D]
    cohort_continuous: np.ndarray  # recorded to 0.1 dB (where the centre did so)
    line: np.ndarray  # per mutant: index of its line
    position: np.ndarray  # per mutant: its place in its line (males first)
    centre: np.ndarray  # per mouse from here on
    setup: np.ndarray
    cohort: np.ndarray

    @property
    def n_mutants(self) -> int:
        return len(self.line)


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    exact = total * weights / weights.sum()
    parts = np.floor(exact).astype(np.int64)
    parts[np.argsort(parts - exact, kind="stable")[: total - parts.sum()]] += 1
    return parts


def _draw_lines(
    rng: np.random.Generator, centre: int, profile: CentreProfile, mutants: int
) -> pd.DataFrame:
    """Knockout lines of one centre filling at most ``mutants`` mice (3 to 16 mice each)."""
    n_draw = mutants // 3 + 1
    males = rng.choice(profile.mice_per_sex, size=n_draw, p=profile.mice_per_sex_shares)
    females = rng.choice(profile.mice_per_sex, size=n_draw, p=profile.mice_per_sex_shares)
    females = np.maximum(females, 3 - males)
    sizes = np.minimum(males + females, MAX_LINE_SIZE)
    n_lines = int(np.searchsorted(np.cumsum(sizes), mutants, side="right"))
    return pd.DataFrame({"centre": centre, "size": sizes[:n_lines], "males": males[:n_lines]})


def _setups(rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Index into :data:`SETUPS` within each mouse's centre, drawn by share."""
    setup = np.zeros(len(centres), dtype=np.int64)
    for c in range(len(CENTRES)):
        rows = np.flatnonzero(centres == c)
        options = np.flatnonzero(SETUP_CENTRE == c)
        shares = np.array([SETUPS[i].share for i in options])
        setup[rows] = rng.choice(options, size=len(rows), p=shares / shares.sum())
    return setup


def _cohorts(
    rng: np.random.Generator, line_centre: np.ndarray, lines_per_cohort: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(first cohort of each centre, cohorts per centre, cohort centre, cohort day).

    A centre has one cohort per ``lines_per_cohort`` lines (at least one), spread evenly
    over the dates it tested, so cohort order is date order.
    """
    n_centres = len(CENTRES)
    lines = np.bincount(line_centre, minlength=n_centres)
    per_centre = np.maximum(-(-lines // lines_per_cohort), 1)
    first = np.cumsum(per_centre) - per_centre
    cohort_centre = np.repeat(np.arange(n_centres), per_centre)
    rank = np.arange(len(cohort_centre)) - first[cohort_centre]
    start = np.array([np.datetime64(p.first_day) for p in CENTRES])
    span = np.array([(np.datetime64(p.last_day) - np.datetime64(p.first_day)).astype(int)
                     for p in CENTRES])  # fmt: skip
    step = span[cohort_centre] / per_centre[cohort_centre]
    day = start[cohort_centre] + np.floor((rank + rng.random(len(rank))) * step).astype(int)
    return first, per_centre, cohort_centre, day


def draw_population(
    rng: np.random.Generator, n_mice: int, control_share: float, lines_per_cohort: int
) -> Population:
    """Centres in their export proportions, whole lines, then controls to make ``n_mice``.

    Mice left over after whole lines are filled become controls, so the total is exact and
    controls are ``control_share`` or slightly more.
    """
    per_centre = allocate(n_mice, centre_table("export_mice"))
    lines = pd.concat(
        [
            _draw_lines(rng, c, profile, n - round(control_share * n))
            for c, (profile, n) in enumerate(zip(CENTRES, per_centre, strict=True))
        ],
        ignore_index=True,
    )
    n_lines = len(lines)
    line_centre = lines["centre"].to_numpy()
    sizes = lines["size"].to_numpy()
    gene = np.arange(n_lines)
    reuse = rng.random(n_lines) < GENE_REUSE_SHARE
    gene[reuse] = rng.integers(0, max(n_lines, 1), size=int(reuse.sum()))
    zygosity = rng.choice(MUTANT_ZYGOSITIES, size=n_lines, p=MUTANT_ZYGOSITY_SHARES)

    first, per_centre_cohorts, cohort_centre, cohort_day = _cohorts(
        rng, line_centre, lines_per_cohort
    )
    continuous = centre_table("continuous_share")[cohort_centre]
    cohort_rank = np.arange(len(cohort_centre)) - first[cohort_centre]
    cohort_continuous = cohort_rank < continuous * per_centre_cohorts[cohort_centre]

    line = np.repeat(np.arange(n_lines), sizes)
    position = np.arange(len(line)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    mutants_per_centre = np.bincount(line_centre, sizes, len(CENTRES)).astype(np.int64)
    control_centre = np.repeat(np.arange(len(CENTRES)), per_centre - mutants_per_centre)
    line_setup, control_setup = _setups(rng, line_centre), _setups(rng, control_centre)
    line_cohort = first[line_centre] + rng.integers(0, per_centre_cohorts[line_centre])
    control_cohort = first[control_centre] + rng.integers(0, per_centre_cohorts[control_centre])
    return Population(
        line_centre=line_centre,
        line_males=lines["males"].to_numpy(),
        line_gene=gene,
        line_zygosity=zygosity,
        cohort_centre=cohort_centre,
        cohort_day=cohort_day,
        cohort_continuous=cohort_continuous,
        line=line,
        position=position,
        centre=np.concatenate([line_centre[line], control_centre]),
        setup=np.concatenate([line_setup[line], control_setup]),
        cohort=np.concatenate([line_cohort[line], control_cohort]),
    )
