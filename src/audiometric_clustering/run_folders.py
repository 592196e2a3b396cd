"""Per-run folders: every run reads and writes its own copy of every artifact.

The catalog writes the path of each run artifact with a ``{run}`` placeholder
(``data/runs/{run}/06_models/...``). When a pipeline starts, the project hook fills it in:

* a run that makes ``model_input`` (``full_training``, ``data_processing``) starts a new
  folder named by its Kedro session id, so two runs started together never share a file;
* any other run (one stage alone, ``evaluation``, ``inference``) works in an existing
  folder: the one named by ``--params run=<folder>``, or else the latest finished run.

``run`` names a folder directly in ``data/runs``: a plain name, never a path, so no run
reads or writes outside it. ``data/runs/latest`` links to the last run that finished, so its
report is always at ``data/runs/latest/08_reporting/evaluation_report.md``; a catalog used
outside a run (a notebook, ``kedro ipython``) reads that folder, or the one ``params:run``
names.

Why the datasets are rebuilt rather than templated: Kedro 1.7 resolves the catalog's
configuration (``${runtime_params:...}`` and custom resolvers included) once, when the
session builds the catalog, before any hook knows which pipeline runs. Whether a run starts
a folder, and its name (the session id), are known only in ``before_pipeline_run``. So the
project hook keeps each run dataset's configuration (``after_catalog_created`` hands it
over) and registers a dataset built from it, placeholder filled, with the public
``AbstractDataset.from_config`` and ``catalog[name] = dataset``: no private attribute of
Kedro or of a dataset is read or written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io import AbstractDataset

#: Where run folders live, relative to the project root (the catalog's paths say the same).
RUNS_ROOT = PurePosixPath("data/runs")
#: The placeholder in catalog paths that the run's folder name replaces.
PLACEHOLDER = "{run}"
#: The link to the last run that finished.
LATEST = "latest"
#: A run that makes this dataset starts a new folder.
STARTS_A_RUN = "model_input"
#: Left in a folder whose run failed (and was not empty): listings skip it.
FAILED_MARK = ".failed"


class RunFolderError(ValueError):
    """No usable run folder: the message says which runs exist and how to make one."""


def check_run_name(requested: object) -> str:
    """``run`` as a folder name directly in ``data/runs``; anything else is refused.

    A path (``/some/dir``, ``../x``, ``a/b``) would make the run read and write outside
    ``data/runs`` and move a ``latest`` link beside a folder that is not a run.
    """
    name = str(requested)
    separators = {"/", "\\", os.sep, *([os.altsep] if os.altsep else [])}
    if not name or name.startswith(".") or "\0" in name or any(s in name for s in separators):
        raise RunFolderError(
            f"run = {requested!r}: expected the name of a run folder in {RUNS_ROOT} (e.g. "
            f"2026-12-04T18.30.55.228Z, or {LATEST}), not a path: no '/', no '..', not "
            "starting with '.'. To work on files elsewhere, give the export with "
            "raw_abr_path; run folders stay under data/runs."
        )
    return name


def listed_runs(root: Path) -> list[str]:
    """The run folders worth naming in a message: real folders, not failed ones."""
    if not root.is_dir():
        return []
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and not (p / FAILED_MARK).exists()
    )


def _latest(root: Path) -> Path | None:
    link = root / LATEST
    if not link.is_symlink():
        return None
    target = root / os.readlink(link)
    return target if target.parent == root and target.is_dir() else None


def choose_run_folder(root: Path, requested: object, starts_run: bool, session_id: str) -> Path:
    """The folder this run reads and writes (created when the run starts one).

    ``requested`` (``--params run=...``) wins; ``latest`` is resolved to the folder it links
    to now, so a run keeps its folder even if another run finishes meanwhile.
    """
    if requested is not None:
        name = check_run_name(requested)
        folder = _latest(root) if name == LATEST else root / name
        if folder is None or not folder.is_dir() or folder.is_symlink():
            raise RunFolderError(
                f"--params run={name}: no run folder {root / name}; "
                f"runs there: {listed_runs(root)[-5:] or 'none'}"
            )
        return folder
    if starts_run:
        folder, suffix = root / session_id, 1
        root.mkdir(parents=True, exist_ok=True)
        while True:  # two runs started in the same millisecond get different folders
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                suffix += 1
                folder = root / f"{session_id}-{suffix}"
    latest = _latest(root)
    if latest is None:
        raise RunFolderError(
            f"no finished run in {root}: run `kedro run --pipeline full_training` (or "
            f"data_processing) first, or name a run folder with --params run=<folder>"
        )
    return latest


def mark_latest(folder: Path) -> None:
    """Atomically point ``latest`` beside ``folder`` at it, and clear a failed mark."""
    (folder / FAILED_MARK).unlink(missing_ok=True)
    link = folder.parent / LATEST
    temporary = folder.parent / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(folder.name, temporary)
    os.replace(temporary, link)


def close_failed_folder(folder: Path, error: BaseException, kept: set[str]) -> bool:
    """After a run that made ``folder`` failed: remove it when it holds no file other than
    ``kept`` (e.g. failed validation), else mark it failed. Returns whether it was removed."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.name not in kept]
    if not files:
        for path in sorted(folder.rglob("*"), reverse=True):  # files, then emptied folders
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
        return True
    (folder / FAILED_MARK).write_text(f"{type(error).__name__}: {error}\n")
    return False


# --- the catalog's run datasets ------------------------------------------------------------


def _filled(value: Any, folder_name: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, folder_name)
    if isinstance(value, Mapping):
        return {key: _filled(inner, folder_name) for key, inner in value.items()}
    return value


def run_dataset_configs(conf_catalog: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The catalog entries whose configuration holds the placeholder (files in a run folder)."""
    return {
        name: dict(config)
        for name, config in conf_catalog.items()
        if isinstance(config, Mapping) and PLACEHOLDER in str(config)
    }


def filepath_in_folder(config: Mapping[str, Any], folder_name: str) -> str:
    """The file of a run dataset in a folder (a wrapper's file is its inner dataset's)."""
    inner = config.get("dataset") if "filepath" not in config else config
    return _filled(inner["filepath"], folder_name)


def dataset_in_folder(name: str, config: Mapping[str, Any], folder_name: str) -> AbstractDataset:
    """The catalog's dataset ``name`` with its placeholder filled by ``folder_name``."""
    return AbstractDataset.from_config(name, _filled(config, folder_name))


class _WithoutReplacingNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Replacing dataset")


@contextmanager
def quietly_replacing() -> Iterator[None]:
    """Registering a dataset under a catalog name logs "Replacing dataset" each time; the
    run folder's datasets replace the catalog's placeholders by design, one per dataset."""
    catalog_logger = logging.getLogger("kedro.io.data_catalog")
    quiet = _WithoutReplacingNotices()
    catalog_logger.addFilter(quiet)
    try:
        yield
    finally:
        catalog_logger.removeFilter(quiet)
