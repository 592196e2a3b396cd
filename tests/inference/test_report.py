"""The inference report's counts."""

from __future__ import annotations

import json

import pandas as pd

from audiometric_clustering.impc.schema import IS_CONTROL
from audiometric_clustering.inference.assignment import (
    CLUSTER_LABEL,
    FITS_NO_CLUSTER,
    MisfitRule,
)
from audiometric_clustering.inference.report import BASELINE_SOURCES, inference_report


def test_report_counts_mice_sources_unseen_and_flags() -> None:
    predictions = pd.DataFrame(
        {
            IS_CONTROL: [True, False, False, False],
            "cluster": [0, 3, 3, 1],
            CLUSTER_LABEL: ["normal", "severe flat", "severe flat", "normal"],
            FITS_NO_CLUSTER: [False, True, False, False],
        }
    )
    rule = MisfitRule(0.99, 0.2, 3.0, 500)
    report = inference_report(
        source_file="new.csv",
        rows_read=5,
        predictions=predictions,
        baselines={"mice_by_source": {"file_controls": 3, "training_centre": 1}},
        unseen={"phenotyping_center": {"NEW": 1}},
        mice_with_unseen=1,
        rule=rule,
        min_line_size=3,
        lines_summarised=1,
    )
    assert report["rows_not_predicted"] == 1
    assert (report["controls"], report["mutants"]) == (1, 3)
    assert report["control_baselines"]["sources"] == {
        "file_controls": BASELINE_SOURCES["file_controls"],
        "training_centre": BASELINE_SOURCES["training_centre"],
    }
    assert report["unseen_categories"] == {
        "mice_with_unseen_categories": 1,
        "by_column": {"phenotyping_center": {"NEW": 1}},
    }
    flags = report["fits_no_cluster"]
    assert (flags["mice_flagged"], flags["share_flagged"]) == (1, 0.25)
    assert flags["rule"] == rule.describe()
    assert report["mice_per_cluster"] == {"0": 1, "1": 1, "3": 2}
    assert report["mice_per_label"] == {"normal": 2, "severe flat": 2}
    json.dumps(report, allow_nan=False)
