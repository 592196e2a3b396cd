"""Which data a run folder's model was made from, checked before a run relies on it.

The folder's ``run_inputs.json`` keeps two records, written by the project hook as files
are saved:

* ``made_from``: the export (path and SHA-256) and the parameters the folder's model input
  was made with. A run that makes the model input again in an existing folder (the README's
  resume line) must read the same export with the same parameters, checked before anything
  is saved: a resume that was going to be refused had already replaced the folder's model
  input and preprocessor state with other data.
* ``trained_on``: per checkpoint, the SHA-256 of the folder's ``model_input`` and
  ``preprocessor_state`` files when the checkpoint was saved. A run that reads a checkpoint
  from the folder (``evaluation``, ``inference``, a stage alone) refuses a folder whose
  files are no longer those: it would score or assign mice with a model trained on other
  data, silently.

Both writers produce the same bytes for the same data (Parquet and JSON writers are
deterministic), so a resume that rewrites identical files passes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from audiometric_clustering.atomic_files import replaced_atomically

#: The record file in a run folder.
RECORD = "run_inputs.json"
#: The folder's data a checkpoint is trained on.
FOLDER_DATA = ("model_input", "preprocessor_state")
#: Checkpoints that later runs read from the folder.
CHECKPOINTS = ("pretrained_model", "initialised_model", "trained_model")


class FolderDataError(ValueError):
    """The folder's data are not the ones its model was made from or trained on."""


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file (of every file of a folder, by relative path); None when absent."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        return None
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        with file.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                hasher.update(block)
    return hasher.hexdigest()


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    return json.loads(path.read_text()) if path.is_file() else {}


def _write(folder: Path, record: dict[str, Any]) -> None:
    with replaced_atomically(folder / RECORD) as partial:
        partial.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def record_made_from(folder: Path, made_from: dict[str, Any]) -> None:
    """``made_from``: ``{"inputs": {dataset: {"path", "sha256"}}, "parameters": {key: repr}}``."""
    _write(folder, read_record(folder) | {"made_from": made_from})


def record_trained_on(folder: Path, checkpoint: str, digests: dict[str, str | None]) -> None:
    record = read_record(folder)
    record.setdefault("trained_on", {})[checkpoint] = digests
    _write(folder, record)


def _short(digest: str | None) -> str:
    return "absent" if digest is None else f"sha256 {digest[:12]}"


def check_made_from(folder: Path, made_from: dict[str, Any]) -> None:
    """Refuse to make the folder's model input from other data or parameters than its own."""
    written = read_record(folder).get("made_from")
    if written is None:
        return  # made before records were kept, or by hand: nothing to compare with
    differences = []
    for name, now in made_from["inputs"].items():
        before = written["inputs"].get(name, {})
        if before.get("sha256") != now["sha256"]:
            differences.append(
                f"{name} = {before.get('path')} ({_short(before.get('sha256'))}) "
                f"(this run: {now['path']} ({_short(now['sha256'])}))"
            )
    for key in sorted(set(written["parameters"]) | set(made_from["parameters"])):
        before, now = written["parameters"].get(key), made_from["parameters"].get(key)
        if before != now:
            differences.append(f"{key} = {before or 'absent'} (this run: {now or 'absent'})")
    if differences:
        raise FolderDataError(
            f"run folder {folder}: its model input was made with "
            f"{'; '.join(differences)}. Nothing was written. A run on an existing folder "
            "must make the same model input (to resume it, give the export and parameters "
            "it was made with, e.g. --params raw_abr_path=<that file>); for other data or "
            "settings, start a new folder: leave out `run`."
        )


def check_trained_on(
    folder: Path, checkpoints: list[str], digests: dict[str, str | None], paths: dict[str, Path]
) -> None:
    """Refuse checkpoints that were trained on other files than the folder holds now."""
    trained_on = read_record(folder).get("trained_on", {})
    for checkpoint in checkpoints:
        written = trained_on.get(checkpoint)
        if written is None:
            raise FolderDataError(
                f"run folder {folder}: no record of the data {checkpoint} was trained on "
                f"({RECORD} lacks it: a folder from before these records, or made by hand), "
                "so this run cannot tell whether the folder's model input and preprocessor "
                "state are the ones it was trained on. Train it again: `kedro run --pipeline "
                "full_training`."
            )
        changed = [name for name in FOLDER_DATA if written.get(name) != digests.get(name)]
        if changed:
            what = "; ".join(
                f"{name} ({paths[name]}): {_short(digests.get(name))}, trained on "
                f"{_short(written.get(name))}"
                for name in changed
            )
            raise FolderDataError(
                f"run folder {folder}: {checkpoint} was not trained on the folder's data "
                f"now: {what}. They were rewritten after training (e.g. by data_processing "
                "with other data on this folder). Use the folder the model was trained in, "
                "or train again on these data: `kedro run --pipeline full_training`."
            )
