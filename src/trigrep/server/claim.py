"""A daemon's claim on a tree it serves: the tree's daemon lock, held for the daemon's whole
life, and the record clients find the daemon by (`.trigrep/daemon.json`, with a copy in the
lock file: see `protocol`).

The kernel drops the lock however the daemon dies, so the lock, not the record, says whether
a tree is served (`protocol.is_served`); what a killed daemon left besides (its records and
socket) the next daemon's claim removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys

from trigrep.errors import Error
from trigrep.index.format import write_atomically
from trigrep.server.protocol import (
    Message,
    daemon_file,
    daemon_lock_path,
    read_record,
    socket_dir,
)


class Claim:
    """This process's hold on the tree at `root` (Error if another daemon holds it)."""

    def __init__(self, root: str) -> None:
        from trigrep.index.build import prepare_index_dir

        prepare_index_dir(root)
        fd = _take_lock(root)
        if fd is None:
            raise Error(f"{root}: already served by another daemon")
        for stale in (read_record(daemon_file(root)), read_record(daemon_lock_path(root))):
            if stale is not None and os.path.dirname(stale["socket"]) == socket_dir():
                with contextlib.suppress(OSError):
                    os.unlink(stale["socket"])
        with contextlib.suppress(OSError):
            os.unlink(daemon_file(root))
        os.ftruncate(fd, 0)
        self.root = root
        self._fd = fd
        self._record = b""  # as written (see `keep`)

    def publish(self, record: Message) -> None:
        """Write this daemon's `record` (with the tree's root) where clients find it."""
        self._record = json.dumps({**record, "root": self.root}).encode()
        write_atomically(daemon_file(self.root), self._record)
        self._copy_record_in_lock()

    def keep(self) -> bool:
        """Whether this daemon still holds the tree: False when its lock file was deleted and
        the new one is locked by another daemon. A lock file deleted is made and locked anew,
        a record damaged or deleted written again (clients read the lock file's copy
        meanwhile): a few stats and a read."""
        with contextlib.suppress(OSError):  # (a full disk...: tried again at the next call)
            if not self._holds():
                fd = _take_lock(self.root)
                if fd is None:
                    sys.stderr.write(f"trigrep: {self.root}: its daemon.lock was replaced "
                                     "and another daemon holds it; stopping\n")
                    return False
                os.close(self._fd)
                self._fd = fd
                self._copy_record_in_lock()
                sys.stderr.write(f"trigrep: {self.root}: daemon.lock was replaced; "
                                 "locked again\n")
            if _read_bytes(daemon_file(self.root)) != self._record:
                write_atomically(daemon_file(self.root), self._record)
                sys.stderr.write(f"trigrep: {self.root}: daemon.json was damaged or "
                                 "removed; written again\n")
        return True

    def release(self) -> None:
        """Remove the record (unless another daemon's replaced it) and drop the lock."""
        record = read_record(daemon_file(self.root))
        if record is not None and record["pid"] == os.getpid():
            with contextlib.suppress(OSError):
                os.unlink(daemon_file(self.root))
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # its copy of the record
        os.close(self._fd)  # closing releases the flock

    def _holds(self) -> bool:
        """Whether the locked file is still the tree's lock file (not deleted, nor replaced)."""
        try:
            st = os.stat(daemon_lock_path(self.root))
        except FileNotFoundError:
            return False
        held = os.fstat(self._fd)
        return (st.st_ino, st.st_dev) == (held.st_ino, held.st_dev)

    def _copy_record_in_lock(self) -> None:
        """Keep a copy of the record in the lock file (see `protocol.find_daemon_file`)."""
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, self._record, 0)


def _take_lock(root: str) -> int | None:
    """The file descriptor holding `root`'s daemon lock (the kernel drops it when the daemon
    dies, however it dies), or None when another daemon holds it."""
    fd = os.open(daemon_lock_path(root), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
