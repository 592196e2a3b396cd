"""Every file the project writes appears whole or not at all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from kedro_mlflow.io.artifacts import MlflowArtifactDataset  # noqa: E402

from audiometric_clustering.io.atomic import CSVDataset, MatplotlibDataset  # noqa: E402

SLOW_SAVE = """
import sys
import numpy as np, pandas as pd
from audiometric_clustering.io.atomic import CSVDataset
frame = pd.DataFrame(np.random.default_rng(0).normal(size=(3_000_000, 8)))
print("saving", flush=True)
CSVDataset(filepath=sys.argv[1], save_args={"index": False}).save(frame)
"""


def test_a_kill_during_a_save_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "cluster_predictions.csv"
    previous = pd.DataFrame({"specimen_id": ["a", "b"], "cluster": [1, 2]})
    CSVDataset(filepath=str(target), save_args={"index": False}).save(previous)
    before = target.read_bytes()

    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SAVE, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "saving"
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".cluster_predictions.csv.*.partial")):
        assert time.monotonic() < deadline and process.poll() is None, "the save never began"
        time.sleep(0.01)
    time.sleep(0.2)  # well inside a write of several seconds
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert target.read_bytes() == before


def test_a_failed_folder_save_keeps_the_old_plots_and_a_good_one_replaces_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "plots"
    dataset = MatplotlibDataset(filepath=str(folder), save_args={"dpi": 20})
    dataset.save({"old.png": plt.figure(), "kept.png": plt.figure()})
    with pytest.raises(Exception, match="savefig"):
        dataset.save({"new.png": plt.figure(), "broken.png": "not a figure"})
    assert sorted(p.name for p in folder.iterdir()) == ["kept.png", "old.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["plots"]  # no partial folder left
    dataset.save({"new.png": plt.figure()})
    assert [p.name for p in folder.iterdir()] == ["new.png"]  # stale plots gone


def test_the_mlflow_wrapper_logs_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the store's artifacts go to ./mlruns
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    target = tmp_path / "summary.csv"
    dataset = MlflowArtifactDataset(
        dataset={
            "type": "audiometric_clustering.io.atomic.CSVDataset",
            "filepath": str(target),
            "save_args": {"index": False},
        },
        artifact_path="evaluation",
    )
    frame = pd.DataFrame({"cluster": [0, 1, 2], "mice": [10, 20, 30]})
    experiment = mlflow.set_experiment("atomic_saves")  # not the id an earlier test made active
    with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
        dataset.save(frame)
    logged = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="evaluation/summary.csv", dst_path=str(tmp_path / "d")
    )
    assert Path(logged).read_bytes() == target.read_bytes()
    pd.testing.assert_frame_equal(pd.read_csv(target), frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "mlflow.db", "mlruns", "summary.csv"]
