"""Jobs on a real two-process LocalCluster: a killed worker's job is rerun, a job that keeps
failing is reported and the others still finish."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
import yaml

from audiometric_clustering.stability.cluster import ClusterSettings, open_client, run_jobs
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # starts worker processes

SETTINGS = ClusterSettings(
    address=None, n_workers=2, threads_per_worker=1, memory_limit="1GiB", dashboard_address=":0"
)


def square_or_die(folder: str, job: int) -> tuple[int, int]:
    """Job 3 kills its own worker process the first time it runs (a marker file says so),
    job 5 every time; job 4 raises."""
    marker = Path(folder) / f"died_{job}"
    if (job == 3 and not marker.exists()) or job == 5:
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    if job == 4:
        raise RuntimeError("member 4 always fails")
    return job * job, os.getpid()


def test_a_killed_worker_is_retried_and_a_failing_job_reported(tmp_path: Path, caplog) -> None:
    done = []
    with caplog.at_level("INFO"), open_client(SETTINGS) as client:
        outcomes = run_jobs(
            client, square_or_die, [1, 2, 3, 4, 5], [str(tmp_path)], retries=1, on_done=done.append
        )
    assert "dashboard at http" in caplog.text
    assert len(done) == 5
    by_job = {outcome.job: outcome for outcome in outcomes}
    assert {job: o.result[0] for job, o in by_job.items() if o.error is None} == {1: 1, 2: 4, 3: 9}
    assert (tmp_path / "died_3").exists()
    assert "member 4 always fails" in by_job[4].error and by_job[4].result is None
    assert "KilledWorker" in by_job[5].error and by_job[5].result is None
    # Every outcome says how many attempts it took and what failed before.
    assert {job: o.attempts for job, o in by_job.items()} == {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
    assert "KilledWorker" in by_job[3].earlier_errors[0] and by_job[1].earlier_errors == ()
    assert len(by_job[4].earlier_errors) == 1  # its own error, or job 3's worker dying


def test_local_workers_keep_glibcs_own_malloc_thresholds() -> None:
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ in its workers, which made a member
    1.5x slower; the embedded cluster's workers start without it, and with one BLAS thread."""
    with open_client(SETTINGS) as client:
        environments = client.run(lambda: dict(os.environ))
    assert len(environments) == 2
    for environment in environments.values():
        assert "MALLOC_TRIM_THRESHOLD_" not in environment
        assert environment["OMP_NUM_THREADS"] == "1"


def test_an_unreachable_scheduler_names_the_setting_and_fails_fast() -> None:
    settings = SETTINGS.model_copy(update={"address": "tcp://127.0.0.1:9"})  # nothing listens
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=r"stability\.cluster\.address = 'tcp://127\.0"):
        with open_client(settings):
            pass
    assert time.monotonic() - started < 20  # Dask's own default waits 30 s, then retries


def _listening(process: psutil.Process) -> set[str]:
    sockets = process.net_connections(kind="inet")
    return {s.laddr.ip for s in sockets if s.status == psutil.CONN_LISTEN}


def test_the_embedded_cluster_and_its_default_dashboard_listen_on_this_machine_only() -> None:
    defaults = yaml.safe_load((REPO_ROOT / "conf/base/parameters_stability.yml").read_text())
    dashboard = defaults["stability"]["cluster"]["dashboard_address"]
    settings = SETTINGS.model_copy(update={"dashboard_address": dashboard})
    driver = psutil.Process()
    with open_client(settings) as client:
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        addresses = _listening(driver)
        for child in driver.children(recursive=True):
            addresses |= _listening(child)
    assert addresses == {"127.0.0.1"}, f"listening on {addresses}"
