"""The "fits no cluster" rule and the predictions table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiometric_clustering.evaluation.assignments import cluster_predictions
from audiometric_clustering.impc.control_baselines import BASELINE_SOURCE
from audiometric_clustering.impc.schema import (
    ALLELE,
    CENTRE,
    GENE,
    IS_CONTROL,
    LINE_ID,
    SPECIMEN_ID,
    ZYGOSITY,
)
from audiometric_clustering.inference.assignment import (
    CLUSTER_LABEL,
    FITS_NO_CLUSTER,
    UNLABELLED,
    UNSEEN_CATEGORIES,
    MisfitRule,
    fit_misfit_rule,
    model_cluster_labels,
    nearest_centre_distance,
    prediction_table,
)

RULE = MisfitRule(
    quantile=0.9, max_probability_floor=0.5, centre_distance_ceiling=2.0, fitted_on_mice=10
)


def test_nearest_centre_distance_is_euclidean_to_the_closest_centre() -> None:
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    latent = np.array([[3.0, 4.0], [10.0, 1.0], [6.0, 0.0]])
    assert nearest_centre_distance(latent, centres) == pytest.approx([5.0, 1.0, 4.0])
    assert nearest_centre_distance(np.zeros((0, 2)), centres).shape == (0,)


def test_fitted_rule_flags_about_the_tail_share_of_training_mice() -> None:
    rng = np.random.default_rng(0)
    soft = rng.dirichlet(np.ones(4), size=2000)
    distance = rng.gamma(2.0, 1.0, size=2000)
    rule = fit_misfit_rule(soft, distance, quantile=0.95)
    low = soft.max(axis=1) < rule.max_probability_floor
    far = distance > rule.centre_distance_ceiling
    assert low.mean() == pytest.approx(0.05, abs=0.002)
    assert far.mean() == pytest.approx(0.05, abs=0.002)
    assert np.array_equal(rule.flags(soft.max(axis=1), distance), low | far)
    assert rule.fitted_on_mice == 2000


def test_rule_flags_low_probability_or_far_mice_only() -> None:
    flags = RULE.flags(np.array([0.9, 0.4, 0.9, 0.5]), np.array([1.0, 1.0, 2.5, 2.0]))
    assert flags.tolist() == [False, True, True, False]


def test_rule_round_trips_through_json_ready_dict_and_describes_itself() -> None:
    values = RULE.to_dict()
    assert MisfitRule.from_dict(values) == RULE
    assert (
        "0.5" in values["rule"] and "2" in values["rule"] and "10 training mice" in values["rule"]
    )


@pytest.mark.parametrize("quantile", [0.5, 1.0, 0.2])
def test_fit_rejects_quantiles_that_would_flag_most_mice(quantile: float) -> None:
    with pytest.raises(ValueError, match="quantile"):
        fit_misfit_rule(np.full((3, 2), 0.5), np.ones(3), quantile)


def test_model_labels_ignore_the_baselines_rows() -> None:
    labels = pd.DataFrame(
        {
            "method": ["model", "model", "kmeans_raw"],
            "cluster": [0, 1, 0],
            "label": ["normal", "severe flat", "baseline label"],
        }
    )
    assert model_cluster_labels(labels) == {0: "normal", 1: "severe flat"}


def _mice() -> pd.DataFrame:
    return pd.DataFrame(
        {
            SPECIMEN_ID: ["a", "b", "c"],
            GENE: [None, "G1", "G1"],
            ALLELE: [None, "G1<tm1>", "G1<tm1>"],
            ZYGOSITY: ["wildtype", "homozygote", "homozygote"],
            CENTRE: ["X", "X", "Y"],
            LINE_ID: ["", "G1|G1<tm1>|homozygote|X", "G1|G1<tm1>|homozygote|Y"],
            IS_CONTROL: [True, False, False],
            BASELINE_SOURCE: ["file_controls", "file_controls", "training_centre"],
            UNSEEN_CATEGORIES: ["", "", "phenotyping_center"],
        }
    )


def test_prediction_table_extends_the_evaluation_predictions() -> None:
    soft = np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.34, 0.33, 0.33]])
    table = prediction_table(
        _mice(), soft, np.array([1.0, 3.0, 1.0]), {0: "normal", 1: "mild flat"}, RULE
    )
    expected = cluster_predictions(_mice(), soft)
    pd.testing.assert_frame_equal(table[expected.columns], expected)
    assert table["cluster"].tolist() == [0, 2, 0]
    assert table[CLUSTER_LABEL].tolist() == ["normal", UNLABELLED, "normal"]
    # b is too far from every centre, c too unsure between clusters.
    assert table[FITS_NO_CLUSTER].tolist() == [False, True, True]
    assert table[UNSEEN_CATEGORIES].tolist() == ["", "", "phenotyping_center"]
    assert table[LINE_ID].tolist() == _mice()[LINE_ID].tolist()
    assert table.columns[0] == SPECIMEN_ID
