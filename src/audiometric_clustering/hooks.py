"""Project hooks: parameters checked before any work, each run's own folder of artifacts,
the deployable MLflow model of a training run, runs ended by a signal marked KILLED, and how
long each stage took."""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, DataCatalog
from kedro.pipeline import Node, Pipeline

from audiometric_clustering.parameter_checks import check_parameters
from audiometric_clustering.pipelines.inference.packaging import log_inference_model
from audiometric_clustering.pipelines.inference.pipeline import (
    NEW_EXPORT,
    create_prediction_pipeline,
)
from audiometric_clustering.run_folders import (
    LATEST,
    RUNS_ROOT,
    STARTS_A_RUN,
    choose_run_folder,
    in_run_folder,
    mark_latest,
    relocate,
)

logger = logging.getLogger(__name__)


class ParameterCheckHook:
    """Fails a run before any node (and before its MLflow run) on a bad parameter."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        entries = {
            name.removeprefix("params:").split(".")[0]
            for name in pipeline.inputs()
            if name.startswith("params:")
        }
        check_parameters(catalog.load("parameters"), entries)


def _run_datasets(catalog: DataCatalog, names: Iterable[str]) -> list[AbstractDataset]:
    """The named datasets whose catalog path lies in a run folder."""
    datasets = (catalog.get(name) for name in names if not name.startswith("params:"))
    return [dataset for dataset in datasets if dataset is not None and in_run_folder(dataset)]


class RunFolderHook:
    """Points every run artifact of the catalog at this run's folder before any node runs,
    and marks the folder as the latest run when the pipeline finishes (see run_folders)."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self._tagged = False

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        """Outside a run (a notebook, ``kedro ipython``) the catalog reads the latest run,
        or the one ``params:run`` names; a run points it at its own folder below."""
        folder = catalog.load("params:run") or LATEST
        for dataset in _run_datasets(catalog, catalog.keys()):
            relocate(dataset, str(folder))

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        self.folder, self._tagged = None, False
        in_runs = _run_datasets(catalog, pipeline.datasets())
        if not in_runs:  # e.g. synthetic_data, which writes the raw export only
            return
        self.folder = choose_run_folder(
            Path(run_params["project_path"]) / RUNS_ROOT,
            requested=catalog.load("params:run"),
            starts_run=STARTS_A_RUN in pipeline.all_outputs(),
            session_id=run_params["run_id"],
        )
        for dataset in in_runs:
            relocate(dataset, self.folder.name)
        logger.info("run folder: %s", self.folder)

    @hook_impl
    def before_node_run(self) -> None:
        """Tag the MLflow run (open by now) with the folder, so each finds the other."""
        if not self._tagged and self.folder is not None and mlflow.active_run() is not None:
            mlflow.set_tag("run_folder", self.folder.name)
            self._tagged = True

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self.folder is not None:
            mark_latest(self.folder)


class InferenceModelHook:
    """Logs ``inference_model`` to the MLflow run of a run that made every file the
    prediction pipeline reads (``full_training``): this run's files, no pickles."""

    @hook_impl(tryfirst=True)  # before kedro-mlflow's own hook closes the MLflow run
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        prediction = create_prediction_pipeline()
        needed = prediction.inputs() - {NEW_EXPORT}
        files = {name for name in needed if not name.startswith("params:")}
        if mlflow.active_run() is None or not files <= pipeline.all_outputs():
            return
        log_inference_model(
            {name: str(catalog[name]._filepath) for name in sorted(files)},
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
