"""Starting processes from a process that has threads (the daemon, the Python API).

A fork made while another thread is inside `subprocess.Popen` hands the forked process the
pipe on which Popen waits for its child to exec, and Popen then waits until that forked
process exits: a search pool forked at that moment hung the index updater, and with it the
API's `close()`. So forks of worker pools and Popen calls take turns.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Any

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

FORK_LOCK = threading.Lock()  # held while this process forks workers or starts a program


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **kwargs)`, never at the same time as a fork of workers."""
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
