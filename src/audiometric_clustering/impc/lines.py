"""Who is a control and which knockout line a mouse belongs to.

One definition used by the synthetic generator, validation and preprocessing, so the
ground-truth file and the model-input table can never disagree on a line id.
"""

from __future__ import annotations

import pandas as pd

from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    CONTROL_GROUP,
    GENE,
    SAMPLE_GROUP,
    ZYGOSITY,
)

#: The parts of a knockout line id, in order.
LINE_ID_PARTS: tuple[str, ...] = (GENE, ALLELE, ZYGOSITY, CENTRE)


def is_control(frame: pd.DataFrame) -> pd.Series:
    """Controls by ``biological_sample_group``: zygosity is unreliable (some are "homozygote")."""
    return frame[SAMPLE_GROUP].astype("str").str.strip().str.lower().eq(CONTROL_GROUP)


def build_line_id(frame: pd.DataFrame) -> pd.Series:
    """``gene|allele|zygosity|centre`` for mutants and ``""`` for controls.

    A line is one allele at one zygosity phenotyped at one centre: the unit whose mice share
    a genotype and a measurement setting. Mutants with an incomplete identity get a missing id.
    """
    first, *rest = (frame[column].astype("str") for column in LINE_ID_PARTS)
    line_id = first.str.cat(rest, sep="|")
    return line_id.where(~is_control(frame), "").rename("line_id")


def line_sizes(line_id: pd.Series) -> pd.Series:
    """Number of mice per knockout line (controls and missing ids excluded)."""
    mutants = line_id[line_id.notna() & line_id.ne("")]
    return mutants.value_counts(sort=False)


def in_kept_line(line_id: pd.Series, min_line_size: int) -> pd.Series:
    """True for mutants whose line has at least ``min_line_size`` mice.

    Lines of one or two mice carry almost no line-level signal for the contrastive loss and
    for line enrichment, so they are left out of modelling.
    """
    sizes = line_sizes(line_id)
    kept = sizes.index[sizes >= min_line_size]
    return line_id.isin(kept)
