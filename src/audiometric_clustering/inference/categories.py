"""Categories a new file has that the training data never had.

The preprocessor encodes any value outside a column's training vocabulary as code 0, the
"unknown" slot the model was built with, so a new centre, equipment or background never
breaks the run. It does make the model's view of those mice vaguer, so they are counted.
Missing values also map to 0 but are not "unseen": they are counted by validation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def unseen_mask(frame: pd.DataFrame, state: Mapping[str, Any]) -> pd.DataFrame:
    """Per mouse and categorical export column: True where a present value is not in the
    training vocabulary. Columns are export names (``phenotyping_center``, ...)."""
    columns = {}
    for feature, column in state["categorical_columns"].items():
        values = frame[column].astype("str")
        columns[column] = values.notna() & ~values.isin(state["vocabularies"][feature])
    return pd.DataFrame(columns, index=frame.index)


def unseen_columns_per_mouse(mask: pd.DataFrame) -> np.ndarray:
    """The ";"-joined export columns with an unseen value per mouse, "" when none."""
    names = np.asarray(mask.columns, dtype=object)
    return np.array([";".join(names[row]) for row in mask.to_numpy(dtype=bool)], dtype=object)


def unseen_value_counts(frame: pd.DataFrame, mask: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Number of mice per unseen value, for each column that has any."""
    counts = {}
    for column in mask.columns:
        unseen = frame.loc[mask[column].to_numpy(), column].astype("str").value_counts()
        if len(unseen):
            counts[str(column)] = {str(value): int(n) for value, n in unseen.sort_index().items()}
    return counts


def describe_unseen(counts: Mapping[str, Mapping[str, int]], n_mice: int) -> str:
    """One warning line: which columns had unseen values, how many mice, which values."""
    parts = [
        f"{column}: {sum(values.values())} mice ({', '.join(map(repr, list(values)[:5]))}"
        f"{', ...' if len(values) > 5 else ''})"
        for column, values in counts.items()
    ]
    return (
        f"categories never seen in training, encoded as 'unknown', among {n_mice} mice: "
        + "; ".join(parts)
    )
