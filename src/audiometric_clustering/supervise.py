"""Run a server command so that stopping it stops every process it started.

``kedro viz run`` serves from a child process that it starts and then waits on; a SIGTERM to
``kedro viz run`` ended it at once and left the child answering on its port. Run as::

    python -m audiometric_clustering.supervise kedro viz run --host 127.0.0.1 --port 4141

the command runs in a process group of its own; SIGTERM, SIGINT (Ctrl-C) or SIGHUP to this
process is passed to the whole group, and what is still running after a grace period is
killed. The exit status is the command's (128 + the signal when a signal ended it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

#: Seconds the group has to stop after the signal before it is killed.
GRACE_S = 10.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member exists but is no longer ours to signal
        return True
    return True


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _stop_group(group: int, process: subprocess.Popen, signum: int, grace_s: float) -> None:
    """Pass ``signum`` to the group; kill whatever is left after ``grace_s``."""
    _signal_group(group, signal.SIGTERM if signum == signal.SIGHUP else signum)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()  # reap the leader, so it does not count as alive
        if not _group_alive(group):
            return
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)


def supervise(command: list[str], grace_s: float = GRACE_S) -> int:
    """Run ``command`` in its own process group until it ends or this process is told to
    stop; returns its exit status."""
    received: list[int] = []

    def note(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in STOP_SIGNALS}
    try:
        process = subprocess.Popen(command, start_new_session=True)
        group = process.pid  # the new session's leader: its pid names the group
        while process.poll() is None and not received:
            time.sleep(0.2)
        if received:
            _stop_group(group, process, received[0], grace_s)
            process.wait()
            return 128 + received[0]
        _stop_group(group, process, signal.SIGTERM, grace_s)  # children it left behind
        return process.returncode if process.returncode >= 0 else 128 - process.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(arguments: list[str] | None = None) -> int:
    command = sys.argv[1:] if arguments is None else arguments
    if not command:
        sys.stderr.write(__doc__ or "")
        return 2
    return supervise(command)


if __name__ == "__main__":
    sys.exit(main())
