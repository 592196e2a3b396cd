"""Adapter from Kedro parameters to the synthetic generator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from audiometric_clustering.impc.synthetic import SyntheticSettings, generate_synthetic_export


def generate_synthetic_data(params: Mapping[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic wide export and its ground truth, as ``params:synthetic`` describes."""
    settings = SyntheticSettings.from_params(params)
    return generate_synthetic_export(settings.n_mice, settings.seed, settings)
