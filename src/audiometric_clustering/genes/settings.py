"""``params:evaluation.gene_calls``, typed: how each line is tested and how the calls are shown.

The defaults live in conf/base/parameters_evaluation.yml only; docs/gene_calls.md has the
measurements behind them.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from annotated_types import Ge, Gt, Len, Lt

from audiometric_clustering.genes.evidence import CONTRAST_SHAPES
from audiometric_clustering.yaml_settings import Expect, YamlSettings

Contrasts = Annotated[
    list[Literal[tuple(CONTRAST_SHAPES)]],
    Len(1),
    Expect(f"a list of names among {list(CONTRAST_SHAPES)}"),
]


class GeneCallSettings(YamlSettings):
    """The per-line test (``fdr`` to ``seed``) and what the report shows of it.

    ``fdr``: a line is called at q <= fdr (Benjamini-Hochberg over the tested lines);
    ``min_mutants`` and ``min_matched_controls``: below either a line is untestable;
    ``contrasts``: the audiogram contrasts tested; ``huber_k``: the Huber location's
    cut-off in control SDs; ``prior_df``: weight of the controls' variance against the
    line's own (null: the controls' spread alone); ``day_correction``: remove each mouse's
    day shift; ``null_draws``: pseudo-lines per centre and line size; ``min_group_lines``:
    lines a matched group needs for its own empirical null centre; ``seed``: the null's
    draws (its own, so the calls do not change with the training seed); ``report_lines``
    and ``figure_lines``: calls listed in the report and drawn in its figure.
    """

    ENTRY: ClassVar[str] = "evaluation.gene_calls"

    fdr: Annotated[float, Gt(0), Lt(1)]
    min_mutants: Annotated[int, Ge(2)]
    min_matched_controls: Annotated[int, Ge(3)]
    contrasts: Contrasts
    huber_k: Annotated[float, Gt(0)]
    prior_df: Annotated[float, Gt(0)] | None
    day_correction: bool
    null_draws: Annotated[int, Ge(100)]
    min_group_lines: Annotated[int, Ge(1)]
    seed: Annotated[int, Ge(0)]
    report_lines: Annotated[int, Ge(1)]
    figure_lines: Annotated[int, Ge(1)]
