"""Adapters from Kedro parameters to the plain functions in :mod:`audiometric_clustering.impc`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.impc.cohort import build_cohort
from audiometric_clustering.impc.validation import validate_export


def validate_abr_export(
    raw_abr_export: pd.DataFrame, params: dict[str, Any], n_clusters: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fail before anything is written when the export is unusable; clean and count the rest."""
    return validate_export(
        raw_abr_export,
        n_clusters=int(n_clusters),
        min_line_size=int(params["min_line_size"]),
        plausible_range_db=tuple(params["plausible_range_db"]),
        max_out_of_range_share=float(params["max_out_of_range_share"]),
    )


def select_modelling_cohort(
    validated_abr: pd.DataFrame, params: dict[str, Any], seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Controls plus mutants of large-enough lines, with a seeded line-wise split."""
    return build_cohort(
        validated_abr,
        min_line_size=int(params["min_line_size"]),
        validation_fraction=float(params["validation_fraction"]),
        seed=int(seed),
    )
