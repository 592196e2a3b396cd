"""A member that trained poorly is left out of the consensus and the line stability, but its
scores still count for the median member."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from audiometric_clustering.evaluation.ground_truth import AFFECTED, PLANTED_PATTERN
from audiometric_clustering.evaluation.scoring import ScoringSettings, score_clustering
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.schema import CENTRE, LINE_ID, SPECIMEN_ID
from audiometric_clustering.pipelines.stability.gene_nodes import call_consensus_genes
from audiometric_clustering.pipelines.stability.nodes import (
    build_consensus,
    compare_members,
    rank_lines,
    report_stability,
)
from audiometric_clustering.stability.members import MemberResult, MemberSpec
from tests.evaluation.mice import build_mice, validated_export
from tests.parameters import parameters, with_changes

K = 3
CODES = {"none": 0, "high_frequency": 1, "profound": 2}
EVALUATION = parameters("evaluation")
MATCH_COLUMNS = parameters("data_processing")["control_reference"]["match_columns"]
#: Two members find the planted patterns; the third, stuck in a poor optimum, splits by centre.
LOSSES = {1: 0.95, 2: 0.97, 3: 1.42}
POOR = "k03_seed3"


@pytest.fixture(scope="module")
def trained() -> tuple[pd.DataFrame, pd.DataFrame, list[MemberResult], pd.DataFrame]:
    mice, patterns = build_mice(seed=1)
    truth = pd.DataFrame(
        {
            SPECIMEN_ID: mice[SPECIMEN_ID],
            LINE_ID: mice[LINE_ID],
            PLANTED_PATTERN: patterns,
            AFFECTED: patterns != "none",
        }
    )
    planted = np.array([CODES[p] for p in patterns])
    labels = {1: planted, 2: (planted + 1) % K, 3: (mice[CENTRE] == "B").to_numpy(np.int64)}
    settings = ScoringSettings.from_evaluation(EvaluationSettings.from_params(EVALUATION))
    results = [
        MemberResult(
            spec=MemberSpec(seed, K),
            labels=labels[seed],
            checkpoint={},
            histories={"pretrain": {"val_loss": [LOSSES[seed]]}},
            scoring=score_clustering(mice, labels[seed], K, truth, settings),
            seconds={"total": 1.0},
            worker={"peak_rss_mib": 100.0},
        )
        for seed in LOSSES
    ]
    members = pd.DataFrame(
        {
            "member": [r.spec.name for r in results],
            "seed": list(LOSSES),
            "n_clusters": K,
            "status": "ok",
            "worker_peak_rss_mib": 100.0,
            "total_seconds": 1.0,
            "pretrain_val_loss": list(LOSSES.values()),
        }
    )
    return mice, truth, results, members


@pytest.mark.parametrize("leave_out", [True, False])
def test_a_poorly_trained_member_is_left_out_of_the_consensus(trained, leave_out: bool) -> None:
    mice, truth, results, members = trained
    stability = with_changes("stability", leave_out_poorly_trained=leave_out)
    ari, k_selection, _ = compare_members(results, mice, truth)
    predictions, clusters, scores, calls = build_consensus(
        results, k_selection, members, mice, truth, EVALUATION, stability
    )
    lines, _ = rank_lines(results, k_selection, members, calls, clusters, mice, truth, stability)
    gene_calls = call_consensus_genes(
        validated_export(mice),
        mice,
        results,
        k_selection,
        members,
        predictions,
        clusters,
        MATCH_COLUMNS,
        EVALUATION,
        stability,
    )
    _, report, summary, metrics = report_stability(
        members, ari, k_selection, clusters, scores, lines, gene_calls, mice, truth, stability
    )

    assert summary["members_poorly_trained"] == [POOR]
    assert summary["members_left_out"] == ([POOR] if leave_out else [])
    assert set(lines["members"]) == {2 if leave_out else 3}
    planted = truth.groupby(LINE_ID)[PLANTED_PATTERN].first().drop("", errors="ignore")
    hit = lines.set_index(LINE_ID).loc[planted[planted != "none"].index, "share_enriched"]
    assert len(hit) == 4 and np.allclose(hit, 1.0 if leave_out else 2 / 3)
    used = clusters[clusters["n_mice"] > 0]
    assert (used["jaccard_min"] == 1.0).all() == leave_out
    if leave_out:
        expected = np.array([CODES[p] for p in truth[PLANTED_PATTERN]])
        assert adjusted_rand_score(expected, predictions["cluster"]) == pytest.approx(1.0)
    # the median member is taken over every member: one training could have been the poor one
    ari_row = scores.set_index("score").loc["ari_affected"]
    assert ari_row["member_worst"] == pytest.approx(results[2].scoring.scores["ari_affected"])

    # The gene calls do not depend on the members; the phenotype they are given does: the
    # member that splits by centre puts the deaf lines with normal hearing.
    called = gene_calls[gene_calls["called"]].set_index("gene_symbol")
    assert set(called.index) == {"HfA", "HfB", "DeafA", "DeafB"}
    assert called["consensus_hearing_loss"].all() and (called["line_share_in_cluster"] == 1).all()
    assert np.allclose(called["member_agreement"], 1.0 if leave_out else 2 / 3)
    assert summary["gene_calls_called"] == 4 == metrics["stability/gene_calls_called"]["value"]
    assert summary["gene_calls_median_member_agreement"] == pytest.approx(
        1.0 if leave_out else 2 / 3
    )
    section = report[report.index("## Gene calls and the consensus") :]
    assert "4 lines called, 4 of them in a hearing-loss consensus cluster" in section
    assert "| DeafA | DeafA&lt;tm1&gt; | homozygote | A | 4 |" in section
