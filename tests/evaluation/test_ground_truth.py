from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.evaluation.ground_truth import (
    AFFECTED,
    PLANTED_PATTERN,
    SPORADIC_LOSS,
    align_truth,
    truth_scores,
)
from audiometric_clustering.impc.schema import LINE_ID, SPECIMEN_ID


def _truth(mice: pd.DataFrame, patterns: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            SPECIMEN_ID: mice[SPECIMEN_ID],
            LINE_ID: mice[LINE_ID],
            PLANTED_PATTERN: patterns,
            AFFECTED: patterns != "none",
        }
    )


def test_align_truth_skips_empty_and_foreign_truth(mice_and_patterns):
    mice, patterns = mice_and_patterns
    assert align_truth(pd.DataFrame(), mice) is None
    foreign = _truth(mice, patterns).assign(**{LINE_ID: "Other|x|hom|Z", SPECIMEN_ID: "X"})
    assert align_truth(foreign, mice) is None


def test_align_truth_follows_mouse_order_and_defaults_missing_mice(mice_and_patterns):
    mice, patterns = mice_and_patterns
    truth = _truth(mice, patterns).iloc[::-1].iloc[:-3]  # reversed, first three mice dropped
    aligned = align_truth(truth, mice)
    assert aligned[PLANTED_PATTERN].tolist()[3:] == patterns[3:].tolist()
    assert aligned[PLANTED_PATTERN].tolist()[:3] == ["none"] * 3
    assert not aligned[AFFECTED].iloc[:3].any()


def test_truth_scores_on_constructed_case(mice_and_patterns):
    mice, patterns = mice_and_patterns
    aligned = align_truth(_truth(mice, patterns), mice)
    perfect = np.select([patterns == "high_frequency", patterns == "profound"], [1, 2], 0)
    lines = set(mice.loc[mice[LINE_ID] != "", LINE_ID])
    planted = {line for line in lines if line.startswith(("Hf", "Deaf"))}
    null = sorted(lines - planted)
    # Called: half the planted lines (the deaf ones) and one of the 12 null lines.
    called = {line for line in planted if line.startswith("Deaf")} | {null[0]}
    scores = truth_scores(
        aligned, perfect, tested_lines=lines, called_lines=called, called_anywhere=called
    )
    assert scores["ari_affected"] == 1.0 and scores["nmi_affected"] == pytest.approx(1.0)
    assert scores["affected_mice"] == 16
    assert scores["planted_lines_tested"] == 4 and scores["null_lines_tested"] == 12
    assert scores["line_recall"] == 0.5
    assert scores["line_false_positive_rate"] == pytest.approx(1 / 12)


def test_truth_scores_count_tested_lines_only_and_chance_clusters_score_low(mice_and_patterns):
    mice, patterns = mice_and_patterns
    aligned = align_truth(_truth(mice, patterns), mice)
    one_cluster = np.zeros(len(mice), dtype=int)
    scores = truth_scores(
        aligned,
        one_cluster,
        tested_lines={"HfA|HfA<tm1>|homozygote|A"},
        called_lines=set(),
        called_anywhere=set(),
    )
    assert scores["ari_affected"] == 0.0
    assert scores["planted_lines_tested"] == 1 and scores["null_lines_tested"] == 0
    assert scores["line_recall"] == 0.0
    assert np.isnan(scores["line_false_positive_rate"])


def test_recall_per_pattern_and_false_positives_in_any_cluster(mice_and_patterns):
    mice, patterns = mice_and_patterns
    aligned = align_truth(_truth(mice, patterns), mice)
    lines = set(mice.loc[mice[LINE_ID] != "", LINE_ID])
    deaf = {line for line in lines if line.startswith("Deaf")}
    null = sorted(line for line in lines if line.startswith("Gene"))
    # The deaf lines are called in a hearing-loss cluster; three null lines in other clusters.
    scores = truth_scores(
        aligned,
        np.zeros(len(mice), dtype=int),
        tested_lines=lines,
        called_lines=deaf,
        called_anywhere=deaf | set(null[:3]),
    )
    assert scores["line_recall/profound"] == 1.0 and scores["line_recall/high_frequency"] == 0.0
    assert scores["line_recall"] == 0.5
    assert scores["line_false_positive_rate"] == 0.0
    assert scores["line_false_positive_rate_any_cluster"] == pytest.approx(3 / 12)
    assert "controls_with_sporadic_loss" not in scores


def test_sporadic_loss_is_kept_when_the_truth_has_it(mice_and_patterns):
    mice, patterns = mice_and_patterns
    truth = _truth(mice, patterns)
    hit = np.arange(len(mice)) % 10 == 0
    controls = (mice[LINE_ID] == "").to_numpy()
    expected = (hit & (np.arange(len(mice)) > 0))[controls].mean()
    # As the generator writes it (the kind of loss, "none" for none), and as a boolean.
    for column in (
        np.where(hit, np.where(np.arange(len(mice)) % 20, "flat", "tonal"), "none"),
        hit,
    ):
        truth[SPORADIC_LOSS] = column
        aligned = align_truth(truth.iloc[1:], mice)  # the first mouse (a control) missing
        assert aligned[SPORADIC_LOSS].dtype == bool and not aligned[SPORADIC_LOSS].iloc[0]
        scores = truth_scores(aligned, np.zeros(len(mice), dtype=int), set(), set(), set())
        assert scores["controls_with_sporadic_loss"] == pytest.approx(expected) and expected > 0
