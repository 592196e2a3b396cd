"""Datasets that appear whole or not at all.

kedro-datasets write in place: a run killed while saving ``cluster_predictions.csv`` left
it at 0 bytes, the previous good file gone. The classes below are the kedro-datasets types
the catalog uses, saving through :func:`replaced_atomically` instead.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.text import TextDataset as _TextDataset

from audiometric_clustering.atomic_files import replaced_atomically


class AtomicSave:
    """Mixin for kedro-datasets file datasets: ``save`` writes through
    :func:`replaced_atomically` by pointing the save path at the hidden partial path."""

    _partial: PurePosixPath | None = None

    def _get_save_path(self) -> PurePosixPath:
        return self._partial if self._partial is not None else super()._get_save_path()

    def save(self, data: Any) -> None:
        with replaced_atomically(str(super()._get_save_path())) as partial:
            self._partial = PurePosixPath(partial)
            try:
                super().save(data)
            finally:
                self._partial = None


class CSVDataset(AtomicSave, _CSVDataset):
    """``pandas.CSVDataset``, saved atomically."""


class ParquetDataset(AtomicSave, _ParquetDataset):
    """``pandas.ParquetDataset``, saved atomically."""


class JSONDataset(AtomicSave, _JSONDataset):
    """``json.JSONDataset``, saved atomically."""


class TextDataset(AtomicSave, _TextDataset):
    """``text.TextDataset``, saved atomically."""


class MatplotlibDataset(AtomicSave, _MatplotlibDataset):
    """``matplotlib.MatplotlibDataset``, saved atomically; a dict of figures replaces the
    whole folder (the catalog keeps ``overwrite: false``: the swap removes old plots)."""
