"""Shared fixtures: a throw-away copy of the project for real Kedro sessions."""

from __future__ import annotations

import shutil
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


@pytest.fixture
def run_pipeline(kedro_project: Path):
    """Run a registered pipeline in a real KedroSession on the project copy.

    Call as ``run_pipeline("data_processing", {"synthetic": {"n_mice": 2000}})``; runtime
    params must be nested dicts (Kedro ignores dotted keys given from Python).
    """
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    def run(pipeline: str, params: dict | None = None) -> dict:
        bootstrap_project(kedro_project)
        with KedroSession.create(
            project_path=kedro_project, runtime_params=params or {}
        ) as session:
            outputs = session.run(pipeline_names=[pipeline])
        # kedro-mlflow ends its run in the store, but MLflow's fluent API in this process
        # may still hold it as active; the next session would then log into it.
        while mlflow.active_run():
            mlflow.end_run()
        return outputs

    return run


@pytest.fixture
def real_sample() -> Path:
    """The real 1,000-mouse IMPC sample beside the checkout, or a clean skip."""
    if not REAL_SAMPLE.exists():
        pytest.skip(f"real IMPC sample not found at {REAL_SAMPLE} (../shared is absent)")
    return REAL_SAMPLE
