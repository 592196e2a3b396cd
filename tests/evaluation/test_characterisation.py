from __future__ import annotations

import numpy as np
import pytest

from audiometric_clustering.evaluation.characterisation import (
    LabelRules,
    cluster_labels,
    describe_audiogram,
    elevation_above_controls,
    threshold_summary,
)
from tests.parameters import parameters

LABELS = parameters("evaluation")["labels"]
RULES = LabelRules.from_params(LABELS)  # mild 10, moderate 25, severe 40, profound 55; flat 0.5


def _audiogram(*levels: float) -> dict[str, float]:
    return dict(zip(("6kHz", "12kHz", "18kHz", "24kHz", "30kHz"), levels, strict=True))


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ((2, 3, 1, 4, 5), ("normal", "")),
        ((5, 5, 15, 38, 42), ("severe", "high-frequency")),
        ((25, 25, 24, 26, 25), ("moderate", "flat")),
        ((60, 55, 58, 62, 50), ("profound", "flat")),
        ((50, 40, 5, 0, 0), ("severe", "low-frequency")),
        ((0, 0, 30, 5, 0), ("moderate", "mid-frequency")),
        ((12, 10, 11, 8, 9), ("mild", "flat")),
        ((12, 10, 11, 4, 2), ("mild", "low-frequency")),
        ((75, 70, 80, 62, 58), ("profound", "flat")),  # uneven no-response ceiling
        ((0, 0, 0, 60, np.nan), ("profound", "high-frequency")),
        ((np.nan,) * 5, ("unknown", "")),
    ],
)
def test_describe_audiogram_on_hand_made_audiograms(levels, expected):
    assert describe_audiogram(_audiogram(*levels), RULES) == expected


def test_cutoffs_are_parameters():
    strict = LabelRules.from_params(
        LABELS
        | {
            "severity_db": {"mild": 1.0, "moderate": 2.0, "severe": 3.0, "profound": 4.0},
            "flat_ratio": 0.1,
        }
    )
    assert describe_audiogram(_audiogram(2, 3, 1, 4, 5), strict) == ("profound", "flat")


def test_label_rules_reject_inconsistent_cutoffs():
    with pytest.raises(ValueError, match="increase"):
        LabelRules.from_params(
            LABELS | {"severity_db": {"mild": 30, "moderate": 20, "severe": 35, "profound": 50}}
        )
    with pytest.raises(ValueError, match="flat_ratio"):
        LabelRules.from_params(LABELS | {"flat_ratio": 1.5})
    with pytest.raises(ValueError, match=r"bands.high = \['40kHz'\]: expected a list of names"):
        LabelRules.from_params(LABELS | {"bands": {**LABELS["bands"], "high": ["40kHz"]}})


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
    measured = mice["observed_30kHz"] > 0.5
    control_median = mice.loc[measured & mice["is_control"], "abr_30kHz"].median()
    elevation = deaf.loc[deaf["observed_30kHz"] > 0.5, "abr_30kHz"] - control_median
    assert summary.loc[(2, "above_controls", "30kHz"), "q3"] == pytest.approx(
        np.percentile(elevation, 75)
    )
    assert summary.loc[(3, "raw", "6kHz"), "n_measured"] == 0
    assert np.isnan(summary.loc[(3, "raw", "6kHz"), "median"])


def test_elevation_puts_controls_at_zero_whatever_the_reference_offset(mice_and_patterns):
    mice, _ = mice_and_patterns
    elevation = elevation_above_controls(mice)
    controls = mice["is_control"].to_numpy()
    np.testing.assert_allclose(np.nanmedian(elevation[controls], axis=0), 0.0, atol=1e-9)
    assert np.isnan(elevation[mice["observed_30kHz"].to_numpy() == 0, 4]).all()
    shifted = mice.assign(**{f"abr_{f}": mice[f"abr_{f}"] + 17.0 for f in ("6kHz", "click")})
    np.testing.assert_allclose(elevation_above_controls(shifted), elevation)
    no_controls = elevation_above_controls(mice[~controls])
    assert np.isfinite(no_controls[:, 0]).all()


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
