"""One row of metrics per clustering method, so the model and baselines read side by side."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import (
    CLUSTER,
    enriched_lines,
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
from audiometric_clustering.impc.schema import GENE, IS_CONTROL, LINE_ID

METHOD = "method"


@dataclass(frozen=True)
class ScoringSettings:
    """The knobs every method is scored with, identical across methods by construction."""

    min_line_size: int
    fdr: float
    silhouette_sample_size: int
    seed: int


def score_method(
    mice: pd.DataFrame,
    labels: np.ndarray,
    space: np.ndarray,
    abr_space: np.ndarray,
    cluster_table: pd.DataFrame,
    enrichment: pd.DataFrame,
    truth: pd.DataFrame | None,
    reference_genes: frozenset[str] | None,
    settings: ScoringSettings,
) -> dict[str, float]:
    """Every metric of one method's clustering.

    ``cluster_table`` and ``enrichment`` are this method's rows of ``cluster_labels`` and of
    the enrichment table. Reference-gene and ground-truth metrics appear only when their inputs
    exist; nuisance scores for each nuisance column the mice table has.
    """
    sample_size, seed = settings.silhouette_sample_size, settings.seed
    clusters = sorted(cluster_table[CLUSTER])
    hearing_loss = set(cluster_table.loc[cluster_table["hearing_loss"], CLUSTER])
    called = enriched_lines(enrichment, hearing_loss, settings.fdr)
    called_anywhere = enriched_lines(enrichment, set(clusters), settings.fdr)
    tested = set(enrichment[LINE_ID].unique())
    row = {
        **invariance_scores(labels, nuisance_codes(mice)),
        **control_shares(labels, mice[IS_CONTROL].to_numpy(dtype=bool), clusters, hearing_loss),
        **cluster_balance(labels),
        **separation_scores(space, labels, sample_size, seed),
        "silhouette_abr": sampled_silhouette(abr_space, labels, sample_size, seed),
        "line_purity": line_purity(
            mice[LINE_ID].to_numpy(dtype=str), labels, settings.min_line_size
        ),
        "hearing_loss_clusters": float(len(hearing_loss)),
        "hearing_loss_share": float(np.isin(labels, list(hearing_loss)).mean()),
        "tested_lines": float(len(tested)),
        "enriched_lines": float(len(called)),
        "enriched_lines_any_cluster": float(len(called_anywhere)),
    }
    if reference_genes is not None:
        data_genes = set(mice.loc[mice[LINE_ID] != "", GENE].astype(str).unique())
        found = set(called[GENE].astype(str).unique())
        row |= reference_gene_recovery(found, data_genes, reference_genes)
    if truth is not None:
        row |= truth_scores(
            truth, labels, tested, set(called[LINE_ID]), set(called_anywhere[LINE_ID])
        )
    return row


def score_methods(
    mice: pd.DataFrame,
    assignments: pd.DataFrame,
    spaces: dict[str, np.ndarray],
    abr_space: np.ndarray,
    cluster_tables: pd.DataFrame,
    enrichment: pd.DataFrame,
    truth: pd.DataFrame | None,
    reference_genes: frozenset[str] | None,
    settings: ScoringSettings,
) -> pd.DataFrame:
    """The comparison table: :func:`score_method` for every method in ``spaces``, in order.

    ``assignments`` has a column of labels per method; ``cluster_tables`` and ``enrichment``
    hold every method's rows, told apart by their ``method`` column.
    """
    rows = {
        method: score_method(
            mice,
            assignments[method].to_numpy(),
            space,
            abr_space,
            cluster_tables[cluster_tables[METHOD] == method],
            enrichment[enrichment[METHOD] == method],
            truth,
            reference_genes,
            settings,
        )
        for method, space in spaces.items()
    }
    return comparison_table(rows)


def comparison_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Methods as rows (in the given order), metrics as columns."""
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(METHOD).reset_index()


def mlflow_metric_names(comparison: pd.DataFrame, headline_method: str) -> dict[str, float]:
    """Flat metric names: ``eval/<metric>`` for the headline method, ``eval/<method>/<metric>``
    for the others. NaN values are dropped (MLflow rejects none, but a NaN curve misleads)."""
    names: dict[str, float] = {}
    for record in comparison.to_dict(orient="records"):
        method = record.pop(METHOD)
        prefix = "eval" if method == headline_method else f"eval/{method}"
        names |= {f"{prefix}/{k}": float(v) for k, v in record.items() if np.isfinite(v)}
    return names
