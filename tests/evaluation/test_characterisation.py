from __future__ import annotations

import numpy as np
import pytest

from audiometric_clustering.evaluation.characterisation import (
    LabelRules,
    cluster_labels,
    describe_audiogram,
    threshold_summary,
)

RULES = LabelRules()  # mild 10, moderate 20, severe 35, profound 50; flat within 15 dB


def _audiogram(*levels: float) -> dict[str, float]:
    return dict(zip(("6kHz", "12kHz", "18kHz", "24kHz", "30kHz"), levels, strict=True))


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((2, 3, 1, 4, 5), ("normal", "")),
        ((5, 5, 15, 38, 42), ("severe", "high-frequency")),
        ((25, 25, 24, 26, 25), ("moderate", "flat")),
        ((60, 55, 58, 62, 50), ("profound", "flat")),
        ((40, 30, 5, 0, 0), ("severe", "low-frequency")),
        ((0, 0, 30, 5, 0), ("moderate", "mid-frequency")),
        ((12, 10, 11, 4, 2), ("mild", "flat")),
        ((0, 0, 0, 60, np.nan), ("profound", "high-frequency")),
        ((np.nan,) * 5, ("unknown", "")),
    ],
)
def test_describe_audiogram_on_hand_made_audiograms(levels, expected):
    assert describe_audiogram(_audiogram(*levels), RULES) == expected


def test_cutoffs_are_parameters():
    strict = LabelRules(
        severity_db={"mild": 1.0, "moderate": 2.0, "severe": 3.0, "profound": 4.0},
        flat_range_db=100.0,
    )
    assert describe_audiogram(_audiogram(2, 3, 1, 4, 5), strict) == ("profound", "flat")


def test_label_rules_reject_inconsistent_cutoffs():
    with pytest.raises(ValueError, match="increase"):
        LabelRules(severity_db={"mild": 30, "moderate": 20, "severe": 35, "profound": 50})
    with pytest.raises(ValueError, match="unknown frequencies"):
        LabelRules(bands={"high": ["40kHz"]})


def _pattern_labels(patterns: np.ndarray) -> np.ndarray:
    return np.select([patterns == "high_frequency", patterns == "profound"], [1, 2], 0)


def test_threshold_summary_quartiles_skip_imputed_values(mice_and_patterns):
    mice, patterns = mice_and_patterns
    labels = _pattern_labels(patterns)
    summary = threshold_summary(mice, labels, n_clusters=4).set_index(
        ["cluster", "scale", "frequency"]
    )
    assert len(summary) == 4 * 2 * 6
    deaf = mice[labels == 2]
    cell = summary.loc[(2, "raw", "30kHz")]
    measured = deaf["raw_30kHz"].dropna()
    assert cell["n_measured"] == len(measured) < len(deaf)
    assert cell["median"] == pytest.approx(measured.median())
    assert cell["q1"] == pytest.approx(np.percentile(measured, 25))
    referenced = deaf.loc[deaf["observed_30kHz"] > 0.5, "abr_30kHz"]
    assert summary.loc[(2, "referenced", "30kHz"), "q3"] == pytest.approx(
        np.percentile(referenced, 75)
    )
    assert summary.loc[(3, "raw", "6kHz"), "n_measured"] == 0
    assert np.isnan(summary.loc[(3, "raw", "6kHz"), "median"])


def test_cluster_labels_flag_hearing_loss_clusters(mice_and_patterns):
    mice, patterns = mice_and_patterns
    labels = _pattern_labels(patterns)
    table = cluster_labels(threshold_summary(mice, labels, 4), labels, 4, RULES)
    assert table["label"].tolist() == [
        "normal",
        "severe high-frequency",
        "profound flat",
        "empty",
    ]
    assert table["hearing_loss"].tolist() == [False, True, True, False]
    assert table["n_mice"].sum() == len(mice)
    assert table["share"].sum() == pytest.approx(1.0)
