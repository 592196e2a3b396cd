"""Kedro dataset for a CSV table that may legitimately be absent."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

from audiometric_clustering.atomic_files import replaced_atomically


class OptionalCSVDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """A CSV table that loads as an empty frame when the file does not exist.

    The synthetic ground truth exists only after the synthetic generator ran; evaluating a
    real export must still work, so a missing file means "no ground truth", not an error.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _load(self) -> pd.DataFrame:
        if not Path(self._filepath).is_file():
            return pd.DataFrame()
        return pd.read_csv(self._filepath)

    def _save(self, data: pd.DataFrame) -> None:
        with replaced_atomically(self._filepath) as partial:
            data.to_csv(partial, index=False)

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
