"""The inference report: what was predicted, against which controls, and what looked new."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.evaluation.assignments import CLUSTER
from audiometric_clustering.impc.control_baselines import (
    FROM_FILE_CONTROLS,
    FROM_TRAINING_CENTRE,
    FROM_TRAINING_OVERALL,
)
from audiometric_clustering.impc.schema import IS_CONTROL
from audiometric_clustering.inference.assignment import (
    CLUSTER_LABEL,
    FITS_NO_CLUSTER,
    MisfitRule,
)

#: What each ``baseline_source`` value means, written into the report beside the counts.
BASELINE_SOURCES: dict[str, str] = {
    FROM_FILE_CONTROLS: "referenced to the controls of the mouse's centre in this file",
    FROM_TRAINING_CENTRE: "this file has no controls at the mouse's centre, or fewer than "
    "inference.min_centre_controls: referenced to the training controls of that centre",
    FROM_TRAINING_OVERALL: "a centre neither this file nor training has controls for: "
    "referenced to the typical threshold of all training controls",
}


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(n) for k, n in values.value_counts().sort_index().items()}


def inference_report(
    *,
    source_file: str,
    rows_read: int,
    predictions: pd.DataFrame,
    baselines: Mapping[str, Any],
    unseen: Mapping[str, Mapping[str, int]],
    mice_with_unseen: int,
    rule: MisfitRule,
    min_line_size: int,
    lines_summarised: int,
) -> dict[str, Any]:
    """JSON-ready summary of one inference run.

    ``baselines`` is
    :func:`~audiometric_clustering.impc.preprocessing.control_reference_summary` of the
    predicted mice (baseline sources and the day correction); ``unseen`` maps export columns
    to counts of unseen values, and ``mice_with_unseen`` counts mice with at least one.
    """
    flagged = predictions[FITS_NO_CLUSTER].to_numpy(dtype=bool)
    n_mice = len(predictions)
    return {
        "source_file": source_file,
        "rows_read": int(rows_read),
        "mice_predicted": int(n_mice),
        "rows_not_predicted": int(rows_read - n_mice),
        "controls": int(predictions[IS_CONTROL].sum()),
        "mutants": int((~predictions[IS_CONTROL].astype(bool)).sum()),
        "control_baselines": {
            **baselines,
            "sources": {
                name: BASELINE_SOURCES[name] for name in baselines.get("mice_by_source", {})
            },
        },
        "unseen_categories": {
            "mice_with_unseen_categories": int(mice_with_unseen),
            "by_column": {column: dict(values) for column, values in unseen.items()},
        },
        "fits_no_cluster": {
            **rule.to_dict(),
            "mice_flagged": int(flagged.sum()),
            "share_flagged": float(flagged.mean()) if n_mice else None,
        },
        "mice_per_cluster": _counts(predictions[CLUSTER]),
        "mice_per_label": _counts(predictions[CLUSTER_LABEL]),
        "new_lines": {
            "min_line_size": int(min_line_size),
            "lines_summarised": int(lines_summarised),
        },
    }
