"""Kedro dataset for latent embeddings: named numpy arrays in one ``.npz`` file."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import AbstractDataset

from audiometric_clustering.atomic_files import replaced_atomically


class LatentEmbeddingsDataset(AbstractDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """A dict of named numpy arrays in one compressed ``.npz`` file.

    Written atomically and without pickling (strings are stored as fixed-width unicode arrays), so the file
    opens safely with ``np.load(path)`` in any numpy. Exposes ``_filepath`` so that
    kedro-mlflow's ``MlflowArtifactDataset`` can log the file after saving it.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _load(self) -> dict[str, np.ndarray]:
        with np.load(self._filepath, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    def _save(self, data: dict[str, np.ndarray]) -> None:
        arrays = {name: _without_objects(np.asarray(values)) for name, values in data.items()}
        with replaced_atomically(self._filepath) as partial, open(partial, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


def _without_objects(values: np.ndarray) -> np.ndarray:
    """Object arrays (e.g. specimen ids from pandas) need pickling; store them as text."""
    return values.astype(str) if values.dtype == object else values
