"""Each member as an MLflow run nested in the pipeline's run, logged from the driver.

Workers never touch MLflow: the SQLite store locks when several processes write it, and a
worker has no active run. The driver logs a member when its result comes back: its seed and
k, per-epoch losses (``pretrain/<name>``, ``joint/<name>`` at step = epoch, as a training
run logs them), scores (``eval/<name>``), wall times, the worker's peak memory and the best
joint checkpoint; a failed member is a FAILED run with its error.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import mlflow
import torch
from mlflow.entities import Metric

from audiometric_clustering.stability.cluster import Outcome

#: MLflow accepts at most this many metrics in one batch.
_BATCH = 1000


def log_member_run(outcome: Outcome) -> str | None:
    """Log one member as a nested run of the active run; its run id (None outside a run)."""
    if mlflow.active_run() is None:
        return None
    spec, result = outcome.job, outcome.result
    run = mlflow.start_run(run_name=f"member {spec.name}", nested=True)
    try:
        mlflow.log_params({"seed": spec.seed, "n_clusters": spec.n_clusters})
        mlflow.set_tag("stability_member", spec.name)
        if result is None:
            mlflow.set_tag("error", (outcome.error or "")[:4000])
            return run.info.run_id
        now = int(time.time() * 1000)
        metrics = [
            Metric(f"{stage}/{name}", float(value), now, step)
            for stage, history in result.histories.items()
            for name, values in history.items()
            for step, value in enumerate(values)
            if math.isfinite(value)
        ]
        once = {f"eval/{name}": value for name, value in result.scoring.scores.items()}
        once |= {f"timing/{stage}_seconds": s for stage, s in result.seconds.items()}
        once["worker/peak_rss_mib"] = result.worker["peak_rss_mib"]
        metrics += [Metric(k, float(v), now, 0) for k, v in once.items() if math.isfinite(v)]
        client = mlflow.MlflowClient()
        for start in range(0, len(metrics), _BATCH):
            client.log_batch(run.info.run_id, metrics=metrics[start : start + _BATCH])
        mlflow.set_tags({"worker_host": result.worker["host"], "worker_pid": result.worker["pid"]})
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "best_joint.pt"
            torch.save(result.checkpoint, path)
            mlflow.log_artifact(str(path), artifact_path="checkpoints/joint")
        return run.info.run_id
    finally:
        mlflow.end_run(status="FINISHED" if result is not None else "FAILED")
