#!/usr/bin/env python3
"""Benchmark trigrep against ripgrep 14.1.0 and codesearch on the Linux 6.1 source tree.

Run from the repository root: `.venv/bin/python bench/run.py [--quick] [--repeat N]
[--only build|queries|growth]`. Prints one markdown table. Everything heavy (corpus, peers,
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("TRIGREP_BENCH_DIR") or Path.home() / ".cache" / "trigrep-bench")
SHARED_CORPUS = Path("/work/corpus/linux-source-6.1")  # another helper may have unpacked it here
KERNEL_PACKAGE = "linux-source-6.1"
RG_VERSION = "14.1.0"
APT = ("apt-get", "-o", "DPkg::Lock::Timeout=600")
BUILD_TIMEOUT_S = 3600.0
GROWTH_SHARES = (8, 4, 2, 1)  # 1/8, 1/4, 1/2 and the whole tree
QUICK_STRIDE = 64  # --quick benchmarks every 64th file of the kernel


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
    """rg and trigrep isolated from user configuration, trigrep importable from this checkout."""
    home = CACHE / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
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
    """trigrep's Python API with the index opened once, as a long-lived program would use it."""

    def __init__(self, tree: Path) -> None:
        import trigrep

        self.index = trigrep.Index(tree)
        self.index.stats()  # opens the reader now, not in the first timed search

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
    check: str  # OK, DIFF or ERR


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


def measure_build(tree: Path, peers: Peers) -> BuildResult:
    """One fresh build of each index: trigrep's under tree/.trigrep, cindex's in the cache."""
    result = BuildResult({}, {}, {})
    shutil.rmtree(tree / ".trigrep", ignore_errors=True)
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


def check_output(query: Query, rg_sorted: Run, trigrep: Run, tree: Path) -> str:
    """OK when trigrep's stdout and exit code equal `rg --sort path`'s; DIFF writes a report."""
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
    (diffs / f"{tree.name}-{slug}.txt").write_text(f"query: {query.label}\n{report}")
    return "DIFF"


def measure_query(query: Query, tree: Path, peers: Peers, api: ApiSearcher | None,
                  repeat: int) -> QueryResult:
    """Medians of `repeat` interleaved runs per peer after one warmup each; checks the output.

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
    if api is not None:
        runners["api"] = lambda: time_api(api, query)
    # Warmup: rg's is the sorted run the check needs, trigrep's is the output checked.
    rg_sorted = run_command([peers.rg, "--sort", "path", *query.args], tree, peers.env, timeout)
    warm = {name: run() for name, run in runners.items() if name not in ("rg", "api")}
    if "api" in runners:
        warm["api"] = (Run(0.0, -1, error="not run: the CLI timed out", timed_out=True)
                       if warm["trigrep"].timed_out else runners["api"]())
    check = check_output(query, rg_sorted, warm["trigrep"], tree)
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
    return QueryResult(query, cells, check)


# ---------------------------------------------------------------------------------------------
# The table


COLUMNS = ("what", "rg", "csearch", "trigrep", "trigrep API", "trigrep/csearch", "trigrep/rg",
           "API/rg", "check")


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


def _seconds(cells: dict[str, Cell], name: str) -> float | None:
    cell = cells.get(name)
    return cell.seconds if cell else None


def query_row(what: str, result: QueryResult) -> list[str]:
    c = result.cells
    tg = _seconds(c, "trigrep")
    return [what, fmt_cell(c.get("rg")), fmt_cell(c.get("csearch")), fmt_cell(c.get("trigrep")),
            fmt_cell(c.get("api")), fmt_ratio(tg, _seconds(c, "csearch")),
            fmt_ratio(tg, _seconds(c, "rg")), fmt_ratio(_seconds(c, "api"), _seconds(c, "rg")),
            result.check]


def build_rows(label: str, build: BuildResult) -> list[list[str]]:
    c = build.cells
    rss = {k: v * 1024 for k, v in build.peak_rss_kib.items()}
    time_row = [f"{label}: build time", "", fmt_cell(c.get("csearch")),
                fmt_cell(c.get("trigrep")), "",
                fmt_ratio(_seconds(c, "trigrep"), _seconds(c, "csearch")), "", "", ""]
    rows = [time_row]
    for what, sizes in (("build peak RSS", rss), ("index size", build.index_bytes)):
        rows.append([f"{label}: {what}", "", fmt_mib(sizes.get("csearch")),
                     fmt_mib(sizes.get("trigrep")), "",
                     fmt_ratio(sizes.get("trigrep"), sizes.get("csearch")), "", "", ""])
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
    return [f"**{title}**", *[""] * (len(COLUMNS) - 1)]


# ---------------------------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run on every {QUICK_STRIDE}th file of the kernel, 3 repeats")
    p.add_argument("--repeat", type=int, help="timed runs per peer and query (default 5)")
    p.add_argument("--only", action="append", choices=["build", "queries", "growth"],
                   help="run only these parts (repeatable)")
    p.add_argument("--corpus", type=Path, help="benchmark this tree instead of the kernel")
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help="a search running longer is killed and shows as T/O (default 120)")
    ns = p.parse_args(argv)
    ns.repeat = ns.repeat or (3 if ns.quick else 5)
    ns.only = set(ns.only or ["build", "queries", "growth"])
    return ns


def describe(tree: Path, stride: int) -> str:
    files, size = tree_size(tree)
    share = "whole tree" if stride == 1 else f"1/{stride} of the files"
    return f"{share}: {files} files, {size / 2**20:.0f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    ns = parse_args(argv)
    shutil.rmtree(CACHE / "diffs", ignore_errors=True)
    corpus = ns.corpus.resolve() if ns.corpus else ensure_corpus()
    peers = Peers(rg=ensure_rg(), trigrep=trigrep_command(), has_codesearch=ensure_codesearch(),
                  search_timeout_s=ns.timeout)
    base = QUICK_STRIDE if ns.quick else 1
    tree = ensure_subtree(corpus, base)
    rows: list[list[str]] = []
    builds: dict[Path, BuildResult] = {}
    if "build" in ns.only:
        log("build")
        builds[tree] = measure_build(tree, peers)
        rows += [section(f"build ({describe(tree, base)})"), *build_rows("index", builds[tree])]
    if "queries" in ns.only:
        ensure_trigrep_index(tree, peers)
        api = open_api(tree)
        rows.append(section(f"queries ({describe(tree, base)}; median of {ns.repeat})"))
        for query in QUERIES:
            log(f"query {query.label}")
            rows.append(query_row(query.label, measure_query(query, tree, peers, api,
                                                             ns.repeat)))
    if "growth" in ns.only:
        rows.append(section("growth (every k-th file of the sorted list, hardlinked)"))
        for share in GROWTH_SHARES:
            stride = base * share
            subtree = ensure_subtree(corpus, stride)
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
