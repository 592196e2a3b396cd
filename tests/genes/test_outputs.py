"""What the gene calls become for a reader: each line's phenotype from the clusters, the
comparison with line_test and the clusterings, the report section and its figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.genes.calls import COLUMNS
from audiometric_clustering.genes.comparison import (
    LineCalls,
    compare_line_calls,
    enrichment_lines,
    line_call_metrics,
)
from audiometric_clustering.genes.phenotypes import line_phenotypes
from audiometric_clustering.genes.plots import gene_call_audiograms
from audiometric_clustering.genes.report import genes_section
from audiometric_clustering.genes.settings import GeneCallSettings
from tests.parameters import parameters

SETTINGS = GeneCallSettings.from_params(parameters("evaluation")["gene_calls"])


def test_a_lines_phenotype_is_the_cluster_its_mice_lean_to_together():
    """Two of three mice vote for cluster 0 by a hair, the third leans hard to 1: the line's
    mean soft assignment goes with cluster 1, where its enrichment q is looked up."""
    line_ids = np.array(["", "L1", "L1", "L1", "L2", "L2"])
    soft = np.array(
        [[1, 0], [0.51, 0.49], [0.51, 0.49], [0.0, 1.0], [0.9, 0.1], [0.8, 0.2]], dtype=float
    )
    labels = pd.DataFrame({"cluster": [0, 1], "label": ["normal", "severe flat"]})
    enrichment = pd.DataFrame({"line_id": ["L1"], "cluster": [1], "q_value": [0.003]})
    table = line_phenotypes(line_ids, soft, labels, enrichment).set_index("line_id")
    assert table.loc["L1", "phenotype_label"] == "severe flat"
    assert table.loc["L1", "phenotype_mean_assignment"] == pytest.approx((0.49 * 2 + 1) / 3)
    assert table.loc["L1", "cluster_enrichment_q"] == 0.003
    assert table.loc["L2", "phenotype_cluster"] == 0
    assert table.loc["L2", "cluster_enrichment_q"] == 1.0  # no row: none of its mice there
    with pytest.raises(ValueError, match="6 mice but 5 soft assignments"):
        line_phenotypes(line_ids, soft[:5], labels, enrichment)


def test_every_method_is_scored_on_the_same_lines_and_per_line_methods_are_logged():
    patterns = pd.Series({"A": "profound", "B": "none", "C": "none", "D": "high_frequency"})
    methods = {
        "gene_calls": LineCalls("per-line test", frozenset("ABD"), frozenset("AD")),
        "line_test": LineCalls("per-line test", frozenset("ABCD"), frozenset("AB")),
        "model": enrichment_lines(
            pd.DataFrame(
                {"line_id": ["A", "B", "C", "D"], "cluster": [1, 1, 0, 1], "q_value": 0.01}
            ).assign(p_value=0.001),
            pd.DataFrame({"cluster": [0, 1], "hearing_loss": [False, True]}),
            fdr=0.05,
        ),
    }
    table = compare_line_calls(methods, 5, patterns, "ABCD").set_index("method")
    assert table.loc[
        "gene_calls", ["tested_lines", "untestable_lines", "called_lines"]
    ].tolist() == [
        3,
        2,
        2,
    ]
    assert table.loc["gene_calls", "recall"] == 1.0 and table.loc["gene_calls", "null_fpr"] == 0
    assert table.loc["line_test", "false_share"] == 0.5
    assert table.loc["line_test", "recall/high_frequency"] == 0.0
    assert table.loc["model", "called_lines"] == 3 and table.loc["model", "null_fpr"] == 0.5
    metrics = line_call_metrics(table.reset_index())
    assert metrics["eval/gene_calls/untestable_lines"] == 2
    assert metrics["eval/line_test/recall/profound"] == 1.0
    assert not [name for name in metrics if name.startswith("eval/model/")]
    counts = compare_line_calls(methods, 5, None, "ABCD")
    assert "recall" not in counts and counts["called_lines"].tolist() == [2, 2, 3]


def _calls(genes: list[str], called: list[bool]) -> pd.DataFrame:
    rows = len(genes)
    table = pd.DataFrame({column: np.full(rows, 1.0) for column in COLUMNS})
    return table.assign(
        line_id=[f"{g}|a|homozygote|X" for g in genes],
        gene_symbol=genes,
        allele_symbol=[f"{g}<tm1a(EUCOMM)Wtsi>\n# Injected" for g in genes],
        zygosity="homozygote",
        phenotyping_center="X",
        strongest_contrast="high",
        called=called,
        q_value=np.linspace(0.001, 0.5, rows),
        untestable_reason=[np.nan] * (rows - 1) + ["too few mutants: 2 with measured ..."],
        phenotype_label="severe [flat](javascript:x)",
        phenotype_cluster=3.0,
        cluster_enrichment_q=0.2,
    )


def test_the_genes_section_counts_lists_the_calls_by_q_and_keeps_names_as_text():
    calls = _calls(["$\\foo$", "Otof", "Null"], [True, True, False])
    comparison = compare_line_calls(
        {"gene_calls": LineCalls("per-line test", frozenset(), frozenset())}, 3, None, []
    )
    section = genes_section(calls, comparison, SETTINGS, "gene_call_audiograms.png")
    assert "| tested | 2 |" in section and "| called at q &lt;= 0.05 | 2 |" in section
    assert "| untestable | 1 | too few mutants: 1 |" in section
    rows = [line for line in section.splitlines() if line.startswith("| \\$") or "Otof" in line]
    assert rows[0].startswith(
        "| \\$\\\\foo\\$ | \\$\\\\foo\\$&lt;tm1a(EUCOMM)Wtsi&gt; # Injected |"
    )
    assert "| severe \\[flat\\](javascript:x) | 3 | 0.2 |" in rows[0]
    assert not [line for line in section.splitlines() if line.startswith("# Injected")]
    assert "![gene call audiograms](plots/gene_call_audiograms.png)" in section
    assert "No truth file for these data: counts only." in section
    none_called = genes_section(calls.assign(called=False), comparison, SETTINGS, "x.png")
    assert "No line is called at q <= 0.05." in none_called and "x.png" not in none_called


def test_the_figure_draws_the_top_calls_and_says_when_there_is_none():
    calls = _calls(["$\\foo$", "Otof", "Null"], [True, True, False])
    figure = gene_call_audiograms(calls, n_lines=12)
    shown = [axes for axes in figure.axes if axes.get_visible()]
    assert len(shown) == 2 and shown[0].get_title().startswith("\\$\\foo\\$ (homozygote, X)")
    figure.canvas.draw()  # a $ in a gene symbol must not start mathtext
    empty = gene_call_audiograms(calls.assign(called=False), n_lines=12)
    assert empty.texts[0].get_text() == "no line called"
