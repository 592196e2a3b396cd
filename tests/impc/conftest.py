"""Fixtures for the impc tests: a small synthetic export and the data-processing params."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from audiometric_clustering.impc.synthetic import generate_synthetic_export
from tests.conftest import REPO_ROOT
from tests.parameters import synthetic_settings


@pytest.fixture(scope="session")
def synthetic_pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,500 synthetic mice (export, truth); copy before changing."""
    return generate_synthetic_export(1500, seed=7, settings=synthetic_settings())


@pytest.fixture
def synthetic_export(synthetic_pair: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    frame = synthetic_pair[0].copy()
    frame.attrs.update(source_file="synthetic_test.csv", layout="wide")
    return frame


@pytest.fixture(scope="session")
def processing_params() -> dict:
    """The project's own data_processing parameters, so tests exercise the shipped defaults."""
    path = REPO_ROOT / "conf" / "base" / "parameters_data_processing.yml"
    return yaml.safe_load(path.read_text())["data_processing"]
