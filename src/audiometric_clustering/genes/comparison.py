"""Every method's line calls side by side: the gene calls, ``line_test`` and the clusterings'
enrichment, counted and, with a truth file, scored on the same lines.

A table of its own rather than rows of the method comparison: that table scores
clusterings (ARI, NMI against centre, silhouette), which a per-line test does not have,
while these scores (recall, null-line FPR, false share of the calls) are defined for any
set of called lines. The clusterings' rows count a line as called when it is enriched in a
hearing-loss cluster at the evaluation's FDR, as the method comparison's ``line_recall``
does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER, enriched_lines
from audiometric_clustering.genes.calls import CALLED, P_VALUE, UNTESTABLE
from audiometric_clustering.genes.scores import line_call_scores
from audiometric_clustering.impc.schema import LINE_ID

METHOD, KIND = "method", "kind"
GENE_CALLS, LINE_TEST = "gene_calls", "line_test"
PER_LINE, ENRICHMENT = "per-line test", "cluster enrichment"
TESTED, UNTESTABLE_LINES, CALLED_LINES = "tested_lines", "untestable_lines", "called_lines"


@dataclass(frozen=True)
class LineCalls:
    """One method's tested and called lines."""

    kind: str
    tested: frozenset[str]
    called: frozenset[str]


def gene_call_lines(calls: pd.DataFrame) -> LineCalls:
    """From ``calls.call_genes``: tested lines have no untestable reason."""
    tested = calls[UNTESTABLE].fillna("") == ""
    return LineCalls(
        PER_LINE,
        frozenset(calls.loc[tested, LINE_ID]),
        frozenset(calls.loc[calls[CALLED], LINE_ID]),
    )


def line_test_lines(table: pd.DataFrame) -> LineCalls:
    """From ``line_test.line_test``: tested lines have a p-value."""
    tested = table[P_VALUE].notna()
    return LineCalls(
        PER_LINE,
        frozenset(table.loc[tested, LINE_ID]),
        frozenset(table.loc[table[CALLED], LINE_ID]),
    )


def enrichment_lines(enrichment: pd.DataFrame, labels: pd.DataFrame, fdr: float) -> LineCalls:
    """From one clustering's enrichment and labelled clusters: a line is called when it is
    enriched in a hearing-loss cluster at q < ``fdr``."""
    hearing_loss = set(labels.loc[labels["hearing_loss"].astype(bool), CLUSTER].astype(int))
    called = enriched_lines(enrichment, hearing_loss, fdr)[LINE_ID]
    return LineCalls(ENRICHMENT, frozenset(enrichment[LINE_ID]), frozenset(called))


def compare_line_calls(
    methods: dict[str, LineCalls],
    all_lines: int,
    patterns: pd.Series | None,
    scored_lines: Iterable[str],
) -> pd.DataFrame:
    """One row per method: ``kind``, lines tested, untestable (of ``all_lines``, the export's
    knockout lines) and called; with ``patterns`` (``scores.line_patterns``) the scores of
    ``scores.line_call_scores`` over ``scored_lines`` (the modelled lines, the same for
    every method: a line a method could not test is a line it did not find)."""
    scored_lines = list(scored_lines)
    rows = []
    for method, lines in methods.items():
        row = {
            METHOD: method,
            KIND: lines.kind,
            TESTED: float(len(lines.tested)),
            UNTESTABLE_LINES: float(all_lines - len(lines.tested)),
            CALLED_LINES: float(len(lines.called)),
        }
        if patterns is not None:
            scores = line_call_scores(patterns, lines.called, scored_lines)
            row |= {
                "scored_lines": scores.pop("lines"),
                **{k: v for k, v in scores.items() if k != "calls"},
            }
        rows.append(row)
    return pd.DataFrame(rows)


def line_call_metrics(comparison: pd.DataFrame) -> dict[str, float]:
    """``eval/<method>/<score>`` of the per-line methods (the clusterings' scores are logged
    by the method comparison already); NaN dropped."""
    metrics = {}
    for record in comparison[comparison[KIND] == PER_LINE].to_dict(orient="records"):
        method = record.pop(METHOD)
        record.pop(KIND)
        metrics |= {
            f"eval/{method}/{name}": float(value)
            for name, value in record.items()
            if isinstance(value, int | float) and np.isfinite(value)
        }
    return metrics
