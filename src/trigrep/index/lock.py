"""The writers' lock of an index (`.trigrep/lock`): one build or update at a time.

Its own module, without the writers' imports (numpy: ~60 ms), because searches and `trigrep
status` only ask whether a writer is at work: a tree's first search asks it on its critical
path, before it reads a single file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os

from trigrep.index.format import LOCK_NAME


class IndexBusy(OSError):
    """Another writer holds the index lock, and the caller would rather not wait."""


class IndexLock:
    """Context manager holding the writers' exclusive flock on `.trigrep/lock`; without
    `wait`, IndexBusy when another writer holds it (a search then searches directly rather
    than wait for a build that may take long, or never end: a stopped `trigrep index`)."""

    def __init__(self, index_dir: str, *, wait: bool = True) -> None:
        self._path = os.path.join(index_dir, LOCK_NAME)
        self._wait = wait

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | (0 if self._wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(self._fd)
            raise IndexBusy(f"{self._path} is held by another trigrep") from None
        # Its holder's pid, for `trigrep status` to name who builds an index no daemon serves
        # yet (a full disk may refuse even these bytes: the lock holds all the same).
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, b"%d\n" % os.getpid(), 0)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # closing releases the flock


def locked_by_another(index_dir: str) -> bool:
    """Whether another process holds the writers' lock of `index_dir` (a build or an update
    is under way); False where there is none to take (no such directory, or not writable)."""
    try:
        with IndexLock(index_dir, wait=False):
            return False
    except IndexBusy:
        return True
    except OSError:
        return False


def lock_holder(index_dir: str) -> int | None:
    """The pid of the process that holds the writers' lock of `index_dir` (0: not written
    yet); None when none does."""
    if not locked_by_another(index_dir):
        return None
    try:
        with open(os.path.join(index_dir, LOCK_NAME), "rb") as f:
            return int(f.read(32) or 0)
    except (OSError, ValueError):
        return 0
