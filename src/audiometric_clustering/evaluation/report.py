"""The evaluation report: one Markdown page per run, readable locally and in MLflow.

Images are linked relative to the report (``plots/<file>.png``), so the page renders both in
data/08_reporting/ and in the MLflow run, where the report and its plots folder sit side by
side under ``evaluation/``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from audiometric_clustering.impc.schema import CENTRE, GENE, IS_CONTROL, LINE_ID, SPLIT


def data_summary(mice: pd.DataFrame, min_line_size: int) -> dict[str, int]:
    """Counts that say what was evaluated: mice, controls, lines, genes, centres, splits."""
    mutants = mice[~mice[IS_CONTROL].astype(bool)]
    line_sizes = mutants[LINE_ID].value_counts()
    split_counts = mice[SPLIT].value_counts()
    return {
        "mice": len(mice),
        "controls": int(mice[IS_CONTROL].astype(bool).sum()),
        "mutants": len(mutants),
        "knockout lines": int(line_sizes.size),
        f"lines with >= {min_line_size} mice": int((line_sizes >= min_line_size).sum()),
        "genes": int(mutants[GENE].nunique()),
        "centres": int(mice[CENTRE].nunique()),
        **{f"{split} mice": int(count) for split, count in split_counts.items()},
    }


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; floats rounded, NaN shown as an em dash."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return "—" if math.isnan(value) else f"{value:.{digits}g}"
        return str(value).replace("|", "\\|")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def build_report(
    summary: dict[str, int],
    metrics: dict[str, float],
    comparison: pd.DataFrame,
    labels: pd.DataFrame,
    top_lines: pd.DataFrame,
    plot_files: dict[str, str],
    notes: list[str],
) -> str:
    """Assemble the report's sections; every argument is already computed and small."""
    metric_rows = pd.DataFrame({"metric": list(metrics), "value": list(metrics.values())})
    sections = [
        "# Evaluation report",
        "## Data\n\n"
        + markdown_table(
            pd.DataFrame({"quantity": list(summary), "count": list(summary.values())})
        ),
        "## Model metrics\n\n" + markdown_table(metric_rows, digits=4),
        "## Model and baselines\n\nSame mice, same metrics. Separation scores are computed in "
        "each method's own feature space; `silhouette_abr` scores every method in the shared "
        "control-referenced threshold space.\n\n" + markdown_table(comparison),
        "## Cluster labels\n\n" + markdown_table(labels),
        "## Top enriched lines per cluster\n\n"
        + (markdown_table(top_lines) if len(top_lines) else "No line is enriched at this FDR."),
        "## Plots\n\n"
        + "\n\n".join(
            f"### {name.replace('_', ' ')}\n\n![{name}](plots/{file})"
            for name, file in plot_files.items()
        ),
    ]
    if notes:
        sections.insert(1, "## Notes\n\n" + "\n".join(f"- {note}" for note in notes))
    return "\n\n".join(sections) + "\n"
