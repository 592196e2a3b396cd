"""Project hooks: parameters checked before any work, the deployable MLflow model of a
training run, runs ended by a signal marked KILLED, and how long each stage took. Each run's
own folder of artifacts is run_folder_hook.py."""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import dask
import mlflow
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from audiometric_clustering.given_parameters import check_given_parameters
from audiometric_clustering.parameter_checks import check_parameters
from audiometric_clustering.pipelines.inference.packaging import log_inference_model
from audiometric_clustering.pipelines.inference.pipeline import (
    NEW_EXPORT,
    create_prediction_pipeline,
)
from audiometric_clustering.run_folder_hook import RunFolderHook, pipeline_label

logger = logging.getLogger(__name__)


class ParameterCheckHook:
    """Fails a run before any node (and before its MLflow run or folder) on a bad parameter,
    or on a given one that the pipeline would ignore (given_parameters.py)."""

    def __init__(self, run_folders: RunFolderHook) -> None:
        self._run_folders = run_folders

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        check_given_parameters(
            run_params.get("runtime_params") or {},
            pipeline,
            pipeline_label(run_params),
            pipelines,
            self._run_folders.run_datasets,
        )
        entries = {
            name.removeprefix("params:").split(".")[0]
            for name in pipeline.inputs()
            if name.startswith("params:")
        }
        check_parameters(catalog.load("parameters"), entries)


class InferenceModelHook:
    """Logs ``inference_model`` to the MLflow run of a run that made every file the
    prediction pipeline reads (``full_training``): this run's files, no pickles."""

    def __init__(self, run_folders: RunFolderHook) -> None:
        self._run_folders = run_folders

    @hook_impl(tryfirst=True)  # before kedro-mlflow's own hook closes the MLflow run
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        prediction = create_prediction_pipeline()
        needed = prediction.inputs() - {NEW_EXPORT}
        files = {name for name in needed if not name.startswith("params:")}
        if mlflow.active_run() is None or not files <= pipeline.all_outputs():
            return
        log_inference_model(
            {name: str(self._run_folders.path_of(name)) for name in sorted(files)},
            {name[len("params:") :]: catalog.load(name) for name in sorted(needed - files)},
        )
        logger.info("logged the MLflow model inference_model")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


class InterruptedRunHook:
    """A run ended by Ctrl-C or SIGTERM is marked KILLED in MLflow.

    Kedro's error hooks see exceptions only, so an interrupted run would otherwise stay
    RUNNING (SIGTERM) or be ended as FINISHED by MLflow's own exit handler (Ctrl-C). SIGTERM
    is turned into the same KeyboardInterrupt, so the run unwinds as after Ctrl-C and its
    atomic saves drop their partial files. SIGKILL cannot be acted on.
    """

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._previous_handler: Any = None
        atexit.register(self._mark_killed)  # runs before MLflow's handler, registered earlier

    @hook_impl(trylast=True)  # after kedro-mlflow's hook has opened the MLflow run
    def before_pipeline_run(self) -> None:
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active is not None else None
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGTERM, _interrupt)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._finish()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._finish()  # kedro-mlflow marks the run FAILED

    def _finish(self) -> None:
        self._run_id = None
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None

    def _mark_killed(self) -> None:
        if self._run_id is None:
            return
        with contextlib.suppress(Exception):
            mlflow.MlflowClient().set_terminated(self._run_id, "KILLED")
            while mlflow.active_run() is not None:
                mlflow.end_run("KILLED")
            logger.warning("MLflow run %s marked KILLED", self._run_id)


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


#: Where Dask workers keep their scratch files, inside the project's data folder (Dask's
#: default is the system's temporary folder, e.g. /tmp/dask-scratch-space).
DASK_SCRATCH = "data/dask-scratch-space"


class DaskScratchHook:
    """Points Dask's ``temporary-directory`` at :data:`DASK_SCRATCH` for the run, so the
    workers of an embedded LocalCluster (``stability``) write inside the project."""

    def __init__(self) -> None:
        self._setting: Any = None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        scratch = Path(run_params["project_path"]) / DASK_SCRATCH
        self._setting = dask.config.set({"temporary-directory": str(scratch)})

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._restore()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._setting is not None:
            self._setting.__exit__(None, None, None)
            self._setting = None
