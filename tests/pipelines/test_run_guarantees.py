"""What a run may and may not do to run folders (README "Runs"), in real Kedro sessions.

Run names stay in data/runs; a parameter the pipeline would ignore is refused; one run at a
time per folder, and each run's metrics and report are its own; a folder's data are never
replaced by a run that refuses to continue, and a model is never used on other data than it
was trained on; a run that fails validation leaves no folder. One tiny training is shared by
the module; every run lands in a throw-away project copy with its own MLflow store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from kedro.framework.hooks import hook_impl

from tests.conftest import run_session, trained_project

pytestmark = pytest.mark.slow  # real Kedro sessions, one tiny training

RUNS = Path("data/runs")
TINY = {
    "pretraining": {"epochs": 2, "batch_size": 256},
    "cluster_init": {"n_init": 1},
    "joint_training": {"epochs": 2, "warmup_epochs": 1, "batch_size": 256},
    "evaluation": {"kmeans_n_init": 1, "silhouette_sample_size": 300},
}
#: Holds a folder's lock from another process, as a run would, until killed.
HOLD_LOCK = """
import sys, time
from pathlib import Path
from audiometric_clustering.folder_lock import FolderLock
FolderLock(Path(sys.argv[1])).acquire("2026-01-01T00.00.00.000Z", "evaluation")
print("held", flush=True)
time.sleep(600)
"""


def _mlflow_runs(project: Path) -> list[mlflow.entities.Run]:
    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["start_time ASC"])


def _folders(project: Path) -> set[str]:
    return {p.name for p in (project / RUNS).iterdir() if p.is_dir() and not p.is_symlink()}


def _latest(project: Path) -> Path:
    return (project / RUNS / "latest").resolve()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project copy with 1,500 synthetic mice and one tiny full_training."""
    with trained_project(tmp_path_factory.mktemp("guarantees"), 1500, TINY) as root:
        yield root


# --- 1. run names -------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
def test_run_must_name_a_folder_in_data_runs(project: Path, tmp_path: Path, relative: bool):
    """``run=/some/dir`` or ``run=../../some/dir`` was accepted: outputs went to data/runs/dir
    and a user's file named latest beside /some/dir became a symlink."""
    outside = tmp_path / "dir"
    outside.mkdir()
    users_file = tmp_path / "latest"
    users_file.write_text("my notes\n")
    name = os.path.relpath(outside, project / RUNS) if relative else str(outside)
    folders, runs = _folders(project), len(_mlflow_runs(project))
    with pytest.raises(ValueError, match=r"run = '.*dir': expected the name of a run folder"):
        run_session(project, "data_processing", {"run": name})
    assert users_file.read_text() == "my notes\n" and not users_file.is_symlink()
    assert list(outside.iterdir()) == []
    assert _folders(project) == folders and len(_mlflow_runs(project)) == runs


# --- 2. parameters the pipeline does not read ------------------------------------------------


@pytest.mark.parametrize("pipeline", ["stability", "evaluation", "pretraining"])
def test_a_parameter_the_pipeline_does_not_read_is_refused(project: Path, pipeline: str):
    """``--pipeline stability --params raw_abr_path=new.csv`` trained on the latest run's
    model input and said nothing."""
    folders, runs = _folders(project), len(_mlflow_runs(project))
    with pytest.raises(ValueError) as refused:
        run_session(project, pipeline, {"raw_abr_path": "data/01_raw/new.csv"})
    message = str(refused.value)
    assert f"raw_abr_path = 'data/01_raw/new.csv' is not read by the {pipeline} pipeline" in message
    assert "data_processing" in message and "--params run=<that run's folder>" in message
    assert _folders(project) == folders and len(_mlflow_runs(project)) == runs


def test_a_misspelt_parameter_and_run_for_synthetic_data_are_refused(project: Path):
    with pytest.raises(ValueError, match="evaluaton.fdr = 0.1 is not read .* misspelt"):
        run_session(project, "evaluation", {"evaluaton": {"fdr": 0.1}})
    with pytest.raises(ValueError, match="run = 'x' is not read by the synthetic_data"):
        run_session(project, "synthetic_data", {"run": "x"})


# --- 3. one run per folder, and each run's own results ---------------------------------------


def test_a_locked_folder_refuses_a_second_run_until_its_holder_ends(project: Path):
    """Another process holds the latest folder's lock; killing it (as a crash would)
    releases the lock, and the next run also removes what killed saves left behind."""
    folder = _latest(project)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        runs = len(_mlflow_runs(project))
        with pytest.raises(RuntimeError) as refused:
            run_session(project, "evaluation")
        message = str(refused.value)
        assert f"run folder {folder} is in use by run 2026-01-01T00.00.00.000Z" in message
        assert f"pid {holder.pid}" in message and "(pipeline evaluation" in message
        assert len(_mlflow_runs(project)) == runs  # refused before its MLflow run
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    leftover = folder / "08_reporting/.cluster_summary.csv.0badf00d.partial"
    leftover.write_text("half a file")
    run_session(project, "evaluation")
    assert not leftover.exists()


class OtherRunRewrites:
    """Rewrites method_comparison.csv right after this run saved it, as a second run on the
    same folder did: the first then logged the second's metrics."""

    def __init__(self, path: Path, value: float) -> None:
        self.path, self.value = path, value

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if dataset_name == "method_comparison":
            other = pd.read_csv(self.path)
            other["enriched_lines_any_cluster"] = self.value
            other.to_csv(self.path, index=False)


def test_metrics_and_report_come_from_the_runs_own_results(project: Path):
    folder = _latest(project)
    comparison = folder / "08_reporting/method_comparison.csv"
    run_session(
        project, "evaluation", {"evaluation": {"fdr": 0.5}}, (OtherRunRewrites(comparison, 987654),)
    )
    run = _mlflow_runs(project)[-1]
    client = mlflow.MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    logged = pd.read_csv(
        client.download_artifacts(run.info.run_id, "evaluation/method_comparison.csv")
    )
    own = logged.set_index("method").loc["model", "enriched_lines_any_cluster"]
    assert own != 987654
    assert run.data.metrics["eval/enriched_lines_any_cluster"] == own
    saved = json.loads((folder / "08_reporting/evaluation_metrics.json").read_text())
    assert saved["eval/enriched_lines_any_cluster"] == own
    assert "987654" not in (folder / "08_reporting/evaluation_report.md").read_text()


# --- 4. a folder's data: never replaced by a refused run, never used with another model ----------


def _digests(folder: Path) -> dict[str, bytes]:
    files = ("05_model_input/model_input.parquet", "06_models/preprocessor_state.json")
    return {name: (folder / name).read_bytes() for name in files}


def test_a_resume_with_other_data_is_refused_before_anything_is_written(project: Path):
    """The README's resume line without raw_abr_path, on a custom-data folder: the folder's
    model input and preprocessor state were rewritten from the default export first."""
    export = pd.read_csv(project / "data/01_raw/impc_abr_synthetic.csv")
    custom = project / "data/01_raw/custom.csv"
    export.iloc[: len(export) * 2 // 3].to_csv(custom, index=False)
    run_session(project, "data_processing", {"raw_abr_path": str(custom)})
    folder = _latest(project)
    before, runs = _digests(folder), len(_mlflow_runs(project))
    resume = {
        "run": folder.name,
        "pretraining": {"resume": True},
        "joint_training": {"resume": True},
    }
    with pytest.raises(ValueError) as refused:
        run_session(project, "full_training", resume | TINY)
    message = str(refused.value)
    assert f"raw_abr_export = {custom}" in message and "impc_abr_synthetic.csv" in message
    assert "Nothing was written" in message and "raw_abr_path" in message
    assert _digests(folder) == before and len(_mlflow_runs(project)) == runs
    run_session(project, "full_training", resume | TINY | {"raw_abr_path": str(custom)})  # resumes


def test_evaluation_and_inference_refuse_data_the_model_was_not_trained_on(project: Path):
    trained = _latest(project)
    for changed in ("model_input", "preprocessor_state"):
        copy = project / RUNS / f"changed-{changed}"
        shutil.copytree(trained, copy)
        if changed == "model_input":
            path = copy / "05_model_input/model_input.parquet"
            pd.read_parquet(path).iloc[1:].to_parquet(path)  # one mouse fewer
        else:
            path = copy / "06_models/preprocessor_state.json"
            state = json.loads(path.read_text())
            state["baselines"]["overall"]["12kHz"] += 5.0
            path.write_text(json.dumps(state))
        for pipeline in ("evaluation", "inference"):
            with pytest.raises(ValueError) as refused:
                run_session(project, pipeline, {"run": copy.name})
            message = str(refused.value)
            assert "trained_model was not trained on the folder's data" in message
            assert f"{changed} ({path})" in message
    untouched = project / RUNS / "untouched"
    shutil.copytree(trained, untouched)
    run_session(project, "inference", {"run": untouched.name})  # the same files: accepted


# --- 8. a run that fails validation leaves no folder ----------------------------------------


def test_a_run_that_fails_validation_leaves_no_folder(project: Path):
    export = pd.read_csv(project / "data/01_raw/impc_abr_synthetic.csv")
    controls_only = project / "data/01_raw/controls_only.csv"
    export[export["biological_sample_group"] == "control"].to_csv(controls_only, index=False)
    folders = _folders(project)
    with pytest.raises(Exception, match="no knockout line"):
        run_session(project, "data_processing", {"raw_abr_path": str(controls_only)})
    assert _folders(project) == folders  # nothing for later errors to list under "runs there"
