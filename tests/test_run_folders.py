"""Which folder a run reads and writes, and the latest-run link."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiometric_clustering.run_folders import (
    LATEST,
    RunFolderError,
    choose_run_folder,
    mark_latest,
)


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
    assert choose_run_folder(tmp_path, "a", starts_run=False, session_id="c") == older
    assert choose_run_folder(tmp_path, "a", starts_run=True, session_id="c") == older  # resume
    with pytest.raises(RunFolderError, match=r"run=nope: no run folder .* \['a', 'b'\]"):
        choose_run_folder(tmp_path, "nope", starts_run=False, session_id="c")
