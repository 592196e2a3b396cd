"""Thin nodes: the metrics, the report's figures and the report (maths in evaluation/ and
genes/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from audiometric_clustering.evaluation import plots
from audiometric_clustering.evaluation.assignments import MODEL
from audiometric_clustering.evaluation.comparison import METHOD, mlflow_metric_names
from audiometric_clustering.evaluation.honest_scores import honest_section
from audiometric_clustering.evaluation.metrics import reconstruction_summary
from audiometric_clustering.evaluation.report import (
    build_report,
    data_summary,
    report_notes,
    top_enriched_lines,
)
from audiometric_clustering.evaluation.settings import EvaluationSettings
from audiometric_clustering.genes import plots as gene_plots
from audiometric_clustering.genes.comparison import line_call_metrics
from audiometric_clustering.genes.report import genes_section
from audiometric_clustering.impc.schema import ABR_OBSERVED, CENTRE, FREQUENCIES, SPLIT
from audiometric_clustering.model.inputs import ABR_SCALES
from audiometric_clustering.training.passes import (
    ABR_SCALE,
    LATENT,
    RECONSTRUCTION,
    SOFT_ASSIGNMENT,
)


def collect_metrics(
    comparison: pd.DataFrame,
    gene_call_comparison: pd.DataFrame,
    model_input: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Flat metric names for MLflow (and the same numbers as a local JSON file): every
    clustering's scores, the gene calls' and line_test's counts and scores
    (``eval/gene_calls/...``, ``eval/line_test/...``) and the reconstruction error.

    Reconstruction error is the model's alone: per frequency over all mice, and overall per
    split, always on measured thresholds only, on the model's scale of thresholds.
    """
    measured = model_input[list(ABR_SCALES[str(embeddings[ABR_SCALE])])].to_numpy(dtype=float)
    observed = model_input[list(ABR_OBSERVED)].to_numpy(dtype=float)
    reconstructed = embeddings[RECONSTRUCTION]
    metrics = mlflow_metric_names(comparison, MODEL) | line_call_metrics(gene_call_comparison)
    recon = reconstruction_summary(measured, reconstructed, observed, FREQUENCIES)
    for split in np.unique(model_input[SPLIT].astype(str)):
        rows = model_input[SPLIT].astype(str).to_numpy() == split
        overall = reconstruction_summary(
            measured[rows], reconstructed[rows], observed[rows], FREQUENCIES
        )["reconstruction_mae_db"]
        recon[f"reconstruction_mae_db_{split}"] = overall
    metrics |= {f"eval/{name}": value for name, value in recon.items() if np.isfinite(value)}
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}, metrics


def plot_evaluation(
    pretraining_history: dict[str, list[float]],
    joint_training_history: dict[str, list[float]],
    model_input: pd.DataFrame,
    embeddings: dict[str, np.ndarray],
    assignments: pd.DataFrame,
    summary: pd.DataFrame,
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
    gene_calls: pd.DataFrame,
    params: Mapping[str, Any],
    seed: int,
) -> dict[str, Figure]:
    """The five figures of the model's clustering and the top gene calls' audiograms, keyed
    by their file names."""
    settings = EvaluationSettings.from_params(params)
    n_clusters = embeddings[SOFT_ASSIGNMENT].shape[1]
    model_labels = assignments[MODEL].to_numpy()
    centres = model_input[CENTRE].astype(str).to_numpy()
    figures = {
        "training_curves": plots.training_curves(
            {"pretraining": pretraining_history, "joint training": joint_training_history}
        ),
        "latent_projection": plots.latent_projection(
            embeddings[LATENT], model_labels, centres, seed
        ),
        "cluster_audiograms": plots.cluster_audiograms(
            summary[summary[METHOD] == MODEL], labels[labels[METHOD] == MODEL]
        ),
        "enrichment_heatmap": plots.enrichment_heatmap(
            enrichment[enrichment[METHOD] == MODEL], n_clusters, settings.top_lines
        ),
        "centre_composition": plots.centre_composition(model_labels, centres, n_clusters),
    }
    return {plots.PLOT_FILES[name]: figure for name, figure in figures.items()} | {
        gene_plots.PLOT_FILE: gene_plots.gene_call_audiograms(
            gene_calls, settings.gene_calls.figure_lines
        )
    }


def write_report(
    model_input: pd.DataFrame,
    metrics: dict[str, float],
    comparison: pd.DataFrame,
    labels: pd.DataFrame,
    enrichment: pd.DataFrame,
    gene_calls: pd.DataFrame,
    gene_call_comparison: pd.DataFrame,
    params: Mapping[str, Any],
) -> str:
    """The Markdown report, led by the honest scores and the genes; notes say what could
    not be scored."""
    settings = EvaluationSettings.from_params(params)
    model_labels = labels[labels[METHOD] == MODEL].drop(columns=METHOD)
    top = top_enriched_lines(
        enrichment[enrichment[METHOD] == MODEL],
        model_labels,
        settings.fdr,
        settings.top_lines_per_cluster,
    )
    return build_report(
        summary=data_summary(model_input, settings.min_line_size),
        honest_scores=honest_section(comparison, labels),
        genes=genes_section(
            gene_calls, gene_call_comparison, settings.gene_calls, gene_plots.PLOT_FILE
        ),
        model_metrics={k: v for k, v in metrics.items() if k.startswith("eval/reconstruction")},
        comparison=comparison,
        labels=model_labels,
        top_lines=top,
        plot_files=plots.PLOT_FILES,
        notes=report_notes(comparison, model_labels),
    )
