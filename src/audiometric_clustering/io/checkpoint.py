"""Kedro dataset for weights-only torch checkpoints."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, DatasetError

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


class ResumeCheckpointDataset(AbstractDataset[None, Path]):
    """Where a training stage keeps its "last" checkpoint: loads as the file's path.

    The stage itself writes the file after every epoch (atomically) and reads it back when
    resuming, so it cannot be a node output, which exists only once the node returns. The
    catalog still owns the path, which puts the file in the run's folder.
    """

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = PurePosixPath(filepath)
        self.metadata = metadata

    def _load(self) -> Path:
        return Path(self._filepath)

    def _save(self, data: None) -> None:
        raise DatasetError(f"{self._filepath} is written by the training stage, not saved")

    def _exists(self) -> bool:
        return True  # the path always exists as a place to write; the file may not yet

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
