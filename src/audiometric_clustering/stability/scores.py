"""The honest scores of one clustering, for a member and for the consensus alike.

The evaluation's own pieces, composed without the baselines and the separation scores
(silhouette and friends reward a centre clustering and are no evidence): cluster labels and
the hearing-loss flag as ``evaluation.characterisation`` decides them, centre-matched
enrichment, nuisance dependence, controls in hearing-loss clusters and, on synthetic data,
the planted truth. One function, so members and consensus are scored identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.characterisation import (
    LabelRules,
    cluster_labels,
    threshold_summary,
)
from audiometric_clustering.evaluation.enrichment import (
    CLUSTER,
    Q_VALUE,
    enriched_lines,
    line_cluster_enrichment,
)
from audiometric_clustering.evaluation.ground_truth import truth_scores
from audiometric_clustering.evaluation.invariance import (
    control_shares,
    invariance_scores,
    nuisance_codes,
)
from audiometric_clustering.evaluation.metrics import cluster_balance
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.schema import IS_CONTROL, LINE_ID

#: Columns of a line-calls table (one row per tested line).
ENRICHED = "enriched"  # in a hearing-loss cluster at q < fdr
ENRICHED_ANY = "enriched_any_cluster"
BEST_Q = "best_q_hearing_loss"  # smallest q over the hearing-loss clusters (1 when none)
HEARING_LOSS_CLUSTER = "hearing_loss_cluster"  # the cluster of that q (-1 when none)


@dataclass(frozen=True)
class ScoringSettings:
    """The evaluation's knobs (``params:evaluation``): line size tested, FDR, label rules."""

    min_line_size: int
    fdr: float
    labels: LabelRules

    @classmethod
    def from_evaluation(cls, evaluation: EvaluationSettings) -> ScoringSettings:
        return cls(evaluation.min_line_size, evaluation.fdr, evaluation.labels)


@dataclass(frozen=True)
class Scoring:
    """Scores (flat names as the evaluation logs them), the cluster table with its
    ``hearing_loss`` flag, and per tested line whether it is enriched."""

    scores: dict[str, float]
    clusters: pd.DataFrame
    line_calls: pd.DataFrame


def score_clustering(
    mice: pd.DataFrame,
    labels: np.ndarray,
    n_clusters: int,
    truth: pd.DataFrame | None,
    settings: ScoringSettings,
) -> Scoring:
    """Score ``labels`` (one cluster per row of ``mice``, the model-input table).

    ``truth`` is the planted truth aligned to ``mice`` (``evaluation.ground_truth.align_truth``)
    or None for real data, where the truth scores are simply absent.
    """
    labels = np.asarray(labels, dtype=np.int64)
    summary = threshold_summary(mice, labels, n_clusters)
    clusters = cluster_labels(summary, labels, n_clusters, settings.labels)
    hearing_loss = set(clusters.loc[clusters["hearing_loss"], CLUSTER].astype(int))
    enrichment = line_cluster_enrichment(mice, labels, n_clusters, settings.min_line_size)
    called = enriched_lines(enrichment, hearing_loss, settings.fdr)
    called_any = enriched_lines(enrichment, set(range(n_clusters)), settings.fdr)
    tested = pd.Index(enrichment[LINE_ID].unique(), name=LINE_ID)
    scores = {
        **invariance_scores(labels, nuisance_codes(mice)),
        **control_shares(
            labels, mice[IS_CONTROL].to_numpy(dtype=bool), list(range(n_clusters)), hearing_loss
        ),
        **cluster_balance(labels),
        "hearing_loss_clusters": float(len(hearing_loss)),
        "tested_lines": float(len(tested)),
        "enriched_lines": float(len(called)),
        "enriched_lines_any_cluster": float(len(called_any)),
    }
    if truth is not None:
        scores |= truth_scores(
            truth, labels, set(tested), set(called[LINE_ID]), set(called_any[LINE_ID])
        )
    in_hearing_loss = enrichment[enrichment[CLUSTER].isin(list(hearing_loss))]
    best = in_hearing_loss.sort_values(Q_VALUE).drop_duplicates(LINE_ID).set_index(LINE_ID)
    line_calls = pd.DataFrame(
        {
            ENRICHED: tested.isin(called[LINE_ID]),
            ENRICHED_ANY: tested.isin(called_any[LINE_ID]),
            BEST_Q: best[Q_VALUE].reindex(tested).fillna(1.0).to_numpy(),
            HEARING_LOSS_CLUSTER: best[CLUSTER].reindex(tested).fillna(-1).astype(int).to_numpy(),
        },
        index=tested,
    ).reset_index()
    return Scoring(scores=scores, clusters=clusters, line_calls=line_calls)
