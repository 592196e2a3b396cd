"""Thin nodes: embeddings, baselines, cluster labels, enrichment and the method comparison
(maths in evaluation/; the report, plots and metrics in report_nodes.py, the gene calls in
gene_nodes.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import (
    GMM_REFERENCED,
    BaselineSettings,
    all_assignments,
    cluster_counts,
    cluster_predictions,
    feature_spaces,
)
from audiometric_clustering.evaluation.characterisation import cluster_labels, threshold_summary
from audiometric_clustering.evaluation.comparison import (
    METHOD,
    score_methods,
)
from audiometric_clustering.evaluation.enrichment import (
    line_cluster_enrichment,
    read_gene_list,
)
from audiometric_clustering.evaluation.ground_truth import align_truth
from audiometric_clustering.evaluation.scoring import ScoringSettings, Separation
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.impc.schema import (
    SPECIMEN_ID,
)
from audiometric_clustering.model import MouseTensors
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.passes import (
    ABR_SCALE,
    LATENT,
    RECONSTRUCTION,
    SOFT_ASSIGNMENT,
    SPECIMENS,
    Embedding,
    embed,
)

logger = logging.getLogger(__name__)


def embed_mice(
    checkpoint: dict[str, Any], model_input: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Latent means, soft assignments and reconstructions of every mouse, and the hard clusters."""
    embedding = _embed(checkpoint, model_input, EvaluationSettings.from_params(params).batch_size)
    arrays = {
        SPECIMENS: model_input[SPECIMEN_ID].astype(str).to_numpy(),
        LATENT: embedding.latent_mean,
        SOFT_ASSIGNMENT: embedding.soft_assignment,
        RECONSTRUCTION: embedding.abr_reconstruction,
        ABR_SCALE: np.array(checkpoint["config"]["abr_scale"]),
    }
    return arrays, cluster_predictions(model_input, embedding.soft_assignment)


def embed_pretrained_mice(
    checkpoint: dict[str, Any], model_input: pd.DataFrame, params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Latent means under the pretrained VAE (before joint training), for a baseline."""
    embedding = _embed(checkpoint, model_input, EvaluationSettings.from_params(params).batch_size)
    return {
        SPECIMENS: model_input[SPECIMEN_ID].astype(str).to_numpy(),
        LATENT: embedding.latent_mean,
    }


def cluster_with_baselines(
    model_input: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    pretrained: dict[str, np.ndarray],
    params: Mapping[str, Any],
    seed: int,
) -> pd.DataFrame:
    """One column of cluster labels per method, rows in model-input order."""
    settings = EvaluationSettings.from_params(params)
    spaces = feature_spaces(
        model_input, embeddings[LATENT], pretrained[LATENT], settings.line_shrinkage
    )
    labels = all_assignments(
        spaces,
        embeddings[SOFT_ASSIGNMENT].argmax(axis=1),
        embeddings[SOFT_ASSIGNMENT].shape[1],
        BaselineSettings(
            gmm_components=settings.gmm_components,
            gmm_covariance=settings.gmm_covariance,
            kmeans_n_init=settings.kmeans_n_init,
            fit_size=settings.baseline_fit_size,
            line_shrinkage=settings.line_shrinkage,
            seed=seed,
        ),
    )
    return pd.DataFrame({SPECIMEN_ID: embeddings[SPECIMENS], **labels})


def _counts(embeddings: dict[str, np.ndarray], settings: EvaluationSettings) -> dict[str, int]:
    return cluster_counts(embeddings[SOFT_ASSIGNMENT].shape[1], settings.gmm_components)


def characterise_clusters(
    model_input: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    params: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Threshold quartiles and labels of every method's clusters (a ``method`` column each)."""
    settings = EvaluationSettings.from_params(params)
    summaries, labels = [], []
    for method, n_clusters in _counts(embeddings, settings).items():
        method_labels = assignments[method].to_numpy()
        summary = threshold_summary(model_input, method_labels, n_clusters)
        summaries.append(summary.assign(**{METHOD: method}))
        table = cluster_labels(summary, method_labels, n_clusters, settings.labels)
        labels.append(table.assign(**{METHOD: method}))
    return _method_first(pd.concat(summaries)), _method_first(pd.concat(labels))


def run_gene_enrichment(
    model_input: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    params: Mapping[str, Any],
) -> pd.DataFrame:
    """Centre-matched hypergeometric enrichment of every method's clusters, BH per method."""
    settings = EvaluationSettings.from_params(params)
    tables = [
        line_cluster_enrichment(
            model_input, assignments[method].to_numpy(), n_clusters, settings.min_line_size
        ).assign(**{METHOD: method})
        for method, n_clusters in _counts(embeddings, settings).items()
    ]
    return _method_first(pd.concat(tables))


def compare_methods(
    model_input: pd.DataFrame,
    assignments: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    pretrained: dict[str, np.ndarray],
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
    truth: pd.DataFrame,
    params: Mapping[str, Any],
    seed: int,
) -> pd.DataFrame:
    """The comparison table: model and baselines, every metric, one row each."""
    settings = EvaluationSettings.from_params(params)
    spaces = feature_spaces(
        model_input, embeddings[LATENT], pretrained[LATENT], settings.line_shrinkage
    )
    aligned = align_truth(truth, model_input)
    if aligned is None:
        logger.info("No ground truth shares lines with these data; truth scores skipped.")
    reference = read_gene_list(settings.reference_gene_list)
    separations = {
        method: Separation(
            space, spaces[GMM_REFERENCED], settings.silhouette_sample_size, seed, reference
        )
        for method, space in spaces.items()
    }
    return score_methods(
        model_input,
        assignments,
        separations,
        labels,
        enrichment,
        aligned,
        ScoringSettings.from_evaluation(settings),
    )


def _embed(checkpoint: dict[str, Any], model_input: pd.DataFrame, batch_size: int) -> Embedding:
    model = model_from_checkpoint(checkpoint)
    return embed(model, MouseTensors.from_frame(model_input, model.config.abr_scale), batch_size)


def _method_first(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [METHOD, *(c for c in frame.columns if c != METHOD)]
    return frame[columns].reset_index(drop=True)
