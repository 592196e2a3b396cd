from __future__ import annotations

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.honest_scores import (
    headline_table,
    honest_section,
    model_versus_baselines,
)


def _comparison() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["model", "kmeans_raw", "gmm_line_shrunk"],
            "nmi_centre": [0.49, 0.47, 0.002],
            "cramers_v_centre": [0.6, 0.58, 0.04],
            "nmi_equipment": [0.4, 0.37, 0.003],
            "line_false_positive_rate_any_cluster": [0.5, 0.0, 0.02],
            "line_false_positive_rate": [0.01, 0.0, 0.0],
            "ari_affected": [0.3, 0.6, 0.49],
            "line_recall": [0.9, 0.7, 0.8],
            "line_recall/profound": [1.0, 0.9, 1.0],
            "controls_in_hearing_loss_clusters": [0.2, 0.01, 0.02],
            "controls_in_cluster/00": [0.8, 0.99, 0.98],
            "controls_in_cluster/01": [0.2, 0.01, 0.02],
            "controls_in_cluster/02": [np.nan, 0.0, 0.0],
            "controls_with_sporadic_loss": [0.03, 0.03, 0.03],
            "silhouette": [0.4, 0.3, 0.1],
        }
    )


def _cluster_tables() -> pd.DataFrame:
    methods = ["model"] * 2 + ["kmeans_raw"] * 3 + ["gmm_line_shrunk"] * 3
    return pd.DataFrame(
        {
            "method": methods,
            "cluster": [0, 1, 0, 1, 2, 0, 1, 2],
            "hearing_loss": [False, True, False, False, True, False, True, True],
        }
    )


def test_headline_table_titles_the_honest_scores_in_order():
    table = headline_table(_comparison())
    assert table.columns.tolist() == [
        "method",
        "NMI centre",
        "Cramér's V centre",
        "null-line FPR, any cluster",
        "null-line FPR, hearing-loss clusters",
        "ARI affected",
        "planted-line recall",
        "controls in hearing-loss clusters",
    ]
    without_truth = _comparison().drop(columns=["ari_affected", "line_recall"])
    assert "ARI affected" not in headline_table(without_truth)


def test_verdict_says_the_model_loses_on_centre_scores_where_lower_is_better():
    verdict = model_versus_baselines(_comparison())
    assert (
        "On `nmi_centre` (lower is better) the model (0.490) does NOT beat "
        "`gmm_line_shrunk` (0.002)." in verdict
    )
    assert (
        "On `line_false_positive_rate_any_cluster` (lower is better) the model (0.500) does "
        "NOT beat `kmeans_raw` (0.000)." in verdict
    )
    assert "On `line_recall` the model (0.900) beats every baseline" in verdict
    better = _comparison().assign(nmi_centre=[0.001, 0.47, 0.002])
    assert "On `nmi_centre` (lower is better) the model (0.001) beats every baseline" in (
        model_versus_baselines(better)
    )
    tied = _comparison().assign(line_false_positive_rate_any_cluster=[0.0, 0.0, 0.02])
    assert "ties with `kmeans_raw` (0.000)" in model_versus_baselines(tied)


def test_honest_section_shows_every_table_and_marks_hearing_loss_clusters():
    section = honest_section(_comparison(), _cluster_tables())
    assert section.startswith("## Honest scores")
    assert "| model | 0.49 | 0.6 | 0.5 | 0.01 | 0.3 | 0.9 | 0.2 |" in section
    assert "Controls with sporadic loss in the truth: 0.030 of all controls." in section
    assert "does NOT beat `gmm_line_shrunk`" in section
    assert "### NMI of clusters against each nuisance" in section
    assert "| method | centre | equipment |" in section
    assert "| model | 0.2 | 0.800 | 0.200 HL |  |" in section
    assert "| gmm_line_shrunk | 0.02 | 0.980 | 0.020 HL | 0.000 HL |" in section
    assert "### Planted-line recall per pattern" in section and "| method | profound |" in section
    assert "silhouette" not in section
