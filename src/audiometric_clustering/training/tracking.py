"""MLflow logging for the training nodes (the engine itself knows nothing of MLflow)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import mlflow


def log_metrics(
    prefix: str, metrics: dict[str, float], step: int | None = None, synchronous: bool = True
) -> None:
    """Log ``prefix/name`` metrics into the active run; outside a run (plain python use,
    tests) there is nowhere to log, and MLflow would otherwise open a stray run."""
    if mlflow.active_run() is not None:
        mlflow.log_metrics(
            {f"{prefix}/{name}": value for name, value in metrics.items()},
            step=step,
            synchronous=synchronous,
        )


@contextlib.contextmanager
def epoch_logger(prefix: str) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """An ``on_epoch_end`` callback logging every epoch's metrics at step = epoch.

    The metrics go to MLflow's background logging queue: a synchronous write to the SQLite
    store takes about 30 ms, which 200 epochs would otherwise wait for. Leaving the block
    waits until everything queued is written, so a finished stage is fully in the store.
    """

    def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
        log_metrics(prefix, metrics, step=epoch, synchronous=False)

    try:
        yield on_epoch_end
    finally:
        if mlflow.active_run() is not None:
            mlflow.flush_async_logging()
