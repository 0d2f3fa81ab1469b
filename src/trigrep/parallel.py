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

import gc
import marshal
import os
import signal
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from itertools import compress
from typing import TYPE_CHECKING, TypeVar

from trigrep.errors import Error
from trigrep.extract import (
    DecompressionError,
    Preprocessor,
    decoded,
    drops_utf8_bom,
    is_decompressed,
    keeps_nuls,
    read_file,
    read_searchable,
    transcoder_fills,
    transcodes,
)
from trigrep.options import MmapChoice, OutputOptions
from trigrep.query import Query
from trigrep.searcher import (
    BUFFER_CAPACITY,
    BinaryMode,
    BufferSearch,
    FileResult,
    LineIndexed,
    MatchColumns,
    Rendered,
    bare_lines,
    counted_lines,
    joined_output,
    span_columns,
)
from trigrep.spawn import FORK_LOCK, die_with_parent, safe_path_children
from trigrep.walk import FileEntry

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import BaseContext

    from trigrep.printer import FileFormat
    from trigrep.stream import FileView

# A search hands files to workers only once it has searched this much itself: forking costs
# more than searching a few candidate files...
INLINE_FILES = 512
INLINE_BYTES = 32 << 20
# ...while workers already running cost only a message: a search that has them searches less
# itself, and the workers start at once, on files they keep (see `_ContentCache`) where the
# search reads them. On the Linux tree under load, 4 files and 256 KiB against 32 and 1 MiB,
# medians of 3 rounds of 21 searches: the daemon's thread 4.2 -> 2.8 ms for -F 'ops->open('
# (wall 37 -> 21 ms), 5.0 -> 3.5 for -w kmalloc_array, the workers' CPU unchanged.
WARM_INLINE_FILES = 4
WARM_INLINE_BYTES = 256 << 10
# A search whose results are not rendered to bytes (the Python API) searches inline, past those
# limits and instead of sending its next batches to workers, while its files so far averaged
# this many events (or matches, shipped as columns: see FileSearch.columnar) each: a worker
# pickles every event and the searching process rebuilds it, which costs it about as much as
# searching the file (on 1/8 of the Linux tree, warm API, medians under load: 'return', 25
# events a matching file, 0.75x the wall and 0.57x the CPU of all processes; -w 'if' 0.84x,
# 'dev_err' 0.8x). Columns cost less, but with the workers' part about 1.3x the CPU of
# searching inline: on this shared 2-core machine (Linux tree, warm API, load 4-5, A/B medians
# of 3) the 4-name alternation, 4.7 matches a file, took 285 ms past 4 matches a file against
# 241 past 2, 'static inline' -g '*.h' (8.7) 336 against 306, copy_from_user -t c (3.0) 61
# against 63 (its process's CPU 18 ms against 64). So only while the cores are busy (see
# `_cores_busy`): with a core to spare the workers win (a quiet 2-core AMD host, 2 rounds,
# medians: the alternation 140-149 ms against 193-256 inline, 'static inline' -g '*.h' 222-228
# against 245-311, -t c 45-50 against 54-67; at a load of 2.7: 333-346 against 241-261).
INLINE_EVENTS_PER_FILE = 2
# Files go to a worker in batches of this size (whichever limit is reached first)...
BATCH_FILES = 32
BATCH_BYTES = 4 << 20
# (Workers that keep the files, the daemon's and a watched Index's, take batches of up to
# KEPT_BATCH_BYTES: they search 4 MiB from memory in about a millisecond, and each batch also
# costs them and the search's thread a message and a wake-up each way. On the Linux tree
# under load, CPU medians of 3 rounds of 15 searches, 16 MiB against 4: -c spin_lock_irqsave
# 37 batches -> 12, the daemon's thread 17.7 -> 11.7 ms, its workers 74 -> 54 ms; -l
# EXPORT_SYMBOL_GPL 12.1 -> 10.3 and 28 -> 22 ms.)
KEPT_BATCH_BYTES = 16 << 20
BATCH_ITEMS = 1024  # files not to search (but to report) count too, in a summary mode
# ...the file limit doubling with each batch up to this: a scan of a whole tree of small
# files then costs fewer messages (each a pickle, a pipe write, a wake-up of the printing
# process), while a short list of candidates is still spread out.
BATCH_FILES_MAX = 512
# ...and this many batches per worker are in flight ahead of the printer, at most
# SENT_PER_WORKER of them sent to a worker and not answered yet.
BATCHES_PER_WORKER = 4
SENT_PER_WORKER = 2
# A worker's second batch waits in its pipe while it searches the first, and must fit in the
# pipe's buffer (about 200 KiB): the worker may be blocked writing a big answer, which the
# search reads only after sending. So a batch's files (their paths and stats: see `_shipped`)
# stay within BATCH_NAME_BYTES, and a search whose pickled query is bigger than
# SMALL_SEARCH_BYTES (a long -f file) sends a worker one batch at a time.
BATCH_NAME_BYTES = 96 << 10
SMALL_SEARCH_BYTES = 32 << 10
# A search that finds every worker leased by others (whose readers may be slow, or stopped:
# `| less`) waits this long for one, then searches its next batch itself.
LEASE_WAIT_S = 0.05
# A text file bigger than this is searched window by window (see trigrep.stream), when
# that gives rg's output: its matches are not all held at once.
BIG_FILE = 16 << 20
# rg memory-maps (and so treats NUL bytes differently) when given at most this many files.
MMAP_MAX_PATHS = 10
# The workers of the daemon's pool keep the bytes of the files they read, up to this much in
# all (a share each) and files up to CACHED_FILE_MAX each: opening and reading a file from the
# page cache is most of a worker's time per candidate file (see `_ContentCache`). On the Linux
# tree a query's candidates are 35-150 MB; a smaller cache, emptied by each query in turn,
# served too few of them.
CACHE_BYTES = 256 << 20
CACHED_FILE_MAX = 1 << 20
# A search's files up to this many bytes (all of a selective search's candidates: on the Linux
# tree PM_RESUME's workers read 12 MB, -F 'ops->open(' 37 MB, -w kmalloc_array 53 MB; not -l
# EXPORT_SYMBOL_GPL's 89 MB) are kept on their first read, not their second: a search run
# again then finds them all kept, where before its files went to either worker by turns and
# each worker kept a file only once it had read it twice (the third to fifth runs of
# PM_RESUME through the API took 1.5-2x the time of the runs after). A scan of the whole
# tree so evicts at most this much of what the searches before it kept.
FIRST_READS_KEPT = CACHE_BYTES // 4
# A file modified (or its inode changed) this recently may change again within the same
# mtime tick: not cached.
CACHE_RACY_NS = 2_000_000_000

_BOM_LEADS = frozenset(b"\xef\xfe\xff")  # the first bytes of UTF-8's and UTF-16's BOMs

_T = TypeVar("_T")
Outcome = tuple[FileResult | None, str | None]  # the result (None: unreadable), an error


class FileSearch:
    """How to search one file: everything a worker process needs, and picklable."""

    __slots__ = ("bare", "buffer_search", "codec", "columnar", "columns_bare",
                 "explicit_as_stream", "out_opts", "paints_bare", "pre", "program_cwd",
                 "query", "reads_plainly", "render", "search_zip", "walked_mapped")

    def __init__(self, query: Query, out_opts: OutputOptions, search_zip: bool,
                 explicit_as_stream: bool, walked_mapped: bool, render: FileFormat | None,
                 codec: str = "auto", pre: Preprocessor | None = None,
                 program_cwd: str | None = None) -> None:
        self.query = query
        self.out_opts = out_opts
        self.search_zip = search_zip
        # -z's programs get the paths as shown, relative to the search's working directory,
        # which a daemon's workers do not share (see extract.read_searchable)
        self.program_cwd = program_cwd
        # How rg reads the files, which decides how it treats their NULs: named on the command
        # line, they are memory-mapped unless `explicit_as_stream`; walked, only if
        # `walked_mapped` (--mmap).
        self.explicit_as_stream = explicit_as_stream
        self.walked_mapped = walked_mapped
        self.render = render  # render the output here (set when printing it is the job)
        self.codec = codec  # -E (see extract.decoded)
        self.pre = pre  # --pre
        self.buffer_search = BufferSearch(  # how each file's bytes are searched
            query, out_opts, spans=render is None or render.needs_spans,
            line_numbers=render is None or render.needs_line_numbers,
            first_span=render is not None and render.needs_first_span_only,
        )
        # Walked files are read as they are (see `_read_walked`), and rendered from their
        # matching lines alone when they are text (see `_bare`), or their lines and spans
        # when those come from one run of the regex (`paints_bare`).
        self.reads_plainly = (codec == "auto" and pre is None and not search_zip
                              and not walked_mapped and out_opts.binary == "auto")
        self.paints_bare = render is not None and render.paints_bare
        self.bare = render is not None and self.reads_plainly and (
            (render.renders_bare and self.buffer_search.bare)
            or (self.paints_bare and self.buffer_search.spans_in_one_run))
        # A worker ships the Python API's results as columns (see `_in_columns`) when their
        # events are all matches: without context lines; and searches a batch's text files
        # straight into columns when they are a run of its regex (see `columnar_batch`).
        search = self.buffer_search
        self.columnar = render is None and not (search.before or search.after or search.passthru)
        self.columns_bare = self.columnar and self.reads_plainly and (
            search.spans_in_one_run or search.counts_past_first_line)

    @classmethod
    def of(cls, query: Query, out_opts: OutputOptions, search_zip: bool,
           paths: Sequence[str], render: FileFormat | None = None,
           codec: str = "auto", pre: Preprocessor | None = None, mmap: MmapChoice = "auto",
           ) -> FileSearch:
        # By default rg maps files only when it was given a few paths, all of them files (so
        # neither a directory, nor `-`, nor a missing path).
        as_stream = mmap == "never" or (mmap == "auto" and (
            len(paths) > MMAP_MAX_PATHS or not all(os.path.isfile(p) for p in paths)))
        return cls(query, out_opts, search_zip, as_stream, mmap == "always", render, codec, pre,
                   os.getcwd() if search_zip else None)

    @property
    def misses_print_nothing(self) -> bool:
        """Whether a file without a match (and without an error) shows nowhere in the output:
        only --json's summary, --stats, --files-without-match and --include-zero take note of
        such files."""
        opts = self.out_opts
        return not (opts.json or opts.stats or opts.mode == "files_without_match"
                    or opts.counts_zero)

    def binary_mode(self, entry: FileEntry) -> BinaryMode:
        """rg's NUL handling depends on how the file was reached and how rg reads it."""
        decompressed = is_decompressed(entry.path, self.search_zip)
        preprocessed = self.pre is not None and self.pre.applies(entry.display)
        mapped = not (decompressed or preprocessed) and (
            not self.explicit_as_stream if entry.explicit else self.walked_mapped)
        if self.out_opts.binary == "text":
            mode = BinaryMode.TEXT_MMAP
        elif entry.explicit or self.out_opts.binary == "binary":
            mode = BinaryMode.CONVERT_MMAP
        else:
            mode = BinaryMode.QUIT_MMAP
        return mode if mapped else mode.streamed()

    def __call__(self, entry: FileEntry, size: int | None = None,
                 stamp: CacheStamp | None = None) -> Outcome:
        """Search one file; a failure is returned as rg's message for it, not raised.
        `size`: what a stat found (else the entry's own stat, if it has one), saving one;
        `stamp`: that stat's, for a worker's `_cache` (None: read the file)."""
        if self.reads_plainly and not entry.explicit:
            size = _known_size(entry) if size is None else size
            if self.bare:
                return self._bare(entry, size, stamp)
            data, outcome = self._read_walked(entry.display, entry.path, size, stamp)
            if outcome is not None:
                return outcome
            return self._searched(entry, data, BinaryMode.QUIT, None, -1, as_read=True)
        read_error = None
        binary = self.binary_mode(entry)
        if binary.mapped and (transcodes(entry.path, self.codec)
                              or drops_utf8_bom(entry.path, self.codec)):
            binary = binary.streamed()
        binary_head = BUFFER_CAPACITY if binary.quits and keeps_nuls(self.codec) else 0
        outcome = self._unread_big(entry, _known_size(entry) if size is None else size, binary)
        if outcome is not None:
            return outcome
        nul = None  # the offset of the data's first NUL (-1: none), if the cache knows it
        try:
            cached = _kept(entry.path, stamp) if (
                self.pre is None and not is_decompressed(entry.path, self.search_zip)) else None
            if cached is not None:
                data = decoded(cached[0], self.codec)
                if data is cached[0]:  # (not transcoded)
                    nul = cached[1]
            else:
                data = read_searchable(
                    entry.path, self.search_zip, program_path=entry.display,
                    size_hint=_known_size(entry) if size is None else size,
                    binary_head=binary_head, codec=self.codec, pre=self.pre,
                    program_cwd=self.program_cwd,
                )
        except DecompressionError as e:
            data, read_error = e.partial, e.message  # rg still searches what came out
        except OSError as e:
            return None, f"{entry.display}: {e.strerror} (os error {e.errno})"
        return self._searched(entry, data, binary, read_error, nul)

    def _bare(self, entry: FileEntry, size: int | None, stamp: CacheStamp | None) -> Outcome:
        """A walked file of a `bare` search (see `_bare_file`), as a result."""
        count, body, outcome = self._bare_file(entry.display, entry.path, size, stamp)
        if outcome is not None:
            return outcome
        assert self.render is not None
        rendered = None if body is None else Rendered(body, True, self.render.bare_has_lines)
        return FileResult(matched_lines=count, rendered=rendered), None

    def _bare_file(self, display: str, path: str, size: int | None, stamp: CacheStamp | None
                   ) -> tuple[int, bytes | None, Outcome | None]:
        """A walked file of a `bare` search: a text file (no NUL, no BOM, not big) is
        rendered from its matching lines (and their spans, to paint them), without the
        events, result and checks of the general search (which cost a -l search 15 µs a
        file, its regex 2): its count of matching lines and its output (None: none), and no
        outcome; or, for another file, its outcome (see `_read_walked`)."""
        data, outcome = self._read_walked(display, path, size, stamp)
        if outcome is not None:
            return 0, None, outcome
        render = self.render
        assert render is not None
        if render.counts_bare:  # (-c, -l, --count-matches: the lines are not made, only counted)
            count = self.buffer_search.bare_count(data)
            return count, render.bare_count_output(display, count) if count else None, None
        if self.paints_bare:
            _, (numbers, _, lines, spans) = span_columns(
                self.query.regex, data, render.needs_line_numbers, self.buffer_search.limit)
            return (len(lines), render.painted_output(display, numbers, lines, spans) if lines
                    else None, None)
        numbered = render.bare_numbered
        lines = bare_lines(self.query, data, self.buffer_search.limit, numbered)
        return (len(lines) >> numbered, render.bare_output(display, lines, numbered) if lines
                else None, None)

    def _read_walked(self, display: str, path: str, size: int | None,
                     stamp: CacheStamp | None) -> tuple[bytes, Outcome | None]:
        """A walked file of a search that `reads_plainly`: its bytes, and no outcome, when it
        is text (no NUL, no BOM, not big), which any search takes as it is, without the
        checks of the general read (binary mode, decompression, transcoding: half of the
        time a worker took for each of the Python API's files, 3,000 of them for a search
        of `EXPORT_SYMBOL_GPL`); otherwise its outcome, searched as usual (rg's binary mode
        for it: QUIT)."""
        if size is not None and size > BIG_FILE:
            outcome = self._unread_big(FileEntry(display, path, False), size, BinaryMode.QUIT)
            if outcome is not None:
                return b"", outcome
        try:
            cached = _kept(path, stamp)
            if cached is None:
                data = read_file(path, size, binary_head=BUFFER_CAPACITY)
                nul = data.find(b"\0")
            else:
                data, nul = cached
        except OSError as e:
            return b"", (None, f"{display}: {e.strerror} (os error {e.errno})")
        # (a BOM starts with one of these bytes: `decoded` drops it or decodes the file)
        if nul >= 0 or len(data) > BIG_FILE or (data and data[0] in _BOM_LEADS):
            text = decoded(data, "auto")
            return b"", self._searched(FileEntry(display, path, False), text, BinaryMode.QUIT,
                                       None, nul if text is data else None)
        return data, None

    def bare_batch(self, named: Iterable[Named]) -> list[Outcome | None]:
        """The outcomes of a batch of a `bare` search whose misses print nothing: each run of
        walked text files holding matches is one result, the first file's, its output theirs
        joined (as `_joined` joins results); the others, and misses, are None. A file costs
        the cache look-up, the regex and its output: a result, an outcome and a Rendered
        each, joined after, made a -l search's worker take twice as long."""
        render = self.render
        assert render is not None
        outcomes: list[Outcome | None] = []
        bodies: list[bytes] = []  # the outputs of the run in progress
        count = first = 0  # its count of matching lines, and its first file's index
        for display, path, explicit, size, stamp in named:
            if explicit:
                found, body, outcome = 0, None, self(FileEntry(display, path, True), size, stamp)
            else:
                found, body, outcome = self._bare_file(display, path, size, stamp)
            if outcome is not None and _is_miss(outcome):
                outcome = None
            if body is not None:
                if not bodies:
                    first, count = len(outcomes), 0
                bodies.append(body)
                count += found
                outcome = None
            elif outcome is not None and bodies:
                outcomes[first] = self._run_outcome(bodies, count)
                bodies = []
            outcomes.append(outcome)
        if bodies:
            outcomes[first] = self._run_outcome(bodies, count)
        return outcomes

    def columnar_batch(self, named: Iterable[Named]) -> ColumnarAnswer:
        """The answer to a batch of a `columns_bare` search (the Python API's): a walked
        text file's matches go straight into columns (`span_columns`), without the events,
        result and checks of the general search, which took half of a worker's time for the
        876 files of -w kmalloc_array on the Linux tree (a count's first line so, and its
        other lines counted); the other files are searched as usual, their events then made
        columns. The whole batch's matches are in one set of columns (see ColumnarAnswer)."""
        search, shared = self.buffer_search, {}
        query, numbered, limit = self.query, search.line_numbers, search.limit
        counts_rest = search.counts_past_first_line
        kept = 1 if counts_rest else limit  # (a count's limit is on the lines it counts)
        numbers: list[int] = []
        offsets: list[int] = []
        lines: list[bytes] = []
        spans: list[list[tuple[int, int]]] = []
        hits: list[int] = []  # see ColumnarAnswer
        others: dict[int, Outcome] = {}
        named = list(named)
        for index, (display, path, explicit, size, stamp) in enumerate(named):
            if not explicit:
                data, outcome = self._read_walked(display, path, size, stamp)
                if outcome is None:
                    matches, (file_numbers, file_offsets, file_lines, file_spans) = (
                        span_columns(query.regex, data, numbered, kept))
                    if file_numbers:
                        found = len(file_numbers)
                        if counts_rest and limit != 1:
                            found += counted_lines(
                                query, data, file_offsets[0] + len(file_lines[0]),
                                None if limit is None else limit - 1)
                        hits += index, len(file_numbers), found, matches
                        numbers += file_numbers
                        offsets += file_offsets
                        lines += file_lines
                        spans += file_spans
                    continue
            else:
                outcome = self(FileEntry(display, path, True), size, stamp)
            if not _is_miss(outcome):
                others[index] = outcome
        _in_columns(others.values(), shared)
        return ColumnarAnswer(len(named), hits, others,
                              (numbers, offsets, lines, _shared_spans(spans, shared)))

    def _windowed(self, entry: FileEntry, data: bytes | FileView, binary: BinaryMode
                  ) -> Outcome | None:
        """A big text file's outcome, searched window by window (see trigrep.stream) when
        the search gives rg's output (or the Python API's matches) so (a file holding a NUL
        does not, unless read as text); None otherwise."""
        from trigrep.stream import (  # (big files)
            big_file_events,
            counted_big_file,
            counts_in_windows,
            gathered,
            windowed,
        )

        render, query, opts = self.render, self.query, self.out_opts
        # lines printed, or the Python API's matches (with their context: a list of events,
        # which it reads as a whole; else a summary, if it counts in windows)
        in_lines = self._prints_in_windows() if render is not None else (
            opts.mode == "lines" and windowed(query, opts))
        if not (in_lines or counts_in_windows(query, opts)):
            return None
        # (a FileView checks the windows it reads: see `_unread_big`)
        if isinstance(data, bytes) and binary not in (BinaryMode.TEXT, BinaryMode.TEXT_MMAP) and (
                b"\0" in data):
            return None
        if in_lines:
            total = FileResult(binary_mode=binary)
            if render is None:
                total.events = list(big_file_events(data, query, opts, binary, total))
                return total, None
            return gathered(self._window_outputs(entry, data, binary, total), total), None
        result = counted_big_file(data, query, opts, binary)
        if render is not None:
            result.rendered = render.output(entry.display, result)
        elif opts.first_line and result.matched_lines:  # (the Python API's count: its Match)
            first = opts._replace(mode="lines", max_count=1, first_line=False)
            result.events = list(big_file_events(data, query, first, binary, FileResult()))
        return result, None

    def _prints_in_windows(self) -> bool:
        """Whether a big text file's lines are printed window by window (see trigrep.stream)."""
        from trigrep.stream import windowed

        render = self.render
        return render is not None and render.renders_in_windows and windowed(
            self.query, self.out_opts)

    def _window_outputs(self, entry: FileEntry, data: bytes | FileView, binary: BinaryMode,
                        total: FileResult) -> Iterator[Rendered]:
        """The output of each window of a big text file whose lines are printed, counted in
        `total`."""
        from trigrep.stream import bare_big_file, search_big_file

        render = self.render
        assert render is not None
        if render.renders_bare and self.buffer_search.bare:
            return bare_big_file(data, self.query, self.buffer_search.limit, render,
                                 entry.display, total)
        return search_big_file(data, self.query, self.out_opts, binary, render, entry.display,
                               total)

    def streamed(self, entry: FileEntry) -> Outcome:
        """`self(entry)`, but for a big text file whose lines are printed, a result whose
        output is searched as it is printed (see stream.streamed), and for one whose
        matches the Python API takes (without context), whose events are searched as they
        are taken: what a search calls for the files it searches itself, its results taken
        at once, in order."""
        outcome = self._streamed_big(entry) if self._streams_big() else None
        return self(entry) if outcome is None else outcome

    def _streams_big(self) -> bool:
        """Whether a big text file's lines are searched window by window: printed (see
        `_prints_in_windows`), or the Python API's matches without context."""
        from trigrep.stream import windowed

        if self.out_opts.mode != "lines":
            return False
        if self.render is None:
            return self.columnar and windowed(self.query, self.out_opts)
        return self._prints_in_windows()

    def _streamed_big(self, entry: FileEntry) -> Outcome | None:
        """`streamed`'s outcome for a regular file over BIG_FILE holding text taken as it is
        (see `_text_view`) and no NUL, unless searched as text (its windows are all read for
        a NUL first, since the whole file's search, which such a file needs, could not take
        back what was printed); None for any other file."""
        try:  # (a walked file's stat is known; one named costs one here)
            st = entry.stat() if entry.explicit else entry.known_stat()
        except OSError:
            return None  # (searched as before, which reports it as rg does)
        if st is None or st.st_size <= BIG_FILE or not stat.S_ISREG(st.st_mode):
            return None
        binary = (BinaryMode.QUIT if self.reads_plainly and not entry.explicit
                  else self.binary_mode(entry))
        data = self._text_view(entry.path, binary)
        if data is None:
            return None
        try:
            nul = data.holds_nul()
        except OSError:
            nul = True
        if nul:
            data.close()
            return None
        from trigrep.stream import big_file_events, streamed, streamed_events

        total = FileResult(binary_mode=binary)
        if self.render is None:
            events = big_file_events(data, self.query, self.out_opts, binary, total)
            return streamed_events(_closing(events, data, entry.display), total), None
        return streamed(_closing(self._window_outputs(entry, data, binary, total), data,
                                 entry.display), total), None

    def _unread_big(self, entry: FileEntry, size: int | None, binary: BinaryMode
                    ) -> Outcome | None:
        """The outcome of a file over BIG_FILE (as `size`, a stat's, says) searched window by
        window as `_windowed` would search it once read, its windows read as they are
        searched (see `_text_view`); None otherwise, for the caller to read it whole as
        before."""
        if size is None or size <= BIG_FILE:
            return None
        data = self._text_view(entry.path, binary)
        if data is None:
            return None
        from trigrep.stream import BinaryContent

        try:
            outcome = self._windowed(entry, data, binary)
            return None if outcome is not None and data.nul_in_reach() else outcome
        except BinaryContent:
            return None
        except OSError as e:
            return None, f"{entry.display}: {e.strerror} (os error {e.errno})"
        finally:
            data.close()

    def _text_view(self, path: str, binary: BinaryMode) -> FileView | None:
        """A view of the file at `path` read as its windows are searched (see
        stream.FileView; the caller closes it), when it is over BIG_FILE and text taken as
        it is: no -E, --pre, -z, nor BOM, nor a NUL first; None otherwise (and when it cannot
        be opened or read: the search as before reports that as rg does)."""
        if self.codec != "auto" or self.pre is not None or is_decompressed(
                path, self.search_zip):
            return None
        from trigrep.stream import BinaryContent, FileView

        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            view = FileView(fd, os.fstat(fd).st_size,
                            nuls=binary in (BinaryMode.TEXT, BinaryMode.TEXT_MMAP))
            head = view[:1]
            if len(view) > BIG_FILE and not (head and head[0] in _BOM_LEADS):
                return view
        except (BinaryContent, OSError):
            pass
        os.close(fd)
        return None

    def _run_outcome(self, bodies: list[bytes], count: int) -> Outcome:
        """One result for a run of text files' outputs (see `bare_batch`), with the break
        the printer writes between files that print lines."""
        render = self.render
        assert render is not None
        has_lines = render.bare_has_lines
        between = render.file_break if has_lines else b""
        pieces: list[bytes | list[bytes]] = list(bodies)
        if between:
            pieces = [between] * (2 * len(bodies) - 1)
            pieces[::2] = bodies
        return FileResult(matched_lines=count,
                          rendered=Rendered(joined_output(pieces), True, has_lines)), None

    def _searched(self, entry: FileEntry, data: bytes, binary: BinaryMode,
                  read_error: str | None, nul: int | None, as_read: bool = False) -> Outcome:
        """Search the file's `data` (see BufferSearch for `nul`). `as_read`: they are its
        bytes as read, starting with no BOM (see `_read_walked`), so no transcoder's: rg's
        reads of them need no look at the file's head (two opens a file, a quarter of a
        worker's time for --json -t c copy_from_user on the Linux tree)."""
        render = self.render
        if len(data) > BIG_FILE and read_error is None:
            outcome = self._windowed(entry, data, binary)
            if outcome is not None:
                return outcome
        fills = None if as_read else partial(self._fills, entry, len(data))
        result = self.buffer_search(data, binary, read_error, fills, nul)
        if render is not None:
            result.rendered = render.output(entry.display, result)
            if result.rendered is not None:
                result.events = []  # the bytes are all the printer needs, and cheaper to ship
        return result, None if result.error is None else f"{entry.display}: {result.error}"

    def _fills(self, entry: FileEntry, searched: int) -> tuple[int, ...]:
        """Where rg's transcoder fills end in the file, if it transcodes it (see
        searcher._TRANSCODER_FILLS), up to the `searched` bytes of its text. A file rg does
        not transcode but whose UTF-8 BOM its reader dropped is one fill: the reader's first
        read is then a whole buffer of the text after the BOM, not the 3 bytes it peeked at:
        a NUL in its first 64 KiB stops rg before any line."""
        if is_decompressed(entry.path, self.search_zip) or (
                self.pre is not None and self.pre.applies(entry.display)):
            return ()
        try:
            if transcodes(entry.path, self.codec):
                return transcoder_fills(read_file(entry.path), self.codec, upto=searched)
        except OSError:
            return ()
        return (searched,) if drops_utf8_bom(entry.path, self.codec) else ()


class SearchPool:
    """Worker processes that search batches of files, for any number of searches.

    Each worker answers on its own pipe, and a search leases workers and talks to them from
    its own thread: no helper threads relay tasks and results (multiprocessing.Pool's three
    cost the daemon more CPU than its workers spent searching a few thousand files). Leased
    workers go back to the pool as soon as another search waits for one.
    """

    def __init__(self, start_method: str, workers: int | None = None, *,
                 keeps_files: bool | None = None) -> None:
        """`keeps_files`: whether the workers keep files for the searches that follow (see
        `_ContentCache`); by default only a fork server's do (a pool forked for one search
        has none to follow)."""
        import multiprocessing  # not on the start-up path of searches that need no workers

        self.workers = workers or os.cpu_count() or 1
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from the server with these loaded (numpy for the searcher's
            # vectorised line counts); forked ones get what their parent has.
            self._context.set_forkserver_preload(["numpy", __name__])
        self._lock = threading.Condition()
        self._waiting = 0  # searches waiting for a worker
        self._closed = False
        with FORK_LOCK, safe_path_children():  # see trigrep.spawn
            if keeps_files is None:
                keeps_files = start_method != "fork"
            self._cache_share = CACHE_BYTES // self.workers if keeps_files else 0
            self.batch_bytes = KEPT_BATCH_BYTES if keeps_files else BATCH_BYTES
            self._all = [_Worker(self._context, self._cache_share)
                         for _ in range(self.workers)]
        self._idle = list(self._all)

    def lease(self, timeout: float = 0, home: _Worker | None = None) -> _Worker | None:
        """An idle worker for one search, waiting up to `timeout` seconds for one; None if
        none came (or the pool is closed). `home` if it is idle, else the first idle one in
        the pool's order. One that died while idle (the OOM killer) is replaced here, not
        handed to a search, which would fail on sending it a batch (and every search of a
        few batches sends one to each worker: see `home`)."""
        with self._lock:
            if not self._idle and timeout > 0 and not self._closed:
                self._waiting += 1
                self._lock.wait_for(lambda: self._idle or self._closed, timeout)
                self._waiting -= 1
            if self._closed or not self._idle:
                return None
            worker = home if home in self._idle else min(self._idle, key=self._all.index)
            self._idle.remove(worker)
        if not worker.process.is_alive():
            return self._replace(worker)
        try:
            worker.discard_stale()
        except (EOFError, OSError):
            return self._replace(worker)
        return worker

    def home(self, turn: int) -> _Worker | None:
        """The worker for a search's `turn`-th batch (see `_Dispatch._worker`); None once the
        pool is closed."""
        workers = self._all
        return workers[turn % len(workers)] if workers else None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def contended(self) -> bool:
        """Whether a search waits for a worker (the others give theirs back soon)."""
        return self._waiting > 0

    def release(self, worker: _Worker, unanswered: int = 0) -> None:
        """Give `worker` back; `unanswered` batches it was sent are dropped by the next lease."""
        worker.stale += unanswered
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                self._lock.notify()
                return
        worker.stop()  # one that replaced a failed worker while the pool closed

    def discard(self, worker: _Worker) -> None:
        """`worker` failed: put a new one in its place."""
        with self._lock:
            if self._closed:
                return
        self.release(self._replace(worker))

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        with FORK_LOCK:
            fresh = _Worker(self._context, self._cache_share)
        with self._lock:
            self._all = [fresh if w is worker else w for w in self._all]
        return fresh

    def close(self) -> None:
        """Stop the workers now (a search that ends early does not wait for them)."""
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
            self._lock.notify_all()
        for worker in workers:
            worker.stop()


class _Worker:
    """One worker process and the pipe it takes batches on and answers on, in turn."""

    def __init__(self, context: BaseContext, cache_bytes: int) -> None:
        self.conn, child = context.Pipe()
        # A forked worker shares the parent's end of its pipe (closed there: see
        # _serve_batches), and dies with the parent if the main thread forked it; a fork
        # server's workers die with it (it dies with the daemon).
        forked = context.get_start_method() == "fork"
        parent = (os.getpid() if threading.current_thread() is threading.main_thread()
                  else None) if forked else 0
        shared = self.conn.fileno() if forked else -1
        self.process = context.Process(target=_serve_batches,
                                       args=(child, parent, shared, cache_bytes), daemon=True)
        self.process.start()
        child.close()
        self.stale = 0  # answers to batches of a search that stopped early, still to come

    def send(self, search: bytes, shipped: list[bytes], keep_first_reads: bool) -> None:
        """Search the `shipped` files (see `_shipped`) with the pickled FileSearch `search`
        (`keep_first_reads`: see `_ContentCache`)."""
        import pickle  # (as multiprocessing: only searches that use workers load it)

        message = pickle.dumps((search, shipped, keep_first_reads), pickle.HIGHEST_PROTOCOL)
        self.conn.send_bytes(message)

    def receive(self) -> list[Outcome | None] | ColumnarAnswer:
        """The answer to the oldest batch sent and not answered yet (EOFError: it died)."""
        import pickle

        message = self.conn.recv_bytes()
        # An answer is up to thousands of new objects and no reference cycle: while they are
        # made, the collector would run over the whole heap again and again (a warm tree's is
        # big: the API spent 400 ms of an 800 ms search in this pickle.loads).
        with _collector_paused():
            ok, answer = pickle.loads(message)
        if not ok:
            raise answer
        return answer

    def discard_stale(self) -> None:
        while self.stale:
            self.conn.recv_bytes()
            self.stale -= 1

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()
        self.conn.close()


# What a worker needs of a FileEntry: its fields (not its stat: pickling that costs more
# than the worker's own fstat) and its _known_size, which spares the worker an fstat (a tenth
# of its time for a file of a few KiB), and the _cache_stamp of what stat the caller holds.
CacheStamp = tuple[int, int, int, int]  # size, mtime and ctime (ns), inode
Named = tuple[str, str, bool, "int | None", "CacheStamp | None"]


class _ContentCache:
    """The bytes of files a worker read, for the searches that follow (a daemon's searches
    read the same files again and again: a query refined, re-run after an edit).

    Keyed by path and by the stat the daemon's warm walk holds for the file, which its
    watcher keeps current: a file written since has another stat (mtime, ctime or size), so
    it is read again. So cached content is exactly as fresh as the daemon's idea of which
    files changed, which also decides which files the index may rule out (README: the
    daemon's limits). A file modified within CACHE_RACY_NS of its read is not kept: written
    again within the same mtime tick, it would keep its stat. Oldest first out.

    A file is kept on its second read with the same stat only, unless `keeps_first_reads`
    (the batch is of a search's first FIRST_READS_KEPT bytes): a scan of the whole tree
    reads each file once, and keeping each would evict the files the searches before it
    read, for none the next search reads (the tree is bigger than the cache), and read
    binary files whole. The first reads are remembered (by hash) up to `SEEN_MAX`, fewer
    than a scan's files per worker, so that a scan repeated admits nothing else either.

    Both are OrderedDicts, whose oldest entry goes in O(1): a dict's `next(iter(d))` walks
    over the slots its earlier deletions left at its front, 8 µs an eviction here, which
    made a scan of the Linux tree through the daemon a fifth slower.
    """

    SEEN_MAX = 16_384

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.keeps_first_reads = False  # set for each batch (see `_serve_batches`)
        # path -> its stamp, its bytes and the offset of their first NUL (-1: none), which
        # spares each search a pass over them (a fifth of a -l search's time)
        self.files: OrderedDict[str, tuple[CacheStamp, bytes, int]] = OrderedDict()
        # hashes of (path, stamp) read once, oldest first
        self.seen: OrderedDict[int, None] = OrderedDict()

    def read(self, path: str, stamp: CacheStamp) -> tuple[bytes, int] | None:
        """The whole file (even a binary one, of which `read_file` may read the head only: a
        search stops at its NUL all the same) and the offset of its first NUL (-1: none);
        None on a first read with this stamp that is not kept, for the caller to read as it
        would without a cache."""
        kept = self.files.get(path)
        if kept is not None:
            if kept[0] == stamp:
                return kept[1], kept[2]
            del self.files[path]
            self.used -= len(kept[1])
        key = hash((path, stamp))
        if key in self.seen:
            del self.seen[key]
        elif not self.keeps_first_reads:
            self.seen[key] = None
            if len(self.seen) > self.SEEN_MAX:
                self.seen.popitem(last=False)
            return None
        data = read_file(path, stamp[0])
        nul = data.find(b"\0")
        if len(data) == stamp[0] and max(stamp[1], stamp[2]) < time.time_ns() - CACHE_RACY_NS:
            data = LineIndexed(data)  # (a copy, once: its line numbers cost less after)
            self.files[path] = stamp, data, nul
            self.used += len(data)
            while self.used > self.budget:
                self.used -= len(self.files.popitem(last=False)[1][1])
        return data, nul


_cache: _ContentCache | None = None  # a long-lived worker's (see _serve_batches)


def _kept(path: str, stamp: CacheStamp | None) -> tuple[bytes, int] | None:
    """A worker's kept bytes of the file at `path` and their first NUL's offset (see
    `_ContentCache.read`), when it keeps files and the file, as `stamp` says, is small enough."""
    if _cache is None or stamp is None or stamp[0] > CACHED_FILE_MAX:
        return None
    return _cache.read(path, stamp)


def _cache_stamp(entry: FileEntry) -> CacheStamp | None:
    st = entry.known_stat()
    return None if st is None else (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _shipped(entry: FileEntry) -> bytes:
    """What a worker is sent for `entry`: its Named, marshalled. Kept in the entry once it
    has its stat, on which the record depends: a daemon's warm walk ships the same entries
    search after search, and making and pickling each one's Named took a fifth of the time
    of its thread in a -l search of 3,000 files (kept for every file of the Linux tree, the
    records weigh 14 MiB)."""
    shipped = entry.shipped
    if shipped is None:
        shipped = marshal.dumps((entry.display, entry.path, entry.explicit,
                                 _known_size(entry), _cache_stamp(entry)))
        if entry.known_stat() is not None:
            entry.shipped = shipped
    return shipped


def _serve_batches(conn: Connection, parent: int | None, shared: int,
                   cache_bytes: int) -> None:
    """A worker's life: search each batch that comes, answer with its outcomes (or with the
    exception it raised, which the search raises again).

    A search killed (SIGKILL, SIGTERM) must not leave its workers behind, holding its output
    pipe open: a worker dies with `parent` (0: the process that forked it; None: it may not,
    forked by a thread whose end would kill it), and closes its copy of the parent's end of
    its pipe (`shared`, -1: none), so that it sees the end of the pipe when the parent goes.
    `cache_bytes`: the budget of its `_cache` (0: none).
    """
    import pickle

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _batch_scheduled()
    if shared >= 0:
        os.close(shared)
    if cache_bytes:
        global _cache
        _cache = _ContentCache(cache_bytes)
    if parent is not None:
        die_with_parent(parent or os.getppid())
    # A forked worker's heap is its parent's, which it never frees: the collector is kept off
    # it, and off a batch's events and results, which hold no cycle (a worker of the API,
    # forked from a warm tree of the Linux tree, spent 110 ms of each 'static inline' search
    # collecting, 80 of them in full collections).
    gc.freeze()
    while True:
        try:
            search, shipped, keep_first_reads = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        if _cache is not None:
            _cache.keeps_first_reads = keep_first_reads
        with _collector_paused():
            try:
                answer: tuple[bool, object] = (True, _search_batch(search, shipped))
            except Exception as e:
                answer = (False, e)
            try:
                message = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
            except Exception as e:
                message = pickle.dumps((False, RuntimeError(f"a search worker failed: {e!r}")))
            del answer
        conn.send_bytes(message)


def _batch_scheduled() -> None:
    """Run this worker as a batch job (Linux's SCHED_BATCH: its fair share of CPU, but waking
    up it does not preempt the running thread). A search's thread sends its batches in a
    row, and each send wakes a worker: on two cores the worker woken on the thread's core
    could take that core before the next batch went to the other worker (a traced daemon:
    1-4 ms for some 4-byte writes to a worker's pipe). Measured in a daemon's process, the
    workers' policy switched between paired rounds (4 runs of 10-16 rounds, loads 1-14):
    -c spin_lock_irqsave 0.71-0.88x in every run, the 4-name alternation 0.76-0.91x, -l
    EXPORT_SYMBOL_GPL 0.91-1.30x, the other selective queries within 10 %; end to end through
    two daemons (fresh clients, 3 rounds) no row moved beyond the noise. Kept for the dense
    searches, and because the workers, woken, then preempt no interactive program either."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_BATCH"):
        with suppress(OSError):  # (a sandbox may forbid it: the worker runs as it is)
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off (if it was on) for a while."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


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
            if self._pool is None:  # (its searches follow one another: the workers keep files)
                if self._start_method == "fork":
                    # Forked with numpy, as a fork server's workers are (see SearchPool): a
                    # watched Index forks them before its reader needs numpy, and without it
                    # their line numbers far into files were counted by bytes.count, 6x
                    # slower (37 % of the workers' time in its -w kmalloc_array search).
                    import numpy  # noqa: F401
                self._pool = SearchPool(self._start_method, keeps_files=True)
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


_searches: dict[bytes, FileSearch] = {}  # per worker: compiled once, not once per batch


def _search_batch(search: bytes, shipped: list[bytes], shipped_back: bool = True
                  ) -> list[Outcome | None] | ColumnarAnswer:
    """The outcome of each file shipped (see `_shipped`); None for a file that would print
    nothing, when files without a match print nothing (in a scan of a whole tree most files
    are such: not shipping them back spares the printing process a pickle and a printer call
    for each). Matches go in columns only if `shipped_back` (by a worker): the searching
    process that searches a batch itself takes its events as they are (their columns, alive
    with the batch, made its collector run over its heap: 150 ms a 'static inline' search).
    A worker's `columns_bare` batch is answered as a ColumnarAnswer, which gives the same
    outcomes."""
    run = _searches.get(search)
    if run is None:
        if len(_searches) > 16:
            _searches.clear()
        import pickle

        run = _searches[search] = pickle.loads(search)
    named: Iterator[Named] = map(marshal.loads, shipped)
    if run.misses_print_nothing and run.bare:
        assert run.render is not None
        return _joined(run.bare_batch(named), run.render)
    if run.misses_print_nothing and run.columns_bare and shipped_back:
        return run.columnar_batch(named)
    if run.render is not None and run.render.ends_files:
        return _ended_runs(run, named)
    outcomes = [run(FileEntry(display, path, explicit), size, stamp)
                for display, path, explicit, size, stamp in named]
    if not run.misses_print_nothing:
        return outcomes
    outcomes = [None if _is_miss(outcome) else outcome for outcome in outcomes]
    if run.columnar and shipped_back:
        _in_columns(outcomes)
    return outcomes if run.render is None else _joined(outcomes, run.render)


def _ended_runs(run: FileSearch, named: Iterable[Named]) -> list[Outcome | None]:
    """The outcomes of a batch of a search whose format `ends_files` (--json): each file
    rendered here is ended here too (see JsonFormat.ended, each file timed as rg times its
    search), then the runs are `_joined`; files that print nothing come back as None (--json
    leaves them out of its summary too)."""
    render = run.render
    assert render is not None
    clock = time.perf_counter_ns
    outcomes: list[Outcome | None] = []
    for display, path, explicit, size, stamp in named:
        started = clock()
        outcome = run(FileEntry(display, path, explicit), size, stamp)
        result, error = outcome
        if result is not None and error is None and result.rendered is not None:
            result.rendered = render.ended(display, result.rendered, result, clock() - started)
        outcomes.append(None if _is_miss(outcome) else outcome)
    return _joined(outcomes, render)


def _in_columns(outcomes: Iterable[Outcome | None],
                shared: dict[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] | None = None
                ) -> None:
    """The outcomes' results with their match events as columns (see FileResult.columns): a
    few lists pickle and load in a tenth of the time of as many events, each rebuilt by a
    call (57,000 events: 72 ms to dump and 70 to load, against 6 and 11). Equal spans share
    one tuple, pickled once: most matches of a search are at a few columns ('static inline'
    -g '*.h' on the Linux tree: 29 distinct spans in 57,387 lines; dumped in 20 ms instead
    of 45, loaded in 18 instead of 28)."""
    shared = {} if shared is None else shared
    for outcome in outcomes:
        result = None if outcome is None else outcome[0]
        if result is not None and result.events:
            events = result.events
            result.columns = (
                [e.line_number for e in events], [e.offset for e in events],
                [e.lines for e in events],
                _shared_spans([e.submatches for e in events], shared))
            result.events = []


class ColumnarAnswer:
    """A worker's answer to a `columnar_batch`: its `searched` files' outcomes, as the
    matches of all its `hits` (four numbers each: a file's index in the batch, its lines in
    the columns, its matching lines and its matches) in one set of columns, and those of the
    `others` (files searched as usual) by index, misses left out. A few lists, whatever the
    number of files: a result and four lists a file cost the searching process their
    unpickling, then the collector's passes over them while the search yielded their
    matches (the API's -l EXPORT_SYMBOL_GPL on the Linux tree, 3,227 files: the collector
    12.4 -> 0.5 ms a search, the search 51 -> 39 ms). A hit's FileResult is made as the
    search takes it."""

    __slots__ = ("columns", "hits", "others", "searched")

    def __init__(self, searched: int, hits: list[int],
                 others: dict[int, Outcome], columns: MatchColumns) -> None:
        self.searched = searched
        self.hits = hits
        self.others = others
        self.columns = columns

    def __reduce__(self) -> tuple[type[ColumnarAnswer], tuple[object, ...]]:
        return ColumnarAnswer, (self.searched, self.hits, self.others, self.columns)

    def __len__(self) -> int:
        return self.searched

    def __iter__(self) -> Iterator[Outcome | None]:
        """Each searched file's outcome in turn (None: a miss)."""
        numbers, offsets, lines, spans = self.columns
        others = self.others
        index = first = 0
        for hit, kept, found, matches in zip(*[iter(self.hits)] * 4, strict=True):
            while index < hit:
                yield others.get(index)
                index += 1
            last = first + kept
            yield FileResult(matched_lines=found, matches=matches, columns=(
                numbers[first:last], offsets[first:last], lines[first:last],
                spans[first:last])), None
            index, first = hit + 1, last
        while index < self.searched:
            yield others.get(index)
            index += 1

    @property
    def events(self) -> int:
        """Its hits' lines in the columns (see `_Tally`)."""
        return len(self.columns[0])


def _shared_spans(spans: list[list[tuple[int, int]]],
                  shared: dict[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]
                  ) -> list[tuple[tuple[int, int], ...]]:
    """Each line's spans as a tuple, equal ones the same (see `_in_columns`)."""
    share = shared.setdefault
    return [share(t, t) for t in map(tuple, spans)]


def _joined(outcomes: list[Outcome | None], file_format: FileFormat) -> list[Outcome | None]:
    """Runs of files rendered here without an error, joined into the first of each (the
    others' outcomes None): in a search that prints many files, the printing process then
    takes one result, not one per file. Files that print nothing do not break a run."""
    joined: list[Outcome | None] = []
    first: FileResult | None = None  # the result heading the run in progress
    rest: list[Rendered] = []
    for outcome in outcomes:
        result = None if outcome is None or outcome[1] is not None else outcome[0]
        if result is not None and result.rendered is not None:
            if first is None:
                first = result
                joined.append(outcome)
            else:
                rest.append(result.rendered)
                joined.append(None)
            continue
        if outcome is not None:  # an error, or events the printer renders: the run ends
            _end_run(first, rest, file_format)
            first = None
        joined.append(outcome)
    _end_run(first, rest, file_format)
    return joined


def _end_run(first: FileResult | None, rest: list[Rendered], file_format: FileFormat) -> None:
    if first is not None and first.rendered is not None and rest:
        first.rendered = file_format.joined(first.rendered, rest)
    rest.clear()


def _closing(outputs: Iterator[_T], view: FileView, display: str) -> Iterator[_T]:
    """A streamed big file's outputs or events (see FileSearch.streamed), closing its `view`
    when they end or are dropped. A NUL written in the file since it was checked ends them there
    (as if the file ended); a failed read ends the whole search, with rg's message for it."""
    from trigrep.stream import BinaryContent

    try:
        yield from outputs
    except BinaryContent:
        return
    except OSError as e:
        raise Error(f"{display}: {e.strerror} (os error {e.errno})") from None
    finally:
        view.close()


def _is_miss(outcome: Outcome) -> bool:
    """A file searched without a match, an error or anything to print."""
    result, error = outcome
    return (
        result is not None and error is None and not result.events and result.rendered is None
        and result.matched_lines == 0 and result.matches == 0 and not result.cut_short
    )


def _known_size(entry: FileEntry) -> int | None:
    """The file's size if something stat'ed it already (never a stat just for that)."""
    st = entry.known_stat()
    return None if st is None else st.st_size


def search_in_order(
    items: Iterable[tuple[FileEntry, bool]],
    search: FileSearch,
    pool: Callable[[], SearchPool | None] | None,
) -> Iterator[tuple[FileEntry, Outcome | None]]:
    """Each (file, whether to search it) with its outcome (None when not searched), in the
    given order; files a worker searched that print nothing may be left out (see
    `_search_batch`). Once the search is big enough it asks `pool()` for workers (started on
    first use), or forks a pool of its own when there is none; unless its unrendered results
    carry many events (see `_Tally`)."""
    items = iter(items)
    inline_files, inline_bytes = (
        (INLINE_FILES, INLINE_BYTES) if pool is None else (WARM_INLINE_FILES, WARM_INLINE_BYTES)
    )
    searched = searched_bytes = 0
    tally = _Tally(search)
    for entry, needed in items:
        if not needed:
            yield entry, None
            continue
        outcome = search.streamed(entry)
        yield entry, outcome
        searched += 1
        searched_bytes += _known_size(entry) or 0
        tally.add([outcome])
        if (searched >= inline_files or searched_bytes >= inline_bytes) and not tally.eventful:
            break
    else:
        return
    shared = pool() if pool is not None else None
    if shared is not None:
        yield from _in_workers(items, search, shared, tally)
        return
    own = SearchPool("fork")
    try:
        yield from _in_workers(items, search, own, tally)
    finally:
        own.close()


class _Tally:
    """The events (or matches, shipped as columns) a search's unrendered results carried
    and the files it searched: whether the search is `eventful`, so cheaper inline (see
    INLINE_EVENTS_PER_FILE)."""

    __slots__ = ("events", "inline_if_eventful", "searched")

    def __init__(self, search: FileSearch) -> None:
        self.inline_if_eventful = search.render is None and _cores_busy()
        self.events = self.searched = 0

    def add(self, outcomes: list[Outcome | None] | ColumnarAnswer) -> None:
        """Count searched files' outcomes (None: a worker's file that printed nothing)."""
        self.searched += len(outcomes)
        if self.inline_if_eventful:
            if isinstance(outcomes, ColumnarAnswer):
                self.events += outcomes.events
                outcomes = list(outcomes.others.values())
            self.events += sum(
                len(result.columns[0]) if result.columns is not None
                else len(result.events) if isinstance(result.events, list) else 0
                for result in (o[0] for o in outcomes if o is not None) if result is not None)

    @property
    def eventful(self) -> bool:
        return self.inline_if_eventful and self.events >= self.searched * INLINE_EVENTS_PER_FILE


def _cores_busy() -> bool:
    """Whether the machine has no core to spare: its load average over the last minute is
    at least its number of cores."""
    try:
        return os.getloadavg()[0] >= (os.cpu_count() or 1)
    except OSError:  # (no load average: taken as busy, the cheaper way for the CPU)
        return True


def _in_workers(
    items: Iterator[tuple[FileEntry, bool]], search: FileSearch, pool: SearchPool,
    tally: _Tally,
) -> Iterator[tuple[FileEntry, Outcome | None]]:
    import pickle

    dispatch = _Dispatch(pool, pickle.dumps(search), tally)
    try:
        yield from dispatch.run(items)
    finally:
        dispatch.release()


class _Dispatch:
    """One search's batches on the workers it leased. Each worker has at most
    `SENT_PER_WORKER` batches at a time (the next one waits in its pipe while it searches
    one) and answers them in turn; the search yields the batches in their order. While the
    search is `tally.eventful` it searches its batches itself, leasing no more workers."""

    def __init__(self, pool: SearchPool, search: bytes, tally: _Tally) -> None:
        self.pool = pool
        self.search = search
        self.tally = tally
        self.sent: dict[_Worker, deque[_Batch]] = {}  # the leased workers, their batches
        self.sent_bytes = 0  # of the files sent to workers so far
        self.turn = 0  # batches made so far
        self.per_worker = SENT_PER_WORKER if len(search) <= SMALL_SEARCH_BYTES else 1

    def run(
        self, items: Iterator[tuple[FileEntry, bool]]
    ) -> Iterator[tuple[FileEntry, Outcome | None]]:
        window: deque[_Batch] = deque()
        limit = self.pool.workers * BATCHES_PER_WORKER
        max_files = BATCH_FILES
        more = True
        while True:
            while more and len(window) < limit:
                if self.tally.eventful:
                    self._release_idle()  # (for another search to lease)
                    worker = None
                else:
                    worker = self._worker()
                if worker is None and any(self.sent.values()):
                    break  # no room for another batch until an answer comes
                self.turn += 1
                batch = _Batch(max_files, self.pool.batch_bytes)
                more = batch.fill(items)
                max_files = min(2 * max_files, BATCH_FILES_MAX)
                if batch.to_search and worker is not None:
                    self._send(worker, batch)
                elif batch.to_search:  # every worker is another search's for now, or
                    # the search is eventful: its results, like a worker's answer, are
                    # thousands of new objects and no cycle (see `_Worker.receive`)
                    with _collector_paused():
                        batch.found = _search_batch(self.search, batch.to_search, False)
                window.append(batch)
            while window and not window[0].pending:
                batch = window.popleft()
                self.tally.add(batch.found)
                yield from batch.outcomes()
            if window:
                self._receive()
            elif not more:
                return

    def _worker(self) -> _Worker | None:
        """The worker for the search's next batch; None if it must wait for room (or
        none came). The batches go to the pool's workers in turn, and wait for their own
        (`pool.home`): a search run again sends each file to the worker that kept it. (As
        they went to whichever worker had room first, the workers kept their first reads
        twice, and runs 2-6 of the 4-name alternation through the daemon read 34-119 of
        its 185 MB again, of -c spin_lock_irqsave 8-78 MB: now 0-3 from the third run on,
        and the daemon's CPU per search 170 -> 145 ms and 78 -> 72.) If another search
        holds that one, any with room, or one newly leased (waiting a little when no batch
        is pending). While another search waits for a worker, the leased ones get no more
        batches, and go back to the pool once they answered them all."""
        pool = self.pool
        home = pool.home(self.turn)
        if pool.contended:
            self._release_idle()
        elif home in self.sent:
            return home if len(self.sent[home]) < self.per_worker else None
        elif (worker := pool.lease(0, home)) is not None:  # home, or another idle one
            self.sent[worker] = deque()
            return worker
        else:
            for worker, batches in self.sent.items():
                if len(batches) < self.per_worker:
                    return worker
        worker = pool.lease(0 if any(self.sent.values()) else LEASE_WAIT_S, home)
        if worker is None:
            if self.pool.closed:
                raise Error("the search workers were stopped")
            return None
        self.sent[worker] = deque()
        return worker

    def _release_idle(self) -> None:
        """Give back the leased workers that have no batch to answer."""
        for worker in [w for w, batches in self.sent.items() if not batches]:
            del self.sent[worker]
            self.pool.release(worker)

    def _send(self, worker: _Worker, batch: _Batch) -> None:
        keep_first_reads = self.sent_bytes < FIRST_READS_KEPT
        self.sent_bytes += batch.bytes
        self.sent[worker].append(batch)
        batch.pending = True
        try:
            worker.send(self.search, batch.to_search, keep_first_reads)
        except OSError:
            self._lost(worker, [])

    def _receive(self) -> None:
        """Take the next answer of whichever leased worker gives one first."""
        from multiprocessing.connection import wait

        busy = {worker.conn: worker for worker, batches in self.sent.items() if batches}
        worker = busy[wait(list(busy))[0]]  # type: ignore[index]
        batch = self.sent[worker].popleft()
        try:
            batch.found = worker.receive()
        except (EOFError, OSError):
            self._lost(worker, [batch])
        batch.pending = False

    def _lost(self, worker: _Worker, taken: list[_Batch]) -> None:
        """A worker died (the OOM killer, a kill; or its pool closed, which ends the search):
        a new one takes its place in the pool, and the batches it had not answered (`taken`
        from its queue, and those still in it) are searched here, as a batch no worker has
        room for is: the search prints all it should, and nothing twice (a worker answers a
        batch whole, or not at all)."""
        taken += self.sent.pop(worker)
        self.pool.discard(worker)
        if self.pool.closed:
            raise Error("the search workers were stopped")
        for batch in taken:
            with _collector_paused():
                batch.found = _search_batch(self.search, batch.to_search, False)
            batch.pending = False

    def release(self) -> None:
        """Give the workers back (answers still to come are dropped by their next lease)."""
        for worker, batches in self.sent.items():
            self.pool.release(worker, unanswered=len(batches))
        self.sent.clear()


class _Batch:
    """Consecutive files of a search (some of them to search) and their outcomes."""

    __slots__ = ("bytes", "found", "items", "max_bytes", "max_files", "pending", "to_search")

    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.items: list[tuple[FileEntry, bool]] = []
        self.to_search: list[bytes] = []  # (see `_shipped`)
        self.bytes = 0
        self.pending = False  # sent to a worker, not answered yet
        self.found: list[Outcome | None] | ColumnarAnswer = []

    def fill(self, items: Iterator[tuple[FileEntry, bool]]) -> bool:
        """Take files from `items` until full; False when `items` ran out. (Its sums are
        kept in locals and a file's size read from its stat inline: the daemon's thread
        took 1.3 µs a file here, most of what it spends per candidate.)"""
        taken, to_search = self.items, self.to_search
        size = names = 0
        full = False
        for item in items:
            taken.append(item)
            entry, needed = item
            if needed:
                shipped = entry.shipped or _shipped(entry)
                to_search.append(shipped)
                names += len(shipped)
                if (st := entry.known_stat()) is not None:
                    size += st.st_size
                if (len(to_search) >= self.max_files or size >= self.max_bytes
                        or names >= BATCH_NAME_BYTES):
                    full = True
                    break
            if len(taken) >= BATCH_ITEMS:
                full = True
                break
        self.bytes = size
        return full

    def outcomes(self) -> Iterator[tuple[FileEntry, Outcome | None]]:
        """The batch's files with their outcomes, leaving out the files searched that would
        print nothing (see `_search_batch`): in C when every file was searched (most
        outcomes of a search printing thousands of files are None, each run of files joined
        into its first)."""
        found: Iterable[Outcome | None]
        if len(self.to_search) == len(self.items) and isinstance(self.found, list):
            found = self.found
            for (entry, _), outcome in compress(zip(self.items, found, strict=True), found):
                yield entry, outcome
            return
        found = iter(self.found)
        for entry, needed in self.items:
            if not needed:
                yield entry, None
            elif (outcome := next(found)) is not None:
                yield entry, outcome
