"""Keeping a served tree's index up to date: `trigrep index ROOT` in a subprocess, run when
the watcher's changes have gone quiet.

The update is incremental (one small segment, then merges; see `trigrep.index.update`) and
atomic under the index lock. A subprocess rather than a thread: it holds no GIL the daemon's
searches need, may use a process pool for a big burst (forking the threaded daemon would not
be safe), and returns its memory when done. Killing the daemon (or the update) at any moment
leaves a consistent index; a restarted daemon walks afresh and updates the index. An update
that fails (a full disk) says why in one line in the daemon's log.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time

from trigrep.index.format import RACY_WINDOW_NS
from trigrep.spawn import popen, trigrep_command

# Until the index is updated, changed files are searched directly (cheap for a few), so it
# waits for edits to pause: its walk of the whole tree would slow the searches of the
# person editing.
UPDATE_DEBOUNCE = 2.0  # seconds without a change before the index is updated...
UPDATE_MAX_DELAY = 5.0  # ...or this long after the first change of a steady stream
UPDATE_STOP_TIMEOUT = 5.0  # a stopping daemon waits this long for a running update to exit
# An update (and its process pool) runs this much nicer than the daemon: it gives the CPU up
# to the searches of the person editing, which meanwhile read the changed files themselves.
UPDATE_NICENESS = 10
# An update that failed (killed: the OOM killer; a full disk) is run again this long after,
# the delay doubling with each failure in a row up to UPDATE_RETRY_MAX: a tree's first index
# killed half-built was otherwise never built until a file changed.
UPDATE_RETRY = 10.0
UPDATE_RETRY_MAX = 600.0


class IndexUpdater:
    """Runs `trigrep index ROOT` (an incremental update) in the background, one at a time:
    UPDATE_DEBOUNCE after the last change seen (at most UPDATE_MAX_DELAY after the first of a
    stream), or at once on `request()`; `rebuild()` runs `trigrep index --full ROOT` at once
    (a damaged index: an update would find nothing to do when the damage was undone since).
    One that failed runs again (see UPDATE_RETRY).

    Files changed just before an update started are indexed racily clean (searched directly
    until re-indexed, see `trigrep.index.format`), so once RACY_WINDOW_NS has passed after the
    last change such an update saw, one more update settles them."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.runs = 0
        self.running = False
        self._cond = threading.Condition()
        self._due: float | None = None  # time.monotonic() at which to start the next update
        self._stream_began: float | None = None  # first change not yet handed to an update
        self._last_change = 0.0  # time.time() when the newest change was seen (>= its mtime)
        self._stopping = False
        self._full = False  # the next run rebuilds the index in full
        self._retry = 0.0  # the delay before the next retry of a failed update (0: none failed)
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, name=f"index {root}", daemon=True)

    def start(self) -> None:
        self.request()
        self._thread.start()

    def changed(self) -> None:
        with self._cond:
            now = time.monotonic()
            self._last_change = time.time()
            if self._stream_began is None:
                self._stream_began = now
            self._schedule(min(now + UPDATE_DEBOUNCE, self._stream_began + UPDATE_MAX_DELAY),
                           replace=True)

    def request(self) -> None:
        with self._cond:
            self._schedule(time.monotonic(), replace=True)

    def rebuild(self) -> None:
        with self._cond:
            self._full = True
            self._schedule(time.monotonic(), replace=True)

    def _schedule(self, due: float, *, replace: bool) -> None:
        """Start an update at `due` (`replace`: even if one was due earlier, the debounce)."""
        if self._due is None or replace:
            self._due = due
        self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            process = self._process
        if process is not None:  # atomic: an update killed at any moment leaves the index whole
            process.terminate()
        if self._thread.is_alive():
            self._thread.join(UPDATE_STOP_TIMEOUT)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    self._due is None or time.monotonic() < self._due
                ):
                    timeout = None if self._due is None else self._due - time.monotonic()
                    self._cond.wait(timeout)
                if self._stopping:
                    return
                self._due = self._stream_began = None
                started = time.time()
                self.running = True
                full = ["--full"] if self._full else []
                self._full = False
                process = popen(
                    trigrep_command("index", *full, self.root),
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                with contextlib.suppress(OSError):  # (before it starts its pool: it inherits)
                    nicer = os.getpriority(os.PRIO_PROCESS, 0) + UPDATE_NICENESS
                    os.setpriority(os.PRIO_PROCESS, process.pid, min(nicer, 19))
                self._process = process
            said = process.communicate()[1]
            if process.returncode > 0 and said:  # (not stopped: why, in the daemon's log)
                sys.stderr.write(said.decode(errors="replace"))
            with self._cond:
                self._process = None
                self.running = False
                self.runs += 1
                if process.returncode and not self._stopping:  # failed: again, later
                    self._full = self._full or bool(full)
                    self._retry = min(2 * self._retry, UPDATE_RETRY_MAX) or UPDATE_RETRY
                    self._schedule(time.monotonic() + self._retry, replace=False)
                else:
                    self._retry = 0.0
                settle_at = self._last_change + RACY_WINDOW_NS / 1e9
                if settle_at > started:
                    delay = settle_at - time.time() + UPDATE_DEBOUNCE
                    self._schedule(time.monotonic() + max(0.0, delay), replace=False)
