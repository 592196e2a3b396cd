"""Shared fixtures: a throw-away copy of the project for real Kedro sessions."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
REAL_SAMPLE = SHARED_DATA / "impc" / "abr_1000_mice.csv"


def copy_project(target: Path) -> Path:
    """The project's conf/ and pyproject.toml with empty data folders in ``target``."""
    shutil.copy(REPO_ROOT / "pyproject.toml", target / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    for layer in (REPO_ROOT / "data").iterdir():
        if layer.is_dir():
            (target / "data" / layer.name).mkdir(parents=True)
    (target / "src").mkdir()  # bootstrap_project requires it; the package is installed
    return target


@pytest.fixture
def kedro_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in tmp_path, used as the working directory.

    Sessions created on it read the real conf/ but write data/, mlflow.db and artifacts
    into tmp_path, so tests never touch the user's data or MLflow store.
    """
    copy_project(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def run_session(project: Path, pipeline: str, params: dict | None = None, hooks=()) -> dict:
    """One ``kedro run`` of ``pipeline`` in a real KedroSession (hooks, MLflow and all) on
    ``project``; ``hooks`` are registered beside the project's. Runtime params must be nested
    dicts (Kedro ignores dotted keys given from Python)."""
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    try:
        with KedroSession.create(project_path=project, runtime_params=params or {}) as session:
            for hook in hooks:
                session._hook_manager.register(hook)
            return session.run(pipeline_names=[pipeline])
    finally:
        # kedro-mlflow ends its run in the store, but MLflow's fluent API in this process
        # may still hold it as active; the next session would then log into it.
        while mlflow.active_run():
            mlflow.end_run()


@contextmanager
def trained_project(root: Path, n_mice: int, training: dict) -> Iterator[Path]:
    """A project copy in ``root`` with ``n_mice`` synthetic mice trained by ``full_training``
    with the runtime params ``training``; inside the block the working directory and the
    MLflow store are the copy's, and after it the caller's again."""
    copy_project(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        run_session(root, "synthetic_data", {"synthetic": {"n_mice": n_mice}})
        run_session(root, "full_training", training)
        yield root


@pytest.fixture
def run_pipeline(kedro_project: Path):
    """Run a registered pipeline in a real KedroSession on the project copy:
    ``run_pipeline("data_processing", {"synthetic": {"n_mice": 2000}})``."""

    def run(pipeline: str, params: dict | None = None) -> dict:
        return run_session(kedro_project, pipeline, params)

    return run


@pytest.fixture
def real_sample() -> Path:
    """The real 1,000-mouse IMPC sample beside the checkout, or a clean skip."""
    if not REAL_SAMPLE.exists():
        pytest.skip(f"real IMPC sample not found at {REAL_SAMPLE} (../shared is absent)")
    return REAL_SAMPLE
