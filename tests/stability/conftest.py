"""Fixtures of the stability tests: a project copy with a small synthetic export processed."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiometric_clustering.impc.synthetic import generate_synthetic_export
from tests.parameters import synthetic_settings


@pytest.fixture
def processed_project(kedro_project: Path, run_pipeline) -> Path:
    """The project copy after ``data_processing`` on 1,500 synthetic mice with their truth."""
    export, truth = generate_synthetic_export(1500, seed=5, settings=synthetic_settings())
    export.to_csv(kedro_project / "data/01_raw/impc_abr_synthetic.csv", index=False)
    truth.to_csv(kedro_project / "data/01_raw/impc_abr_synthetic_truth.csv", index=False)
    run_pipeline("data_processing")
    return kedro_project
