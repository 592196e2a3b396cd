"""Members on a Dask ``distributed`` cluster: the one in this process, or a running one.

With no address configured, an embedded ``LocalCluster`` starts one worker process per core
(one thread each: a member trains on one thread, and two threads on a busy core run several
times slower) with a memory limit per worker; its nanny restarts a worker that dies or
outgrows the limit. With ``address`` (e.g. ``tcp://10.0.0.5:8786``, from
``conf/local/parameters_stability.yml``) the same code submits to a scheduler started by
hand (``dask scheduler``, ``dask worker tcp://...``).

A member whose worker dies (or that raises) is submitted again; one that fails more than
``retries`` times is reported as failed and the others still finish. Each outcome says how
many attempts it took and what failed before.

The embedded cluster listens on 127.0.0.1 only (its scheduler, workers and, by default, its
dashboard); its workers keep their scratch files in Dask's ``temporary-directory``, which
the project hook points inside the project's data folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import dask
from distributed import Client, Future, LocalCluster, as_completed

from audiometric_clustering.stability.settings import ClusterSettings

logger = logging.getLogger(__name__)

#: How long to wait for the scheduler at ``address`` before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10
#: The only interface the embedded cluster listens on.
LOCAL_HOST = "127.0.0.1"

#: Dask settings for workers that train members. The statistical profiler samples every
#: worker's stack each 10 ms, CPU the members need. The nanny's default
#: MALLOC_TRIM_THRESHOLD_=65536 fixes glibc's malloc thresholds, so torch's per-batch buffers
#: are mapped and unmapped from the kernel at every step: one member took 32.8 s with it and
#: 22.4 s without; ``None`` leaves it unset (docs/stability.md, "On Dask", gives it as YAML for
#: workers started by hand).
MEMBER_WORKER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
}


@contextlib.contextmanager
def open_client(settings: ClusterSettings) -> Iterator[Client]:
    """A client of the configured cluster, closed (and a local cluster shut down) on exit.

    The local scheduler reruns no task after a worker died (``allowed_failures=0``):
    :func:`run_jobs` resubmits it itself, so every kind of failure counts against the same
    ``retries``. A running scheduler keeps its own setting
    (``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``, 3 by default), which adds to these.
    """
    if settings.address:
        with _connect(settings.address) as client:
            _log_cluster(client, f"scheduler {settings.address}")
            yield client
        return
    n_workers = settings.n_workers or os.cpu_count() or 1
    with (
        dask.config.set(MEMBER_WORKER_CONFIG),
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=settings.threads_per_worker,
            processes=True,
            host=LOCAL_HOST,
            memory_limit=settings.memory_limit,
            dashboard_address=settings.dashboard_address,
            scheduler_kwargs={"allowed_failures": 0},
        ) as cluster,
        Client(cluster) as client,
    ):
        _log_cluster(
            client,
            f"LocalCluster of {n_workers} worker processes x {settings.threads_per_worker} "
            f"thread(s), {settings.memory_limit} each",
        )
        yield client


def _connect(address: str) -> Client:
    """A client of the running scheduler at ``address``, or an error naming the setting."""
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConnectionError(
            f"stability.cluster.address = {address!r}: no Dask scheduler answered within "
            f"{CONNECT_TIMEOUT_S} s ({type(error).__name__}: {error}). Start one there "
            "(`dask scheduler`, then `dask worker <address>` on each machine), or set "
            "stability.cluster.address: null to run members on a LocalCluster here."
        ) from error


def _log_cluster(client: Client, what: str) -> None:
    logger.info("Dask: %s; dashboard at %s", what, client.dashboard_link)


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Outcome:
    """What came back for one job: its result, or the error that ended it."""

    job: Any
    result: Any | None
    error: str | None
    attempts: int = 1
    earlier_errors: tuple[str, ...] = ()  # of the attempts that were retried


def run_jobs(
    client: Client,
    function: Callable[..., Any],
    jobs: Sequence[Any],
    shared: Sequence[Any],
    retries: int,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """``function(*shared, job)`` for every job on the cluster; outcomes in finishing order.

    ``shared`` arguments (the data) are sent once, as tasks that return them, not with each
    job: unlike scattered data, which is lost for good when the workers holding it die, the
    scheduler can rerun those tasks on a restarted worker.

    Jobs are handed out one per worker thread, the next when one finishes: a worker that dies
    then takes only its own job down (the scheduler blames every task queued on a dead
    worker). A job that raises or whose worker died is submitted again, ``retries`` times;
    then it becomes an :class:`Outcome` with its error and the others go on. ``on_done`` sees
    each outcome as it arrives (the driver logs it to MLflow meanwhile). Tasks are named
    ``<function>-<job>-<attempt>-<random>``, so the dashboard groups them by job.
    """
    data = [client.submit(_identity, value, pure=False) for value in shared]
    waiting = list(enumerate(jobs))
    attempts = [0] * len(jobs)
    errors: list[list[str]] = [[] for _ in jobs]
    running: dict[Future, int] = {}
    finished = as_completed()

    def submit_while_free() -> None:
        while waiting and len(running) < max(1, sum(client.nthreads().values())):
            index, job = waiting.pop(0)
            attempts[index] += 1
            key = f"{function.__name__}-{job}-{attempts[index]}-{uuid4().hex[:8]}"
            future = client.submit(function, *data, job, key=key)
            running[future] = index
            finished.add(future)

    outcomes = []
    submit_while_free()
    for future in finished:
        index = running.pop(future)
        job = jobs[index]
        tried = {"attempts": attempts[index], "earlier_errors": tuple(errors[index])}
        try:
            outcome = Outcome(job, future.result(), None, **tried)
        except Exception as error:  # a failed job is a result to report, not a crash
            text = "".join(traceback.format_exception_only(type(error), error)).strip()
            if attempts[index] <= retries:
                logger.warning(
                    "job %s failed (attempt %d), retrying: %s", job, attempts[index], text
                )
                errors[index].append(text)
                waiting.insert(0, (index, job))
                submit_while_free()
                continue
            logger.error("job %s failed %d times: %s", job, attempts[index], text)
            outcome = Outcome(job, None, text, **tried)
        future.release()
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
        submit_while_free()
    return outcomes
