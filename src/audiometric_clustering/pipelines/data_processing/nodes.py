"""Adapters from Kedro parameters to the plain functions in :mod:`audiometric_clustering.impc`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.impc.cohort import build_cohort
from audiometric_clustering.impc.preprocessing import fit_preprocessor
from audiometric_clustering.impc.settings import DataProcessingSettings
from audiometric_clustering.impc.validation import validate_export


def validate_abr_export(
    raw_abr_export: pd.DataFrame, params: Mapping[str, Any], n_clusters: int | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fail before anything is written when the export is unusable; clean and count the rest.

    ``n_clusters`` null (cluster_init chooses the count): at least the two clusters every
    model has."""
    settings = DataProcessingSettings.from_params(params)
    return validate_export(
        raw_abr_export,
        n_clusters=2 if n_clusters is None else int(n_clusters),
        min_line_size=settings.min_line_size,
        plausible_range_db=tuple(settings.plausible_range_db),
        max_out_of_range_share=settings.max_out_of_range_share,
    )


def select_modelling_cohort(
    validated_abr: pd.DataFrame, params: Mapping[str, Any], seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Controls plus mutants of large-enough lines, with a seeded line-wise split."""
    settings = DataProcessingSettings.from_params(params)
    return build_cohort(
        validated_abr,
        min_line_size=settings.min_line_size,
        validation_fraction=settings.validation_fraction,
        seed=int(seed),
    )


def fit_preprocessing(modelling_cohort: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, Any]:
    """The preprocessor state (baselines, standardisation, vocabularies, PCA) of the cohort."""
    return fit_preprocessor(modelling_cohort, DataProcessingSettings.from_params(params))
