#!/usr/bin/env python3
"""Benchmark trigrep against ripgrep 14.1.0 and codesearch on the Linux 6.1 source tree.

Run from the repository root: `.venv/bin/python bench/run.py [--quick] [--repeat N]
[--only build|queries|daemon|growth]`. Prints one markdown table. Everything heavy (corpus, peers,
hardlinked subtrees, indexes, diffs) lives in ${TRIGREP_BENCH_DIR:-~/.cache/trigrep-bench} and
is reused by the next run.

Timings are medians of fresh processes on a warm page cache; peers of one query run interleaved
in the same loop so machine noise hits them alike: read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("TRIGREP_BENCH_DIR") or Path.home() / ".cache" / "trigrep-bench")
SHARED_CORPUS = Path("/work/corpus/linux-source-6.1")  # another helper may have unpacked it here
KERNEL_PACKAGE = "linux-source-6.1"
RG_VERSION = "14.1.0"
APT = ("apt-get", "-o", "DPkg::Lock::Timeout=600")
BUILD_TIMEOUT_S = 3600.0
GROWTH_SHARES = (8, 4, 2, 1)  # 1/8, 1/4, 1/2 and the whole tree
QUICK_STRIDE = 64  # --quick benchmarks every 64th file of the kernel
DAEMON_START_TIMEOUT_S = 600.0  # `trigrep serve --detach` returns once the first walk is done
LATENCY_TRIALS = 10  # write-to-visible trials per peer and kind of change
VISIBLE_TIMEOUT_S = 30.0  # a change not found by then is a failure
BURST_FILES = 10_000  # new files written at once, as a switch of git branches would
BURST_TIMEOUT_S = 600.0
NO_DAEMON = "TRIGREP_NO_DAEMON"  # set: the CLI searches by itself even when a daemon serves


# ---------------------------------------------------------------------------------------------
# The query set


@dataclass(frozen=True)
class Query:
    """One search: the argv given to both rg and trigrep, csearch's closest equivalent and the
    keyword options of `trigrep.Index.search` (the pattern is the argv's last word)."""

    args: tuple[str, ...]
    csearch: tuple[str, ...] | None  # None: csearch has no equivalent, its cell stays empty
    api: Mapping[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return shlex.join(self.args)


QUERIES = (
    Query(("PM_RESUME",), ("PM_RESUME",)),
    Query(("-i", "PM_RESUME"), ("-i", "PM_RESUME"), {"ignore_case": True}),
    Query(("[A-Z]+_RESUME",), ("[A-Z]+_RESUME",)),
    Query(("spin_lock_irqsave|mutex_lock_nested|rcu_read_lock_bh|kmem_cache_alloc_node",),
          ("spin_lock_irqsave|mutex_lock_nested|rcu_read_lock_bh|kmem_cache_alloc_node",)),
    Query(("-w", "kmalloc_array"), (r"\bkmalloc_array\b",), {"word_regexp": True}),
    Query(("-F", "ops->open("), (re.escape("ops->open("),), {"fixed_strings": True}),
    Query((r"\w{5}\s+\w{5}\s+\w{5}\s+\w{5}\s+\w{5}",),
          (r"\w{5}\s+\w{5}\s+\w{5}\s+\w{5}\s+\w{5}",)),
    Query((r"\p{Greek}",), (r"\p{Greek}",)),
    Query(("NO_SUCH_IDENTIFIER_XYZZY",), ("NO_SUCH_IDENTIFIER_XYZZY",)),
    Query(("-l", "EXPORT_SYMBOL_GPL"), ("-l", "EXPORT_SYMBOL_GPL"),
          {"files_with_matches": True}),
    Query(("-c", "spin_lock_irqsave"), ("-c", "spin_lock_irqsave"), {"count": True}),
    Query(("-g", "*.h", "static inline"), ("-f", r"\.h$", "static inline"), {"glob": ["*.h"]}),
    Query(("-t", "c", "copy_from_user"), ("-f", r"\.[chH]$", "copy_from_user"),
          {"type": ["c"]}),
    Query(("-C2", r"BUG_ON\(1\)"), None, {"context": 2}),
    Query(("--json", "PM_RESUME"), None),  # the API yields objects: its closest is a plain search
    # What a terminal shows (rg's defaults there): numbered lines under headings, matches painted
    Query(("-n", "--heading", "--color", "always", "-w", "kmalloc_array"), None,
          {"word_regexp": True}),
    # Output-heavy: the time goes into the lines printed (a million) and the matches counted
    # (csearch counts no matches: its closest is -c, as the API's)
    Query(("-n", "return"), ("-n", "return")),
    Query(("--count-matches", "static"), ("-c", "static"), {"count": True}),
)
GROWTH_QUERIES = (QUERIES[0], Query(("-c", "static"), ("-c", "static"), {"count": True}))


# ---------------------------------------------------------------------------------------------
# Running processes: wall time, exit code, stdout and the peak RSS of the whole process tree


@dataclass
class Run:
    """One finished command. `error` is set when it could not run or was killed."""

    seconds: float
    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""
    peak_rss_kib: int = 0
    error: str | None = None
    timed_out: bool = False


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, resident pages) for every process /proc shows right now."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # fields from 3 (state) on
        table[int(entry.name)] = (int(fields[1]), int(fields[21]))
    return table


def tree_rss_kib(root: int, table: dict[int, tuple[int, int]]) -> int:
    """Summed RSS of `root` and all its descendants, because workers' memory counts too."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0))[1]
        todo.extend(children.get(pid, ()))
    return total * (os.sysconf("SC_PAGE_SIZE") // 1024)


class _TreeRssSampler(threading.Thread):
    """Polls the process tree's summed RSS; wait4's ru_maxrss only gives the largest process."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval_s = pid, interval_s
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval_s):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid, _process_table()))


def run_command(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout_s: float,
                sample_rss: bool = False) -> Run:
    """Run argv as a fresh process, killed after timeout_s; never raises for a failing or
    missing program."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            return Run(0.0, -1, error=f"{argv[0]}: {e.strerror}")
        sampler = _TreeRssSampler(proc.pid) if sample_rss else None
        if sampler:
            sampler.start()
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        killer = threading.Timer(timeout_s, expire)
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.done.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        run = Run(seconds, proc.returncode, out.read(), err.read(),
                  max(usage.ru_maxrss, sampler.peak_kib if sampler else 0))
    if expired.is_set():
        run.error, run.timed_out = f"timed out after {timeout_s:g} s", True
    elif run.returncode < 0:
        run.error = f"killed by signal {-run.returncode}"
    return run


def search_failed(run: Run) -> bool:
    """rg's convention: 0 matched, 1 nothing matched, anything else is an error.

    Python exits 1 on an uncaught exception too, so a traceback also counts as a failure.
    """
    return (run.error is not None or run.returncode not in (0, 1)
            or b"Traceback (most recent call last)" in run.stderr)


def failure_text(run: Run) -> str:
    """The first line of what went wrong, for the error log."""
    lines = run.stderr.decode(errors="replace").strip().splitlines()
    return run.error or (lines[-1] if lines else f"exit code {run.returncode}")


# ---------------------------------------------------------------------------------------------
# Setup: corpus, peers, subtrees. Idempotent; a lock keeps concurrent bench runs from racing.


@contextlib.contextmanager
def setup_lock() -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _unpacking_now() -> bool:
    """True while some tar or dpkg-deb runs: a shared corpus may be half unpacked."""
    for entry in os.scandir("/proc"):
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and Path(entry.path, "comm").read_text().strip() in (
                    "tar", "dpkg-deb", "xz"):
                return True
    return False


def _download_kernel(dest: Path) -> None:
    """apt-get download the source package, unpack it and untar the tarball inside into dest."""
    work = CACHE / "download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log(f"downloading {KERNEL_PACKAGE} (about 140 MB)")
    subprocess.run([*APT, "download", KERNEL_PACKAGE], cwd=work, check=True)
    (deb,) = work.glob("*.deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "pkg")], check=True)
    (tarball,) = (work / "pkg" / "usr" / "src").glob(f"{KERNEL_PACKAGE}.tar.*")
    log(f"unpacking {tarball.name}")
    subprocess.run(["tar", "-xf", str(tarball), "-C", str(work)], check=True)
    (work / KERNEL_PACKAGE).rename(dest)
    shutil.rmtree(work)


def ensure_corpus() -> Path:
    """The unpacked kernel tree: the cached one, else a link to the shared one, else download."""
    corpus = CACHE / KERNEL_PACKAGE
    with setup_lock():
        if corpus.exists():
            return corpus
        if (SHARED_CORPUS / "MAINTAINERS").exists():
            while _unpacking_now():
                log(f"waiting for an unpack to finish before reusing {SHARED_CORPUS}")
                time.sleep(10)
            corpus.symlink_to(SHARED_CORPUS)
        else:
            _download_kernel(corpus)
    return corpus


def ensure_codesearch() -> bool:
    """Installs Debian's codesearch if cindex is missing; False when that is impossible."""
    if shutil.which("cindex") and shutil.which("csearch"):
        return True
    log("installing codesearch")
    with setup_lock():
        ok = subprocess.run([*APT, "update"]).returncode == 0 and subprocess.run(
            [*APT, "install", "-y", "codesearch"]).returncode == 0
    return ok and shutil.which("cindex") is not None


def ensure_rg() -> str:
    """rg from the ripgrep wheel in this interpreter's environment, installed if missing."""
    rg = Path(sys.executable).parent / "rg"
    if not rg.exists():
        log(f"installing ripgrep=={RG_VERSION} into {sys.prefix}")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"ripgrep=={RG_VERSION}"],
                       check=True)
    return str(rg)


def trigrep_command() -> list[str]:
    """The installed entry point if there is one, else the module run from this checkout."""
    entry = Path(sys.executable).parent / "trigrep"
    return [str(entry)] if entry.exists() else [sys.executable, "-m", "trigrep.cli"]


def sample_paths(files: Sequence[str], stride: int) -> list[str]:
    """Every stride-th path of the sorted list: a subtree with the whole tree's mix of files."""
    return sorted(files)[::stride]


def _all_paths(root: Path) -> list[str]:
    """Every file and symlink under root, relative, symlinks to directories included."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        names = filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        paths.extend(os.path.relpath(os.path.join(dirpath, n), root) for n in names)
    return paths


def ensure_subtree(corpus: Path, stride: int) -> Path:
    """A hardlinked copy of every stride-th file of corpus (symlinks copied as symlinks).

    Even the whole tree is linked, so the .trigrep/ index written into it stays out of a
    corpus other people may share.
    """
    tree = CACHE / "trees" / f"{corpus.name}-every-{stride}"
    with setup_lock():
        if (tree.parent / f"{tree.name}.ready").exists():
            return tree
        log(f"hardlinking 1/{stride} of the corpus's files into {tree}")
        shutil.rmtree(tree, ignore_errors=True)
        source = corpus.resolve()
        for rel in sample_paths(_all_paths(source), stride):
            src, dst = source / rel, tree / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_symlink():
                dst.symlink_to(os.readlink(src))
            else:
                try:
                    os.link(src, dst)
                except OSError:  # another file system
                    shutil.copy2(src, dst)
        (tree.parent / f"{tree.name}.ready").touch()
    return tree


def tree_size(tree: Path) -> tuple[int, int]:
    """(files, bytes) of the regular files under tree, the index directory excluded."""
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != ".trigrep"]
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            files, size = files + 1, size + st.st_size
    return files, size


def path_bytes(path: Path) -> int:
    """Apparent size of a file, or of all files under a directory."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------
# Peers


def bench_env() -> dict[str, str]:
    """rg and trigrep isolated from user configuration, trigrep importable from this checkout.

    The trigrep CLI searches by itself here: only `Daemon.env` lets it use a daemon. Python
    runs as a user's shell runs it: with cached bytecode and buffered output, whatever this
    process's PYTHONDONTWRITEBYTECODE or PYTHONUNBUFFERED say.
    """
    home = CACHE / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RIPGREP_CONFIG_PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **{NO_DAEMON: "1"})
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p)
    return env


@dataclass
class Peers:
    """How to invoke each tool on a tree; a tool that is missing is None."""

    rg: str
    trigrep: list[str]
    has_codesearch: bool
    search_timeout_s: float
    env: dict[str, str] = field(default_factory=bench_env)

    def csearch_env(self, tree: Path) -> dict[str, str]:
        (CACHE / "csearchindex").mkdir(exist_ok=True)
        return {**self.env, "CSEARCHINDEX": str(CACHE / "csearchindex" / tree.name)}


class ApiSearcher:
    """trigrep's Python API with the index opened once and the tree watched
    (`Index(tree, watch=True)`), as a long-lived program would use it."""

    def __init__(self, tree: Path) -> None:
        import trigrep

        self.index = trigrep.Index(tree, watch=True)
        # Opens the reader, walks the tree and starts the watcher now, not in a timed search.
        sum(1 for _ in self.index.search("NO_SUCH_IDENTIFIER_XYZZY"))

    def search(self, query: Query) -> int:
        """Runs the query to its end, as a caller using every result would; returns the count."""
        return sum(1 for _ in self.index.search(query.args[-1], **query.api))


def open_api(tree: Path) -> ApiSearcher | None:
    """None while trigrep.Index does not exist or cannot open this tree's index."""
    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))
    try:
        return ApiSearcher(tree)
    except Exception as e:
        log(f"trigrep API unavailable: {type(e).__name__}: {e}")
        return None


def time_api(api: ApiSearcher, query: Query) -> Run:
    start = time.perf_counter()
    try:
        api.search(query)
    except Exception as e:
        return Run(time.perf_counter() - start, 2, error=f"{type(e).__name__}: {e}")
    return Run(time.perf_counter() - start, 0)


@dataclass
class Daemon:
    """A `trigrep serve --detach` serving one tree. Searches run with `env`, the bench's own
    HOME/XDG (the daemon declines clients whose HOME/XDG differ) minus TRIGREP_NO_DAEMON."""

    tree: Path
    trigrep: list[str]
    env: dict[str, str]
    timeout_s: float
    baseline: int = 0  # the daemon's search counter before the bench's first search
    sent: int = 0
    broken: str | None = None  # why searches may not go through the daemon

    def status(self) -> dict[str, Any] | None:
        """`trigrep status --json`'s answer while a daemon serves the tree, else None."""
        run = run_command([*self.trigrep, "status", "--json", str(self.tree)], self.tree,
                          self.env, 60)
        try:
            status = json.loads(run.stdout)
        except ValueError:
            return None
        return status if isinstance(status, dict) and status.get("served") else None

    def searches(self) -> int | None:
        """The daemon's count of searches it ran in this tree; None when it does not serve."""
        status = self.status()
        if status is None:
            return None
        root = os.path.realpath(self.tree)
        return sum(int(r["searches"]) for r in status["roots"] if r["root"] == root)

    def unverified(self) -> str | None:
        """Why the searches sent might not all have gone through the daemon; None when its
        counter agrees (the CLI silently searches by itself whenever the daemon declines)."""
        counted = self.searches()
        if counted is None:
            return "daemon: `trigrep status --json` does not report it serving"
        if counted - self.baseline != self.sent:
            return (f"daemon: {self.sent} searches sent but it ran {counted - self.baseline}: "
                    "the others did not go through it")
        return None

    def search(self, args: Sequence[str]) -> Run:
        """The trigrep CLI as a fresh process with the daemon serving; the first search is
        checked against the daemon's counter, and a failed check fails every search."""
        if self.broken:
            return Run(0.0, 2, error=self.broken)
        self.sent += 1
        run = run_command([*self.trigrep, *args], self.tree, self.env, self.timeout_s)
        if self.sent == 1:
            self.broken = self.unverified()
            if self.broken:
                return Run(run.seconds, 2, error=self.broken)
        return run


def _wait_until_served(daemon: Daemon, timeout_s: float = 120.0) -> int | None:
    """The daemon's search counter once `status --json` reports it serving the tree from an
    index (a daemon serves a tree without one at once, and builds it); None if never."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = daemon.status()
        if status is not None and all(root.get("indexed", True) for root in status["roots"]):
            return daemon.searches()
        time.sleep(0.1)
    return None


@contextlib.contextmanager
def serving(tree: Path, peers: Peers) -> Iterator[Daemon | None]:
    """A daemon serving tree for the with-block, stopped at its end however it ends (errors,
    Ctrl-C: the daemon runs in its own session, so only this stops it). None if it would not
    start; the error is listed under the table."""
    env = {k: v for k, v in peers.env.items() if k != NO_DAEMON}
    daemon = Daemon(tree, peers.trigrep, env, peers.search_timeout_s)
    stop = [*peers.trigrep, "stop", str(tree)]
    run_command(stop, tree, env, 60)  # one left behind by an interrupted run
    pid = None
    try:
        log(f"starting trigrep serve --detach {tree}")
        started = run_command([*peers.trigrep, "serve", "--detach", str(tree)], tree, env,
                              DAEMON_START_TIMEOUT_S)
        baseline = None if started.error or started.returncode else _wait_until_served(daemon)
        if baseline is None:
            started.error = started.error or (
                None if started.returncode else "`trigrep status --json` never said it serves")
            _record_error(f"trigrep serve --detach {tree.name}", started)
            yield None
            return
        status = daemon.status()
        pid = int(status["pid"]) if status else None
        daemon.baseline = baseline
        yield daemon
        if not daemon.broken and (problem := daemon.unverified()):
            ERRORS.append(("daemon at the end", problem))
    finally:
        stopped = run_command(stop, tree, env, 60)
        if stopped.returncode and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        log("daemon stopped")


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Cell:
    """A median over runs, or why there is none ('' for no equivalent, 'ERR' for a failure)."""

    seconds: float | None = None
    note: str = ""


@dataclass
class QueryResult:
    query: Query
    cells: dict[str, Cell]
    check: str  # the CLI's output: OK, DIFF or ERR
    daemon_check: str = ""  # the same with the daemon serving; "" when it did not run


@dataclass
class BuildResult:
    cells: dict[str, Cell]  # wall time per tool: "csearch" is cindex, "trigrep" is trigrep index
    peak_rss_kib: dict[str, int]
    index_bytes: dict[str, int]


ERRORS: list[tuple[str, str]] = []  # (what ran, why it failed), printed under the table


def _record_error(what: str, run: Run) -> Cell:
    ERRORS.append((what, failure_text(run)))
    return Cell(note="T/O" if run.timed_out else "ERR")


def summarize_errors(errors: Sequence[tuple[str, str]]) -> list[str]:
    """One line per distinct message, naming its first occurrence and how many runs hit it."""
    by_message: dict[str, list[str]] = {}
    for what, message in errors:
        by_message.setdefault(message, []).append(what)
    return [f"{message} ({whats[0]}" + (f" and {len(whats) - 1} more)" if len(whats) > 1
                                         else ")") for message, whats in by_message.items()]


def warm_page_cache(tree: Path, peers: Peers) -> None:
    """Read every file of tree once, untimed: this VM reclaims idle page cache (DAMON), and
    the first build after a while would otherwise pay for the disk (8 s of system time
    more than a warm build, seen on the whole tree)."""
    run_command([peers.rg, "--no-ignore", "--hidden", "-c", "--", "bench_warm_up_no_match"],
                tree, peers.env, BUILD_TIMEOUT_S)


def measure_build(tree: Path, peers: Peers) -> BuildResult:
    """One fresh build of each index, each on a warm page cache: trigrep's under
    tree/.trigrep, cindex's in the cache."""
    result = BuildResult({}, {}, {})
    shutil.rmtree(tree / ".trigrep", ignore_errors=True)
    warm_page_cache(tree, peers)
    run = run_command([*peers.trigrep, "index"], tree, peers.env, BUILD_TIMEOUT_S,
                      sample_rss=True)
    if run.error or run.returncode:
        result.cells["trigrep"] = _record_error(f"trigrep index in {tree.name}", run)
    else:
        result.cells["trigrep"] = Cell(run.seconds)
        result.peak_rss_kib["trigrep"] = run.peak_rss_kib
        result.index_bytes["trigrep"] = path_bytes(tree / ".trigrep")
    if peers.has_codesearch:
        env = peers.csearch_env(tree)
        Path(env["CSEARCHINDEX"]).unlink(missing_ok=True)
        warm_page_cache(tree, peers)
        run = run_command(["cindex", str(tree)], tree, env, BUILD_TIMEOUT_S, sample_rss=True)
        if run.error or run.returncode:
            result.cells["csearch"] = _record_error(f"cindex {tree.name}", run)
        else:
            result.cells["csearch"] = Cell(run.seconds)
            result.peak_rss_kib["csearch"] = run.peak_rss_kib
            result.index_bytes["csearch"] = path_bytes(Path(env["CSEARCHINDEX"]))
    return result


def ensure_trigrep_index(tree: Path, peers: Peers) -> None:
    """Build the index untimed when the build phase was skipped (--only queries)."""
    if not (tree / ".trigrep").exists():
        run_command([*peers.trigrep, "index"], tree, peers.env, BUILD_TIMEOUT_S)
    if peers.has_codesearch:
        env = peers.csearch_env(tree)
        if not Path(env["CSEARCHINDEX"]).exists():
            run_command(["cindex", str(tree)], tree, env, BUILD_TIMEOUT_S)


_ELAPSED = re.compile(rb'"(elapsed(?:_total)?)":\{[^{}]*\}')


def normalize(output: bytes) -> bytes:
    """Masks the only run-dependent bytes rg prints: --json's elapsed times."""
    return _ELAPSED.sub(rb'"\1":{}', output)


def first_difference(expected: bytes, actual: bytes, context: int = 5) -> str | None:
    """A short report of where two outputs part, or None when they are equal."""
    if expected == actual:
        return None
    want, got = expected.splitlines(keepends=True), actual.splitlines(keepends=True)
    pairs = zip(want, got, strict=False)
    line = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(want), len(got)))
    lo = max(0, line - context)

    def excerpt(lines: list[bytes]) -> str:
        return "".join(repr(x)[2:-1] + "\n" for x in lines[lo : line + context])

    return (f"first difference at line {line + 1} (rg: {len(want)} lines, "
            f"trigrep: {len(got)} lines)\n--- rg --sort path\n{excerpt(want)}"
            f"--- trigrep\n{excerpt(got)}")


def check_output(query: Query, rg_sorted: Run, trigrep: Run, tree: Path,
                 peer: str = "trigrep") -> str:
    """OK when trigrep's stdout and exit code equal `rg --sort path`'s; DIFF writes a report
    named after the tree, the peer (the CLI or the daemon) and the query."""
    if search_failed(trigrep):
        return "T/O" if trigrep.timed_out else "ERR"
    report = first_difference(normalize(rg_sorted.stdout), normalize(trigrep.stdout))
    if report is None and rg_sorted.returncode != trigrep.returncode:
        report = f"exit codes: rg {rg_sorted.returncode}, trigrep {trigrep.returncode}\n"
    if report is None:
        return "OK"
    diffs = CACHE / "diffs"
    diffs.mkdir(exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", query.label).strip("_")[:60]
    (diffs / f"{tree.name}-{peer}-{slug}.txt").write_text(
        f"query: {query.label} ({peer})\n{report}")
    return "DIFF"


def measure_query(query: Query, tree: Path, peers: Peers, api: ApiSearcher | None,
                  repeat: int, daemon: Daemon | None = None) -> QueryResult:
    """Medians of `repeat` interleaved runs per peer after one warmup each; checks the output
    of the CLI, and of the CLI with the daemon serving when there is one.

    A peer stops at its first failure or time-out. The API, which cannot be killed, is skipped
    when the CLI timed out: both run the same engine.
    """
    timeout = peers.search_timeout_s
    cs_env = peers.csearch_env(tree)
    runners: dict[str, Callable[[], Run]] = {
        "rg": lambda: run_command([peers.rg, *query.args], tree, peers.env, timeout),
        "trigrep": lambda: run_command([*peers.trigrep, *query.args], tree, peers.env, timeout),
    }
    if peers.has_codesearch and query.csearch is not None:
        runners["csearch"] = lambda: run_command(["csearch", *query.csearch], tree, cs_env,
                                                 timeout)
    if daemon is not None:
        runners["daemon"] = lambda: daemon.search(query.args)
    if api is not None:
        runners["api"] = lambda: time_api(api, query)
    # Warmup: rg's is the sorted run the check needs, trigrep's is the output checked.
    rg_sorted = run_command([peers.rg, "--sort", "path", *query.args], tree, peers.env, timeout)
    warm = {name: run() for name, run in runners.items() if name not in ("rg", "api")}
    if "api" in runners:
        warm["api"] = (Run(0.0, -1, error="not run: the CLI timed out", timed_out=True)
                       if warm["trigrep"].timed_out else runners["api"]())
    check = check_output(query, rg_sorted, warm["trigrep"], tree)
    daemon_check = (check_output(query, rg_sorted, warm["daemon"], tree, "daemon")
                    if "daemon" in warm else "")
    cells = {name: _record_error(f"{name} {query.label}", run)
             for name, run in warm.items() if search_failed(run)}
    times: dict[str, list[float]] = {name: [] for name in runners if name not in cells}
    for _ in range(repeat):
        for name in [n for n in times if n not in cells]:
            run = runners[name]()
            if search_failed(run):
                cells[name] = _record_error(f"{name} {query.label}", run)
            times[name].append(run.seconds)
    cells.update({name: Cell(statistics.median(ts)) for name, ts in times.items()
                  if name not in cells})
    return QueryResult(query, cells, check, daemon_check)


# ---------------------------------------------------------------------------------------------
# Write-to-visible latency: how long after a change a search finds it


def pick_edited_file(tree: Path, peers: Peers) -> Path | None:
    """The middle C file rg searches in tree (else the middle file), made a private copy: the
    trees are hardlinked to the corpus, which an edit in place must never reach."""
    for globs in (["-g", "*.c"], []):
        run = run_command([peers.rg, "--files", "--sort", "path", *globs], tree, peers.env,
                          peers.search_timeout_s)
        names = run.stdout.splitlines()
        if names:
            path = tree / os.fsdecode(names[len(names) // 2])
            if path.stat().st_nlink > 1:
                private = path.with_name(f"{path.name}.bench-copy")
                shutil.copy2(path, private)
                os.replace(private, path)
            return path
    return None


@contextlib.contextmanager
def appended(path: Path, text: bytes) -> Iterator[None]:
    """path edited in place (not replaced) by appending text; its old content and times are
    restored afterwards."""
    before = path.stat()
    with open(path, "ab") as f:
        f.write(text)
    try:
        yield
    finally:
        os.truncate(path, before.st_size)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@contextlib.contextmanager
def created(path: Path, text: bytes) -> Iterator[None]:
    """A new file holding text, deleted afterwards."""
    path.write_bytes(text)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def time_to_visible(token: str, change: contextlib.AbstractContextManager[None],
                    search: Callable[[str], Run]) -> Run:
    """Seconds from the start of the change until a search for token, repeated as fresh
    processes, prints it; a failed search, or none finding it in VISIBLE_TIMEOUT_S, is an
    error."""
    start = time.perf_counter()
    with change:
        while True:
            run = search(token)
            seconds = time.perf_counter() - start
            if search_failed(run):
                return run
            if token.encode() in run.stdout:
                return Run(seconds, 0)
            if seconds > VISIBLE_TIMEOUT_S:
                return Run(seconds, 1, error=f"not visible after {VISIBLE_TIMEOUT_S:g} s",
                           timed_out=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between the closest ranks, as numpy's default: with ~10 trials
    p95 lies between the two slowest."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * pct / 100
    lo = int(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


def measure_latency(tree: Path, edited: Path, peers: Peers, daemon: Daemon,
                    trials: int) -> list[list[str]]:
    """p50/p95 write-to-visible rows for an edit of an existing file and a new file.

    Peers take turns, each with its own change and token; after each change is undone the
    daemon is synced by one search, so no trial inherits another's pending events. rg and the
    daemon-free CLI read the disk on every search: their latency is one search's time.
    """
    searches: dict[str, Callable[[str], Run]] = {
        "rg": lambda token: run_command([peers.rg, token], tree, peers.env,
                                        peers.search_timeout_s),
        "trigrep": lambda token: run_command([*peers.trigrep, token], tree, peers.env,
                                             peers.search_timeout_s),
        "daemon": lambda token: daemon.search([token]),
    }
    changes: dict[str, Callable[[str, int], contextlib.AbstractContextManager[None]]] = {
        "edit an existing file": lambda token, _: appended(edited, f"/* {token} */\n".encode()),
        "create a new file": lambda token, trial: created(
            edited.with_name(f"bench_visible_{trial}.c"), f"int {token};\n".encode()),
    }
    rows = []
    for what, change in changes.items():
        log(f"write-to-visible: {what}")
        times: dict[str, list[float]] = {name: [] for name in searches}
        cells: dict[str, Cell] = {}
        for trial in range(trials):
            for name in [n for n in searches if n not in cells]:
                token = f"bench_visible_{uuid.uuid4().hex}"
                run = time_to_visible(token, change(token, trial), searches[name])
                if search_failed(run):
                    cells[name] = _record_error(f"{name} write-to-visible, {what}", run)
                times[name].append(run.seconds)
                daemon.search([token])
        for pct in (50, 95):
            measured = {name: Cell(percentile(ts, pct)) for name, ts in times.items()
                        if name not in cells}
            rows.append(row_from_cells(f"{what}: write-to-visible p{pct}",
                                       {**cells, **measured}))
    return rows


def measure_burst(tree: Path, edited: Path, daemon: Daemon) -> list[list[str]]:
    """BURST_FILES new files written at once, then deleted at once, with the daemon serving.

    Rows (daemon column): until a search finds all of them; until the daemon's index update
    that absorbs them is done; a query's time while that happens against before, with every
    answer meanwhile checked against the one before the burst (outside the new files); until
    none is found after the deletion. The files are new (the tree's own files are hardlinked
    to the corpus)."""
    token = f"bench_burst_{uuid.uuid4().hex}"
    body = edited.read_bytes()[:4096]
    body = body[: body.rfind(b"\n") + 1]
    burst = tree / "bench_burst"
    probe = QUERIES[0].args
    baseline = daemon.search(probe)
    before = [daemon.search(probe).seconds for _ in range(5)]
    during: list[Run] = []
    done = threading.Event()

    def query_meanwhile() -> None:
        while not done.is_set():
            during.append(daemon.search(probe))

    def found() -> int:
        return len(daemon.search(["-l", token]).stdout.splitlines())

    def updates() -> tuple[int, bool]:
        """(index updates done, whether one is running)."""
        roots = (daemon.status() or {}).get("roots", [])
        return (sum(int(r.get("index_updates", 0)) for r in roots),
                any(r.get("index_updating") for r in roots))

    def absorbed(needed: int) -> bool:
        finished, running = updates()
        return finished >= needed and not running

    updates_before, _ = updates()

    def until(condition: Callable[[], bool], start: float) -> Cell:
        while not condition():
            if time.perf_counter() - start > BURST_TIMEOUT_S:
                return Cell(note="ERR")
            time.sleep(0.05)
        return Cell(time.perf_counter() - start)

    log(f"burst: writing {BURST_FILES} files")
    querying = threading.Thread(target=query_meanwhile)
    querying.start()
    rows = []
    try:
        start = time.perf_counter()
        for i in range(BURST_FILES):
            path = burst / f"d{i // 100:03d}" / f"f{i:05d}.c"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"/* {token} {i} */\n".encode() + body)
        written = Cell(time.perf_counter() - start)
        # An update that began before the last file was written holds only part of them: the
        # one after it (started on their changes) holds them all.
        finished, running = updates()
        needed = max(finished + 1 + running, updates_before + 1)
        all_found = until(lambda: found() == BURST_FILES, start)
        index_done = until(lambda: absorbed(needed), start)
    finally:
        done.set()
        querying.join()
        shutil.rmtree(burst, ignore_errors=True)
    gone = until(lambda: found() == 0, time.perf_counter())
    def outside_burst(run: Run) -> tuple[int, list[bytes]]:  # a burst file may match too
        lines = run.stdout.splitlines()
        return run.returncode, [line for line in lines if not line.startswith(b"bench_burst/")]

    same = all(outside_burst(run) == outside_burst(baseline) for run in during)
    rows.append(row_from_cells(f"burst: {BURST_FILES} new files written", {"daemon": written}))
    rows.append(row_from_cells("burst: until a search finds them all", {"daemon": all_found}))
    rows.append(row_from_cells("burst: until the index holds them", {"daemon": index_done}))
    rows.append(row_from_cells(f"burst: {QUERIES[0].label} before",
                               {"daemon": Cell(statistics.median(before))}))
    rows.append(row_from_cells(
        f"burst: {QUERIES[0].label} meanwhile (median of {len(during)})",
        {"daemon": Cell(statistics.median(r.seconds for r in during)) if during else Cell()},
        "OK" if same else "DIFF"))
    rows.append(row_from_cells(
        "burst: ... its slowest",
        {"daemon": Cell(max(r.seconds for r in during)) if during else Cell()}))
    rows.append(row_from_cells("burst: deleted, until none is found", {"daemon": gone}))
    return rows


# ---------------------------------------------------------------------------------------------
# The table


COLUMNS = ("what", "rg", "csearch", "trigrep", "trigrep daemon", "trigrep API",
           "trigrep/csearch", "trigrep/rg", "daemon/csearch", "daemon/rg", "API/rg", "check")
TIME_COLUMNS = {"rg": "rg", "csearch": "csearch", "trigrep": "trigrep",
                "daemon": "trigrep daemon", "api": "trigrep API"}  # peer -> its column
RATIO_COLUMNS = {"trigrep/csearch": ("trigrep", "csearch"), "trigrep/rg": ("trigrep", "rg"),
                 "daemon/csearch": ("daemon", "csearch"), "daemon/rg": ("daemon", "rg"),
                 "API/rg": ("api", "rg")}  # column -> (numerator, denominator) peers


def fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_cell(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return cell.note if cell.seconds is None else fmt_seconds(cell.seconds)


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return ""
    return f"{numerator / denominator:.2f}x"


def fmt_mib(n_bytes: int | None) -> str:
    return "" if n_bytes is None else f"{n_bytes / 2**20:.1f} MiB"


def table_row(what: str, values: Mapping[str, str]) -> list[str]:
    """A row in COLUMNS order from column name -> text; absent columns stay empty."""
    return [what, *(values.get(column, "") for column in COLUMNS[1:])]


def row_from_cells(what: str, cells: Mapping[str, Cell], check: str = "") -> list[str]:
    """Each peer's time in its column plus every ratio both of whose peers have a time."""
    seconds = {peer: cell.seconds for peer, cell in cells.items()}
    values = {TIME_COLUMNS[peer]: fmt_cell(cell) for peer, cell in cells.items()}
    values.update({column: fmt_ratio(seconds.get(num), seconds.get(den))
                   for column, (num, den) in RATIO_COLUMNS.items()})
    return table_row(what, {**values, "check": check})


def combined_check(result: QueryResult) -> str:
    """One verdict when the CLI and the daemon agree, else both."""
    if result.daemon_check in ("", result.check):
        return result.check
    return f"CLI {result.check}, daemon {result.daemon_check}"


def query_row(what: str, result: QueryResult) -> list[str]:
    return row_from_cells(what, result.cells, combined_check(result))


def build_rows(label: str, build: BuildResult) -> list[list[str]]:
    rss = {k: v * 1024 for k, v in build.peak_rss_kib.items()}
    rows = [row_from_cells(f"{label}: build time", build.cells)]
    for what, sizes in (("build peak RSS", rss), ("index size", build.index_bytes)):
        rows.append(table_row(f"{label}: {what}", {
            "csearch": fmt_mib(sizes.get("csearch")), "trigrep": fmt_mib(sizes.get("trigrep")),
            "trigrep/csearch": fmt_ratio(sizes.get("trigrep"), sizes.get("csearch"))}))
    return rows


def markdown_table(rows: list[list[str]]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(COLUMNS), line(["---"] * len(COLUMNS)), *map(line, rows)])


def machine_line() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                .splitlines() if ln.startswith("model name")), platform.processor())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        numpy = importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        numpy = "none"
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()
    return (f"Machine: {cpu}, {os.cpu_count()} cores, {ram:.1f} GiB RAM, "
            f"Python {platform.python_version()}, numpy {numpy}, "
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, trigrep {commit}")


def section(title: str) -> list[str]:
    return table_row(f"**{title}**", {})


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run on every {QUICK_STRIDE}th file of the kernel, 3 repeats")
    p.add_argument("--repeat", type=int, help="timed runs per peer and query (default 5)")
    p.add_argument("--only", action="append", choices=list(PARTS),
                   help="run only these parts (repeatable); daemon: the daemon column of "
                        "the queries and the write-to-visible latency")
    p.add_argument("--corpus", type=Path, help="benchmark this tree instead of the kernel")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help="a search running longer is killed and shows as T/O (default 120)")
    ns = p.parse_args(argv)
    ns.repeat = ns.repeat or (3 if ns.quick else 5)
    ns.only = set(ns.only or PARTS)
    return ns


PARTS = ("build", "queries", "daemon", "growth")


def describe(tree: Path, stride: int) -> str:
    files, size = tree_size(tree)
    share = "whole tree" if stride == 1 else f"1/{stride} of the files"
    return f"{share}: {files} files, {size / 2**20:.0f} MiB"


def served_rows(tree: Path, stride: int, peers: Peers, ns: argparse.Namespace) -> list[list[str]]:
    """The queries (with a daemon column when the daemon part runs) and the daemon's
    write-to-visible latency; the daemon serves only during these and is always stopped."""
    ensure_trigrep_index(tree, peers)
    edited = pick_edited_file(tree, peers) if "daemon" in ns.only else None
    rows: list[list[str]] = []
    with serving(tree, peers) if "daemon" in ns.only else contextlib.nullcontext() as daemon:
        if "queries" in ns.only:
            api = open_api(tree)
            rows.append(section(f"queries ({describe(tree, stride)}; median of {ns.repeat})"))
            for query in QUERIES:
                log(f"query {query.label}")
                result = measure_query(query, tree, peers, api, ns.repeat, daemon)
                rows.append(query_row(query.label, result))
        if daemon is not None and edited is not None:
            rows.append(section(f"write-to-visible latency ({LATENCY_TRIALS} trials; "
                                f"edited: {edited.relative_to(tree)})"))
            rows += measure_latency(tree, edited, peers, daemon, LATENCY_TRIALS)
            rows.append(section(f"a burst of {BURST_FILES} changed files"))
            rows += measure_burst(tree, edited, daemon)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ns = parse_args(argv)
    shutil.rmtree(CACHE / "diffs", ignore_errors=True)
    corpus = ns.corpus.resolve() if ns.corpus else ensure_corpus()
    peers = Peers(rg=ensure_rg(), trigrep=trigrep_command(), has_codesearch=ensure_codesearch(),
                  search_timeout_s=ns.timeout)
    base = QUICK_STRIDE if ns.quick else 1
    # Every tree first: linking a file changes its ctime in all the trees that share it, and
    # an index built before would see those files as changed (searched directly until updated).
    trees = {share: ensure_subtree(corpus, base * share)
             for share in (GROWTH_SHARES if "growth" in ns.only else (1,))}
    tree = trees[1]
    rows: list[list[str]] = []
    builds: dict[Path, BuildResult] = {}
    if "build" in ns.only:
        log("build")
        builds[tree] = measure_build(tree, peers)
        rows += [section(f"build ({describe(tree, base)})"), *build_rows("index", builds[tree])]
    if ns.only & {"queries", "daemon"}:
        rows += served_rows(tree, base, peers, ns)
    if "growth" in ns.only:
        rows.append(section("growth (every k-th file of the sorted list, hardlinked)"))
        for share in GROWTH_SHARES:
            stride, subtree = base * share, trees[share]
            log(f"growth 1/{share}")
            build = builds.get(subtree) or measure_build(subtree, peers)
            label = f"1/{share} ({describe(subtree, stride)})"
            rows += build_rows(label, build)[:1]
            api = open_api(subtree)
            for query in GROWTH_QUERIES:
                result = measure_query(query, subtree, peers, api, ns.repeat)
                rows.append(query_row(f"1/{share}: {query.label}", result))
    print(machine_line())
    print()
    print(markdown_table(rows))
    if ERRORS:
        print("\nErrors:")
        print("\n".join(f"- {line}" for line in summarize_errors(ERRORS)))
    print(f"\nOutput diffs, if any: {CACHE / 'diffs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
