"""Searching many files on every core: worker processes read and search, the caller prints.

Threads cannot share this work: reading, rg's line logic and building events are Python code
that holds the GIL, and a busy searcher thread makes every syscall of the walking and
printing thread wait for the GIL in turn. So a search starts in its own process, and once it
has more than a few files to read it hands batches of them to worker processes. Results come
back in the order the files were given (rg's `--sort path` order); the caller walks, plans
and prints meanwhile.

A one-shot CLI search forks its workers (it has no other threads, and they inherit the
compiled query for free). A long-lived process with threads (the daemon) keeps one
`SearchPool` started from a fork server instead, shared by all its searches.
"""

from __future__ import annotations

import os
import pickle
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trigrep.extract import DecompressionError, is_decompressed, read_searchable
from trigrep.options import OutputOptions
from trigrep.query import Query
from trigrep.searcher import BinaryMode, FileResult, search_buffer
from trigrep.spawn import FORK_LOCK
from trigrep.walk import FileEntry

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

    from trigrep.printer import LineFormat

# A search hands files to workers only once it has searched this much itself: forking costs
# more than searching a few candidate files.
INLINE_FILES = 512
INLINE_BYTES = 32 << 20
# Files go to a worker in batches of this size (whichever limit is reached first)...
BATCH_FILES = 32
BATCH_BYTES = 4 << 20
BATCH_ITEMS = 1024  # files not to search (but to report) count too, in a summary mode
# ...the file limit doubling with each batch up to this: a scan of a whole tree of small
# files then costs fewer messages (each a pickle, a pipe write, a wake-up of the pool's
# threads in the printing process), while a short list of candidates is still spread out.
BATCH_FILES_MAX = 512
# ...and this many batches per worker are in flight ahead of the printer.
BATCHES_PER_WORKER = 4
# rg memory-maps (and so treats NUL bytes differently) when given at most this many files.
MMAP_MAX_PATHS = 10

Outcome = tuple[FileResult | None, str | None]  # the result (None: unreadable), an error


@dataclass(frozen=True)
class FileSearch:
    """How to search one file: everything a worker process needs, and picklable."""

    query: Query
    out_opts: OutputOptions
    search_zip: bool
    # How the command line named its paths decides how rg reads (and treats NULs in) the
    # files named there: True when rg reads them as streams, False when it memory-maps them.
    explicit_as_stream: bool
    render: LineFormat | None  # render the output here (set when printing it is the job)

    @classmethod
    def of(cls, query: Query, out_opts: OutputOptions, search_zip: bool,
           paths: Sequence[str], render: LineFormat | None = None) -> FileSearch:
        as_stream = len(paths) > MMAP_MAX_PATHS or any(os.path.isdir(p) for p in paths)
        return cls(query, out_opts, search_zip, as_stream, render)

    @property
    def misses_print_nothing(self) -> bool:
        """Whether a file without a match (and without an error) shows nowhere in the output:
        only --json's summary and --files-without-match take note of such files."""
        return not self.out_opts.json and self.out_opts.mode != "files_without_match"

    def binary_mode(self, entry: FileEntry) -> BinaryMode:
        """rg's NUL handling depends on how the file was reached and how rg reads it."""
        if is_decompressed(entry.path, self.search_zip):
            return BinaryMode.CONVERT  # rg reads a decompressor's output as a stream
        if not entry.explicit:
            return BinaryMode.QUIT
        return BinaryMode.CONVERT if self.explicit_as_stream else BinaryMode.CONVERT_MMAP

    def __call__(self, entry: FileEntry) -> Outcome:
        """Search one file; a failure is returned as rg's message for it, not raised."""
        read_error = None
        try:
            stat = entry.known_stat()
            data = read_searchable(entry.path, self.search_zip, program_path=entry.display,
                                   size_hint=None if stat is None else stat.st_size)
        except DecompressionError as e:
            data, read_error = e.partial, e.message  # rg still searches what came out
        except OSError as e:
            return None, f"{entry.display}: {e.strerror} (os error {e.errno})"
        render = self.render
        result = search_buffer(data, self.query, self.out_opts, binary=self.binary_mode(entry),
                               read_error=read_error,
                               spans=render is None or render.needs_spans)
        if render is not None and result.events:
            result.rendered = render.render(entry.display, result)
            if result.rendered is not None:
                result.events = []  # the bytes are all the printer needs, and cheaper to ship
        return result, None if result.error is None else f"{entry.display}: {result.error}"


class SearchPool:
    """Worker processes that search batches of files, for any number of searches."""

    def __init__(self, start_method: str, workers: int | None = None) -> None:
        import multiprocessing  # not on the start-up path of searches that need no workers

        self.workers = workers or os.cpu_count() or 1
        context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from the server with these loaded (numpy for the searcher's
            # vectorised line counts); forked ones get what their parent has.
            context.set_forkserver_preload(["numpy", __name__])
        with FORK_LOCK:  # see trigrep.spawn
            self._pool = context.Pool(self.workers, initializer=_init_worker)

    def submit(self, search: bytes, entries: list[FileEntry]) -> AsyncResult[list[Outcome]]:
        """Search `entries` with the pickled FileSearch `search` in some worker (each sent
        without its stat: pickling that costs more than the worker's own fstat)."""
        named = [(entry.display, entry.path, entry.explicit) for entry in entries]
        return self._pool.apply_async(_search_batch, (search, named))

    def close(self) -> None:
        """Stop the workers now (a search that ends early does not wait for them)."""
        self._pool.terminate()
        self._pool.join()


class SharedSearchPool:
    """One SearchPool for a long-lived process's threads, started on first use.

    The daemon's starts from a fork server: forking a process that has threads (a watcher,
    a lock held) is not safe. A library caller's program (the API) forks its pool instead, as
    every one-shot search did before: a fork server would re-import the caller's main module
    in each worker.
    """

    def __init__(self, start_method: str = "forkserver") -> None:
        self._start_method = start_method
        self._lock = threading.Lock()
        self._pool: SearchPool | None = None

    def get(self) -> SearchPool:
        with self._lock:
            if self._pool is None:
                self._pool = SearchPool(self._start_method)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _init_worker() -> None:
    # Ctrl-C is the parent's to handle: it stops the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_searches: dict[bytes, FileSearch] = {}  # per worker: compiled once, not once per batch


def _search_batch(search: bytes, named: list[tuple[str, str, bool]]) -> list[Outcome | None]:
    """The outcome of each file; None for a file that would print nothing, when files
    without a match print nothing (in a scan of a whole tree most files are such: not
    shipping them back spares the printing process a pickle and a printer call for each)."""
    run = _searches.get(search)
    if run is None:
        if len(_searches) > 16:
            _searches.clear()
        run = _searches[search] = pickle.loads(search)
    outcomes = [run(FileEntry(*fields)) for fields in named]
    if not run.misses_print_nothing:
        return outcomes
    return [None if _is_miss(outcome) else outcome for outcome in outcomes]


def _is_miss(outcome: Outcome) -> bool:
    """A file searched without a match, an error or anything to print."""
    result, error = outcome
    return (
        result is not None and error is None and not result.events and result.rendered is None
        and result.matched_lines == 0 and result.matches == 0 and not result.cut_short
    )


def _size(entry: FileEntry) -> int:
    """The file's size if known already (batches are balanced by it; no stat just for that)."""
    st = entry.known_stat()
    return 0 if st is None else st.st_size


def search_in_order(
    items: Iterable[tuple[FileEntry, bool]],
    search: FileSearch,
    pool: Callable[[], SearchPool | None] | None,
) -> Iterator[tuple[FileEntry, Outcome | None]]:
    """Each (file, whether to search it) with its outcome (None when not searched), in the
    given order; files a worker searched that print nothing may be left out (see
    `_search_batch`). Once the search is big enough it asks `pool()` for workers (started on
    first use), or forks a pool of its own when there is none."""
    items = iter(items)
    searched = searched_bytes = 0
    for entry, needed in items:
        if not needed:
            yield entry, None
            continue
        yield entry, search(entry)
        searched += 1
        searched_bytes += _size(entry)
        if searched >= INLINE_FILES or searched_bytes >= INLINE_BYTES:
            break
    else:
        return
    shared = pool() if pool is not None else None
    if shared is not None:
        yield from _in_workers(items, search, shared)
        return
    own = SearchPool("fork")
    try:
        yield from _in_workers(items, search, own)
    finally:
        own.close()


def _in_workers(
    items: Iterator[tuple[FileEntry, bool]], search: FileSearch, pool: SearchPool
) -> Iterator[tuple[FileEntry, Outcome | None]]:
    pickled = pickle.dumps(search)
    window: deque[_Batch] = deque()
    limit = pool.workers * BATCHES_PER_WORKER
    batch = _Batch(BATCH_FILES)
    for entry, needed in items:
        batch.items.append((entry, needed))
        if needed:
            batch.to_search.append(entry)
            batch.bytes += _size(entry)
        if not batch.full():
            continue
        batch.submit(pool, pickled)
        window.append(batch)
        batch = _Batch(min(2 * batch.max_files, BATCH_FILES_MAX))
        while window and (len(window) >= limit or window[0].ready()):
            yield from window.popleft().outcomes()
    batch.submit(pool, pickled)
    window.append(batch)
    while window:
        yield from window.popleft().outcomes()


@dataclass
class _Batch:
    """Consecutive files of a search (some of them to search) and their pending outcomes."""

    max_files: int
    items: list[tuple[FileEntry, bool]] = field(default_factory=list)
    to_search: list[FileEntry] = field(default_factory=list)
    bytes: int = 0
    pending: AsyncResult[list[Outcome]] | None = None

    def full(self) -> bool:
        return (len(self.to_search) >= self.max_files or self.bytes >= BATCH_BYTES
                or len(self.items) >= BATCH_ITEMS)

    def submit(self, pool: SearchPool, search: bytes) -> None:
        if self.to_search:
            self.pending = pool.submit(search, self.to_search)

    def ready(self) -> bool:
        return self.pending is None or self.pending.ready()

    def outcomes(self) -> Iterator[tuple[FileEntry, Outcome | None]]:
        """The batch's files with their outcomes, leaving out the files searched that would
        print nothing (see `_search_batch`)."""
        found = iter(self.pending.get() if self.pending is not None else ())
        for entry, needed in self.items:
            if not needed:
                yield entry, None
            elif (outcome := next(found)) is not None:
                yield entry, outcome
