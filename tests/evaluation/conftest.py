"""Fixtures of the evaluation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.mice import build_mice


@pytest.fixture
def mice_and_patterns() -> tuple[pd.DataFrame, np.ndarray]:
    return build_mice()
