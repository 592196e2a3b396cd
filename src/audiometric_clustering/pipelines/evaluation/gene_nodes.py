"""Thin nodes: the gene calls, the ``line_test`` baseline and their comparison (maths in
``genes/``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import MODEL
from audiometric_clustering.evaluation.comparison import METHOD
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.genes.calls import call_genes
from audiometric_clustering.genes.comparison import (
    GENE_CALLS,
    LINE_TEST,
    compare_line_calls,
    enrichment_lines,
    gene_call_lines,
    line_test_lines,
)
from audiometric_clustering.genes.line_test import line_test
from audiometric_clustering.genes.phenotypes import line_phenotypes
from audiometric_clustering.genes.scores import line_patterns
from audiometric_clustering.impc.schema import IS_CONTROL, LINE_ID, SPECIMEN_ID
from audiometric_clustering.training.passes import SOFT_ASSIGNMENT, SPECIMENS


def call_line_genes(
    validated_abr: pd.DataFrame,
    model_input: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
    match_columns: Sequence[str],
    params: Mapping[str, Any],
) -> pd.DataFrame:
    """Every knockout line of the validated export against its matched controls, with the
    phenotype the model gives it (its cluster, label and enrichment q there)."""
    settings = EvaluationSettings.from_params(params).gene_calls
    specimens = model_input[SPECIMEN_ID].astype(str).to_numpy()
    if not np.array_equal(embeddings[SPECIMENS], specimens):
        raise ValueError(
            "latent_embeddings are not of this model_input's mice in its order: run the "
            "evaluation pipeline again on this folder"
        )
    phenotypes = line_phenotypes(
        model_input[LINE_ID].to_numpy(dtype=str),
        embeddings[SOFT_ASSIGNMENT],
        labels[labels[METHOD] == MODEL],
        enrichment[enrichment[METHOD] == MODEL],
    )
    return call_genes(validated_abr, list(match_columns), settings, line_info=phenotypes)


def run_line_test(validated_abr: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """The baseline to beat, at the gene calls' FDR and smallest line."""
    settings = EvaluationSettings.from_params(params).gene_calls
    return line_test(validated_abr, settings.fdr, settings.min_mutants)


def compare_gene_calls(
    model_input: pd.DataFrame,
    gene_calls: pd.DataFrame,
    line_test_calls: pd.DataFrame,
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
    truth: pd.DataFrame,
    params: Mapping[str, Any],
) -> pd.DataFrame:
    """The gene calls, line_test and every clustering's enrichment: lines tested and called
    and, with a truth that matches these data, recall, null-line FPR and false share over
    the modelled lines."""
    settings = EvaluationSettings.from_params(params)
    methods = {GENE_CALLS: gene_call_lines(gene_calls), LINE_TEST: line_test_lines(line_test_calls)}
    for method in labels[METHOD].unique():
        methods[method] = enrichment_lines(
            enrichment[enrichment[METHOD] == method], labels[labels[METHOD] == method], settings.fdr
        )
    modelled = model_input.loc[~model_input[IS_CONTROL].astype(bool), LINE_ID].unique()
    return compare_line_calls(methods, len(gene_calls), line_patterns(truth, model_input), modelled)
