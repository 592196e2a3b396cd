from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.honest_scores import model_versus_baselines
from audiometric_clustering.evaluation.markdown import markdown_table, markdown_text
from audiometric_clustering.evaluation.report import build_report, data_summary


def test_markdown_table_formats_floats_nan_and_escapes_markup():
    table = markdown_table(
        pd.DataFrame({"a": [0.123456, np.nan, 2523.0], "b": ["x|y", "z", "Otof<tm1a>"]})
    )
    assert table.splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 0.123 | x\\|y |",
        "| — | z |",
        "| 2523 | Otof&lt;tm1a&gt; |",
    ]


def test_text_from_the_data_cannot_become_markup():
    """An allele symbol with newlines injected a heading and a javascript: link."""
    allele = "Otof<tm1a>\n# Injected heading\n[click me](javascript:alert(1)) `x` $\\foo$"
    table = markdown_table(pd.DataFrame({"allele": [allele]}))
    row = table.splitlines()[2]
    assert len(table.splitlines()) == 3  # the newlines did not make lines of their own
    assert row == (
        "| Otof&lt;tm1a&gt; # Injected heading \\[click me\\](javascript:alert(1)) "
        "\\`x\\` \\$\\\\foo\\$ |"
    )
    assert markdown_text("a|b") == "a\\|b"


def test_data_summary_counts(mice_and_patterns):
    mice, _ = mice_and_patterns
    summary = data_summary(mice, min_line_size=3)
    assert summary["mice"] == 104 and summary["controls"] == 40 and summary["mutants"] == 64
    assert summary["knockout lines"] == 16 and summary["lines with >= 3 mice"] == 16
    assert summary["centres"] == 2
    assert summary["train mice"] + summary["validation mice"] == 104


def test_report_has_every_section_and_relative_plot_links():
    report = build_report(
        summary={"mice": 10},
        honest_scores="## Honest scores\n\nlead",
        genes="## Genes\n\ncalls",
        model_metrics={"eval/reconstruction_mae_db": 4.5},
        comparison=pd.DataFrame({"method": ["model", "kmeans_raw"], "silhouette": [0.25, 0.1]}),
        labels=pd.DataFrame({"cluster": [0], "label": ["normal"]}),
        top_lines=pd.DataFrame(),
        plot_files={"latent_projection": "latent_projection.png"},
        notes=["ground truth: not scored"],
    )
    assert report.index("## Notes") < report.index("## Honest scores") < report.index("## Data")
    assert report.index("## Data") < report.index("## Genes") < report.index("## Model and")
    for heading in (
        "# Evaluation report",
        "## Notes",
        "## Data",
        "## Model reconstruction",
        "## Model and baselines",
        "## Cluster labels",
        "## Top enriched lines per cluster",
        "## Plots",
    ):
        assert heading in report
    assert "![latent_projection](plots/latent_projection.png)" in report
    assert "| metric | model | kmeans_raw |" in report
    assert "| silhouette | 0.25 | 0.1 |" in report
    assert "| eval/reconstruction_mae_db | 4.5 |" in report
    assert "No line is enriched" in report
    assert "- ground truth: not scored" in report


def test_verdict_says_plainly_where_the_model_loses():
    comparison = pd.DataFrame(
        {
            "method": ["model", "kmeans_raw", "gmm_referenced"],
            "line_recall": [0.8, 0.5, 0.6],
            "ari_affected": [0.4, 0.5, 0.7],
        }
    )
    verdict = model_versus_baselines(comparison)
    assert "On `line_recall` the model (0.800) beats every baseline" in verdict
    assert "On `ari_affected` the model (0.400) does NOT beat `gmm_referenced` (0.700)" in verdict
    no_truth = comparison.assign(line_recall=float("nan"), ari_affected=float("nan"))
    assert model_versus_baselines(no_truth) == ""
