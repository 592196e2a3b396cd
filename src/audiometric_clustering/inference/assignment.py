"""Cluster assignments of new mice, with a flag for mice that fit no cluster well.

The soft assignment of DEC is normalised over clusters, so a mouse far from every centre can
still get a high probability for the least-far one; and a mouse between two centres gets a
low one however typical it is. Either way the cluster says little about that mouse. The rule
therefore looks at both, each against what the training mice look like:

* its largest cluster probability is lower than that of ``quantile`` of the training mice, or
* its latent distance to the nearest cluster centre is larger than that of ``quantile`` of
  the training mice.

Thresholds taken from the training mice keep the rule meaningful whatever the training
length: a model whose probabilities are all near 1/K still flags only its least typical mice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import (
    CLUSTER,
    MAX_PROBABILITY,
    MODEL,
    cluster_predictions,
)
from audiometric_clustering.evaluation.comparison import METHOD
from audiometric_clustering.impc.control_baselines import BASELINE_SOURCE
from audiometric_clustering.impc.schema import IS_CONTROL, LINE_ID

CLUSTER_LABEL = "cluster_label"
CENTRE_DISTANCE = "centre_distance"
FITS_NO_CLUSTER = "fits_no_cluster"
#: Export columns whose value the training data never had (";"-separated), "" when none.
UNSEEN_CATEGORIES = "unseen_categories"
#: Label of a cluster absent from the labels table (it cannot happen with a matching run).
UNLABELLED = "unlabelled"


def nearest_centre_distance(latent: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distance from each latent mean (N, d) to its nearest centre (K, d)."""
    squared = ((latent[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return np.sqrt(squared.min(axis=1)) if len(latent) else np.zeros(0)


@dataclass(frozen=True)
class MisfitRule:
    """Thresholds of the "fits no cluster" rule (see the module docstring)."""

    quantile: float
    max_probability_floor: float
    centre_distance_ceiling: float
    fitted_on_mice: int

    def flags(self, max_probability: np.ndarray, centre_distance: np.ndarray) -> np.ndarray:
        """True for mice that fit no cluster well."""
        return (np.asarray(max_probability) < self.max_probability_floor) | (
            np.asarray(centre_distance) > self.centre_distance_ceiling
        )

    def describe(self) -> str:
        return (
            f"fits no cluster when its largest cluster probability is below "
            f"{self.max_probability_floor:.4g} or its latent distance to the nearest cluster "
            f"centre is above {self.centre_distance_ceiling:.4g}: the "
            f"{1 - self.quantile:.0%} and {self.quantile:.0%} quantiles over the "
            f"{self.fitted_on_mice} training mice"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rule": self.describe()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MisfitRule:
        return cls(
            quantile=float(values["quantile"]),
            max_probability_floor=float(values["max_probability_floor"]),
            centre_distance_ceiling=float(values["centre_distance_ceiling"]),
            fitted_on_mice=int(values["fitted_on_mice"]),
        )


def fit_misfit_rule(
    soft_assignment: np.ndarray, centre_distance: np.ndarray, quantile: float
) -> MisfitRule:
    """Thresholds from the training mice: a share ``1 - quantile`` falls beyond each one."""
    if not 0.5 < quantile < 1.0:
        raise ValueError(f"quantile must lie in (0.5, 1), got {quantile}")
    if len(soft_assignment) == 0:
        raise ValueError("no training mice to fit the misfit rule on")
    return MisfitRule(
        quantile=float(quantile),
        max_probability_floor=float(np.quantile(soft_assignment.max(axis=1), 1.0 - quantile)),
        centre_distance_ceiling=float(np.quantile(centre_distance, quantile)),
        fitted_on_mice=int(len(soft_assignment)),
    )


def model_cluster_labels(labels: pd.DataFrame) -> dict[int, str]:
    """The model's descriptive cluster labels from evaluation's ``cluster_labels`` table.

    That table lists the baselines' clusters too (a ``method`` column); only the model's
    rows describe the clusters new mice are assigned to.
    """
    rows = labels[labels[METHOD] == MODEL] if METHOD in labels else labels
    return {int(c): str(label) for c, label in zip(rows[CLUSTER], rows["label"], strict=True)}


def prediction_table(
    mice: pd.DataFrame,
    soft_assignment: np.ndarray,
    centre_distance: np.ndarray,
    labels: Mapping[int, str],
    rule: MisfitRule,
) -> pd.DataFrame:
    """One row per mouse: evaluation's prediction columns plus line, label and the flag.

    ``mice`` is a model-input table (with ``unseen_categories``); the cluster, its
    probability and the per-cluster probabilities are built exactly as the evaluation
    builds them, so the same mouse gets the same row from either path.
    """
    table = cluster_predictions(mice, soft_assignment)
    extra = pd.DataFrame(
        {
            LINE_ID: mice[LINE_ID].to_numpy(),
            IS_CONTROL: mice[IS_CONTROL].to_numpy(dtype=bool),
            CLUSTER_LABEL: [labels.get(int(c), UNLABELLED) for c in table[CLUSTER]],
            FITS_NO_CLUSTER: rule.flags(table[MAX_PROBABILITY].to_numpy(), centre_distance),
            CENTRE_DISTANCE: np.asarray(centre_distance, dtype=np.float64),
            BASELINE_SOURCE: mice[BASELINE_SOURCE].to_numpy(),
            UNSEEN_CATEGORIES: mice[UNSEEN_CATEGORIES].to_numpy(),
        }
    )
    position = table.columns.get_loc(MAX_PROBABILITY) + 1
    return pd.concat(
        [table.iloc[:, :position], extra, table.iloc[:, position:]], axis=1
    ).reset_index(drop=True)
