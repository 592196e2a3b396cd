"""The evaluation report: one Markdown page per run, readable locally and in MLflow.

Images are linked relative to the report (``plots/<file>.png``), so the page renders both in
data/08_reporting/ and in the MLflow run, where the report and its plots folder sit side by
side under ``evaluation/``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import (
    CLUSTER,
    FOLD_ENRICHMENT,
    LINE_MICE,
    LINE_MICE_IN_CLUSTER,
    P_VALUE,
    Q_VALUE,
)
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


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table: counts as integers, other floats to ``digits``
    significant digits, NaN as an em dash; pipes and angle brackets (IMPC allele symbols
    such as ``Otof<tm1a(EUCOMM)Wtsi>`` would read as HTML tags) are escaped."""

    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            if math.isnan(value):
                return "—"
            if float(value).is_integer() and abs(value) < 1e9:
                return str(int(value))
            return f"{value:.{digits}g}"
        text = str(value)
        return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


#: Ground-truth scores on which the model should beat every baseline (higher is better).
VERDICT_METRICS = ("line_recall", "ari_affected")


def model_versus_baselines(comparison: pd.DataFrame) -> str:
    """One sentence per ground-truth score: does the model beat every baseline, with numbers.

    Said plainly in the report so a weaker model is never hidden in a table.
    """
    scores = comparison.set_index("method")
    sentences = []
    for metric in VERDICT_METRICS:
        if metric not in scores or scores[metric].isna().all():
            continue
        model, baselines = scores.loc["model", metric], scores[metric].drop("model")
        best = baselines.idxmax()
        verdict = "beats every baseline" if model > baselines.max() else "does NOT beat"
        sentences.append(
            f"On `{metric}` the model ({model:.3f}) {verdict}"
            + (
                f" `{best}` ({baselines.max():.3f})."
                if verdict != "beats every baseline"
                else f" (best baseline `{best}`: {baselines.max():.3f})."
            )
        )
    return " ".join(sentences)


def build_report(
    summary: dict[str, int],
    model_metrics: dict[str, float],
    comparison: pd.DataFrame,
    labels: pd.DataFrame,
    top_lines: pd.DataFrame,
    plot_files: dict[str, str],
    notes: list[str],
) -> str:
    """Assemble the report's sections; every argument is already computed and small.

    ``comparison`` has one row per method (column ``method``); it is shown transposed, one
    metric per row, so four methods fit side by side. ``model_metrics`` are those only the
    model has (reconstruction error).
    """
    side_by_side = comparison.set_index("method").T.rename_axis("metric").reset_index()
    metric_rows = pd.DataFrame(
        {"metric": list(model_metrics), "value": list(model_metrics.values())}
    )
    sections = [
        "# Evaluation report",
        "## Data\n\n"
        + markdown_table(
            pd.DataFrame({"quantity": list(summary), "count": list(summary.values())})
        ),
        "## Model and baselines\n\nSame mice, same metrics. Separation scores (silhouette, "
        "Davies-Bouldin, Calinski-Harabasz) are computed in each method's own feature space; "
        "`silhouette_abr` scores every method in the shared control-referenced threshold space. "
        "`line_purity` is the mean share of a knockout line's mice in its modal cluster (lines "
        "with enough mice to test).\n\n"
        + markdown_table(side_by_side)
        + (
            "\n\n" + model_versus_baselines(comparison)
            if "model" in set(comparison["method"])
            else ""
        ),
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
    if notes:
        sections.insert(1, "## Notes\n\n" + "\n".join(f"- {note}" for note in notes))
    return "\n\n".join(sections) + "\n"
