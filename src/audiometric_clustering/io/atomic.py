"""Datasets that appear whole or not at all.

kedro-datasets write in place: a run killed while saving ``cluster_predictions.csv`` left
it at 0 bytes, the previous good file gone. Every file the project writes goes through
:func:`replaced_atomically` instead: written beside the target under a hidden name, then
renamed over it (one atomic step on a local file system). The classes below are the
kedro-datasets types the catalog uses, with that one change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from kedro_datasets.json import JSONDataset as _JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _MatplotlibDataset
from kedro_datasets.pandas import CSVDataset as _CSVDataset
from kedro_datasets.pandas import ParquetDataset as _ParquetDataset
from kedro_datasets.text import TextDataset as _TextDataset


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def replaced_atomically(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden path beside ``target`` to write (a file or a folder); on success it
    replaces ``target``, on any failure (or interrupt) it is removed and ``target`` kept.

    A folder cannot be renamed over a non-empty one: the old folder is first moved aside,
    so for an instant neither exists, and never a half-written one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
        if partial.is_dir() and target.is_dir():
            previous = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.previous")
            os.replace(target, previous)
            os.replace(partial, target)
            _remove(previous)
        else:
            os.replace(partial, target)
    except BaseException:
        _remove(partial)
        raise


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
