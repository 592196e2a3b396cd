"""Per-run folders: every run reads and writes its own copy of every artifact.

The catalog writes the path of each run artifact with a ``{run}`` placeholder
(``data/runs/{run}/06_models/...``). When a pipeline starts, the project hook fills it in:

* a run that makes ``model_input`` (``full_training``, ``data_processing``) starts a new
  folder named by its Kedro session id, so two runs started together never share a file;
* any other run (one stage alone, ``evaluation``, ``inference``) works in an existing
  folder: the one named by ``--params run=<folder>``, or else the latest finished run.

``data/runs/latest`` links to the last run that finished, so its report is always at
``data/runs/latest/08_reporting/evaluation_report.md``; a catalog used outside a run (a
notebook, ``kedro ipython``) reads that folder, or the one ``params:run`` names.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from kedro.io import AbstractDataset

#: Where run folders live, relative to the project root (the catalog's paths say the same).
RUNS_ROOT = PurePosixPath("data/runs")
#: The placeholder in catalog paths that the run's folder name replaces.
PLACEHOLDER = "{run}"
#: The link to the last run that finished.
LATEST = "latest"
#: A run that makes this dataset starts a new folder.
STARTS_A_RUN = "model_input"


class RunFolderError(ValueError):
    """No usable run folder: the message says which runs exist and how to make one."""


def _finished_runs(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())


def choose_run_folder(root: Path, requested: str | None, starts_run: bool, session_id: str) -> Path:
    """The folder this run reads and writes (created when the run starts one).

    ``requested`` (``--params run=...``) wins; ``latest`` is resolved to the folder it links
    to now, so a run keeps its folder even if another run finishes meanwhile.
    """
    if requested is not None:
        folder = root / str(requested)
        if not folder.is_dir():
            runs = _finished_runs(root)
            raise RunFolderError(
                f"--params run={requested}: no run folder {folder}; "
                f"runs there: {runs[-5:] or 'none'}"
            )
        return folder.resolve()
    if starts_run:
        folder, suffix = root / session_id, 1
        root.mkdir(parents=True, exist_ok=True)
        while True:  # two runs started in the same millisecond get different folders
            try:
                folder.mkdir()
                return folder.resolve()
            except FileExistsError:
                suffix += 1
                folder = root / f"{session_id}-{suffix}"
    latest = root / LATEST
    if not latest.exists():
        raise RunFolderError(
            f"no finished run in {root}: run `kedro run --pipeline full_training` (or "
            f"data_processing) first, or name a run folder with --params run=<folder>"
        )
    return latest.resolve()


#: Where a dataset keeps its catalog path with the placeholder, once relocated.
_TEMPLATE = "_run_path_template"


def _template(dataset: AbstractDataset) -> str | None:
    template = getattr(dataset, _TEMPLATE, None)
    path = str(getattr(dataset, "_filepath", ""))
    if template is None and PLACEHOLDER in path:
        template = path
        setattr(dataset, _TEMPLATE, template)
    return template


def in_run_folder(dataset: AbstractDataset) -> bool:
    """Whether the dataset's catalog path lies in a run folder (holds the placeholder)."""
    return _template(dataset) is not None


def relocate(dataset: AbstractDataset, folder_name: str) -> None:
    """Point a dataset whose catalog path holds the placeholder at a run's folder.

    Kedro file datasets (and kedro-mlflow's wrappers of them) keep their path in
    ``_filepath``; kedro-mlflow rewrites the same attribute when it loads a logged model.
    The catalog path is kept beside it, so a dataset can be pointed at another folder.
    """
    template = _template(dataset)
    if template is not None:
        dataset._filepath = PurePosixPath(template.replace(PLACEHOLDER, folder_name))


def mark_latest(folder: Path) -> None:
    """Atomically point ``latest`` beside ``folder`` at it."""
    link = folder.parent / LATEST
    temporary = folder.parent / f".{LATEST}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    os.symlink(folder.name, temporary)
    os.replace(temporary, link)
