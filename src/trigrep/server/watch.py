"""inotify on the directories a cached walk entered: the daemon's watcher.

Why not a recursive watcher such as watchfiles (which trigrep used before):
- Every search the daemon answers first waits until the watcher reports a marker file the
  client dropped (the never-stale barrier). watchfiles hands events over in polling steps, so
  that wait was 7.5 ms (median) on every search; here a thread blocks in poll() and reports
  each read at once (well under 1 ms).
- Only what the walk entered is watched, each directory added just before it is listed (so
  nothing created in it after the listing goes unreported). Changes in ignored directories
  (build output, vendored trees) never wake the daemon, and the mask leaves out opens and
  reads, which the daemon's own searches cause by the thousand.

Linux only (inotify), like the daemon. The batches go to `on_batch` in kernel order, as
(change, absolute path) pairs: ADDED for a created or moved-in entry, DELETED for a deleted
or moved-out one, MODIFIED for written or re-stat'ed contents; an overflowed kernel queue is
reported as `on_batch([], overflowed=True)`: the caller must assume anything changed.

When the kernel refuses (too many inotify instances or watches for this user, a limit other
programs share) the watcher goes blind instead of failing: `blind` says why, and the caller
must then assume anything may have changed before each search.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable, Iterable

from inotify_simple import INotify
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

    def __init__(self, name: str,
                 on_batch: Callable[[Batch, bool], None]) -> None:
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

    def watching(self, directory: str) -> bool:
        """Whether `directory` is watched (the kernel drops the watch of one deleted)."""
        with self._lock:
            return directory in self._wds

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

    def _run(self) -> None:
        assert self._inotify is not None  # (started only with one)
        while not self._stop.is_set():
            events = self._inotify.read(timeout=POLL_MS)
            if not events:
                continue
            batch: Batch = []
            overflowed = False
            with self._lock:
                for event in events:
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
