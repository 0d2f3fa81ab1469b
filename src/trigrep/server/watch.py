"""inotify on the directories a cached walk entered: the daemon's watcher.

The never-stale barrier (`caught_up`): the kernel queues an event before the write (or
create, rename...) that caused it returns, so once every byte queued when a search arrived
has been handed over, every change made before has been. A search thus waits for nothing
when the queue is empty, and for the reader thread's next batches otherwise (a marker file
that each search created and waited for the watcher to report, as before, cost a file
creation and a wake-up of this thread on every search).

Why not a recursive watcher such as watchfiles (which trigrep used before):
- watchfiles hands events over in polling steps (a wait of 7.5 ms, median, on every search
  for its barrier); here a thread blocks in poll() and reports each read at once.
- Only what the walk entered is watched, each directory added just before it is listed (so
  nothing created in it after the listing goes unreported). Changes in ignored directories
  (build output, vendored trees) never wake the daemon, and the mask leaves out opens and
  reads, which the daemon's own searches cause by the thousand.

Linux only (inotify), like the daemon. The batches go to `on_batch` in kernel order, as
(change, absolute path) pairs: ADDED for a created or moved-in entry, DELETED for a deleted
or moved-out one, MODIFIED for written or re-stat'ed contents; a batch read after the
kernel's queue overflowed comes with `overflowed` true: the caller must assume anything
changed.

When the kernel refuses (too many inotify instances or watches for this user, a limit other
programs share) the watcher goes blind instead of failing: `blind` says why, and the caller
must then assume anything may have changed before each search.
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import os
import select
import termios
import threading
from collections.abc import Callable, Iterable

from inotify_simple import INotify, parse_events
from inotify_simple import flags as IN

ADDED, MODIFIED, DELETED = "added", "modified", "deleted"
Batch = list[tuple[str, str]]

WATCH_MASK = (
    IN.CREATE | IN.DELETE | IN.MOVED_FROM | IN.MOVED_TO  # entries of the directory
    | IN.MODIFY | IN.CLOSE_WRITE | IN.ATTRIB  # contents (and stats) of its files
    | IN.DONT_FOLLOW | IN.ONLYDIR | IN.EXCL_UNLINK
)
ENTRIES_MASK = IN.CREATE | IN.DELETE | IN.MOVED_FROM | IN.MOVED_TO | IN.DONT_FOLLOW | IN.ONLYDIR
POLL_MS = 200  # how often the reader thread checks for shutdown


class TreeWatcher:
    """Watches single directories (not their subtrees) and reports their changes from a
    thread of its own. A directory moved or deleted is no longer watched (nor anything the
    watcher knows below it): its events would carry a name it no longer has."""

    def __init__(self, name: str, on_batch: Callable[[Batch, bool], None]) -> None:
        self.blind: str | None = None  # why it reports nothing, once the kernel refused
        try:
            self._inotify: INotify | None = INotify()
        except OSError as e:
            self._inotify = None
            self.blind = (f"cannot watch ({e.strerror}; the limit is "
                          "/proc/sys/fs/inotify/max_user_instances)")
        self._on_batch = on_batch
        self._lock = threading.Lock()
        self._paths: dict[int, str] = {}  # watch descriptor -> directory
        self._wds: dict[str, int] = {}  # directory -> watch descriptor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # Bytes of the kernel's queue read so far (counted under _reading, as they are read),
        # and handed to on_batch (see `caught_up`).
        self._reading = threading.Lock()
        self._read = 0
        self._handed = threading.Condition()
        self._handed_bytes = 0

    def start(self) -> None:
        if self._inotify is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join()
        if self._inotify is not None:
            self._inotify.close()

    def watch(self, directory: str, mask: int = WATCH_MASK) -> None:
        """Report changes in `directory` from now on (call before listing it). A directory
        that vanished or cannot be read is skipped: its parent reports what became of it."""
        if self._inotify is None or self.blind:
            return
        try:
            wd = self._inotify.add_watch(directory, mask)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                self.blind = ("cannot watch more directories (the limit is "
                              "/proc/sys/fs/inotify/max_user_watches)")
            return
        with self._lock:
            former = self._paths.get(wd)  # the same directory under another name
            if former is not None and self._wds.get(former) == wd:
                del self._wds[former]
            self._paths[wd] = directory
            self._wds[directory] = wd

    def unwatch(self, directories: Iterable[str]) -> None:
        """Stop watching these directories (each alone, not what is below it)."""
        with self._lock:
            for directory in directories:
                self._forget(directory)

    def _forget(self, directory: str) -> None:
        """(lock held)"""
        wd = self._wds.pop(directory, None)
        if wd is None:
            return
        self._paths.pop(wd, None)
        with contextlib.suppress(OSError):  # gone already
            self._inotify.rm_watch(wd)

    def _forget_tree(self, directory: str) -> None:
        """Stop watching `directory` and every watched directory below it (lock held)."""
        below = directory + "/"
        for path in [p for p in self._wds if p == directory or p.startswith(below)]:
            self._forget(path)

    def caught_up(self, timeout: float) -> bool:
        """Wait until every event the kernel queued before this call has been handed to
        `on_batch` (at once when none is pending); False if that took over `timeout` s."""
        with self._reading:
            target = self._read + self._queued()
        with self._handed:
            return self._handed.wait_for(lambda: self._handed_bytes >= target, timeout)

    def _queued(self) -> int:
        """How many bytes of events the kernel holds for us, not read yet."""
        assert self._inotify is not None
        size = array.array("i", [0])
        fcntl.ioctl(self._inotify.fileno(), termios.FIONREAD, size, True)
        return size[0]

    def _run(self) -> None:
        assert self._inotify is not None  # (started only with one)
        poller = select.poll()
        poller.register(self._inotify.fileno(), select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(POLL_MS):
                continue
            with self._reading:
                queued = self._queued()
                data = os.read(self._inotify.fileno(), queued) if queued else b""
                self._read += len(data)
            try:
                self._hand_over(data)
            finally:
                with self._handed:
                    self._handed_bytes += len(data)
                    self._handed.notify_all()

    def _hand_over(self, data: bytes) -> None:
        """Report one read's events to on_batch."""
        batch: Batch = []
        overflowed = False
        with self._lock:
            for event in parse_events(data):
                if event.mask & IN.Q_OVERFLOW:
                    overflowed = True
                    continue
                directory = self._paths.get(event.wd)
                if event.mask & IN.IGNORED:  # the kernel dropped the watch (deleted)
                    if directory is not None and self._wds.get(directory) == event.wd:
                        del self._wds[directory]
                    self._paths.pop(event.wd, None)
                    continue
                if directory is None or not event.name:
                    continue  # no longer watched, or about the directory itself
                path = f"{directory}/{event.name}"
                if event.mask & (IN.CREATE | IN.MOVED_TO):
                    batch.append((ADDED, path))
                elif event.mask & (IN.DELETE | IN.MOVED_FROM):
                    batch.append((DELETED, path))
                    if event.mask & IN.MOVED_FROM and event.mask & IN.ISDIR:
                        self._forget_tree(path)  # (deleted ones: the kernel drops them)
                else:
                    batch.append((MODIFIED, path))
        if batch or overflowed:
            self._on_batch(batch, overflowed)
