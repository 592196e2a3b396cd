"""Kedro dataset for an IMPC ABR export: CSV or Parquet, wide or long layout."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset

from audiometric_clustering.impc.readers import read_export, write_export


class IMPCExportDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Loads any IMPC ABR export as the wide layout; saves the wide layout.

    The file type follows the suffix (``.csv``, ``.csv.gz``, ``.parquet``); the long Solr
    ``experiment`` layout is detected and pivoted. The loaded frame records
    ``attrs["source_file"]`` and ``attrs["layout"]`` so validation errors can name the file.
    All the logic lives in :mod:`audiometric_clustering.impc.readers`.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        return read_export(self._filepath)

    def save(self, data: pd.DataFrame) -> None:
        write_export(data, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": PurePosixPath(self._filepath)}
