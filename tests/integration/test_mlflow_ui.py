"""The tiny run, read back through a real MLflow server's REST API (what the UI shows)."""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request

import pytest
import torch

from tests.integration.conftest import EPOCHS, TinyRun

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"


def get(base_url: str, endpoint: str, /, **query: str) -> bytes:
    url = f"{base_url}{endpoint}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def get_json(base_url: str, endpoint: str, /, **query: str) -> dict:
    return json.loads(get(base_url, f"{API}/{endpoint}", **query))


def metric_history(base_url: str, run_id: str, key: str) -> list[tuple[int, float]]:
    body = get_json(base_url, "metrics/get-history", run_id=run_id, metric_key=key)
    return sorted((int(m["step"]), float(m["value"])) for m in body.get("metrics", []))


def artifact_files(base_url: str, run_id: str, path: str) -> set[str]:
    body = get_json(base_url, "artifacts/list", run_id=run_id, path=path)
    return {entry["path"] for entry in body.get("files", []) if not entry["is_dir"]}


def test_the_server_lists_the_run_in_the_project_experiment(mlflow_server, tiny_run: TinyRun):
    experiment = get_json(mlflow_server, "experiments/get", experiment_id=tiny_run.experiment_id)
    assert experiment["experiment"]["name"] == "full_scale_audiometric_clustering"

    run = get_json(mlflow_server, "runs/get", run_id=tiny_run.run_id)["run"]
    assert run["info"]["status"] == "FINISHED"
    tags = {tag["key"]: tag["value"] for tag in run["data"]["tags"]}
    assert tags["kedro_command"] == "kedro run --pipeline=full_training"
    params = {param["key"]: param["value"] for param in run["data"]["params"]}
    assert params["joint_training.epochs"] == str(EPOCHS)
    assert "joint_training.loss_weights.phenotype_consistency" in params  # nested, one each


@pytest.mark.parametrize("stage", ["pretrain", "joint"])
def test_each_training_stage_has_a_per_epoch_loss_history(mlflow_server, tiny_run, stage):
    for key in (f"{stage}/loss", f"{stage}/val_loss"):
        history = metric_history(mlflow_server, tiny_run.run_id, key)
        assert len(history) == EPOCHS, key
        assert len({step for step, _ in history}) == EPOCHS, f"{key}: one step per epoch"
        assert all(value == value for _, value in history), f"{key} has NaN"


def test_evaluation_metrics_include_silhouette_and_enrichment(mlflow_server, tiny_run):
    run = get_json(mlflow_server, "runs/get", run_id=tiny_run.run_id)["run"]
    metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
    assert -1.0 <= metrics["eval/silhouette"] <= 1.0
    assert metrics["eval/tested_lines"] > 0
    assert 0 <= metrics["eval/enriched_lines"] <= metrics["eval/tested_lines"]
    # The baselines are logged beside the model under their own prefix.
    assert "eval/kmeans_raw/silhouette" in metrics


def test_stage_wall_times_are_logged(mlflow_server, tiny_run):
    run = get_json(mlflow_server, "runs/get", run_id=tiny_run.run_id)["run"]
    metrics = {metric["key"]: metric["value"] for metric in run["data"]["metrics"]}
    stages = ("data_processing", "pretraining", "cluster_init", "joint_training", "evaluation")
    seconds = [metrics[f"timing/{stage}_seconds"] for stage in stages]
    assert all(s > 0 for s in seconds)
    assert sum(seconds) <= metrics["timing/total_seconds"]


def test_checkpoint_and_prediction_artifacts_are_listed_and_downloadable(mlflow_server, tiny_run):
    run_id = tiny_run.run_id
    assert "checkpoints/joint/best_joint.pt" in artifact_files(
        mlflow_server, run_id, "checkpoints/joint"
    )
    assert "checkpoints/pretrain/best_pretrain.pt" in artifact_files(
        mlflow_server, run_id, "checkpoints/pretrain"
    )
    assert {
        "evaluation/embeddings/cluster_predictions.csv",
        "evaluation/embeddings/latent_embeddings.npz",
    } <= artifact_files(mlflow_server, run_id, "evaluation/embeddings")

    # The UI's download link: the checkpoint arrives intact and loads weights-only.
    raw = get(
        mlflow_server, "/get-artifact", path="checkpoints/joint/best_joint.pt", run_uuid=run_id
    )
    checkpoint = torch.load(io.BytesIO(raw), weights_only=True)
    assert checkpoint["stage"] == "joint"
    assert checkpoint["state_dict"]
    predictions = get(
        mlflow_server,
        "/get-artifact",
        path="evaluation/embeddings/cluster_predictions.csv",
        run_uuid=run_id,
    ).decode()
    assert predictions.splitlines()[0].startswith("specimen_id,")
