"""Starting processes from a process that has threads (the daemon, the Python API).

A fork made while another thread is inside `subprocess.Popen` hands the forked process the
pipe on which Popen waits for its child to exec, and Popen then waits until that forked
process exits: a search pool forked at that moment hung the index updater, and with it the
API's `close()`. So forks of worker pools and Popen calls take turns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

FORK_LOCK = threading.Lock()  # held while this process forks workers or starts a program


def _release_in_child() -> None:
    """A forked worker is born holding FORK_LOCK (its parent forks under it), and no thread
    of its own will release it: its first `--pre` or `-z` program would wait forever."""
    if FORK_LOCK.locked():
        FORK_LOCK.release()


os.register_at_fork(after_in_child=_release_in_child)


def trigrep_command(*args: str) -> list[str]:
    """The command that runs `trigrep ARGS` in a new interpreter (its fork server too, which
    takes its flags). With -P (Python 3.11) no directory of the process (with -m, the current
    one, inside a searched tree) goes first on the module path, where a tree's own `numpy/` or
    `dataclasses.py` (a CPython checkout's Lib/ holds them all) would be imported instead, its
    code run."""
    return [sys.executable, "-P", "-m", "trigrep.cli", *args]


@contextlib.contextmanager
def safe_path_children() -> Iterator[None]:
    """Interpreters started meanwhile (a fork server's, by `python -c`, which puts its
    current directory first on its path) leave the current directory out of their path
    (PYTHONSAFEPATH, Python 3.11's -P). Hold FORK_LOCK: no other program starts meanwhile."""
    before = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONSAFEPATH"]
        else:
            os.environ["PYTHONSAFEPATH"] = before


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **kwargs)`, never at the same time as a fork of workers."""
    import subprocess  # (loaded by the few searches that start a program: a few ms)

    with FORK_LOCK:
        return subprocess.Popen(args, **kwargs)


def die_with_parent(parent: int) -> None:
    """In a forked worker: be killed when `parent`, the process that forked it, dies (Linux).
    A killed build's workers would otherwise live on, holding the index lock they inherited
    and blocked on pipes nobody reads, and every later search or build would wait for them."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: orphans are possible, as before
        return
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)
