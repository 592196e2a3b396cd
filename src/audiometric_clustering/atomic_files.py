"""Files that appear whole or not at all: written under a hidden name beside the target,
then renamed over it (one atomic step on a local file system). Used by every dataset the
project writes and by the training checkpoints."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The hidden names :func:`replaced_atomically` writes beside a target: what a killed save
#: leaves behind.
LEFTOVER = re.compile(r"^\..+\.[0-9a-f]{8}\.(partial|previous)$")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def replaced_atomically(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden path beside ``target`` to write (a file or a folder); on success it
    replaces ``target``, on any failure (or interrupt) it is removed and ``target`` kept.

    A folder cannot be renamed over a non-empty one: the old folder is first moved aside,
    so for an instant neither exists, and never a half-written one.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield partial
        if partial.is_dir() and target.is_dir():
            previous = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.previous")
            os.replace(target, previous)
            os.replace(partial, target)
            _remove(previous)
        else:
            os.replace(partial, target)
    except BaseException:
        _remove(partial)
        raise


def remove_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove what killed saves left in ``folder`` (and below); returns what was removed.

    Call it only while no save into ``folder`` can be under way (the run folder's lock).
    """
    found = [path for path in Path(folder).rglob(".*") if LEFTOVER.match(path.name)]
    for path in found:
        _remove(path)
    return found
