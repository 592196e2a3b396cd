"""Thin node: the gene calls joined with the consensus (maths in ``genes/`` and
``stability/genes.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.enrichment import CLUSTER
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.genes.calls import call_genes
from audiometric_clustering.impc.schema import LINE_ID, SPECIMEN_ID
from audiometric_clustering.pipelines.stability.nodes import consensus_members
from audiometric_clustering.stability.genes import COLUMNS, line_consensus
from audiometric_clustering.stability.members import MemberResult
from audiometric_clustering.stability.settings import StabilitySettings


def call_consensus_genes(
    validated_abr: pd.DataFrame,
    model_input: pd.DataFrame,
    results: list[MemberResult],
    k_selection: pd.DataFrame,
    members_table: pd.DataFrame,
    consensus_predictions: pd.DataFrame,
    consensus_clusters: pd.DataFrame,
    match_columns: Sequence[str],
    params_evaluation: Mapping[str, Any],
    params_stability: Mapping[str, Any],
) -> pd.DataFrame:
    """The evaluation's gene calls (the same test, the same settings) with each line's
    consensus cluster and label, the share of its mice there and the share of the consensus
    members that give it that cluster."""
    members = consensus_members(
        results, k_selection, members_table, StabilitySettings.from_params(params_stability)
    )
    specimens = model_input[SPECIMEN_ID].astype(str).to_numpy()
    if not np.array_equal(consensus_predictions[SPECIMEN_ID].astype(str).to_numpy(), specimens):
        raise ValueError(
            "stability_consensus_predictions are not of this model_input's mice in its order"
        )
    consensus = line_consensus(
        model_input[LINE_ID].to_numpy(dtype=str),
        consensus_predictions[CLUSTER].to_numpy(),
        [member.labels for member in members],
        consensus_clusters,
    )
    settings = EvaluationSettings.from_params(params_evaluation).gene_calls
    calls = call_genes(validated_abr, list(match_columns), settings, line_info=consensus)
    return calls[list(COLUMNS)]
