"""The project hook that gives each run its folder (see run_folders.py), one run at a time.

Before any node it chooses the folder, takes the folder's lock (folder_lock.py), removes
what killed saves left there, points every run dataset of the catalog at the folder and
checks the folder's data against what its model was made from and trained on
(run_inputs.py). Every run-folder file the pipeline reads is served from the run's own copy
(io/run_copy.py), so the metrics and the report are this run's even if a file changes on
disk. When the run ends the lock is released; a folder the run made and that failed is
removed when empty (failed validation) or marked failed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from audiometric_clustering.atomic_files import remove_leftovers
from audiometric_clustering.folder_lock import LOCK_FILE, FolderLock
from audiometric_clustering.given_parameters import given_keys
from audiometric_clustering.io.run_copy import RunCopy
from audiometric_clustering.run_folders import (
    LATEST,
    RUNS_ROOT,
    STARTS_A_RUN,
    check_run_name,
    choose_run_folder,
    close_failed_folder,
    dataset_in_folder,
    filepath_in_folder,
    mark_latest,
    quietly_replacing,
    run_dataset_configs,
)
from audiometric_clustering.run_inputs import (
    CHECKPOINTS,
    FOLDER_DATA,
    check_made_from,
    check_trained_on,
    file_digest,
    record_made_from,
    record_trained_on,
)

logger = logging.getLogger(__name__)


def pipeline_label(run_params: dict[str, Any]) -> str:
    return "+".join(run_params.get("pipeline_names") or ["__default__"])


class RunFolderHook:
    """Each run in its own folder, or alone in the one it names (module docstring)."""

    def __init__(self) -> None:
        self._configs: dict[str, dict[str, Any]] = {}
        self._conf_catalog: dict[str, Any] = {}
        self.folder: Path | None = None
        self._lock: FolderLock | None = None
        self._created = False
        self._tagged = False
        self._made_from: dict[str, Any] | None = None

    @property
    def run_datasets(self) -> set[str]:
        """The catalog's datasets that live in a run folder."""
        return set(self._configs)

    def path_of(self, name: str) -> Path:
        """Where this run's folder keeps the run dataset ``name``."""
        if self.folder is None:
            raise RuntimeError("no run folder: the pipeline has not started")
        return Path(filepath_in_folder(self._configs[name], self.folder.name))

    def _point(self, catalog: DataCatalog, names: set[str], folder: str, kept: set[str]) -> None:
        with quietly_replacing():
            for name in sorted(names):
                dataset = dataset_in_folder(name, self._configs[name], folder)
                catalog[name] = RunCopy(dataset) if name in kept else dataset

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog, conf_catalog: dict[str, Any]) -> None:
        """Outside a run (a notebook, ``kedro ipython``) the catalog reads the latest run,
        or the one ``params:run`` names; a run points it at its own folder below."""
        self._conf_catalog = conf_catalog
        self._configs = run_dataset_configs(conf_catalog)
        requested = catalog.load("params:run")
        folder = LATEST if requested is None else check_run_name(requested)
        self._point(catalog, self.run_datasets, folder, kept=set())

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        self._release()
        self.folder, self._created, self._tagged, self._made_from = None, False, False, None
        names = pipeline.datasets() & self.run_datasets
        if not names:  # e.g. synthetic_data, which writes the raw export only
            return
        requested = catalog.load("params:run")
        starts_run = STARTS_A_RUN in pipeline.all_outputs()
        self.folder = choose_run_folder(
            Path(run_params["project_path"]) / RUNS_ROOT,
            requested=requested,
            starts_run=starts_run,
            session_id=run_params["run_id"],
        )
        self._created = requested is None and starts_run
        lock = FolderLock(self.folder)
        try:
            lock.acquire(run_params["run_id"], pipeline_label(run_params))
            self._lock = lock
            for leftover in remove_leftovers(self.folder):
                logger.info("removed %s, left by a save that was killed", leftover)
            self._point(catalog, names, self.folder.name, kept=names & pipeline.all_inputs())
            self._check_folder_data(pipeline, catalog)
        except BaseException as error:
            self._close(error)
            raise
        logger.info("run folder: %s", self.folder)

    def _check_folder_data(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        """Before anything is saved: the model input made again from the same data, and
        checkpoints read from the folder trained on the folder's data (run_inputs.py)."""
        if STARTS_A_RUN in pipeline.all_outputs():
            making = pipeline.to_outputs(*(set(FOLDER_DATA) & pipeline.all_outputs()))
            self._made_from = self._making(making, catalog)
            if not self._created and self.path_of(STARTS_A_RUN).exists():
                check_made_from(self.folder, self._made_from)
        read = [name for name in CHECKPOINTS if name in pipeline.inputs()]
        if read:
            paths = {name: self.path_of(name) for name in FOLDER_DATA}
            digests = {name: file_digest(path) for name, path in paths.items()}
            check_trained_on(self.folder, read, digests, paths)

    def _making(self, making: Pipeline, catalog: DataCatalog) -> dict[str, Any]:
        inputs, parameters = {}, {}
        for name in sorted(making.inputs()):
            if name.startswith("params:"):
                value = {name.removeprefix("params:"): catalog.load(name)}
                parameters |= {key: repr(v) for key, v in given_keys(value).items()}
            elif name not in self.run_datasets and "filepath" in self._conf_catalog.get(name, {}):
                path = Path(self._conf_catalog[name]["filepath"])
                inputs[name] = {"path": str(path), "sha256": file_digest(path)}
        return {"inputs": inputs, "parameters": parameters}

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """Keep the records of run_inputs.py as the folder's data and checkpoints are saved."""
        if self.folder is None:
            return
        if dataset_name == STARTS_A_RUN and self._made_from is not None:
            record_made_from(self.folder, self._made_from)
        if dataset_name in CHECKPOINTS:
            digests = {name: file_digest(self.path_of(name)) for name in FOLDER_DATA}
            record_trained_on(self.folder, dataset_name, digests)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        """Tag the MLflow run (open by now) with the folder, so each finds the other."""
        if not self._tagged and self.folder is not None and mlflow.active_run() is not None:
            mlflow.set_tag("run_folder", self.folder.name)
            self._tagged = True

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self.folder is not None:
            mark_latest(self.folder)
        self._release()

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        self._close(error)

    def _close(self, error: BaseException) -> None:
        """A failed run: its own new folder goes (when empty) or is marked failed."""
        if self._created and self.folder is not None and self.folder.is_dir():
            if close_failed_folder(self.folder, error, kept={LOCK_FILE}):
                logger.info("removed the run folder %s: the run failed before writing", self.folder)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
