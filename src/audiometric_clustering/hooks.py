"""Project hooks: how long each stage of a run took, in the log and in MLflow."""

from __future__ import annotations

import logging
import time
from collections import defaultdict

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Node

logger = logging.getLogger(__name__)


class StageTimingHook:
    """Wall time per node and per stage (the node's namespace), logged when the run ends.

    Users see where a run spends its time without a profiler; the benchmark reads the same
    figures back from MLflow (metrics ``timing/<stage>_seconds`` and ``timing/total_seconds``).
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._stage_seconds: dict[str, float] = defaultdict(float)
        self._run_started = 0.0

    @hook_impl
    def before_pipeline_run(self) -> None:
        self._stage_seconds.clear()
        self._run_started = time.perf_counter()

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        seconds = time.perf_counter() - self._started.pop(node.name)
        self._stage_seconds[node.namespace or "other"] += seconds
        logger.info("node %s took %.2f s", node.name, seconds)

    @hook_impl(tryfirst=True)  # before kedro-mlflow's own hook closes the MLflow run
    def after_pipeline_run(self) -> None:
        timings = {f"timing/{stage}_seconds": s for stage, s in self._stage_seconds.items()}
        timings["timing/total_seconds"] = time.perf_counter() - self._run_started
        logger.info(
            "stage wall times: %s",
            ", ".join(f"{name[7:]} {seconds:.1f}" for name, seconds in timings.items()),
        )
        if mlflow.active_run() is not None:
            mlflow.log_metrics(timings)
