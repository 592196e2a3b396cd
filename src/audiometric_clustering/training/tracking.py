"""MLflow logging for the training nodes (the engine itself knows nothing of MLflow)."""

from __future__ import annotations

from collections.abc import Callable

import mlflow


def log_metrics(prefix: str, metrics: dict[str, float], step: int | None = None) -> None:
    """Log ``prefix/name`` metrics into the active run; outside a run (plain python use,
    tests) there is nowhere to log, and MLflow would otherwise open a stray run."""
    if mlflow.active_run() is not None:
        mlflow.log_metrics(
            {f"{prefix}/{name}": value for name, value in metrics.items()}, step=step
        )


def epoch_logger(prefix: str) -> Callable[[int, dict[str, float]], None]:
    """An ``on_epoch_end`` callback logging every epoch's metrics at step = epoch."""

    def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
        log_metrics(prefix, metrics, step=epoch)

    return on_epoch_end
