"""A run's own copy of a file it reads: what it saved, or what it first loaded.

Kedro's runner hands a persisted dataset from one node to the next by saving it and loading
it back from disk, so a node late in the run (the metrics, the report) read whatever the
file held by then, another run's result included. :class:`RunCopy` keeps the data in memory
for the rest of the run.

Unlike Kedro's ``CachedDataset``, which keeps the object as the node returned it, this keeps
the file's content as the dataset loads it, read back right after the save: a CSV or JSON
round trip changes types (a column of "NA" gene symbols, tuples, integer keys), and every
node should see what it sees when its stage runs alone from the files, as it did before.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, MemoryDataset


class RunCopy(AbstractDataset):
    """Wraps a file dataset: saves to the file, then serves the file's content from memory."""

    def __init__(self, dataset: AbstractDataset) -> None:
        self._dataset = dataset
        self._copy = MemoryDataset()

    def load(self) -> Any:
        if not self._copy.exists():
            self._copy.save(self._dataset.load())
        return self._copy.load()

    def save(self, data: Any) -> None:
        self._dataset.save(data)
        self._copy.release()
        self._copy.save(self._dataset.load())

    def _exists(self) -> bool:
        return self._copy.exists() or self._dataset.exists()

    def _release(self) -> None:
        self._copy.release()
        self._dataset.release()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": str(self._dataset)}

    @property
    def wrapped(self) -> AbstractDataset:
        """The file dataset underneath."""
        return self._dataset
