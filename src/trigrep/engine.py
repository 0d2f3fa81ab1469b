"""Runs a search: walk the files rg would search, ask the index which can match, search those.

The index only narrows; it never decides alone. A file is skipped only when the index holds
it with the same size, mtime and ctime as now (so its indexed trigrams and bytes are its
current content) and the trigram plan or the byte filter rules it out. Every other file — new,
edited, not indexed, or not under an index at all — is searched directly, so results are
what rg prints at that moment.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from trigrep.console import Console
from trigrep.errors import Error, IndexCorruptError, IndexUnreadableError, IndexVersionError
from trigrep.extract import Preprocessor, is_decompressed
from trigrep.index import Candidates, IndexEntry, IndexReader
from trigrep.index.format import stat_stamp
from trigrep.options import MatchOptions, OutputOptions, WalkOptions
from trigrep.parallel import FileSearch, SearchPool, search_in_order
from trigrep.query import Query, compile_query
from trigrep.query.plan import as_utf16, ascii_only, ascii_only_bytes, ascii_sets, or_
from trigrep.roots import INDEX_DIR_NAME, default_root, find_index_root, tree_root
from trigrep.searcher import FileResult
from trigrep.spawn import popen, trigrep_command
from trigrep.walk import REPORTED, FileEntry, WarningHandler, relative_path, walk

if TYPE_CHECKING:
    import numpy as np

    from trigrep.printer import FileFormat

# When this many files (or this share of the index) changed since the build, refresh it.
REFRESH_MIN_STALE = 200
REFRESH_STALE_SHARE = 0.02
# A tree indexed with fewer files and bytes than these is searched without its index by a
# process that would open the index for one search (the CLI without a daemon);
# TRIGREP_SCAN_SMALL: another file count, or "off".
SCAN_SMALL_ENV = "TRIGREP_SCAN_SMALL"
SCAN_MAX_FILES = 1_000
SCAN_MAX_BYTES = 16 << 20
_UTF16 = ("utf-16le", "utf-16be")  # -E's (see `index_narrows`)


class WarmTree(Protocol):
    """What a daemon keeps between searches of one tree (see `trigrep.server.tree`)."""

    def entries(self, paths: Sequence[str], opts: WalkOptions) -> list[FileEntry] | None:
        """The files `walk(paths, opts)` would yield now, or None to walk for real."""

    def reader(self) -> IndexReader | None:
        """The tree's open index, current."""

    def refresh_index(self, root: str) -> None:
        """Many files changed since the index was built: bring it up to date, in the background."""

    def search_pool(self) -> SearchPool | None:
        """Worker processes kept for this tree's searches (None: fork them when needed)."""

    def indexed_ids(self, entries: Sequence[FileEntry], reader: IndexReader) -> np.ndarray:
        """`freshness(reader).indexed_id` of each of `entries` (which `entries()` returned),
        known without checking each file again."""

    def index_damaged(self, reader: IndexReader, damage: IndexCorruptError) -> None:
        """A search found `reader`'s index damaged (a posting block read for the first time):
        stop using it and rebuild it in the background (the search reads every file)."""


class Plan:
    """Per-query index state: which indexed files are fresh and which may match."""

    __slots__ = ("candidates", "pre", "prefix", "reader", "report_all", "root", "search_zip")

    def __init__(self, root: str, reader: IndexReader, candidates: Candidates | None,
                 report_all: bool, search_zip: bool, pre: Preprocessor | None) -> None:
        self.root = root
        self.reader = reader
        self.candidates = candidates  # None: the plan is ALL, every file is a candidate
        # Summary modes report files without a match too; for irregular files (binary, BOM)
        # that report depends on the content, so those are searched directly.
        self.report_all = report_all
        # -z: compressed files are searched decompressed, unlike their index entry
        self.search_zip = search_zip
        self.pre = pre  # --pre: the files it applies to are searched as its output
        self.prefix = os.path.join(root, "")  # absolute paths of indexed files: prefix + key

    def indexed_id(self, entry: FileEntry) -> tuple[int, bool]:
        """(the file's id in the index if what was indexed is its content now, else -1;
        whether it changed since it was indexed) for one file the walker yielded."""
        if not entry.path.startswith(self.prefix):
            return -1, False  # outside the indexed tree
        if self.search_zip and is_decompressed(entry.path, True):
            return -1, False
        if self.pre is not None and self.pre.applies(entry.display):
            return -1, False
        record = self.reader.lookup(entry.path[len(self.prefix) :])
        if record is None:
            return -1, True
        try:
            st = entry.stat()
        except OSError:  # gone since the walk, or in a directory it may list but not enter:
            return -1, False  # reading it reports what rg reports
        if stat_stamp(st) != record.stamp:
            return -1, True
        if not may_read(st):  # indexed by a user who may: reading it reports rg's error
            return -1, False
        # Racily clean (modified too close to its segment's build): its content may be newer.
        if record.racily_clean or (self.report_all and record.irregular):
            return -1, False
        return record.file_id, False

    def should_search(self, entry: FileEntry) -> tuple[bool, bool]:
        """(search it?, was it stale?) for one file the walker yielded."""
        file_id, stale = self.indexed_id(entry)
        if file_id < 0:
            return True, stale
        return (self.candidates is None or file_id in self.candidates), False

    def select(self, entries: Sequence[FileEntry], indexed_ids: np.ndarray) -> list[FileEntry]:
        """The `entries` to search, given each one's `indexed_id` (as a daemon keeps them):
        one vectorised pass instead of a check per file."""
        import numpy as np

        if self.candidates is None:
            return list(entries)
        candidates = self.candidates.ids
        size = max(int(indexed_ids.max(initial=-1)), int(candidates.max(initial=-1))) + 1
        is_candidate = np.zeros(size, dtype=bool)
        is_candidate[candidates] = True
        wanted = indexed_ids < 0
        wanted[~wanted] = is_candidate[indexed_ids[~wanted]]
        return [entries[i] for i in np.flatnonzero(wanted).tolist()]


def may_read(st: os.stat_result) -> bool:
    """Whether this process may read the file `st` describes, as its mode bits say (POSIX
    ACLs aside). The index may hold files another user (or root) could read and this one
    cannot: ruled out, they would miss rg's "Permission denied" (and its exit code 2), and
    --files-without-match would list them."""
    if st.st_mode & 0o444 == 0o444:  # (most files: anyone may)
        return True
    euid, groups, reads_any = _identity()
    if reads_any:
        return True
    if st.st_uid == euid:
        return bool(st.st_mode & 0o400)
    if st.st_gid in groups:
        return bool(st.st_mode & 0o040)
    return bool(st.st_mode & 0o004)


@functools.cache
def _identity() -> tuple[int, frozenset[int], bool]:
    """This process's effective user, its groups, and whether it may read any file (the
    capability CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH in effect: root, unless dropped)."""
    euid = os.geteuid()
    try:
        with open("/proc/self/status", "rb") as f:
            effective = next(line for line in f if line.startswith(b"CapEff:"))
        reads_any = bool(int(effective.split()[1], 16) & 0b110)
    except (OSError, StopIteration, ValueError, IndexError):
        reads_any = euid == 0
    return euid, frozenset([os.getegid(), *os.getgroups()]), reads_any


def freshness(reader: IndexReader) -> Plan:
    """A plan that only tells which files the index holds as they are now (`indexed_id`)."""
    return Plan(reader.root, reader, None, report_all=False, search_zip=False, pre=None)


def open_index(start: str, *, build_if_missing: bool) -> IndexReader | None:
    """The index covering `start`, building one on first use (or when it was written by
    another trigrep version); None when none can be had (a read-only tree)."""
    root = find_index_root(start)
    if root is not None:
        try:
            return IndexReader.open(root)
        except IndexVersionError:
            pass  # rebuilt below: nothing the user made is lost
        except IndexUnreadableError:
            return None  # another user's: searched directly, as rg would, every time
        except IndexCorruptError as e:
            return rebuilt(root, e)
    elif not build_if_missing:
        return None
    else:
        root = default_root(start if os.path.isdir(start) else os.path.dirname(start) or ".")
    return _built(root)


def rebuilt(root: str, damage: IndexCorruptError) -> IndexReader | None:
    """A new index in place of a damaged one (see `say_rebuilding`); None, silently, when this
    user cannot write it (another user's, a read-only tree): searched without, as one this
    user may not read, with an answer as complete as with it (every search said it was
    rebuilding an index it could not)."""
    if not rebuildable(root):
        return None
    say_rebuilding(damage)
    return _built(root)


def rebuildable(root: str) -> bool:
    """Whether this user may write the index of `root` (a damaged one is said to be rebuilt
    only then)."""
    return os.access(os.path.join(root, INDEX_DIR_NAME), os.W_OK)


def say_rebuilding(damage: IndexCorruptError) -> None:
    """One line on a damaged index about to be rebuilt: a search's answer does not depend on
    the index, only its speed."""
    sys.stderr.write(f"trigrep: {damage.damage}; rebuilding it\n")


def _built(root: str) -> IndexReader | None:
    """The index of `root`, built (or updated) now; None when it cannot be."""
    from trigrep.index.lock import IndexBusy

    try:
        build_at(root, progress=sys.stderr.isatty(), wait=False)
    except IndexBusy:
        return None  # another trigrep builds it: this search goes on without
    except OSError as e:
        if isinstance(e, PermissionError) or e.errno == errno.EROFS or _not_a_directory(root, e):
            # A read-only tree, or a file of the user's named .trigrep: searched directly, as
            # rg would, every time, silently (its answer is complete; `trigrep index` says
            # what is wrong). Each search said "not indexing ...: File exists" for the file.
            return None
        # A full disk...: the previous index (if any) is intact, and the search is still right
        # without one, only slower.
        sys.stderr.write(f"trigrep: not indexing {root}: {e.strerror or e}; searching directly\n")
        return None
    return IndexReader.open(root)


def _scan_limits() -> tuple[int, int] | None:
    """The file count and bytes from which a tree is planned rather than read (see
    `_scanned_faster`); None: always planned (TRIGREP_SCAN_SMALL=off)."""
    setting = os.environ.get(SCAN_SMALL_ENV, "")
    if setting == "off":
        return None
    return int(setting) if setting.isdigit() else SCAN_MAX_FILES, SCAN_MAX_BYTES


def _scanned_faster(files: int, size: int, limits: tuple[int, int] | None) -> bool:
    """Whether a process that has not planned a search yet is done sooner reading every file
    of a tree of `files` files and `size` bytes than planning (`limits`: `_scan_limits()`):
    a plan first loads numpy (about 40 ms here, the time to read and search some 2,000
    small files), and checks each walked file's stat against the index. Trees this small
    get no daemon either (see AUTO_SERVE_MIN_FILES), nor an index (see `_small_walk`)."""
    return limits is not None and files < limits[0] and size < limits[1]


def _small_walk(entries: Iterator[FileEntry], limits: tuple[int, int]
                ) -> tuple[Iterator[FileEntry], int | None]:
    """The walked `entries` (the first ones already walked), and None if they are a small
    tree's (see `_scanned_faster`), else how many were walked to know it is not: a tree
    without an index gets one once a search walks that many files (its first search, or the
    first after it grew), so the searches of a small tree skip a build they would not use."""
    head: list[FileEntry] = []
    size = 0
    for entry in entries:
        head.append(entry)
        with contextlib.suppress(OSError):  # (gone since listed: reading it reports that)
            size += entry.stat().st_size
        if not _scanned_faster(len(head), size, limits):
            return itertools.chain(head, entries), len(head)
    return iter(head), None


def _builds_index(paths: Sequence[str]) -> bool:
    """Whether a search of `paths` without an index at hand would build one (see
    `make_plan`): none covers the first path yet, a directory."""
    start = paths[0] if paths else "."
    return os.path.isdir(start) and find_index_root(start) is None


def make_plan(
    paths: Sequence[str],
    query: Query,
    *,
    report_all: bool,
    search_zip: bool,
    pre: Preprocessor | None = None,
    reader: IndexReader | None = None,
    on_damage: Callable[[IndexReader, IndexCorruptError], None] | None = None,
    codec: str = "auto",
) -> Plan | None:
    """Index state for this query; None when no index covers the first path. Its candidates
    are every file when a `reader` must be opened for it and its tree is small (see
    `_scanned_faster`): the plan then only notes stale files (see `_selected`). Damage a
    given `reader` shows is passed to `on_damage` (then: no plan); other damage is rebuilt now.
    `codec`: -E's (see `index_narrows`)."""
    scan = False
    opened = reader is None
    if reader is None:
        start = paths[0] if paths else "."
        if not os.path.exists(start):
            return None
        # A search of a file uses its tree's index, but builds none (`trigrep x ~/notes.txt`
        # must not index the home directory).
        reader = open_index(start, build_if_missing=os.path.isdir(start))
        if reader is None:
            return None
        stats = reader.stats()
        scan = _scanned_faster(stats.files, stats.bytes, _scan_limits())
    trigrams, byte_sets = query.plan, query.required_bytes
    # (pieces of big files are cut after a `\n`: one line ending in a NUL can span them)
    within_lines = not query.multiline and query.eol == b"\n"
    if codec in _UTF16:
        # Files with a UTF-16 BOM are indexed as their text, others as their bytes, where a
        # line's units may hold a `\n` byte.
        trigrams, byte_sets = or_(trigrams, as_utf16(trigrams)), ascii_sets(byte_sets)
        within_lines = False
    elif codec != "auto":
        trigrams, byte_sets = ascii_only(trigrams), ascii_only_bytes(byte_sets)
    narrows = trigrams.op != "all" or bool(byte_sets)
    if not narrows and not report_all:
        return None  # every file is searched: no need to know which are fresh

    def candidates_of(reader: IndexReader) -> Candidates | None:
        reader.records()  # the file table, which the plan checks walked files against
        if narrows and not scan:
            return reader.candidates(trigrams, byte_sets, within_lines=within_lines)
        return None

    try:
        candidates = candidates_of(reader)
    except IndexCorruptError as e:  # checksums checked as the blocks are first read
        if not opened and on_damage is not None:
            on_damage(reader, e)  # the owner's reader: it mends it (this search reads all)
            return None
        reader = rebuilt(reader.root, e)
        if reader is None:
            return None
        candidates = candidates_of(reader)
    return Plan(reader.root, reader, candidates, report_all, search_zip, pre)


def index_narrows(codec: str, out_opts: OutputOptions) -> bool:
    """Whether the index, which holds each file's text under -E auto, can rule files out of a
    search under -E `codec`: under an encoding of `ASCII_FROM_ITSELF` too, by the ASCII
    trigrams of the file's text, which are its bytes' (or, after a UTF-16 BOM, which decides
    the encoding here as well, its text's); under UTF-16 by those of its units (see
    `as_utf16`). Not when the bytes searched in a file ruled out count (--stats, --json
    -q): its size is its text's length only under -E auto."""
    if codec == "auto":
        return True
    from trigrep.whatwg import ASCII_FROM_ITSELF

    return (codec in ASCII_FROM_ITSELF or codec in _UTF16) and not (
        out_opts.stats or (out_opts.json and out_opts.mode == "quiet"))


def _selected(
    entries: Iterable[FileEntry],
    plan: Plan | None,
    on_stale: Callable[[str], None],
    *,
    report_all: bool,
) -> Iterator[tuple[FileEntry, bool]]:
    """The walked files with whether each must be searched (only those that must, unless
    `report_all`); calls `on_stale(root)` when the index has fallen too far behind."""
    if plan is None:
        for entry in entries:
            yield entry, True
        return
    stale = 0
    should_search = plan.should_search
    for entry in entries:
        search_it, was_stale = should_search(entry)
        stale += was_stale
        if search_it or report_all:
            yield entry, search_it
    threshold = max(REFRESH_MIN_STALE, REFRESH_STALE_SHARE * plan.reader.stats().files)
    if stale >= threshold:
        on_stale(plan.root)


def refresh_in_background(root: str) -> None:
    """Start `trigrep index ROOT` detached; its lock makes concurrent refreshes harmless."""
    import subprocess

    popen(
        trigrep_command("index", root),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class SearchRun:
    """One search over files: the walk, the index plan, the per-file searches, in order.

    Shared by the CLI (which prints each result) and the Python API (which yields matches).
    Errors (missing paths, unreadable files) are collected in `errors`, worded as rg's,
    and passed to `on_error` as they happen. `warm` is a daemon's cache of this tree;
    `render` renders each file's output as it is searched; `named_paths` is every path the
    command line named, when this run searches some of them (`-`, standard input, splits
    them): how rg reads the files it was given depends on all of them. `on_damage` is told
    of damage a search finds in `reader` (see `make_plan`; a warm tree's own is told).
    `first_build(directory, files)` is offered the first index of a tree that is not small,
    built by default before the search (`files`: how many it walked to know that): True when
    it took it over (a daemon builds it), and the search reads every file meanwhile.
    """

    def __init__(
        self, paths: Sequence[str], query: Query, walk_opts: WalkOptions,
        out_opts: OutputOptions, reader: IndexReader | None = None,
        warm: WarmTree | None = None, on_warning: WarningHandler | None = None,
        on_error: Callable[[str], None] | None = None, render: FileFormat | None = None,
        named_paths: Sequence[str] | None = None,
        on_damage: Callable[[IndexReader, IndexCorruptError], None] | None = None,
        first_build: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.paths = paths
        self.query = query
        self.walk_opts = walk_opts
        self.out_opts = out_opts
        self.reader = reader
        self.warm = warm
        self.errors: list[str] = []
        self.on_warning = on_warning or (lambda message, fails: _warn(message))
        self.on_error = on_error or (lambda message: None)
        self.files_walked = 0  # rg reports "No files were searched" (exit 2) when this stays 0
        self.render = render
        self.named_paths = named_paths
        self.on_damage = warm.index_damaged if warm is not None else on_damage
        self.first_build = first_build

    def _error(self, message: str) -> None:
        self.errors.append(message)
        self.on_error(message)

    def _counted(self, entries: Iterable[FileEntry]) -> Iterator[FileEntry]:
        for entry in entries:
            self.files_walked += 1
            yield entry

    def _walk(self) -> Iterator[FileEntry]:
        return walk(self.paths, self.walk_opts, on_error=self._error, on_warning=self.on_warning)

    def results(self) -> Iterator[tuple[FileEntry, FileResult]]:
        """Every file rg would report on, with its result, in rg's path order."""
        out_opts = self.out_opts
        # Files the index rules out are reported only by --files-without-match and
        # --include-zero, and counted only by the summary of --json -q (rg's JSON lines
        # leave files without a match out).
        report_all = out_opts.mode == "files_without_match" or out_opts.counts_zero or (
            out_opts.json and out_opts.mode == "quiet") or out_opts.stats
        warm = self.warm
        cached = warm.entries(self.paths, self.walk_opts) if warm is not None else None
        reader = self.reader or (warm.reader() if warm is not None else None)
        # --passthru prints every file searched, matching or not: none may be left out.
        every_file = out_opts.passthru and out_opts.mode == "lines"
        walked: Iterable[FileEntry] | None = cached
        plan = None
        codec = self.walk_opts.encoding
        # A daemon's tree without a usable index (damaged, being rebuilt) is searched without.
        if not every_file and index_narrows(codec, out_opts) and (
                reader is not None or warm is None):
            small = built_elsewhere = False
            limits = _scan_limits()
            if reader is None and warm is None and limits and _builds_index(self.paths):
                walked, big = _small_walk(self._walk(), limits)
                small = big is None
                built_elsewhere = big is not None and self.first_build is not None and (
                    self.first_build(self.paths[0] if self.paths else ".", big))
            if not (small or built_elsewhere):
                plan = make_plan(
                    self.paths, self.query, report_all=report_all,
                    search_zip=self.walk_opts.search_zip, pre=self.walk_opts.pre, reader=reader,
                    on_damage=self.on_damage, codec=codec,
                )
        selected: Iterable[tuple[FileEntry, bool]]
        if warm is not None and cached is not None and plan is not None and not (
            plan.report_all or plan.search_zip or plan.pre
        ):
            self.files_walked = len(cached)
            indexed_ids = warm.indexed_ids(cached, plan.reader)
            selected = zip(plan.select(cached, indexed_ids), itertools.repeat(True))
        else:
            on_stale = warm.refresh_index if warm is not None else refresh_in_background
            selected = _selected(self._counted(walked if walked is not None else self._walk()),
                                 plan, on_stale, report_all=report_all)
        named = self.paths if self.named_paths is None else self.named_paths
        search = FileSearch.of(self.query, out_opts, self.walk_opts.search_zip, named,
                               self.render, codec, self.walk_opts.pre,
                               self.walk_opts.mmap)
        pool = warm.search_pool if warm is not None else None
        for entry, outcome in search_in_order(selected, search, pool):
            if outcome is None:
                # Fresh in the index, ruled out by the plan, regular content: rg would have
                # searched all of it and found nothing.
                yield entry, FileResult(bytes_searched=entry.stat().st_size)
                continue
            result, error = outcome
            if error is not None:
                self._error(error)
            if result is not None:
                yield entry, result


def search(
    paths: Sequence[str],
    match_opts: MatchOptions,
    walk_opts: WalkOptions,
    out_opts: OutputOptions,
    console: Console | None = None,
    warm: WarmTree | None = None,
    first_build: Callable[[str, int], bool] | None = None,
) -> int:
    """The CLI's search: prints rg's output for these options; returns rg's exit code.

    `console` defaults to this process's; a daemon passes its client's, and `warm`, its cache.
    `first_build`: see SearchRun.
    """

    if out_opts.max_count == 0:
        return 1  # as rg: -m0 searches nothing and reports nothing (not even a bad regex)
    console = console or Console.of_process()
    query = compile_query(match_opts)
    try:
        return _search_and_print(paths, query, walk_opts, out_opts, console, warm, first_build)
    finally:
        console.out.flush()


def _search_and_print(
    paths: Sequence[str],
    query: Query,
    walk_opts: WalkOptions,
    out_opts: OutputOptions,
    console: Console,
    warm: WarmTree | None,
    first_build: Callable[[str, int], bool] | None,
) -> int:
    from trigrep.printer import SearchStats, make_printer

    started = time.perf_counter_ns()
    out = console.out
    named = paths or (["-"] if console.stdin_readable else [])
    single_file = len(named) == 1 and (named[0] == "-" or not os.path.isdir(named[0]))
    with_filename = not single_file if out_opts.with_filename is None else out_opts.with_filename
    printer = make_printer(
        out, out_opts, with_filename=with_filename, is_tty=console.is_tty, env=console.env
    )
    # -q: a match makes the exit code 0 even after errors; the search stops at the first
    # one unless --json wants its summary of every file.
    quiet = out_opts.mode == "quiet"
    stops_at_a_match = quiet and not (out_opts.json or out_opts.stats)
    stats = (SearchStats(summary=out_opts.mode != "lines")
             if out_opts.stats and not out_opts.json else None)
    runs: list[SearchRun] = []
    line_buffered = console.is_tty if out_opts.line_buffered is None else out_opts.line_buffered
    for group in _around_stdin(named):
        if group is None:  # `-`: rg reads standard input as a stream, as it arrives
            from trigrep.stream import search_stdin

            result = search_stdin(sys.stdin.fileno(), query, out_opts, walk_opts.encoding,
                                  printer, out if line_buffered else None)
            if stats is not None:
                stats.add(result)
        else:
            run = SearchRun(group, query, walk_opts, out_opts, warm=warm,
                            on_warning=_warner(console, out_opts),
                            on_error=_reporter(console, out_opts), render=printer.file_format,
                            named_paths=named, first_build=first_build)
            runs.append(run)
            for entry, result in run.results():
                printer.file(entry.display, result)
                if out_opts.line_buffered:  # (a terminal gets a search's output at its end:
                    out.flush()  # searches are quick, and a daemon's client is sent less)
                if stats is not None:
                    stats.add(result)
                if stops_at_a_match and printer.matched:
                    break
        if stops_at_a_match and printer.matched:
            break
    printer.finish()
    if stats is not None:
        out.write(stats.render(printer.bytes_printed, time.perf_counter_ns() - started))
    errors = [message for run in runs for message in run.errors]
    if not named and runs[0].files_walked == 0:  # rg: only its implicit ./, errors or not
        if out_opts.messages:
            console.err.write(
                "trigrep: No files were searched, which means trigrep probably applied a "
                "filter you didn't expect.\n"
            )
        return 2
    if errors and not (quiet and printer.matched):
        return 2
    return 0 if printer.matched else 1


def _around_stdin(paths: Sequence[str]) -> Iterator[list[str] | None]:
    """`paths` in runs between the `-`s (None for each `-`); one empty run for no path."""
    run: list[str] = []
    for path in paths:
        if path != "-":
            run.append(path)
            continue
        if run:
            yield run
            run = []
        yield None
    if run or not paths:
        yield run


def _warn(message: str) -> None:
    sys.stderr.write(f"trigrep: {message}\n")


def _warner(console: Console, out_opts: OutputOptions) -> WarningHandler:
    """How the walk's warnings (errors in ignore files) are printed: not at all with
    --no-messages, nor with --no-ignore-messages unless they fail the search, as rg."""
    def warn(message: str, fails: bool) -> None:
        if out_opts.messages and (out_opts.ignore_messages or fails):
            console.err.write(f"trigrep: {message}\n")

    return warn


def _reporter(console: Console, out_opts: OutputOptions) -> Callable[[str], None]:
    """How errors (missing paths, unreadable files) are printed: as they happen, as rg does
    (so among the walk's warnings, in its order); not at all with --no-messages."""

    def report(message: str) -> None:
        if out_opts.messages and message != REPORTED:  # (that one was warned of)
            console.err.write(f"trigrep: {message}\n")

    return report


def list_files(
    paths: Sequence[str],
    walk_opts: WalkOptions,
    out_opts: OutputOptions,
    console: Console | None = None,
    warm: WarmTree | None = None,
) -> int:
    """`--files`: the files that would be searched, one per line (or each ending in a NUL
    with --null), as rg's summary printers print paths (colours, links, --path-separator);
    nothing with -q; errors unreported with --no-messages."""
    from trigrep.printer import SummaryFormat, use_color

    console = console or Console.of_process()
    form = SummaryFormat(out_opts, with_filename=True, color=use_color(
        out_opts.color, console.is_tty, console.env))
    errors: list[str] = []
    report = _reporter(console, out_opts)

    def on_error(message: str) -> None:
        errors.append(message)
        report(message)

    def listed() -> Iterator[str]:
        for group in _around_stdin(paths):
            if group is None:
                yield "<stdin>"  # `-`, as rg lists it
                continue
            entries = warm.entries(group, walk_opts) if warm is not None else None
            if entries is None:
                entries = walk(group, walk_opts, on_error=on_error,
                               on_warning=_warner(console, out_opts))
            yield from (entry.display for entry in entries)

    found = False
    try:
        for display in listed():
            if out_opts.mode != "quiet":
                console.out.write(form.path_line(display))
            found = True
    finally:
        console.out.flush()
    if errors and not (out_opts.mode == "quiet" and found):  # (-q: a file found is success)
        return 2
    return 0 if found else 1


def build(path: str, *, progress: bool, full: bool = False) -> int:
    """`trigrep index [--full]`: bring up to date (or rebuild) the index whose root holds
    `path`."""
    if not os.path.isdir(path):
        raise Error(f"{path}: not a directory")
    root = tree_root(path)
    with writing_index(root):
        build_at(root, progress=progress, full=full)
    return 0


@contextlib.contextmanager
def writing_index(root: str) -> Iterator[None]:
    """Report what fails writing in `root/.trigrep/` (a full disk, a read-only tree) in one
    line: the previous index, if any, stays."""
    index_dir = os.path.join(root, INDEX_DIR_NAME)
    try:
        yield
    except OSError as e:
        if _not_a_directory(root, e):
            raise Error(f"cannot index {root}: {index_dir} is not a directory (trigrep keeps "
                        "its index there: rename it to index this tree)") from None
        raise Error(f"cannot write the index in {index_dir}: {e.strerror or e}") from None


def _not_a_directory(root: str, error: OSError) -> bool:
    """Whether writing the index of `root` failed with `error` because `.trigrep` there is
    not a directory (a file of the user's)."""
    return error.errno in (errno.EEXIST, errno.ENOTDIR) and not os.path.isdir(
        os.path.join(root, INDEX_DIR_NAME))


def build_at(root: str, *, progress: bool, full: bool = False, wait: bool = True) -> None:
    """Index the files rg would search under `root` (its default walk) into `root/.trigrep`:
    an incremental update of a valid index, else (or when `full`) a full build. Without
    `wait`, IndexBusy when another writer is at work."""
    from trigrep.index.build import PathOrdered
    from trigrep.index.update import update_index
    from trigrep.progress import ProgressBar

    root = os.path.abspath(root)

    def entries() -> Iterator[IndexEntry]:  # walked as the build goes
        for entry in walk([root], WalkOptions(), path_order=True):
            try:
                st = entry.stat()
            except OSError:
                continue  # gone since it was listed (a temporary file): as if never walked
            yield IndexEntry.of(relative_path(entry.path, root), entry.path, st)

    with ProgressBar(enabled=progress) as bar:
        update_index(root, PathOrdered(entries()), progress=bar.update, full=full, wait=wait)


def print_stats(path: str, *, as_json: bool) -> int:
    """`trigrep stats`: the index's statistics as text or JSON."""
    import json

    if not os.path.exists(path):
        raise Error(f"{path}: No such file or directory")
    root = find_index_root(path)
    if root is None:
        raise Error(f"no index found at or above {path} (run 'trigrep index')")
    stats = IndexReader.open(root).stats()
    if as_json:
        sys.stdout.write(json.dumps(stats._asdict()) + "\n")
    else:
        for key, value in stats._asdict().items():
            sys.stdout.write(f"{key:>14}: {value}\n")
    return 0

