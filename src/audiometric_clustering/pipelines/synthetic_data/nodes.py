"""Adapter from Kedro parameters to the synthetic generator."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.impc.synthetic import SyntheticSettings, generate_synthetic_export
from audiometric_clustering.impc.synthetic.settings import RUN_KEYS


def generate_synthetic_data(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic wide export and its ground truth, as ``params:synthetic`` describes."""
    effects = {key: value for key, value in params.items() if key not in RUN_KEYS}
    return generate_synthetic_export(
        params["n_mice"], params["seed"], SyntheticSettings.from_params(effects)
    )
