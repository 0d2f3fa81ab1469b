"""Searches spread over worker processes print exactly what rg prints, in rg's order.

The batch sizes are shrunk so that a small tree goes through the workers in many batches,
with files the index rules out (and, in summary modes, reports) in between.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RG, isolated_env, normalise_json, run
from trigrep import engine, parallel
from trigrep.console import Console
from trigrep.flags import parse_search_flags
from trigrep.index import IndexReader
from trigrep.options import WalkOptions
from trigrep.parallel import SearchPool
from trigrep.walk import FileEntry

ARGS = [
    ["needle"],
    ["-n", "-C1", "needle"],
    ["--heading", "needle"],
    ["--heading", "-A1", "needle|hay 3"],
    ["--color", "always", "-n", "needle|hay"],
    ["--color", "always", "--heading", "-C1", "needle"],
    ["-c", "e"],
    ["--count-matches", "needle|hay"],
    ["-l", "needle"],
    ["--files-without-match", "needle"],
    ["--json", "needle"],
    ["-v", "-c", "needle"],
    ["-q", "needle"],
    ["-m1", "-o", "needle|hay"],
    [r"\p{Greek}"],
    ["zzz_nowhere"],
]


def _tree(root: Path) -> None:
    for i in range(60):
        directory = root / f"d{i % 7}"
        directory.mkdir(exist_ok=True)
        body = b"".join(
            b"needle %d\n" % j if (i * j) % 5 == 0 else b"hay %d\n" % j for j in range(i % 9)
        )
        if i % 11 == 0:
            body += "\u03b1\u03b2\n".encode()
        if i % 13 == 0:
            body += b"needle\0binary\n"
        (directory / f"f{i:02d}.txt").write_bytes(body)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "tree"
    root.mkdir()
    _tree(root)
    monkeypatch.chdir(root)
    for name in ("HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))
    monkeypatch.setattr(parallel, "INLINE_FILES", 3)
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 3)
    monkeypatch.setattr(parallel, "BATCH_FILES", 2)
    monkeypatch.setattr(parallel, "BATCH_FILES_MAX", 4)
    engine.build(str(root), progress=False)
    # Files edited since the build are searched directly, in the same batches.
    for name in ("d1/f08.txt", "d3/f24.txt"):
        (root / name).write_bytes(b"needle edited\n")
    yield root


class _Warm:
    """The daemon's side of a search (a pool of its own), without the rest of the daemon."""

    def __init__(self, root: Path, pool: SearchPool) -> None:
        self._reader = IndexReader.open(str(root))
        self._pool = pool

    def entries(self, paths: list[str], opts: WalkOptions) -> None:
        return None

    def reader(self) -> IndexReader:
        return self._reader

    def refresh_index(self, root: str) -> None:
        pass

    def search_pool(self) -> SearchPool:
        return self._pool

    def indexed_ids(self, entries: list[object], reader: IndexReader) -> None:
        raise AssertionError("entries() never returns a cached walk here")

    def index_damaged(self, reader: IndexReader, damage: Exception) -> None:
        raise AssertionError("the index is sound here")


def _search(args: list[str], warm: _Warm | None = None) -> tuple[bytes, int]:
    match_opts, out_opts = parse_search_flags(args)
    out = io.BytesIO()
    console = Console(out, io.StringIO(), is_tty=False)
    code = engine.search([], match_opts, WalkOptions(), out_opts, console, warm)
    return out.getvalue(), code


def _rg(args: list[str], root: Path) -> tuple[bytes, int]:
    got = run([RG, "--sort", "path", *args], root, isolated_env(Path(os.environ["HOME"])))
    return got.out, got.code


@pytest.mark.parametrize("args", ARGS, ids=" ".join)
def test_forked_workers_print_what_rg_prints(tree: Path, args: list[str]) -> None:
    out, code = _search(args)
    want_out, want_code = _rg(args, tree)
    assert (normalise_json(out), code) == (normalise_json(want_out), want_code)


def test_a_shared_fork_server_pool_serves_many_searches(tree: Path) -> None:
    pool = SearchPool("forkserver", workers=2)
    try:
        warm = _Warm(tree, pool)
        for args in ARGS:
            out, code = _search(args, warm)
            want_out, want_code = _rg(args, tree)
            assert (normalise_json(out), code) == (normalise_json(want_out), want_code), args
    finally:
        pool.close()


@pytest.mark.parametrize(
    ("args", "misses_kept"),
    [(["needle"], False), (["-c", "needle"], False), (["-l", "needle"], False),
     (["--json", "needle"], True), (["--files-without-match", "needle"], True)],
)
def test_workers_ship_back_only_files_that_print_something(
    tree: Path, args: list[str], misses_kept: bool
) -> None:
    """A file without a match prints nothing unless --json or --files-without-match reports
    it: then a worker returns it, otherwise nothing for it (an error always comes back)."""
    import pickle

    from trigrep.parallel import FileSearch

    match_opts, out_opts = parse_search_flags(args)
    search = FileSearch.of(engine.compile_query(match_opts), out_opts, False, ["."])
    names = ["d2/f09.txt", "d1/f08.txt", "missing.txt"]  # empty, a needle, no such file
    shipped = [parallel._shipped(FileEntry(name, str(tree / name), False)) for name in names]
    miss, hit, missing = parallel._search_batch(pickle.dumps(search), shipped)
    assert (miss is not None) == misses_kept
    assert hit is not None and hit[0] is not None and hit[0].matched_lines == 1
    assert missing is not None and missing[0] is None and "missing.txt" in missing[1]


@pytest.mark.parametrize(
    "args",
    [["needle"], ["-C1", "needle"], ["--heading", "needle"], ["-c", "needle"], ["-l", "needle"],
     ["-q", "needle"], ["--json", "needle"], ["--json", "-C1", "-c", "needle"]],
    ids=" ".join,
)
def test_a_batch_rendered_in_a_worker_comes_back_joined(tree: Path, args: list[str]) -> None:
    """A worker joins consecutive files it rendered (their lines, or their summary lines;
    --json's messages, each file's `end` too, with what they add to the summary) into the
    first one's result, with the breaks between them that the printer would write; files
    without a match do not end the join, an unreadable file does. Printed, the batch is what
    printing each file gives (--json's times aside), its summary too."""
    import pickle

    from trigrep.parallel import FileSearch
    from trigrep.printer import make_printer

    match_opts, out_opts = parse_search_flags(args)
    query = engine.compile_query(match_opts)
    printer = make_printer(io.BytesIO(), out_opts, with_filename=True, is_tty=False, env={})
    search = FileSearch.of(query, out_opts, False, ["."], printer.file_format)
    names = ["d0/f07.txt", "d1/f08.txt", "d2/f09.txt", "d3/f10.txt", "missing.txt",
             "d4/f11.txt", "d5/f12.txt"]
    shipped = [parallel._shipped(FileEntry(name, str(tree / name), False)) for name in names]
    outcomes = parallel._search_batch(pickle.dumps(search), shipped)
    assert [o is not None for o in outcomes] == [True, False, False, False, True, True, False]

    def printed(results: list[tuple[str, object]]) -> bytes:
        out = io.BytesIO()
        printer = make_printer(out, out_opts, with_filename=True, is_tty=False, env={})
        for name, result in results:
            printer.file(name, result)
        printer.finish()
        return normalise_json(out.getvalue())

    one_by_one = [(name, search(FileEntry(name, str(tree / name), False))[0]) for name in names]
    joined = [(name, o[0]) for name, o in zip(names, outcomes, strict=True) if o is not None]
    assert printed([r for r in joined if r[1] is not None]) == printed(
        [r for r in one_by_one if r[1] is not None])


def test_joined_runs_print_as_their_files_do() -> None:
    """Whatever came before, a run of rendered files joined into one prints as the files
    printed one by one: files with lines, a binary note alone, or a match that printed nothing
    (-U -o with only empty matches)."""
    import itertools

    from trigrep.printer import make_printer
    from trigrep.searcher import FileResult, Rendered

    kinds = {
        "lines": Rendered(b"a:x\n", True, True),
        "note": Rendered(b"a: binary file matches\n", True, False),
        "nothing": Rendered(b"", True, False),
    }
    opts = parse_search_flags(["-C1", "x"])[1]

    def printed(renders: list[Rendered]) -> bytes:
        out = io.BytesIO()
        printer = make_printer(out, opts, with_filename=True, is_tty=False, env={})
        for rendered in renders:
            printer.file("a", FileResult(rendered=rendered))
        return out.getvalue()

    file_format = make_printer(io.BytesIO(), opts, with_filename=True, is_tty=False,
                               env={}).file_format
    for before in itertools.product(kinds.values(), repeat=2):
        for files in itertools.product(kinds.values(), repeat=3):
            joined = file_format.joined(files[0], list(files[1:]))
            assert printed([*before, joined]) == printed([*before, *files]), (before, files)


def test_workers_are_never_forked_while_a_thread_starts_a_program(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fork inside another thread's Popen (between its fork and exec) hands the workers
    the pipe Popen waits on: the API's index updater then hung until the pool closed, and
    the API's close() waited for the updater. Popen and pool forks take turns."""
    import multiprocessing
    import subprocess
    import threading
    import time

    from trigrep import spawn

    inside_popen = threading.Event()
    overlapped = []

    class SlowPopen:  # a Popen whose fork-to-exec window lasts 0.3 s
        def __init__(self, *args: object, **kwargs: object) -> None:
            inside_popen.set()
            time.sleep(0.3)
            inside_popen.clear()

    real_context = multiprocessing.get_context

    class Context:
        def __init__(self, method: str) -> None:
            self._context = real_context(method)

        def Pipe(self) -> object:
            return self._context.Pipe()

        def get_start_method(self) -> str:
            return self._context.get_start_method()

        def Process(self, *args: object, **kwargs: object) -> object:
            overlapped.append(inside_popen.is_set())
            return self._context.Process(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", SlowPopen)
    monkeypatch.setattr(multiprocessing, "get_context", Context)
    starter = threading.Thread(target=spawn.popen, args=(["true"],))
    starter.start()
    while not inside_popen.is_set():
        time.sleep(0.001)
    pool = SearchPool("fork", workers=1)
    pool.close()
    starter.join()
    assert overlapped == [False]


@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_searches_take_turns_with_the_workers(tree: Path, workers: int) -> None:
    """Searches from several threads (a daemon's clients) share a pool smaller than their
    number: each waits for a worker, or gets it back in turn, and prints what rg prints. With
    two, a batch whose turn is a worker another search holds goes to another one."""
    import threading

    pool = SearchPool("forkserver", workers=workers)
    wanted = {tuple(args): _rg(args, tree) for args in ARGS}
    failures: list[object] = []

    def client(offset: int) -> None:
        warm = _Warm(tree, pool)
        try:
            for args in ARGS[offset:] + ARGS[:offset]:
                out, code = _search(args, warm)
                want_out, want_code = wanted[tuple(args)]
                if (normalise_json(out), code) != (normalise_json(want_out), want_code):
                    failures.append(args)
        except Exception as e:
            failures.append(e)

    try:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        pool.close()
    assert failures == []


def test_answers_to_a_search_that_stopped_early_go_to_nobody(tree: Path) -> None:
    """A search that stops (-q, -m, a closed client) gives its worker back with batches
    still unanswered: the next search that leases it gets only its own answers."""
    import pickle

    from trigrep.parallel import FileSearch

    def pickled(args: list[str]) -> bytes:
        match_opts, out_opts = parse_search_flags(args)
        return pickle.dumps(FileSearch.of(engine.compile_query(match_opts), out_opts, False,
                                          ["."]))

    entry = parallel._shipped(FileEntry("d1/f08.txt", str(tree / "d1/f08.txt"), False))
    pool = SearchPool("fork", workers=1)
    try:
        worker = pool.lease()
        assert worker is not None
        worker.send(pickled(["zzz_nowhere"]), [entry], False)
        worker.send(pickled(["zzz_nowhere"]), [entry], False)
        pool.release(worker, unanswered=2)
        again = pool.lease()
        assert again is worker and worker.stale == 0
        worker.send(pickled(["needle"]), [entry], False)
        [(result, error)] = worker.receive()
        assert error is None and result.matched_lines == 1
    finally:
        pool.close()


def test_a_search_whose_worker_is_killed_prints_what_rg_prints(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed (the OOM killer) while a search holds it, before it took a batch or
    with batches unanswered: the search searches those batches itself and prints what rg
    prints, nothing twice. One killed while idle is replaced when leased (a search sending
    it a batch would lose one). Either way the pool starts another in its place."""
    import signal

    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)

    def killed(worker: parallel._Worker) -> None:
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join()

    pool = SearchPool("forkserver", workers=1)
    lease, send = pool.lease, parallel._Worker.send
    expected = _rg(["e"], tree)

    def leased_then_killed(timeout: float = 0, home: parallel._Worker | None = None
                           ) -> parallel._Worker | None:
        worker = lease(timeout, home)
        if worker is not None:
            killed(worker)
        return worker

    def killed_once_sent(worker: parallel._Worker, *args: object) -> None:
        send(worker, *args)  # type: ignore[arg-type]
        if len(sends) == 1:
            killed(worker)
        sends.append(worker)

    try:
        warm = _Warm(tree, pool)
        idle = pool._all[0]
        killed(idle)
        assert _search(["e"], warm) == expected
        assert pool._all[0] is not idle
        pool.lease = leased_then_killed  # type: ignore[method-assign]
        assert _search(["e"], warm) == expected
        del pool.lease
        sends: list[parallel._Worker] = []
        monkeypatch.setattr(parallel._Worker, "send", killed_once_sent)
        assert _search(["e"], warm) == expected
        assert len(sends) > 2 and len(set(sends)) == 2  # (batches sent after to a new one)
        monkeypatch.setattr(parallel._Worker, "send", send)
        assert _search(["e"], warm) == expected
    finally:
        pool.close()


def test_a_search_whose_reader_stopped_does_not_block_the_others(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon's search whose client stopped reading (`| less`) keeps its leased worker;
    another search waits a little for one, then searches its batches itself."""
    import threading

    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)
    pool = SearchPool("fork", workers=1)
    try:
        warm = _Warm(tree, pool)
        match_opts, out_opts = parse_search_flags(["e"])
        stuck = engine.SearchRun([], engine.compile_query(match_opts), WalkOptions(), out_opts,
                                 warm=warm).results()
        for _ in range(3):  # past the inline files: the worker is leased, its reader stopped
            next(stuck)
        assert pool._idle == []
        got: list[tuple[bytes, int]] = []
        other = threading.Thread(target=lambda: got.append(_search(["needle"], warm)))
        other.start()
        other.join(timeout=60)
        assert got == [_rg(["needle"], tree)]
        stuck.close()
        assert len(pool._idle) == 1
    finally:
        pool.close()


def test_a_search_too_big_to_queue_sends_one_batch_at_a_time(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's second batch must fit in its pipe while it may be blocked writing a big
    answer: a search whose pickled query is big (a long -f file) sends it one batch at a
    time, and still prints what rg prints."""
    words = [f"word{i:05d}x" for i in range(4000)]
    patterns = tree.parent / "patterns.txt"
    patterns.write_text("\n".join([*words, "needle"]) + "\n")
    monkeypatch.setattr(parallel, "SMALL_SEARCH_BYTES", 1024)
    sent: list[int] = []
    real_send = parallel._Dispatch._send

    def send(self: parallel._Dispatch, worker: object, batch: object) -> None:
        sent.append(self.per_worker)
        real_send(self, worker, batch)

    monkeypatch.setattr(parallel._Dispatch, "_send", send)
    pool = SearchPool("forkserver", workers=2)
    try:
        args = ["-f", str(patterns), "-n"]
        assert _search(args, _Warm(tree, pool)) == _rg(args, tree)
    finally:
        pool.close()
    assert sent and set(sent) == {1}


def test_line_events_survive_pickling() -> None:
    """Workers ship events pickled as their constructor's arguments (LineEvent.__reduce__)."""
    import pickle

    from trigrep.searcher import LineEvent

    event = LineEvent(False, 7, 120, b"a\xffb\n", [(0, 1), (2, 3)])
    assert pickle.loads(pickle.dumps(event, pickle.HIGHEST_PROTOCOL)) == event


def _stamp(path: Path) -> parallel.CacheStamp:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def test_the_content_cache_keeps_a_file_on_its_second_read_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file read once is not kept (a scan would evict everything for nothing); read again
    with the same stat it is, and served from then on until its stat changes: an edit keeping
    size and mtime (its ctime moves) is read afresh, and kept only once read twice again.
    The offset of the file's first NUL comes with it."""
    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    path = tmp_path / "f.c"
    path.write_bytes(b"old content\n")
    cache = parallel._ContentCache(1 << 20)
    stamp = _stamp(path)
    assert cache.read(str(path), stamp) is None
    assert cache.files == {}
    kept, nul = cache.read(str(path), stamp)
    assert (kept, nul) == (b"old content\n", -1) and cache.used == len(kept)
    assert cache.read(str(path), stamp) == (kept, -1)
    st = path.stat()
    path.write_bytes(b"new\0content\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    edited = _stamp(path)
    assert edited != stamp and edited[:2] == stamp[:2]
    assert cache.read(str(path), edited) is None
    assert cache.files == {} and cache.used == 0
    assert cache.read(str(path), edited) == (b"new\0content\n", 3)
    assert cache.files[str(path)] == (edited, b"new\0content\n", 3)


@pytest.mark.parametrize("args", [["needle"], ["-c", "needle"], ["-l", "binary"],
                                  ["--binary", "needle"], ["-a", "needle"]], ids=" ".join)
def test_a_kept_file_searches_as_a_file_read(
        tree: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """A kept file comes with the offset of its first NUL, which its search takes instead of
    looking for it: binary or not, its result is that of the file read."""
    from trigrep.parallel import FileSearch

    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    monkeypatch.setattr(parallel, "_cache", parallel._ContentCache(1 << 20))
    match_opts, out_opts = parse_search_flags(args)
    search = FileSearch.of(engine.compile_query(match_opts), out_opts, False, ["."])
    for name in ("d0/f00.txt", "d6/f13.txt", "d1/f01.txt", "d5/f40.txt"):  # NULs in 2
        entry = FileEntry(name, str(tree / name), False)
        read, error = search(entry)
        assert read is not None and error is None
        for _ in range(3):  # read, read and kept, kept
            kept, error = search(entry, entry.stat().st_size, _stamp(tree / name))
            assert kept is not None and error is None
            assert kept.__dict__ == read.__dict__, name
    assert len(parallel._cache.files) == 4


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.integers(0, 2600), min_size=0, max_size=40),
       spans=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 1 << 16)), max_size=8))
def test_a_line_indexed_buffer_counts_its_newlines_as_bytes_count(
        lines: list[int], spans: list[tuple[int, int]]) -> None:
    """A kept file's newlines, counted from the counts it keeps per block (see
    searcher.LineIndexed), are those a count finds: for any span, across and within blocks,
    and up to its end (lines of 0-2,600 bytes, some ending exactly at a block's end)."""
    from trigrep.searcher import NEWLINE_BLOCK, LineIndexed, _newlines

    data = b"".join(b"x" * n + b"\n" for n in lines) + b"tail"
    indexed = LineIndexed(data)
    ends = [0, len(data), NEWLINE_BLOCK, NEWLINE_BLOCK - 1, NEWLINE_BLOCK + 1]
    for a, b in [*spans, *((e, f) for e in ends for f in ends)]:
        a, b = sorted((min(a, len(data)), min(b, len(data))))
        assert _newlines(indexed, a, b, b"\n") == data.count(b"\n", a, b), (a, b)
        assert indexed.newlines_before(b) == data.count(b"\n", 0, b)
    assert indexed.blocks is not None


@pytest.mark.parametrize("args", [
    ["-n", "needle"], ["-n", "--color", "always", "needle"], ["--json", "needle"],
    ["-n", "-C1", "needle"], ["-v", "-n", "-m3", "needle"], ["-n", "-o", "needle|hay"],
    ["-c", "needle"], ["--null-data", "-n", "needle"], ["-n", "-w", "needle"],
], ids=" ".join)
@pytest.mark.parametrize("render", [True, False], ids=["printed", "api"])
def test_a_kept_file_numbers_its_lines_as_a_file_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], render: bool) -> None:
    """The line numbers of a kept file's matches, far apart, come from the newlines it
    counted per block once (see searcher.LineIndexed): its results, printed or the Python
    API's (events, made columns by the batch), are those of the file read, on its first
    search and the ones after."""
    from trigrep.printer import make_printer
    from trigrep.searcher import NEWLINE_BLOCK

    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    monkeypatch.setattr(parallel, "_cache", parallel._ContentCache(1 << 22))
    parallel._cache.keeps_first_reads = True
    path = tmp_path / "far.c"
    gaps = [0, 1, NEWLINE_BLOCK - 7, 3 * NEWLINE_BLOCK, 40, 9 * NEWLINE_BLOCK + 5, 2]
    path.write_bytes(b"".join(
        b"hay %d\n" % i + b"y" * gap + b"\n" + b"needle %d\n" % i
        for i, gap in enumerate(gaps * 3)))
    match_opts, out_opts = parse_search_flags(args)
    query = engine.compile_query(match_opts)
    printer = make_printer(io.BytesIO(), out_opts, with_filename=True, is_tty=False, env={})
    search = parallel.FileSearch.of(query, out_opts, False, ["."],
                                    printer.file_format if render else None)
    entry = FileEntry("far.c", str(path), False)
    read, error = search(entry)
    assert read is not None and error is None
    for _ in range(3):
        kept, error = search(entry, entry.stat().st_size, _stamp(path))
        assert kept is not None and error is None
        assert kept.__dict__ == read.__dict__
    assert type(parallel._cache.files[str(path)][1]).__name__ == "LineIndexed"


def test_the_content_cache_admits_nothing_from_repeated_scans(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scans of more files than the cache remembers first reads of, repeated, keep none of
    them (nor evict what was kept); files read twice in between are kept."""
    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    monkeypatch.setattr(parallel._ContentCache, "SEEN_MAX", 8)
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"f{i:02}")
        paths[-1].write_bytes(b"x" * i)
    stamps = [(str(p), _stamp(p)) for p in paths]
    cache = parallel._ContentCache(1 << 20)
    for _ in range(2):
        cache.read(*stamps[0])
    for _ in range(3):
        assert all(cache.read(*named) is None for named in stamps[1:])
        assert list(cache.files) == [stamps[0][0]]
        assert len(cache.seen) == 8


def test_the_first_bytes_of_a_search_are_kept_on_their_first_read(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search's first FIRST_READS_KEPT bytes are kept on their first read (a selective
    search run again then finds them all kept), the rest on their second; and a search run
    again sends its first batches to the workers it sent them to before, which kept them."""
    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    cache = parallel._ContentCache(1 << 20)
    cache.keeps_first_reads = True
    path = tree / "d0/f07.txt"
    assert cache.read(str(path), _stamp(path)) == (path.read_bytes(), -1)
    assert list(cache.files) == [str(path)]

    monkeypatch.setattr(parallel, "FIRST_READS_KEPT", 1)  # the first batch only
    pool = SearchPool("fork", workers=2, keeps_files=True)
    probe = parallel._shipped(FileEntry("d0/f07.txt", str(path), False))
    try:
        kept: list[list[list[str]]] = []
        for _ in range(2):
            assert _search(["needle"], _Warm(tree, pool)) == _rg(["needle"], tree)
            kept.append([])
            for worker in pool._all:
                worker.send(pickle.dumps(_KeptFiles()), [probe], False)
                [(files, _)] = worker.receive()
                kept[-1].append(files)
        first, again = kept
        assert [len(files) for files in first] == [parallel.BATCH_FILES, 0]
        assert all(set(f) <= set(a) for f, a in zip(first, again, strict=True))
    finally:
        pool.close()


def test_a_search_run_again_sends_each_file_to_the_worker_that_kept_it(
        tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search's batches go to the pool's workers in turn: run a third time, with every
    file kept on its second read, each file goes to a worker that kept it, and no file is
    kept by both (as they went to whichever worker had room first, a file read twice by
    two workers was kept by neither)."""
    import marshal

    monkeypatch.setattr(parallel, "CACHE_RACY_NS", 0)
    monkeypatch.setattr(parallel, "FIRST_READS_KEPT", 0)
    pool = SearchPool("fork", workers=2, keeps_files=True)
    sent: dict[parallel._Worker, list[str]] = {worker: [] for worker in pool._all}
    real_send = parallel._Worker.send

    def send(worker: parallel._Worker, search: bytes, shipped: list[bytes],
             keep_first_reads: bool) -> None:
        sent[worker] += [marshal.loads(named)[1] for named in shipped]
        real_send(worker, search, shipped, keep_first_reads)

    try:
        for _ in range(2):
            assert _search(["needle"], _Warm(tree, pool)) == _rg(["needle"], tree)
        monkeypatch.setattr(parallel._Worker, "send", send)
        assert _search(["needle"], _Warm(tree, pool)) == _rg(["needle"], tree)
        searched = {worker: set(paths) for worker, paths in sent.items()}
        probe = parallel._shipped(FileEntry("d0/f07.txt", str(tree / "d0/f07.txt"), False))
        kept = {}
        for worker in pool._all:
            worker.send(pickle.dumps(_KeptFiles()), [probe], False)
            [(files, _)] = worker.receive()
            kept[worker] = set(files)
        assert all(searched.values())
        assert all(searched[worker] <= kept[worker] for worker in pool._all)
        assert not set.intersection(*kept.values())
    finally:
        pool.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies")
def test_search_workers_run_as_batch_jobs(tree: Path) -> None:
    """The workers, woken by each batch a search sends, do not preempt the search's thread
    while it sends the next (see parallel._batch_scheduled); they still search right."""
    allowed = subprocess.run([sys.executable, "-c", "import os; os.sched_setscheduler("
                              "0, os.SCHED_BATCH, os.sched_param(0))"], capture_output=True)
    if allowed.returncode:
        pytest.skip("this sandbox forbids SCHED_BATCH (the workers run as they are)")
    pool = SearchPool("forkserver", workers=2)
    try:
        assert _search(["needle"], _Warm(tree, pool)) == _rg(["needle"], tree)
        assert {os.sched_getscheduler(worker.process.pid) for worker in pool._all} == {
            os.SCHED_BATCH}
    finally:
        pool.close()


class _KeptFiles:
    """A FileSearch stand-in (a worker unpickles and calls what it is sent) whose batch
    answers with the paths its worker's cache keeps."""

    bare = misses_print_nothing = False
    render = None

    def __call__(self, *entry: object) -> tuple[list[str], None]:
        assert parallel._cache is not None
        return sorted(parallel._cache.files), None


def test_a_long_lived_forked_pool_has_numpy_in_its_workers(tmp_path: Path) -> None:
    """A watched Index forks its workers before its reader imports numpy: they must have it
    all the same, as a fork server's do, or their line numbers far into files are counted
    without it (see searcher._newlines), 6x slower."""
    script = tmp_path / "probe.py"
    script.write_text(
        "import marshal, pickle, sys\n"
        "from trigrep.parallel import SharedSearchPool\n"
        "assert 'numpy' not in sys.modules\n"
        "class Probe:\n"
        "    bare = misses_print_nothing = False\n"
        "    render = None\n"
        "    def __call__(self, *entry):\n"
        "        return 'numpy' in sys.modules, None\n"
        "if __name__ == '__main__':\n"
        "    shared = SharedSearchPool('fork')\n"
        "    worker = shared.get().lease()\n"
        "    worker.send(pickle.dumps(Probe()), [marshal.dumps(('f', 'f', False, None, None))],"
        " False)\n"
        "    print(worker.receive())\n"
        "    shared.close()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env=isolated_env(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (0, "[(True, None)]\n", "")
