"""Kedro dataset for weights-only torch checkpoints."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

from audiometric_clustering.training.checkpoints import load_checkpoint, save_atomic


class TorchCheckpointDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """A checkpoint dict (CPU tensors and plain python values) in one ``.pt`` file.

    Loads with ``torch.load(weights_only=True)``: a checkpoint can never run pickled code.
    Saves atomically (a temporary file renamed over the target), so an interrupted save
    leaves the previous checkpoint intact. Exposes ``_filepath`` so that kedro-mlflow's
    ``MlflowArtifactDataset`` can log the file after saving it.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _load(self) -> dict[str, Any]:
        return load_checkpoint(Path(self._filepath))

    def _save(self, data: dict[str, Any]) -> None:
        save_atomic(data, Path(self._filepath))

    def _exists(self) -> bool:
        return Path(self._filepath).is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
