"""Runs that cannot corrupt each other, resume the wrong model, or hide their errors.

Real ``kedro run`` processes on a throw-away project copy with its own MLflow store: two
trainings started together, a resume with another seed, signals, and bad parameters and
exports, each failing before any work with the key named.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from audiometric_clustering.model import MouseTensors
from audiometric_clustering.run_folders import LATEST
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from audiometric_clustering.training.passes import SOFT_ASSIGNMENT, SPECIMENS, embed

pytestmark = pytest.mark.slow

KEDRO = str(Path(sys.executable).with_name("kedro"))
TINY = (
    "pretraining.epochs=2,joint_training.epochs=3,joint_training.warmup_epochs=1,"
    "cluster_init.n_init=1,evaluation.kmeans_n_init=1,evaluation.silhouette_sample_size=300"
)


def _kedro(project: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [KEDRO, "run", *arguments],
        cwd=project,
        env=os.environ | {"KEDRO_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def _runs(project: Path) -> list[mlflow.entities.Run]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, order_by=["start_time ASC"])


@pytest.fixture
def project(run_pipeline, kedro_project: Path) -> Path:
    run_pipeline("synthetic_data", {"synthetic": {"n_mice": 1500}})
    return kedro_project


def test_two_trainings_started_together_each_evaluate_and_log_their_own_model(
    project: Path,
) -> None:
    processes = {
        seed: _kedro(project, "--pipeline", "full_training", "--params", f"{TINY},seed={seed}")
        for seed in (7, 11)
    }
    for seed, process in processes.items():
        code, output = _finish(process)
        assert code == 0, f"seed {seed}:\n{output[-3000:]}"

    runs = {int(run.data.params["seed"]): run for run in _runs(project)[1:]}  # after synthetic
    assert set(runs) == {7, 11}
    folders = {
        seed: project / "data/runs" / run.data.tags["run_folder"] for seed, run in runs.items()
    }
    assert folders[7] != folders[11]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    for seed, run in runs.items():
        folder = folders[seed]
        checkpoint = folder / "06_models/joint/best_joint.pt"
        logged = client.download_artifacts(run.info.run_id, "checkpoints/joint/best_joint.pt")
        assert Path(logged).read_bytes() == checkpoint.read_bytes(), seed
        model = Path(client.download_artifacts(run.info.run_id, "inference_model"))
        assert (model / "artifacts/best_joint.pt").read_bytes() == checkpoint.read_bytes(), seed
        # The evaluation's assignments are this folder's model applied to this folder's data.
        trained = model_from_checkpoint(torch.load(checkpoint, weights_only=True))
        model_input = pd.read_parquet(folder / "05_model_input/model_input.parquet")
        mice = MouseTensors.from_frame(model_input, trained.config.abr_scale)
        expected = embed(trained.eval(), mice).soft_assignment
        embeddings = np.load(folder / "07_model_output/latent_embeddings.npz")
        assert embeddings[SPECIMENS].tolist() == model_input["specimen_id"].astype(str).tolist()
        np.testing.assert_allclose(embeddings[SOFT_ASSIGNMENT], expected, atol=1e-5)
    latest = (project / "data/runs" / LATEST).resolve()
    assert latest in {folders[7].resolve(), folders[11].resolve()}

    # Resuming seed 7's completed pretraining with another seed must not return its model.
    code, output = _finish(
        _kedro(
            project,
            "--pipeline",
            "pretraining",
            "--params",
            f"pretraining.epochs=2,seed=8,pretraining.resume=true,run={folders[7].name}",
        )
    )
    last_line = output.strip().splitlines()[-1]
    assert code != 0
    assert last_line.startswith("ValueError: pretraining: cannot resume from"), output[-2000:]
    assert "seed = 7 (this run: 8)" in last_line and "pretraining.resume=false" in last_line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_run_stopped_by_a_signal_is_marked_killed(project: Path, signum: int) -> None:
    process = _kedro(project, "--pipeline", "full_training", "--params", "pretraining.epochs=500")
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "pretrain epoch" in line:
            break
    process.send_signal(signum)
    code, _ = _finish(process, timeout=60)
    run = _runs(project)[-1]
    assert code != 0 and run.info.status == "KILLED", "".join(lines[-20:])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"model": {"n_clusters": 0}}, "model.n_clusters = 0: expected an integer >= 2"),
        ({"model": {"latent_dim": 0}}, "model.latent_dim = 0: expected an integer >= 1"),
        ({"joint_training": {"epochs": -1}}, "joint_training.epochs = -1: expected an integer"),
        ({"pretraining": {"epochs": -2}}, "pretraining.epochs = -2: expected an integer"),
        ({"evaluation": {"fdr": 2}}, "evaluation.fdr = 2: expected a number in (0, 1]"),
        ({"cluster_init": {"n_init": 0}}, "cluster_init.n_init = 0: expected an integer >= 1"),
        ({"seed": -1}, "seed = -1: expected an integer >= 0"),
    ],
)
def test_bad_parameters_fail_before_any_work_naming_the_key(
    run_pipeline, kedro_project: Path, params: dict, named: str
) -> None:
    with pytest.raises(ValueError) as failure:
        run_pipeline("full_training", params)
    assert named in str(failure.value)
    assert not any((kedro_project / "data/runs").iterdir())  # no run folder, no output
    assert _runs(kedro_project) == []  # nor an MLflow run


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (lambda export: export["biological_sample_group"] == "control", "no knockout line"),
        (lambda export: export["biological_sample_group"] != "control", "no usable control"),
        (None, "no usable threshold"),
    ],
)
def test_exports_without_mutants_controls_or_thresholds_fail_in_data_processing(
    project: Path, run_pipeline, keep, message: str
) -> None:
    export = pd.read_csv(project / "data/01_raw/impc_abr_synthetic.csv")
    if keep is None:
        export[[c for c in export if "ABR" in c and "hreshold" in c]] = np.nan
    else:
        export = export[keep(export)]
    path = project / "data/01_raw/odd.csv"
    export.to_csv(path, index=False)
    with pytest.raises(Exception, match=message) as failure:
        run_pipeline("data_processing", {"raw_abr_path": str(path)})
    assert str(path) in str(failure.value)
    (run,) = _runs(project)[-1:]
    assert run.info.status == "FAILED"


def test_full_training_fails_with_the_real_error_last(project: Path) -> None:
    export = pd.read_csv(project / "data/01_raw/impc_abr_synthetic.csv")
    path = project / "data/01_raw/controls_only.csv"
    export[export["biological_sample_group"] == "control"].to_csv(path, index=False)
    code, output = _finish(
        _kedro(project, "--pipeline", "full_training", "--params", f"raw_abr_path={path}")
    )
    # The last traceback ends with the export's error (its detail lines are indented), and
    # nothing but it follows: no second error from a hook.
    last_traceback = output[output.rindex("Traceback") :].splitlines()
    unindented = [line for line in last_traceback if line and not line.startswith(" ")]
    assert code != 0 and len(unindented) == 2, output[-3000:]
    assert unindented[1].startswith("audiometric_clustering.impc.errors.InvalidExportError")
    assert "no knockout line" in unindented[1] and output.rstrip().endswith(last_traceback[-1])


def test_hostile_gene_and_allele_names_stay_text_in_the_plots_and_the_report(
    project: Path, run_pipeline
) -> None:
    """A gene symbol ``$\\foo$`` crashed plot_evaluation; an allele symbol with newlines
    injected a heading and a javascript: link into the report. The gene calls' table and
    figure show them as text too."""
    export = pd.read_csv(project / "data/01_raw/impc_abr_synthetic.csv", dtype=str)
    mutants = export["biological_sample_group"] != "control"
    export.loc[mutants, "gene_symbol"] = "$\\foo$" + export.loc[mutants, "gene_symbol"]
    export.loc[mutants, "allele_symbol"] = (
        export.loc[mutants, "allele_symbol"] + "\n# Injected\n[x](javascript:alert(1))"
    )
    path = project / "data/01_raw/hostile.csv"
    export.to_csv(path, index=False)
    tiny = {
        "pretraining": {"epochs": 2},
        "joint_training": {"epochs": 2, "warmup_epochs": 1},
        "cluster_init": {"n_init": 1},
        "evaluation": {
            "kmeans_n_init": 1,
            "silhouette_sample_size": 300,
            "fdr": 1.0,
            "gene_calls": {"fdr": 0.5},
        },
    }
    run_pipeline("full_training", {"raw_abr_path": str(path), **tiny})

    reporting = project / "data/runs" / LATEST / "08_reporting"
    report = (reporting / "evaluation_report.md").read_text()
    assert "\\$\\\\foo\\$" in report, "the hostile genes are in the report, as text"
    assert not [line for line in report.splitlines() if line.startswith("# Injected")]
    assert not re.search(r"(?<!\\)\]\(javascript:", report), "no link, only escaped text"
    assert "\\[x\\](javascript:alert(1))" in report
    for plot in ("enrichment_heatmap", "gene_call_audiograms"):
        assert (reporting / f"plots/{plot}.png").read_bytes()[:4] == b"\x89PNG"
    genes = report[report.index("## Genes") : report.index("## Model and baselines")]
    assert "| \\$\\\\foo\\$Syn" in genes, "the gene calls' table shows them as text"
