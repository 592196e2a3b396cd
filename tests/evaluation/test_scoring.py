"""Scoring one clustering, and the tables built from members' scores."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.evaluation.ground_truth import AFFECTED, PLANTED_PATTERN
from audiometric_clustering.evaluation.scoring import ENRICHED, ScoringSettings, score_clustering
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.schema import CENTRE, LINE_ID
from audiometric_clustering.stability.members import MemberSpec
from audiometric_clustering.stability.plots import ari_matrix, stability_by_k
from audiometric_clustering.stability.tables import (
    ari_table,
    consensus_versus_members,
    gene_table,
    k_table,
)
from tests.evaluation.mice import build_mice
from tests.parameters import parameters

SETTINGS = ScoringSettings.from_evaluation(EvaluationSettings.from_params(parameters("evaluation")))
CODES = {"none": 0, "high_frequency": 1, "profound": 2}


def _mice_and_truth() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    mice, patterns = build_mice(seed=1)
    truth = pd.DataFrame(
        {
            LINE_ID: mice[LINE_ID],
            PLANTED_PATTERN: patterns,
            AFFECTED: patterns != "none",
        }
    )
    return mice, truth, np.array([CODES[p] for p in patterns])


def test_the_planted_clustering_finds_its_lines_and_a_centre_clustering_does_not() -> None:
    mice, truth, planted = _mice_and_truth()
    good = score_clustering(mice, planted, 3, truth, SETTINGS)
    assert good.scores["ari_affected"] == pytest.approx(1.0)
    assert good.scores["line_recall"] == 1.0
    assert good.scores["line_false_positive_rate_any_cluster"] == 0.0
    assert set(good.clusters.loc[good.clusters["hearing_loss"], "cluster"]) == {1, 2}
    calls = good.line_calls.set_index(LINE_ID)
    assert calls[ENRICHED].sum() == good.scores["enriched_lines"] == 4
    assert calls.loc[calls[ENRICHED], "best_q_hearing_loss"].lt(SETTINGS.fdr).all()

    by_centre = (mice[CENTRE] == "B").to_numpy(dtype=np.int64)
    bad = score_clustering(mice, by_centre, 3, truth, SETTINGS)
    assert bad.scores["nmi_centre"] == pytest.approx(1.0)
    assert bad.scores["line_recall"] == 0.0
    assert np.isnan(
        score_clustering(mice, planted, 3, None, SETTINGS).scores.get("ari_affected", np.nan)
    )


def test_consensus_against_members_respects_the_direction_of_each_score() -> None:
    class Member:  # only .scoring.scores is read
        def __init__(self, scores: dict[str, float]) -> None:
            self.scoring = type("S", (), {"scores": scores})()

    members = [
        Member({"ari_affected": a, "nmi_centre": n})
        for a, n in [(0.4, 0.02), (0.5, 0.03), (0.6, 0.04)]
    ]
    table = consensus_versus_members({"ari_affected": 0.55, "nmi_centre": 0.035}, members)
    rows = table.set_index("score")
    assert rows.loc["ari_affected", "member_median"] == 0.5
    assert rows.loc["ari_affected", "consensus_at_least_median"]
    assert not rows.loc["nmi_centre", "consensus_at_least_median"]  # lower is better
    assert rows.loc["nmi_centre", "member_best"] == 0.02


def test_gene_table_ranks_genes_by_their_most_stable_line() -> None:
    lines = pd.DataFrame(
        {
            LINE_ID: ["a1", "a2", "b1", "c1"],
            "gene_symbol": ["A", "A", "B", "C"],
            "share_enriched": [0.4, 1.0, 0.8, 0.0],
            "share_enriched_any_cluster": [0.4, 1.0, 1.0, 0.2],
            "median_best_q": [0.1, 0.001, 0.01, 1.0],
            "consensus_enriched": [False, True, True, False],
        }
    )
    table = gene_table(lines, stable_share=0.8)
    assert table["gene_symbol"].tolist() == ["A", "B"]  # C was never enriched
    assert table["best_line"].tolist() == ["a2", "b1"]
    assert table["lines_tested"].tolist() == [2, 1]
    assert table["stable_lines"].tolist() == [1, 1]


def test_without_a_truth_the_tables_and_figure_keep_to_all_mice() -> None:
    rng = np.random.default_rng(0)
    results = [
        SimpleNamespace(spec=MemberSpec(seed, k), labels=rng.integers(0, k, 300))
        for k in (3, 4)
        for seed in (1, 2)
    ]
    pairs = ari_table(results, None)
    assert list(pairs.columns) == ["member_a", "member_b", "ari_all_mice"] and len(pairs) == 16
    table = k_table(results, None)
    assert table["n_clusters"].tolist() == [3, 4] and "median_pairwise_ari_affected" not in table
    assert len(ari_matrix(pairs).axes) == 2  # one heatmap and its colour bar
    assert stability_by_k(table, chosen=3).axes
