"""``kedro run --pipeline stability`` on a tiny configuration and a real two-process
LocalCluster, with one worker killed while it trains a member, and a k no member can fit.

The members train for a few epochs on 1,500 synthetic mice: the test checks the machinery
(retry, failure report, tables, report, MLflow), not the quality of the clusters.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from distributed import default_client

pytestmark = pytest.mark.slow  # a real Kedro session and Dask worker processes

#: Killed once, while it trains: it must come back from another worker process.
VICTIM = "k04_seed1"
#: More phenotype clusters than departing audiograms: cluster_init refuses, twice, and the
#: member is reported as failed.
IMPOSSIBLE_K = 5000
TINY = {
    "model": {"n_clusters": 4},
    "pretraining": {"epochs": 4, "batch_size": 256, "log_every_n_epochs": 2},
    "cluster_init": {"n_init": 2},
    "joint_training": {"epochs": 3, "warmup_epochs": 1, "batch_size": 256},
    "stability": {
        "seeds": [1, 2],
        "n_clusters": [3, 4, IMPOSSIBLE_K],
        "retries": 1,
        "cluster": {"n_workers": 2, "memory_limit": "1GiB", "dashboard_address": ":0"},
    },
}


def _kill_worker_running(member: str, stop: threading.Event, killed: dict) -> None:
    """From the driver: once a worker is executing ``member``, SIGKILL its process."""
    while not stop.is_set():
        time.sleep(0.05)
        try:
            client = default_client()
            executing = client.run(
                lambda dask_worker: [str(t.key) for t in dask_worker.state.executing]
            )
        except Exception:  # no client yet, or a worker is starting or gone
            continue
        for address, keys in executing.items():
            if any(key.startswith(f"train_member-{member}-1-") for key in keys):
                pid = client.run(os.getpid, workers=[address])[address]
                os.kill(pid, signal.SIGKILL)
                killed["pid"] = pid
                return


def _output(project: Path, name: str) -> Path:
    (path,) = project.glob(f"data/**/stability/{name}")
    return path


def test_stability_pipeline_survives_a_killed_worker(processed_project: Path, run_pipeline, caplog):
    stop, killed = threading.Event(), {}
    watcher = threading.Thread(target=_kill_worker_running, args=(VICTIM, stop, killed))
    watcher.start()
    started = time.perf_counter()
    try:
        with caplog.at_level("INFO"):
            run_pipeline("stability", TINY)
    finally:
        stop.set()
        watcher.join()
    elapsed = time.perf_counter() - started

    assert "pid" in killed, "the watcher never saw the member run"
    assert f"job {VICTIM} failed (attempt 1), retrying" in caplog.text
    assert "dashboard at http" in caplog.text
    members = pd.read_csv(_output(processed_project, "members.csv")).set_index("member")
    assert len(members) == 6
    ok = members[members["status"] == "ok"]
    assert set(ok.index) == {"k03_seed1", "k03_seed2", "k04_seed1", "k04_seed2"}
    assert members.loc[VICTIM, "worker_pid"] != killed["pid"]
    # The retry is recorded per member, not only in the log.
    assert members.loc[VICTIM, "attempts"] == 2
    assert "KilledWorker" in members.loc[VICTIM, "retried_after"]
    assert (members.drop(index=VICTIM).query("status == 'ok'")["attempts"] == 1).all()
    failed = members[members["status"] == "failed"]
    assert set(failed["n_clusters"]) == {IMPOSSIBLE_K}
    assert (
        failed["error"].str.contains(f"fewer than the {IMPOSSIBLE_K - 1} phenotype clusters").all()
    )

    ari = pd.read_csv(_output(processed_project, "member_ari.csv"))
    assert len(ari) == 16 and {"ari_all_mice", "ari_affected_mice"} <= set(ari.columns)
    k_selection = pd.read_csv(_output(processed_project, "k_selection.csv"))
    assert k_selection["n_clusters"].tolist() == [3, 4] and k_selection["chosen"].sum() == 1
    chosen = int(k_selection.loc[k_selection["chosen"], "n_clusters"].iloc[0])
    predictions = pd.read_csv(_output(processed_project, "consensus_predictions.csv"))
    assert len(predictions) == 1500 and predictions["cluster"].between(0, chosen - 1).all()
    assert predictions["agreement"].between(0, 1).all()
    clusters = pd.read_csv(_output(processed_project, "consensus_clusters.csv"))
    assert len(clusters) == chosen
    assert {"label", "hearing_loss", "jaccard_mean", "dissolved"} <= set(clusters)
    assert (clusters.loc[clusters["dissolved"], "n_mice"] == 0).all()
    # merge_normal_hearing (the default): normal hearing is one consensus cluster
    assert (~clusters["hearing_loss"] & (clusters["n_mice"] > 0)).sum() <= 1
    lines = pd.read_csv(_output(processed_project, "line_stability.csv"))
    assert lines["share_enriched"].is_monotonic_decreasing
    summary = json.loads(_output(processed_project, "stability_summary.json").read_text())
    assert set(summary["members_left_out"]) <= set(summary["members_poorly_trained"])
    assert set(lines["members"]) == {2 - len(summary["members_left_out"])}
    assert summary["members_ok"] == 4 and summary["chosen_k"] == chosen
    assert ok["pretrain_val_loss"].gt(0).all() and failed["pretrain_val_loss"].isna().all()
    assert set(summary["members_poorly_trained"]) <= set(ok.index)
    assert "stable_null_line_false_positive_rate" in summary
    genes = pd.read_csv(_output(processed_project, "gene_calls.csv"))
    tested = genes[genes["untestable_reason"].isna()]
    assert tested["called"].any() and tested["q_value"].is_monotonic_increasing
    modelled = tested[tested["line_id"].isin(predictions["line_id"])]
    assert modelled["consensus_cluster"].between(0, chosen - 1).all()
    assert modelled["member_agreement"].between(0, 1).all()
    assert summary["gene_calls_called"] == tested["called"].sum()
    report = _output(processed_project, "stability_report.md").read_text()
    assert "## Gene calls and the consensus" in report
    for section in ("## Members", "## Consensus clusters", "## Lines and genes", "## Failed"):
        assert section in report
    retried = report[report.index("## Retried members") :].split("\n## ")[0]
    assert VICTIM in retried and "KilledWorker" in retried
    # Dask's scratch space is inside the project's data folder, not the system's /tmp.
    assert (processed_project / "data/dask-scratch-space").is_dir()
    plots = _output(processed_project, "plots")
    assert {p.name for p in plots.iterdir()} == {"member_ari.png", "stability_by_k.png"}

    client = mlflow.MlflowClient(f"sqlite:///{processed_project / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = next(r for r in runs if "stability/median_pairwise_ari" in r.data.metrics)
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(nested) == 6
    statuses = {r.data.tags["stability_member"]: r.info.status for r in nested}
    assert statuses[VICTIM] == "FINISHED" and statuses[f"k{IMPOSSIBLE_K}_seed1"] == "FAILED"
    victim = next(r for r in nested if r.data.tags["stability_member"] == VICTIM)
    assert victim.data.params == {"seed": "1", "n_clusters": "4"}
    assert "eval/ari_affected" in victim.data.metrics
    history = client.get_metric_history(victim.info.run_id, "pretrain/val_loss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    checkpoints = client.list_artifacts(victim.info.run_id, "checkpoints/joint")
    assert [a.path for a in checkpoints] == ["checkpoints/joint/best_joint.pt"]
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "stability")}
    assert {"stability/stability_report.md", "stability/gene_calls.csv"} <= artifacts
    assert parent.data.metrics["stability/gene_calls_called"] == tested["called"].sum()
    assert elapsed < 90, f"the tiny stability run took {elapsed:.0f} s"
