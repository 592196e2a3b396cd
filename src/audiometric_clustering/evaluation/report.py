"""The evaluation report: one Markdown page per run, readable locally and in MLflow.

Images are linked relative to the report (``plots/<file>.png``), so the page renders both in
data/08_reporting/ and in the MLflow run, where the report and its plots folder sit side by
side under ``evaluation/``.
"""

from __future__ import annotations

import pandas as pd

from audiometric_clustering.evaluation.enrichment import (
    CLUSTER,
    FOLD_ENRICHMENT,
    LINE_MICE,
    LINE_MICE_IN_CLUSTER,
    P_VALUE,
    Q_VALUE,
)
from audiometric_clustering.evaluation.honest_scores import CONTROLS_PREFIX
from audiometric_clustering.evaluation.markdown import markdown_table
from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    SPLIT,
    ZYGOSITY,
)


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


def top_enriched_lines(
    enrichment: pd.DataFrame, labels: pd.DataFrame, fdr: float, per_cluster: int
) -> pd.DataFrame:
    """The ``per_cluster`` most significant lines of each cluster at q < ``fdr``, readable."""
    hits = enrichment[enrichment[Q_VALUE] < fdr].sort_values([CLUSTER, Q_VALUE, P_VALUE])
    top = hits.groupby(CLUSTER, sort=True).head(per_cluster)
    named = top.merge(labels[[CLUSTER, "label"]], on=CLUSTER, how="left")
    return pd.DataFrame(
        {
            "cluster": named[CLUSTER],
            "label": named["label"],
            "gene": named[GENE],
            "allele": named[ALLELE],
            "zygosity": named[ZYGOSITY],
            "centre": named[CENTRE],
            "mice in cluster": named[LINE_MICE_IN_CLUSTER].astype(str)
            + "/"
            + named[LINE_MICE].astype(str),
            "fold": named[FOLD_ENRICHMENT],
            "q": named[Q_VALUE],
        }
    )


def report_notes(comparison: pd.DataFrame, model_labels: pd.DataFrame) -> list[str]:
    """What could not be scored and why, and a collapse, said plainly."""
    notes = []
    if "line_recall" not in comparison.columns:
        notes.append(
            "Ground truth not scored: no truth file, or it shares no knockout line with these "
            "data (a real export)."
        )
    if "reference_genes_found" not in comparison.columns:
        notes.append("Reference gene list not configured or not found: recovery not computed.")
    if (model_labels["n_mice"] > 0).sum() < 2:
        notes.append("The model put every mouse in one cluster (collapse).")
    return notes


def build_report(
    summary: dict[str, int],
    honest_scores: str,
    genes: str,
    model_metrics: dict[str, float],
    comparison: pd.DataFrame,
    labels: pd.DataFrame,
    top_lines: pd.DataFrame,
    plot_files: dict[str, str],
    notes: list[str],
) -> str:
    """Assemble the report's sections; every argument is already computed and small.

    ``honest_scores`` is the lead section (see honest_scores.py); ``genes``, the gene calls'
    section (genes/report.py), follows the data's counts. ``comparison`` has one row
    per method (column ``method``); it is shown transposed, one metric per row, so the
    methods fit side by side (the controls per cluster are in the lead section already).
    ``model_metrics`` are those only the model has (reconstruction error).
    """
    every_metric = comparison.loc[:, ~comparison.columns.str.startswith(CONTROLS_PREFIX)]
    side_by_side = every_metric.set_index("method").T.rename_axis("metric").reset_index()
    metric_rows = pd.DataFrame(
        {"metric": list(model_metrics), "value": list(model_metrics.values())}
    )
    sections = [
        "# Evaluation report",
        *(["## Notes\n\n" + "\n".join(f"- {note}" for note in notes)] if notes else []),
        honest_scores,
        "## Data\n\n"
        + markdown_table(
            pd.DataFrame({"quantity": list(summary), "count": list(summary.values())})
        ),
        genes,
        "## Model and baselines\n\nSame mice, same metrics. Separation scores (silhouette, "
        "Davies-Bouldin, Calinski-Harabasz) are computed in each method's own feature space; "
        "`silhouette_abr` scores every method in the shared control-referenced threshold space. "
        "`line_purity` is the mean share of a knockout line's mice in its modal cluster (lines "
        "with enough mice to test). Line purity and silhouette reward a clustering by centre "
        "(every line is one centre, and centres differ more than phenotypes): they are not "
        "evidence of phenotypes; read them after the honest scores above.\n\n"
        + markdown_table(side_by_side),
        "## Model reconstruction\n\nMean absolute error in dB on measured thresholds only.\n\n"
        + markdown_table(metric_rows, digits=4),
        "## Cluster labels\n\n" + markdown_table(labels),
        "## Top enriched lines per cluster\n\n"
        + (markdown_table(top_lines) if len(top_lines) else "No line is enriched at this FDR."),
        "## Plots\n\n"
        + "\n\n".join(
            f"### {name.replace('_', ' ')}\n\n![{name}](plots/{file})"
            for name, file in plot_files.items()
        ),
    ]
    return "\n\n".join(sections) + "\n"
