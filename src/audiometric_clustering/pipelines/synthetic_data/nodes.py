"""Adapter from Kedro parameters to the synthetic generator."""

from __future__ import annotations

from typing import Any

import pandas as pd

from audiometric_clustering.impc.synthetic import generate_synthetic_export


def generate_synthetic_data(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The synthetic wide export and its ground truth (line -> planted pattern)."""
    return generate_synthetic_export(
        int(params["n_mice"]),
        int(params["seed"]),
        control_share=float(params["control_share"]),
        affected_line_share=float(params["affected_line_share"]),
        pattern_weights=dict(params["pattern_weights"]),
        penetrance_range=tuple(params["penetrance_range"]),
    )
