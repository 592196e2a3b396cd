"""Thin nodes: catalog objects in, :mod:`audiometric_clustering.inference` calls, tables out.

Two groups. The reference nodes run at the end of training and persist what inference needs
beyond the model (training line embeddings, the misfit thresholds). The prediction nodes
turn raw export rows into predictions; they are also what the MLflow model runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from audiometric_clustering.evaluation.assignments import CLUSTER
from audiometric_clustering.impc.cohort import TRAIN
from audiometric_clustering.impc.control_baselines import (
    BASELINE_SOURCE,
    FROM_FILE_CONTROLS,
    MIN_FILE_CENTRE_CONTROLS,
    baseline_summary,
)
from audiometric_clustering.impc.preprocessing import apply_preprocessor, control_reference_summary
from audiometric_clustering.impc.schema import LINE_ID, SPECIMEN_ID, SPLIT
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.impc.validation import source_of, validate_export
from audiometric_clustering.inference.assignment import (
    FITS_NO_CLUSTER,
    UNSEEN_CATEGORIES,
    MisfitRule,
    fit_misfit_rule,
    model_cluster_labels,
    nearest_centre_distance,
    prediction_table,
)
from audiometric_clustering.inference.categories import (
    describe_unseen,
    unseen_columns_per_mouse,
    unseen_mask,
    unseen_value_counts,
)
from audiometric_clustering.inference.report import inference_report
from audiometric_clustering.inference.settings import InferenceSettings
from audiometric_clustering.inference.similarity import line_embeddings, new_line_summary
from audiometric_clustering.model import MouseTensors
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.passes import LATENT, SOFT_ASSIGNMENT, SPECIMENS, embed

logger = logging.getLogger(__name__)

#: npz key of the inference embeddings: each mouse's latent distance to the nearest centre.
CENTRE_DISTANCE_KEY = "centre_distance"


# --- reference, written by the training run ---------------------------------------------


def _aligned_embeddings(
    model_input: pd.DataFrame, embeddings: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Latent means and soft assignments in ``model_input`` row order."""
    position = pd.Index(embeddings[SPECIMENS].astype(str)).get_indexer(
        model_input[SPECIMEN_ID].astype(str)
    )
    if (position < 0).any():
        raise ValueError(
            f"latent_embeddings lack {int((position < 0).sum())} mice of model_input: they "
            "come from another run; re-run `kedro run --pipeline evaluation` first"
        )
    return embeddings[LATENT][position], embeddings[SOFT_ASSIGNMENT][position]


def summarise_training_lines(
    model_input: pd.DataFrame, latent_embeddings: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Every modelled knockout line's mean latent position and cluster counts."""
    latent, soft = _aligned_embeddings(model_input, latent_embeddings)
    return line_embeddings(model_input, latent, soft.argmax(axis=1), soft.shape[1])


def fit_misfit_reference(
    trained_model: dict[str, Any],
    model_input: pd.DataFrame,
    latent_embeddings: dict[str, np.ndarray],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """The "fits no cluster" thresholds from the training split's mice."""
    settings = InferenceSettings.from_params(params)
    latent, soft = _aligned_embeddings(model_input, latent_embeddings)
    training = model_input[SPLIT].eq(TRAIN).to_numpy()
    centres = model_from_checkpoint(trained_model).clustering.cluster_centres().detach().numpy()
    distance = nearest_centre_distance(latent[training], centres)
    rule = fit_misfit_rule(soft[training], distance, settings.misfit_quantile)
    logger.info("Misfit rule: a mouse %s.", rule.describe())
    return rule.to_dict()


# --- prediction: raw export rows -> predictions ------------------------------------------


def validate_new_mice(raw_abr_export: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """The training run's validation, without the checks that only matter for training.

    ``n_clusters=0`` switches off "fewer usable mice than clusters" (any number of new mice
    can be assigned); lines of any size are kept. Bad files fail as in data_processing.
    """
    settings = DataProcessingSettings.from_params(params)
    validated, summary = validate_export(
        raw_abr_export,
        n_clusters=0,
        min_line_size=1,
        require_controls=False,
        plausible_range_db=tuple(settings.plausible_range_db),
        max_out_of_range_share=settings.max_out_of_range_share,
    )
    dropped = summary["rows_read"] - summary["rows_validated"]
    if dropped or summary["out_of_range_cleared"]:
        logger.warning(
            "%s: %d of %d rows cannot be assigned (no thresholds, or a mutant without a full "
            "line identity); implausible thresholds cleared and imputed: %s",
            summary["source_file"],
            dropped,
            summary["rows_read"],
            summary["out_of_range_cleared"] or "none",
        )
    return validated


def _as_applied(preprocessor_state: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The training state with inference's fewest controls a file needs at a centre."""
    minimum = InferenceSettings.from_params(params).min_centre_controls
    reference = preprocessor_state["control_reference"] | {MIN_FILE_CENTRE_CONTROLS: minimum}
    return {**preprocessor_state, "control_reference": reference}


def _log_centre_references(summary: dict[str, Any]) -> None:
    minimum = summary[MIN_FILE_CENTRE_CONTROLS]
    for centre, used in summary["by_centre"].items():
        controls = used["controls_in_file"]
        if 0 < controls < minimum:
            logger.warning(
                "%s: %d control(s) in the file, fewer than inference.min_centre_controls = "
                "%d: its mice are referenced to the training controls (%s)",
                centre,
                controls,
                minimum,
                used["baselines"],
            )
        elif used["baselines"] == FROM_FILE_CONTROLS:
            logger.info("%s: referenced to the file's %d controls", centre, controls)


def preprocess_new_mice(
    inference_mice: pd.DataFrame, preprocessor_state: dict[str, Any], params: dict[str, Any]
) -> pd.DataFrame:
    """The model-input table of the new mice under the training preprocessor, plus which
    categorical columns of each mouse held a value unseen in training. A centre's mice are
    referenced to the file's controls there only with ``min_centre_controls`` of them."""
    state = _as_applied(preprocessor_state, params)
    _log_centre_references(baseline_summary(inference_mice, state))
    mice = apply_preprocessor(inference_mice, state)
    mask = unseen_mask(inference_mice, preprocessor_state)
    mice[UNSEEN_CATEGORIES] = unseen_columns_per_mouse(mask)
    if mask.to_numpy().any():
        counts = unseen_value_counts(inference_mice, mask)
        logger.warning(describe_unseen(counts, len(mice)))
    logger.info(
        "Control baselines per mouse: %s",
        mice[BASELINE_SOURCE].value_counts().sort_index().to_dict(),
    )
    return mice


def embed_new_mice(
    trained_model: dict[str, Any], inference_model_input: pd.DataFrame, params: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Latent means, cluster probabilities and distance to the nearest centre per mouse."""
    model = model_from_checkpoint(trained_model)
    tensors = MouseTensors.from_frame(inference_model_input, model.config.abr_scale)
    embedding = embed(model, tensors, InferenceSettings.from_params(params).batch_size)
    centres = model.clustering.cluster_centres().detach().numpy()
    return {
        SPECIMENS: inference_model_input[SPECIMEN_ID].astype(str).to_numpy(),
        LATENT: embedding.latent_mean,
        SOFT_ASSIGNMENT: embedding.soft_assignment,
        CENTRE_DISTANCE_KEY: nearest_centre_distance(embedding.latent_mean, centres),
    }


def assign_new_mice(
    inference_model_input: pd.DataFrame,
    inference_embeddings: dict[str, np.ndarray],
    cluster_labels: pd.DataFrame,
    misfit_rule: dict[str, Any],
) -> pd.DataFrame:
    """The predictions table: cluster, probabilities, label and the "fits no cluster" flag."""
    rule = MisfitRule.from_dict(misfit_rule)
    predictions = prediction_table(
        inference_model_input,
        inference_embeddings[SOFT_ASSIGNMENT],
        inference_embeddings[CENTRE_DISTANCE_KEY],
        model_cluster_labels(cluster_labels),
        rule,
    )
    flagged = int(predictions[FITS_NO_CLUSTER].sum())
    if flagged:
        logger.warning(
            "%d of %d mice fit no cluster well (column %r): a mouse %s.",
            flagged,
            len(predictions),
            FITS_NO_CLUSTER,
            rule.describe(),
        )
    return predictions


# --- reporting ---------------------------------------------------------------------------


def summarise_new_lines(
    inference_predictions: pd.DataFrame,
    inference_embeddings: dict[str, np.ndarray],
    training_line_embeddings: pd.DataFrame,
    cluster_labels: pd.DataFrame,
    params: Mapping[str, Any],
) -> pd.DataFrame:
    """Per new line: cluster distribution and the most similar training lines."""
    settings = InferenceSettings.from_params(params)
    soft = inference_embeddings[SOFT_ASSIGNMENT]
    lines = line_embeddings(
        inference_predictions,
        inference_embeddings[LATENT],
        inference_predictions[CLUSTER].to_numpy(),
        soft.shape[1],
    )
    misfits = inference_predictions.loc[inference_predictions[FITS_NO_CLUSTER], LINE_ID]
    return new_line_summary(
        lines,
        training_line_embeddings,
        model_cluster_labels(cluster_labels),
        misfits.value_counts(),
        settings.min_line_size,
        settings.similar_lines,
    )


def report_inference(
    raw_abr_export: pd.DataFrame,
    inference_mice: pd.DataFrame,
    preprocessor_state: dict[str, Any],
    inference_predictions: pd.DataFrame,
    misfit_rule: dict[str, Any],
    inference_line_summary: pd.DataFrame,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Baseline sources, unseen categories, flagged mice and the rule, as JSON."""
    mask = unseen_mask(inference_mice, preprocessor_state)
    state = _as_applied(preprocessor_state, params)
    return inference_report(
        source_file=source_of(raw_abr_export),
        rows_read=len(raw_abr_export),
        predictions=inference_predictions,
        baselines=control_reference_summary(inference_mice, state),
        unseen=unseen_value_counts(inference_mice, mask),
        mice_with_unseen=int(mask.to_numpy().any(axis=1).sum()),
        rule=MisfitRule.from_dict(misfit_rule),
        min_line_size=InferenceSettings.from_params(params).min_line_size,
        lines_summarised=len(inference_line_summary),
    )
