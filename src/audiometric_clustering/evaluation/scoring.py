"""The scores of one clustering: the one path the evaluation (model and baselines), the
stability members and their consensus are all scored by.

The honest scores first: cluster labels and the hearing-loss flag as
:mod:`~audiometric_clustering.evaluation.characterisation` decides them, centre-matched
enrichment, nuisance dependence, controls in hearing-loss clusters and, on synthetic data,
the planted truth. The method comparison adds what needs each method's feature space or the
reference genes (:class:`Separation`): silhouette and friends reward a centre clustering and
are no evidence, so the stability members are scored without them.
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
    reference_gene_recovery,
)
from audiometric_clustering.evaluation.ground_truth import truth_scores
from audiometric_clustering.evaluation.invariance import (
    control_shares,
    invariance_scores,
    nuisance_codes,
)
from audiometric_clustering.evaluation.metrics import (
    cluster_balance,
    line_purity,
    sampled_silhouette,
    separation_scores,
)
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.schema import GENE, IS_CONTROL, LINE_ID

#: Columns of a line-calls table (one row per tested line).
ENRICHED = "enriched"  # in a hearing-loss cluster at q < fdr
ENRICHED_ANY = "enriched_any_cluster"
BEST_Q = "best_q_hearing_loss"  # smallest q over the hearing-loss clusters (1 when none)
HEARING_LOSS_CLUSTER = "hearing_loss_cluster"  # the cluster of that q (-1 when none)


@dataclass(frozen=True)
class ScoringSettings:
    """The evaluation's knobs every clustering is scored with (``params:evaluation``): the
    lines tested, the FDR and the cluster label rules."""

    min_line_size: int
    fdr: float
    labels: LabelRules

    @classmethod
    def from_evaluation(cls, evaluation: EvaluationSettings) -> ScoringSettings:
        return cls(evaluation.min_line_size, evaluation.fdr, evaluation.labels)


@dataclass(frozen=True)
class Separation:
    """What the method comparison adds: the space the method clustered in and the ABR
    features, both scored by silhouette on a sample of ``sample_size`` mice drawn with
    ``seed``; and the reference genes (None: not checked)."""

    space: np.ndarray
    abr_space: np.ndarray
    sample_size: int
    seed: int
    reference_genes: frozenset[str] | None


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
    clusters: pd.DataFrame | None = None,
    enrichment: pd.DataFrame | None = None,
    separation: Separation | None = None,
) -> Scoring:
    """Score ``labels`` (one cluster per row of ``mice``, the model-input table).

    ``truth`` is the planted truth aligned to ``mice`` (``evaluation.ground_truth.align_truth``)
    or None for real data, where the truth scores are simply absent. ``clusters`` (the
    labelled cluster table) and ``enrichment`` (the line x cluster enrichment) are computed
    here unless the evaluation has them already.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if clusters is None:
        summary = threshold_summary(mice, labels, n_clusters)
        clusters = cluster_labels(summary, labels, n_clusters, settings.labels)
    if enrichment is None:
        enrichment = line_cluster_enrichment(mice, labels, n_clusters, settings.min_line_size)
    hearing_loss = set(clusters.loc[clusters["hearing_loss"], CLUSTER].astype(int))
    called = enriched_lines(enrichment, hearing_loss, settings.fdr)
    called_any = enriched_lines(enrichment, set(range(n_clusters)), settings.fdr)
    tested = pd.Index(enrichment[LINE_ID].unique(), name=LINE_ID)
    is_control = mice[IS_CONTROL].to_numpy(dtype=bool)
    scores = {
        **invariance_scores(labels, nuisance_codes(mice)),
        **control_shares(labels, is_control, list(range(n_clusters)), hearing_loss),
        **cluster_balance(labels),
    }
    if separation is not None:
        sample_size, seed = separation.sample_size, separation.seed
        scores |= separation_scores(separation.space, labels, sample_size, seed)
        scores["silhouette_abr"] = sampled_silhouette(
            separation.abr_space, labels, sample_size, seed
        )
        scores["line_purity"] = line_purity(
            mice[LINE_ID].to_numpy(dtype=str), labels, settings.min_line_size
        )
    scores["hearing_loss_clusters"] = float(len(hearing_loss))
    if separation is not None:
        scores["hearing_loss_share"] = float(np.isin(labels, list(hearing_loss)).mean())
    scores |= {
        "tested_lines": float(len(tested)),
        "enriched_lines": float(len(called)),
        "enriched_lines_any_cluster": float(len(called_any)),
    }
    if separation is not None and separation.reference_genes is not None:
        data_genes = set(mice.loc[mice[LINE_ID] != "", GENE].astype(str).unique())
        found = set(called[GENE].astype(str).unique())
        scores |= reference_gene_recovery(found, data_genes, separation.reference_genes)
    if truth is not None:
        scores |= truth_scores(
            truth, labels, set(tested), set(called[LINE_ID]), set(called_any[LINE_ID])
        )
    return Scoring(
        scores, clusters, _line_calls(enrichment, tested, called, called_any, hearing_loss)
    )


def _line_calls(
    enrichment: pd.DataFrame,
    tested: pd.Index,
    called: pd.DataFrame,
    called_any: pd.DataFrame,
    hearing_loss: set[int],
) -> pd.DataFrame:
    """Per tested line: enriched (in a hearing-loss cluster, in any), its best q and cluster."""
    in_hearing_loss = enrichment[enrichment[CLUSTER].isin(list(hearing_loss))]
    best = in_hearing_loss.sort_values(Q_VALUE).drop_duplicates(LINE_ID).set_index(LINE_ID)
    return pd.DataFrame(
        {
            ENRICHED: tested.isin(called[LINE_ID]),
            ENRICHED_ANY: tested.isin(called_any[LINE_ID]),
            BEST_Q: best[Q_VALUE].reindex(tested).fillna(1.0).to_numpy(),
            HEARING_LOSS_CLUSTER: best[CLUSTER].reindex(tested).fillna(-1).astype(int).to_numpy(),
        },
        index=tested,
    ).reset_index()
