"""Which folder a run reads and writes, the latest-run link, the folder's lock and what a
failed or killed run leaves behind."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from audiometric_clustering.atomic_files import LEFTOVER, remove_leftovers, replaced_atomically
from audiometric_clustering.folder_lock import LOCK_FILE, FolderInUseError, FolderLock
from audiometric_clustering.given_parameters import READ_BY_DATASET, READ_BY_EVERY_RUN
from audiometric_clustering.io.atomic import CSVDataset
from audiometric_clustering.io.run_copy import RunCopy
from audiometric_clustering.run_folders import (
    FAILED_MARK,
    LATEST,
    RunFolderError,
    choose_run_folder,
    close_failed_folder,
    listed_runs,
    mark_latest,
)
from tests.conftest import REPO_ROOT


def test_a_run_that_makes_the_model_input_starts_its_own_folder(tmp_path: Path) -> None:
    first = choose_run_folder(tmp_path, None, starts_run=True, session_id="2026-12-04T10.00.00")
    again = choose_run_folder(tmp_path, None, starts_run=True, session_id="2026-12-04T10.00.00")
    assert first.is_dir() and again.is_dir() and first != again  # same id: still its own


def test_other_runs_use_the_latest_finished_run_or_the_named_one(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="no finished run .* full_training"):
        choose_run_folder(tmp_path, None, starts_run=False, session_id="x")
    older = choose_run_folder(tmp_path, None, starts_run=True, session_id="a")
    newer = choose_run_folder(tmp_path, None, starts_run=True, session_id="b")
    mark_latest(older)
    mark_latest(newer)
    assert (tmp_path / LATEST).resolve() == newer
    assert choose_run_folder(tmp_path, None, starts_run=False, session_id="c") == newer
    assert choose_run_folder(tmp_path, LATEST, starts_run=False, session_id="c") == newer
    assert choose_run_folder(tmp_path, "a", starts_run=False, session_id="c") == older
    assert choose_run_folder(tmp_path, "a", starts_run=True, session_id="c") == older  # resume
    with pytest.raises(RunFolderError, match=r"run=nope: no run folder .* \['a', 'b'\]"):
        choose_run_folder(tmp_path, "nope", starts_run=False, session_id="c")


@pytest.mark.parametrize("name", ["/etc", "../outside", "../../x", "a/b", "..", ".", "", ".a"])
def test_run_names_a_folder_in_the_runs_folder_never_a_path(tmp_path: Path, name: str) -> None:
    runs = tmp_path / "data/runs"
    (tmp_path / "outside").mkdir()
    runs.mkdir(parents=True)
    (tmp_path / LATEST).write_text("a user's file\n")
    for starts_run in (False, True):
        with pytest.raises(RunFolderError, match=r"run = .*: expected the name of a run folder"):
            choose_run_folder(runs, name, starts_run=starts_run, session_id="s")
    assert (tmp_path / LATEST).read_text() == "a user's file\n"


def test_a_link_in_the_runs_folder_is_not_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RunFolderError, match="no run folder"):
        choose_run_folder(runs, "linked", starts_run=False, session_id="s")


HOLD = """
import sys, time
from pathlib import Path
from audiometric_clustering.folder_lock import FolderLock
FolderLock(Path(sys.argv[1])).acquire("holder-session", "full_training")
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_names_its_holder_and_a_crash_releases_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderInUseError) as in_use:
            FolderLock(tmp_path).acquire("second", "evaluation")
        assert re.search(
            rf"in use by run holder-session \(pipeline full_training, pid {holder.pid} on .*, "
            r"started \d{4}-\d\d-\d\dT",
            str(in_use.value),
        )
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean-up code runs: the OS drops the lock
        holder.wait(timeout=30)
    lock = FolderLock(tmp_path)
    lock.acquire("third", "evaluation")
    assert lock.held and "third" in (tmp_path / LOCK_FILE).read_text()
    lock.release()
    assert not lock.held
    FolderLock(tmp_path).acquire("fourth", "evaluation")  # released: free again


def test_leftovers_of_killed_saves_are_found_and_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with replaced_atomically(folder / "a/x.csv") as partial:  # the names saves write
        assert LEFTOVER.match(partial.name)
        partial.write_text("whole")
    killed_file = folder / "a/.x.csv.0123abcd.partial"  # what a SIGKILL mid-save leaves
    killed_folder = folder / "b/.plots.89abcdef.previous"
    killed_file.write_text("half")
    (killed_folder / "inner").mkdir(parents=True)
    kept = [folder / "a/x.csv.0123abcd.partial", folder / "a/.hidden", folder / "b/p.csv"]
    for path in kept:
        path.write_text("kept")
    assert sorted(remove_leftovers(folder)) == sorted([killed_file, killed_folder])
    assert not killed_file.exists() and not killed_folder.exists()
    assert all(path.exists() for path in kept)


def test_a_failed_runs_folder_is_removed_when_empty_else_marked_and_not_listed(
    tmp_path: Path,
) -> None:
    empty = choose_run_folder(tmp_path, None, starts_run=True, session_id="empty")
    (empty / LOCK_FILE).write_text("{}")
    (empty / "02_intermediate").mkdir()
    written = choose_run_folder(tmp_path, None, starts_run=True, session_id="written")
    (written / "05_model_input").mkdir()
    (written / "05_model_input/model_input.parquet").write_text("data")
    error = ValueError("boom")
    assert close_failed_folder(empty, error, kept={LOCK_FILE}) and not empty.exists()
    assert not close_failed_folder(written, error, kept={LOCK_FILE})
    assert (written / FAILED_MARK).read_text() == "ValueError: boom\n"
    assert listed_runs(tmp_path) == []
    mark_latest(written)  # a later run in it succeeded
    assert listed_runs(tmp_path) == ["written"]


def test_a_run_copy_serves_what_the_run_saved_even_if_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "method_comparison.csv"
    dataset = RunCopy(CSVDataset(filepath=str(path), save_args={"index": False}))
    dataset.save(pd.DataFrame({"method": ["model"], "gene": ["NA"]}))
    pd.DataFrame({"method": ["another run's"]}).to_csv(path, index=False)
    loaded = dataset.load()
    assert loaded["method"].tolist() == ["model"]
    assert loaded["gene"].isna().all()  # as the file reads back, like a stage run alone
    dataset.release()
    assert dataset.load()["method"].tolist() == ["another run's"]


def test_every_runtime_parameter_the_configuration_reads_is_known() -> None:
    """given_parameters.py lists what the configuration reads; a new ``${runtime_params:``
    in conf/ must be added there, or runs given it would be refused."""
    found: dict[str, set[str]] = {}
    for path in (REPO_ROOT / "conf").rglob("*.yml"):
        for key in re.findall(r"\$\{runtime_params:\s*([^,}\s]+)", path.read_text()):
            found.setdefault(key, set()).add(path.name)
    assert set(found) == set(READ_BY_DATASET) | READ_BY_EVERY_RUN
    assert all(names <= {"mlflow.yml"} for key, names in found.items() if key in READ_BY_EVERY_RUN)
    for key, dataset in READ_BY_DATASET.items():
        assert found[key] <= {p.name for p in (REPO_ROOT / "conf").rglob("catalog*.yml")}
        catalog = "".join(p.read_text() for p in (REPO_ROOT / "conf").rglob("catalog*.yml"))
        entry = catalog[catalog.index(f"\n{dataset}:") :].split("\n\n")[0]
        assert f"runtime_params:{key}" in entry, (key, dataset)
