"""Planted, inherited hearing-loss patterns: the signal the clustering should find.

As in real screens the effect belongs to the gene and varies between its lines: each line
draws its own size within the pattern's range, expresses it in a share of its mice
(penetrance) with a per-mouse spread, and a recessive gene's heterozygote line shows
nothing when the gene also has a homozygote line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from audiometric_clustering.impc.synthetic.settings import PlantedSettings

NO_PATTERN = "none"
#: Shift per frequency (6, 12, 18, 24, 30 kHz, click) as a share of the line's peak shift.
PATTERN_SHAPES: dict[str, tuple[float, ...]] = {
    "flat_mild": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "flat_severe": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "profound": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "high_frequency": (0.0, 0.1, 0.4, 0.8, 1.0, 0.4),
    "low_frequency": (1.0, 0.75, 0.4, 0.1, 0.0, 0.5),
    "mid_frequency": (0.15, 0.6, 1.0, 0.6, 0.15, 0.4),
}
#: Per-mouse multipliers of the line's size stay within these bounds.
MOUSE_FACTOR_BOUNDS = (0.4, 1.6)


@dataclass(frozen=True)
class LinePhenotypes:
    """Per knockout line: its gene's pattern, the pattern it expresses, size and penetrance."""

    gene_pattern: np.ndarray  # the gene's pattern (object array of names)
    pattern: np.ndarray  # what the line expresses: "none" for a silent recessive heterozygote
    size_db: np.ndarray  # peak shift of the line (0 where it expresses none)
    penetrance: np.ndarray  # 0 where it expresses none


def plant_lines(
    rng: np.random.Generator, gene: np.ndarray, zygosity: np.ndarray, settings: PlantedSettings
) -> LinePhenotypes:
    """Patterns for whole genes until about ``line_share`` of the lines express one.

    Genes are taken in random order and each counts with the lines that would express its
    pattern, so heterozygote lines silenced by the recessive rule do not count.
    """
    n_lines = len(gene)
    genes, line_gene = np.unique(gene, return_inverse=True)
    has_homozygote = np.bincount(line_gene, zygosity == "homozygote", len(genes)) > 0
    silent = (zygosity == "heterozygote") & has_homozygote[line_gene] & settings.recessive
    expressing = np.bincount(line_gene, ~silent, len(genes))
    order = rng.permutation(len(genes))
    target = round(settings.line_share * n_lines)
    planted = np.zeros(len(genes), dtype=bool)
    planted[order[np.cumsum(expressing[order]) <= target]] = True

    names = list(settings.patterns)
    weights = np.array([settings.patterns[n].weight for n in names])
    gene_pattern = np.full(len(genes), NO_PATTERN, dtype=object)
    gene_pattern[planted] = rng.choice(names, size=int(planted.sum()), p=weights / weights.sum())
    line_gene_pattern = gene_pattern[line_gene]
    pattern = np.where(silent, NO_PATTERN, line_gene_pattern)

    carries = pattern != NO_PATTERN
    ranges = np.array([(0.0, 0.0), *(settings.patterns[n].size_db for n in names)])
    ranges = ranges[pd.Index([NO_PATTERN, *names]).get_indexer(pattern)]
    draw = rng.random(n_lines) if settings.sizes_vary_by_line else np.full(n_lines, 0.5)
    size = np.where(carries, ranges[:, 0] + draw * (ranges[:, 1] - ranges[:, 0]), 0.0)
    penetrance = np.where(carries, rng.uniform(*settings.penetrance, size=n_lines), 0.0)
    return LinePhenotypes(line_gene_pattern, pattern, size, penetrance)


def mouse_shifts(
    rng: np.random.Generator,
    phenotypes: LinePhenotypes,
    line: np.ndarray,
    first_of_line: np.ndarray,
    mouse_spread: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(affected, peak shift in dB, shift per frequency) of each mutant of ``line``.

    A mouse expresses its line's pattern with the line's penetrance; the first mouse of an
    expressing line always does, so no planted line is wholly silent.
    """
    pattern = phenotypes.pattern[line]
    affected = (pattern != NO_PATTERN) & (
        (rng.random(len(line)) < phenotypes.penetrance[line]) | first_of_line
    )
    factor = np.clip(1.0 + mouse_spread * rng.standard_normal(len(line)), *MOUSE_FACTOR_BOUNDS)
    peak = np.where(affected, phenotypes.size_db[line] * factor, 0.0)
    shapes = np.array([(0.0,) * 6, *PATTERN_SHAPES.values()])
    shape = shapes[pd.Index([NO_PATTERN, *PATTERN_SHAPES]).get_indexer(pattern)]
    return affected, peak, shape * peak[:, None]
