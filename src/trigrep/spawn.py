"""Starting processes from a process that has threads (the daemon, the Python API).

A fork made while another thread is inside `subprocess.Popen` hands the forked process the
pipe on which Popen waits for its child to exec, and Popen then waits until that forked
process exits: a search pool forked at that moment hung the index updater, and with it the
API's `close()`. So forks of worker pools and Popen calls take turns.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Any

FORK_LOCK = threading.Lock()  # held while this process forks workers or starts a program


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **kwargs)`, never at the same time as a fork of workers."""
    with FORK_LOCK:
        return subprocess.Popen(args, **kwargs)
