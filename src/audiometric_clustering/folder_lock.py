"""One run at a time in a run folder: an exclusive ``flock`` on the folder's lock file.

The operating system releases the lock when the holding process closes the file or ends,
however it ends (an exception, Ctrl-C, SIGTERM, SIGKILL, a crash), so a lock is never left
behind. The holder writes who it is into the file; a run that finds the folder locked fails
at once, naming that run, instead of waiting or mixing its files with the other's.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path

#: The lock file inside a run folder.
LOCK_FILE = ".lock"


class FolderInUseError(RuntimeError):
    """Another run holds the folder's lock; the message names it."""


def _holder_text(descriptor: int) -> str:
    os.lseek(descriptor, 0, os.SEEK_SET)
    raw = os.read(descriptor, 4096).decode("utf-8", errors="replace")
    try:
        holder = json.loads(raw)
    except ValueError:
        return "another run (it has not said which yet)"
    return (
        f"run {holder.get('run')} (pipeline {holder.get('pipeline')}, pid {holder.get('pid')} "
        f"on {holder.get('host')}, started {holder.get('started')})"
    )


class FolderLock:
    """The lock of one run folder, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self, run: str, pipeline: str) -> None:
        """Take the lock or raise :class:`FolderInUseError` naming the run that holds it."""
        descriptor = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(descriptor)
            os.close(descriptor)
            raise FolderInUseError(
                f"run folder {self.folder} is in use by {holder}. Runs on one folder cannot "
                "overlap: wait for that run to finish, or start your own folder (a "
                "full_training or data_processing run without `run`)."
            ) from None
        holder = {
            "run": run,
            "pipeline": pipeline,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now().isoformat(timespec="seconds"),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(holder).encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        """Let the next run in (closing the file releases the lock)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
