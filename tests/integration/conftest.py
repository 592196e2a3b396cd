"""One tiny real training run, shared by every integration test, and real servers on it.

The run (synthetic data, then ``full_training`` for a few epochs) is session-scoped: it is the
slowest part, and the kedro-viz, MLflow, browser and notebook checks all read the same run.
It lives in a throw-away project copy with its own MLflow store, so nothing touches the
user's ``data/`` or ``mlflow.db``. Servers run as separate process groups on 127.0.0.1 and are
always stopped at teardown, also when a test fails.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import trained_project

VENV_BIN = Path(sys.executable).parent
N_MICE = 1500
EPOCHS = 3
#: Runtime params of the tiny run (nested: Kedro ignores dotted keys given from Python).
TINY_PARAMS = {
    "pretraining": {"epochs": EPOCHS, "log_every_n_epochs": 1},
    "cluster_init": {"n_init": 2, "max_iter": 50},
    "joint_training": {"epochs": EPOCHS, "warmup_epochs": 1, "log_every_n_epochs": 1},
    "evaluation": {"silhouette_sample_size": 500, "kmeans_n_init": 1, "top_lines": 10},
}
SERVER_START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TinyRun:
    """Where the tiny run lives: the project copy, its MLflow store and the run itself."""

    project: Path
    tracking_uri: str
    experiment_id: str
    run_id: str

    def env(self) -> dict[str, str]:
        """Environment for a subprocess working on this project copy and store."""
        return os.environ | {
            "KEDRO_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "MLFLOW_TRACKING_URI": self.tracking_uri,
        }


def full_training_run(tracking_uri: str) -> tuple[str, str]:
    """(experiment id, run id) of the one MLflow run that ``full_training`` logged."""
    client = MlflowClient(tracking_uri)
    experiments = client.search_experiments()
    runs = client.search_runs(
        [experiment.experiment_id for experiment in experiments],
        filter_string="tags.kedro_command LIKE '%full_training%'",
    )
    assert len(runs) == 1, f"expected one full_training run in {tracking_uri}, found {len(runs)}"
    return runs[0].info.experiment_id, runs[0].info.run_id


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """A tiny synthetic export trained end to end by ``full_training`` (about a minute)."""
    # Working directory and environment only for the runs: later tests must not inherit them.
    with trained_project(tmp_path_factory.mktemp("tiny_project"), N_MICE, TINY_PARAMS) as project:
        pass
    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    experiment_id, run_id = full_training_run(tracking_uri)
    return TinyRun(project, tracking_uri, experiment_id, run_id)


#: kedro viz refuses ports above the registered range, where the OS's ephemeral ports may lie.
PORT_RANGE = range(20000, 49152)


def free_port() -> int:
    """A port in PORT_RANGE that nothing listens on now (tried at random: tests may run side
    by side)."""
    for port in random.sample(PORT_RANGE, 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found in {PORT_RANGE}")


def _log_tail(log: Path, n_chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-n_chars:]


def _wait_until_ready(process: subprocess.Popen, url: str, log: Path, timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the server process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"server exited with {process.returncode} before {url} answered:\n{_log_tail(log)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1.0)
    pytest.fail(f"{url} did not answer within {timeout_s:.0f} s:\n{_log_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server's whole process group (workers included): TERM, then KILL."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def serve(
    command: list[str], cwd: Path, env: dict[str, str], ready_url: str, log: Path
) -> Iterator[None]:
    """Run a server for the duration of the block; it is stopped however the block ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_ready(process, ready_url, log, SERVER_START_TIMEOUT_S)
            yield
        finally:
            _stop(process)


@pytest.fixture(scope="session")
def mlflow_server(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real MLflow server (UI and REST API) on the tiny run's store."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(VENV_BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        tiny_run.tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = tmp_path_factory.mktemp("mlflow_server") / "server.log"
    with serve(command, tiny_run.project, tiny_run.env(), f"{url}/health", log):
        yield url


@pytest.fixture(scope="session")
def viz_server(tiny_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real ``kedro viz run`` server on the tiny run's project copy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(VENV_BIN / "kedro"),
        "viz",
        "run",
        "--no-browser",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = tmp_path_factory.mktemp("viz_server") / "server.log"
    with serve(command, tiny_run.project, tiny_run.env(), f"{url}/api/main", log):
        yield url
