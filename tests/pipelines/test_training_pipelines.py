"""pretraining -> cluster_init -> joint_training as three separate Kedro runs.

Each run reads its inputs from the catalog only, so each stage works on its own after the
one before; everything lands in a throw-away project copy and a temporary MLflow store.
A fourth run resumes the joint stage from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow
import pytest
import torch

from audiometric_clustering.run_folders import mark_latest
from audiometric_clustering.training.checkpoints import model_from_checkpoint
from tests.training.synthetic_frame import make_model_input, preprocessor_state

pytestmark = pytest.mark.slow  # real Kedro sessions (MLflow included)

FAST = {"batch_size": 128, "log_every_n_epochs": 1}
JOINT = {"epochs": 3, "warmup_epochs": 2, **FAST}
CHECKPOINTS = {
    "pretrain/best_pretrain.pt": "pretrain",
    "pretrain/final_pretrain.pt": "pretrain",
    "pretrain/last_pretrain.pt": "pretrain",
    "initialised_model.pt": "cluster_init",
    "joint/best_joint.pt": "joint",
    "joint/final_joint.pt": "joint",
    "joint/last_joint.pt": "joint",
}


def _write_inputs(project: Path) -> Path:
    """A run folder holding what data_processing would have written, marked the latest."""
    run = project / "data/runs/hand-made"
    (run / "05_model_input").mkdir(parents=True)
    (run / "06_models").mkdir()
    make_model_input(600, seed=4).to_parquet(run / "05_model_input/model_input.parquet")
    (run / "06_models/preprocessor_state.json").write_text(json.dumps(preprocessor_state()))
    mark_latest(run)
    return run


def _runs_by_stage(project: Path) -> tuple[dict[str, mlflow.entities.Run], mlflow.MlflowClient]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], order_by=["start_time ASC"]
    )
    return dict(zip(["pretraining", "cluster_init", "joint_training"], runs, strict=True)), client


def test_three_stages_run_one_after_another(run_pipeline, kedro_project: Path) -> None:
    run = _write_inputs(kedro_project)
    started = time.perf_counter()
    run_pipeline("pretraining", {"pretraining": {"epochs": 3, **FAST}})
    run_pipeline("cluster_init", {"cluster_init": {"n_init": 2}})
    run_pipeline("joint_training", {"joint_training": JOINT})
    elapsed = time.perf_counter() - started
    assert elapsed < 60, f"three small stages took {elapsed:.0f} s"

    models = run / "06_models"
    for name, stage in CHECKPOINTS.items():
        checkpoint = torch.load(models / name, weights_only=True)
        assert checkpoint["stage"] == stage, name
    trained = model_from_checkpoint(torch.load(models / "joint/best_joint.pt", weights_only=True))
    initialised = torch.load(models / "initialised_model.pt", weights_only=True)
    assert trained.config.to_dict() == initialised["config"]

    reporting = run / "08_reporting"
    pretraining = json.loads((reporting / "pretraining_history.json").read_text())
    joint = json.loads((reporting / "joint_training_history.json").read_text())
    assert len(pretraining["val_loss"]) == 3 and len(joint["val_loss"]) == 3
    # cluster_init chose the count: the normal cluster and its phenotype clusters
    last = trained.config.n_clusters - 1
    assert len(joint[f"cluster_size_{last:02d}"]) == 3 and "assignment_entropy" in joint
    assert f"cluster_size_{last + 1:02d}" not in joint

    runs, client = _runs_by_stage(kedro_project)
    pretrain_run, init_run, joint_run = runs.values()
    history = client.get_metric_history(pretrain_run.info.run_id, "pretrain/val_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == pytest.approx(pretraining["val_loss"])
    for name in ("pretrain/loss_abr", "pretrain/loss_kl", "pretrain/lr"):
        assert name in pretrain_run.data.metrics
    for name in ("joint/loss_clustering", "joint/cluster_size_03", "joint/assignment_entropy"):
        assert len(client.get_metric_history(joint_run.info.run_id, name)) == 3, name
    assert "cluster_init/largest_cluster_share" in init_run.data.metrics
    chosen = init_run.data.metrics["cluster_init/phenotype_clusters"]
    assert chosen == last and f"cluster_init/davies_bouldin_k{last:02d}" in init_run.data.metrics
    assert pretrain_run.data.params["pretraining.epochs"] == "3"
    artifacts = {
        run.info.run_id: {a.path for a in client.list_artifacts(run.info.run_id, folder)}
        for run, folder in (
            (pretrain_run, "checkpoints/pretrain"),
            (joint_run, "checkpoints/joint"),
        )
    }
    assert artifacts[pretrain_run.info.run_id] == {"checkpoints/pretrain/best_pretrain.pt"}
    assert artifacts[joint_run.info.run_id] == {"checkpoints/joint/best_joint.pt"}

    # resume: true picks the stage up from its last checkpoint (here: already complete).
    last = torch.load(models / "joint/last_joint.pt", weights_only=True)
    run_pipeline("joint_training", {"joint_training": {**JOINT, "resume": True}})
    resumed = torch.load(models / "joint/final_joint.pt", weights_only=True)
    assert resumed["epoch"] == last["epoch"] == 2
    for name, tensor in last["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], tensor), name
