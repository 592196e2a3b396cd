"""Do the clusters follow where and how a mouse was tested rather than how it hears?

IMPC centres differ in control baselines, no-response ceilings and calibration, and a
knockout line is always one centre, one setup and one cohort. A clustering that follows
these nuisances makes lines look enriched because of where they were tested, and line purity
or silhouette reward it. These scores measure the dependence directly: 0 means the clusters
carry no information about the nuisance, 1 that they are a function of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from audiometric_clustering.evaluation.metrics import contingency
from audiometric_clustering.impc.schema import (
    BACKGROUND,
    CATEGORICAL_FEATURES,
    CATEGORICAL_METADATA,
    CENTRE,
    EQUIPMENT_MANUFACTURER,
    EQUIPMENT_MODEL,
    PIPELINE,
    SEX,
    ZYGOSITY,
)

#: Integer-code column of each categorical metadata column in the model-input table.
_CODE = dict(zip(CATEGORICAL_METADATA, CATEGORICAL_FEATURES, strict=True))

#: Model-input columns that define each nuisance (equipment is manufacturer and model).
NUISANCES: dict[str, tuple[str, ...]] = {
    "centre": (CENTRE,),
    "equipment": (_CODE[EQUIPMENT_MANUFACTURER], _CODE[EQUIPMENT_MODEL]),
    "pipeline": (_CODE[PIPELINE],),
    "background": (_CODE[BACKGROUND],),
    "sex": (_CODE[SEX],),
    "zygosity": (ZYGOSITY,),
}


def nuisance_codes(mice: pd.DataFrame) -> dict[str, np.ndarray]:
    """One integer code per mouse for each nuisance whose columns the table has."""
    return {
        name: mice.groupby(list(columns), sort=True, dropna=False).ngroup().to_numpy()
        for name, columns in NUISANCES.items()
        if set(columns) <= set(mice.columns)
    }


def cramers_v(labels: np.ndarray, nuisance: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) between two categorical arrays.

    The plain V of two independent variables is above 0 by about sqrt(cells / n), which for
    12 clusters x 11 centres is visible on a few thousand mice; the correction removes it.
    NaN when either side has a single value (no association can be measured).
    """
    _, rows = np.unique(labels, return_inverse=True)
    _, columns = np.unique(nuisance, return_inverse=True)
    observed = contingency(rows, columns).astype(float)
    n = observed.sum()
    r, k = observed.shape
    if r < 2 or k < 2:
        return float("nan")
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / n
    phi2 = ((observed - expected) ** 2 / expected).sum() / n
    phi2_corrected = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corrected = r - (r - 1) ** 2 / (n - 1)
    k_corrected = k - (k - 1) ** 2 / (n - 1)
    return float(np.sqrt(phi2_corrected / min(k_corrected - 1, r_corrected - 1)))


def normalized_mutual_information(labels: np.ndarray, nuisance: np.ndarray) -> float:
    """NMI (arithmetic normalisation) between clusters and a nuisance; NaN when either side
    has a single value, where scikit-learn's 0 or 1 would be a convention, not a measurement."""
    if np.unique(labels).size < 2 or np.unique(nuisance).size < 2:
        return float("nan")
    return float(normalized_mutual_info_score(nuisance, labels))


def invariance_scores(labels: np.ndarray, nuisances: dict[str, np.ndarray]) -> dict[str, float]:
    """``nmi_<nuisance>`` and ``cramers_v_<nuisance>`` for every nuisance given."""
    scores: dict[str, float] = {}
    for name, codes in nuisances.items():
        scores[f"nmi_{name}"] = normalized_mutual_information(labels, codes)
        scores[f"cramers_v_{name}"] = cramers_v(labels, codes)
    return scores


def control_shares(
    labels: np.ndarray,
    is_control: np.ndarray,
    clusters: list[int],
    hearing_loss: set[int],
) -> dict[str, float]:
    """Where the controls fall: the share of all controls in each cluster
    (``controls_in_cluster/<cc>``) and in the hearing-loss clusters together.

    Controls hear normally except for a few per cent of sporadic, non-inherited loss, so a
    hearing-loss cluster that takes more controls than that is grouping something else
    (a centre's ceiling, a cohort's offset). Empty when there are no controls.
    """
    control_labels = np.asarray(labels)[np.asarray(is_control, dtype=bool)]
    if control_labels.size == 0:
        return {}
    shares = {
        f"controls_in_cluster/{cluster:02d}": float(np.mean(control_labels == cluster))
        for cluster in clusters
    }
    shares["controls_in_hearing_loss_clusters"] = float(
        np.isin(control_labels, list(hearing_loss)).mean()
    )
    return shares
