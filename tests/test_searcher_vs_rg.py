"""searcher + printer against rg 14.1 byte for byte, on a tree of awkward files.

A test-local driver does what the engine does (list files, read, search_buffer, printer), so
these tests need neither the walker nor the CLI.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy  # noqa: F401  (loaded, so the searcher counts long runs of lines with it)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RG
from trigrep.extract import decoded, read_searchable
from trigrep.flags import parse_search_flags
from trigrep.printer import make_printer
from trigrep.query import compile_query
from trigrep.searcher import BUFFER_CAPACITY, BinaryMode, search_buffer

FILES: dict[str, bytes] = {
    "a/context.txt": b"l1\nfoo\nl3\nl4\nl5\nl6 foo\nl7\n",
    "a/many.txt": b"foo1\nx\nfoo2\nfoo3\ny\nz\nfoo4\n",
    "crlf.txt": b"foo\r\nbar foo\r\nbaz\r\n",
    "e.txt": b"baab\naa\nxyz\n",
    "empty.txt": b"",
    "latin1.txt": b"caf\xe9 foo\nok\n",
    "multi.txt": b"a1\nb1\na2 a3\nb2\nx\na4\nb3 a5\nb4\n",
    "noeol.txt": b"abc\nfoo",
    "unicode.txt": "é foo ü\n\tctrl\x01 \"q\" \\ foo\n".encode(),
    "long.txt": b"x" * 5000 + b" foo " + b"y" * 5000 + b"\n",
    "small.bin": b"foo\nbar\x00\nfoo\n",
    "nomatch.bin": b"bar\n\x00",
    # rg's first read stops after 3 bytes (BOM sniffing): "x" is searched before the NUL.
    "peek.bin": b"x\nl1 foo\x00\nfoo\n",
    "big.bin": b"foo line\n" * 10000 + b"zz\x00zz foo\n" + b"foo end\n",
    "late.bin": b"foo line\n" * 9000 + b"foo\x00 nul\n" + b"foo end\n" * 3,
    "bom8.txt": b"\xef\xbb\xbffoo\nbar\n",
    "indent.txt": b"  foo\n\t\x0b foo x\n   \n\r\nfoo\n \x0c\r foo",
    "joiners.txt": "a\u200dbcdefgh foo\n\u200d\u200dx foo\n\U0001f468\u200d\U0001f469x foo\n"
                   .encode(),
    "graphemes.txt": "e\u0301e\u0301 foo \U0001f1eb\U0001f1f7\U0001f44d\U0001f3fd x\u200dy foo\n"
                     "a\tb\x7f\u00ad foo \r\nfoo \u0915\u093f\u0915 \U0001f468\u200d\U0001f469"
                     " foo\n".encode() + b"\xe2\x82 foo \xff\xfe\n",
    # matches far apart: line numbers from counts over spans beyond searcher.VECTOR_COUNT_MIN
    "far.txt": (b"y" * 3500 + b"\n") * 3 + b"".join(b"foo %d\n" % i + (b"z" * 3500 + b"\n") * 3
                                                  for i in range(3)),
    "bom16.txt": "foo\nbar é foo\n".encode("utf-16-le").join([b"\xff\xfe", b""]),
    "100%d%s.txt": b"foo %d\n",  # (the printer formats lines with %: paths stay literal)
}

FLAG_SETS: list[list[str]] = [
    [], ["-n"], ["-N", "--heading"], ["-n", "-C1"], ["-A2", "-m1", "-n"], ["-m2", "-A3"],
    ["-B2", "-n"], ["-v", "-n"], ["-v", "-n", "-C1"], ["-o", "-n"], ["-o", "-v"], ["-c"],
    ["-c", "-v"], ["--count-matches"], ["-l"], ["--files-without-match"], ["-m0"],
    ["--json"], ["--json", "-C1"], ["--json", "-N", "-B1"], ["--json", "-m1", "-A1"],
    ["--json", "-v"],
    ["--heading", "-n", "-C1"], ["--color", "always", "-n"], ["--color", "always", "-o"],
    ["--color", "always", "--heading", "-C1", "-n"], ["--color", "always", "-c"],
    ["--color", "always", "-v"], ["--json", "-q"], ["-c", "-m1"], ["--json", "-v", "-m2", "-A1"],
    # -v: context lines are the matching ones, printed with their matches.
    ["-v", "-o", "-n", "-C1"], ["--color", "always", "-v", "-C1"],
    ["--column"], ["--column", "-o", "-C1"], ["--column", "--color", "always", "-N"],
    ["--vimgrep"], ["--vimgrep", "--color", "always", "-C1"],
    # -b: the byte offset of each line (of each -o match); --trim: no leading spaces.
    ["-b", "-n", "-C1"], ["-b", "-o"], ["--trim", "-n", "-C1"],
    ["--trim", "--color", "always", "-o"], ["--trim", "--vimgrep", "-b"],
    ["--trim", "--color", "always", "-v", "-C1"],
    ["--context-separator", "X\\tY", "--field-context-separator", "=", "-C1", "-n"],
    ["--field-match-separator", "%d", "--color", "always", "-n", "-A1"],
    ["--no-context-separator", "--field-match-separator", "", "-A1", "--column"],
    # -M: a line longer than that many bytes is a note; with a preview, its first graphemes
    # and the matches left out (each way of printing a line measures and counts its own way).
    ["-M", "4", "-n"], ["-M", "4", "--max-columns-preview", "-C1"], ["-M", "5", "--column"],
    ["-M", "3", "--max-columns-preview", "--color", "always", "-o"], ["-M", "2", "-o", "-b"],
    ["-M", "5", "--vimgrep", "--max-columns-preview"], ["-M", "6", "--column", "--trim"],
    ["-M", "6", "--color", "always", "--trim", "-v", "-C1", "--max-columns-preview"],
    ["-M", "7", "--vimgrep", "--color", "always", "--trim"], ["-M", "4", "--json"],
    ["--vimgrep", "-v", "-B1", "--field-context-separator", "="],
    # -r: each match printed as the replacement, its groups interpolated.
    ["-r", "<$0>"], ["-r", "", "-o", "-n"], ["-r", "$$ ${0}x $0x $", "--color", "always", "-C1"],
    ["-r", "[$0]", "-v", "-C1"], ["-r", "R", "--vimgrep", "-b"], ["-r", "-", "-M", "5"],
    ["-r", "<$0>", "--column", "--trim", "-c"], ["-r", "<$0>", "--json"],
    # --passthru: every line, the matching ones as matches, up to where -m stops the search.
    ["--passthru", "-n"], ["--passthru", "-m1", "--json"], ["--passthru", "-v", "-m2", "-b"],
    ["--passthru", "-o", "--color", "always"], ["--passthru", "--vimgrep", "-r", "R"],
    ["-C1", "--passthru", "--heading"], ["--passthru", "-A1", "-n"],
    # --crlf: lines the printer ends end in CRLF; `$` matches before `\r\n`.
    ["--crlf", "-n", "-C1"], ["--crlf", "--color", "always", "-o"], ["--crlf", "-c", "-v"],
    ["--crlf", "-M", "4", "--max-columns-preview"], ["--crlf", "-r", "<$0>", "--vimgrep"],
]
PATTERNS = ["foo", "a*", "", "l[1-5]|zz", "é|ü", "x"]
MULTILINE_PATTERNS = [
    r"a\d\nb", r"\d\n", r"foo\nbar",
    # Empty matches and bare line terminators: -o prints no empty piece across lines.
    r"\n?",
    # rg searches line by line when the regex cannot match "\n", even with -U.
    "b",
]


def _rg_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp))
    return env


def _make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_tree(tmp_path_factory.mktemp("tree"), FILES)


# Lines thousands of bytes long, each printed whole for every match on it by --vimgrep: with
# a pattern that matches the empty string at every byte, 250 MB of output per search.
LONG_LINES = ("long.txt", "far.txt")


@pytest.fixture(scope="module")
def short_lines_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_tree(tmp_path_factory.mktemp("short"),
                      {name: data for name, data in FILES.items() if name not in LONG_LINES})


def _walk(root: Path, rel: str = "") -> list[str]:
    """Files in rg's --sort path order: entries of a directory sorted by name, depth first."""
    found = []
    for entry in sorted(os.listdir(root / rel) if rel else os.listdir(root)):
        path = f"{rel}/{entry}" if rel else entry
        found += _walk(root, path) if (root / path).is_dir() else [path]
    return found


def _drive(root: Path, pattern: str, flags: list[str], paths: list[str] | None) -> bytes:
    return _drive_matched(root, pattern, flags, paths)[0]


def _drive_matched(
    root: Path, pattern: str, flags: list[str], paths: list[str] | None
) -> tuple[bytes, bool]:
    """What the engine will do (output, whether rg exits 0); `paths` None means walk the root
    (rg with no path)."""
    match, out_opts = parse_search_flags([*flags, "-e", pattern])
    query = compile_query(match)
    text = out_opts.binary == "text"  # (-a, --null-data)
    if paths is None:
        names, with_filename = _walk(root), True
        mode = BinaryMode.TEXT if text else BinaryMode.QUIT
    else:
        mmap = len(paths) <= 10
        names = paths
        mode = BinaryMode.CONVERT_MMAP if mmap else BinaryMode.CONVERT
        if text:
            mode = BinaryMode.TEXT_MMAP if mmap else BinaryMode.TEXT
        with_filename = len(paths) > 1
    if out_opts.with_filename is not None:  # -H/-I, or --vimgrep's -H
        with_filename = out_opts.with_filename
    buf = io.BytesIO()
    printer = make_printer(buf, out_opts, with_filename=with_filename, is_tty=False)
    fmt = printer.file_format  # (what its events need, as the engine asks: see parallel.py)
    needs = {} if fmt is None else dict(
        spans=fmt.needs_spans, line_numbers=fmt.needs_line_numbers,
        first_span=fmt.needs_first_span_only)
    for name in names:
        data = decoded((root / name).read_bytes(), "auto")
        printer.file(name, search_buffer(data, query, out_opts, binary=mode, **needs))
    printer.finish()
    return buf.getvalue(), printer.matched


def _normalise(output: bytes, is_json: bool) -> bytes:
    if not is_json:
        return output
    lines = []
    for line in output.splitlines():
        message = json.loads(line)
        for stats in _all_stats(message):
            for key in ("elapsed", "elapsed_total"):
                if key in stats:
                    stats[key] = None
        lines.append(json.dumps(message))
    return "\n".join(lines).encode()


def _all_stats(message: dict) -> list[dict]:
    data = message.get("data", {})
    return [data, data.get("stats", {})] if isinstance(data, dict) else []


def _rg(root: Path, pattern: str, flags: list[str], paths: list[str] | None) -> bytes:
    return _rg_matched(root, pattern, flags, paths)[0]


def _rg_matched(
    root: Path, pattern: str, flags: list[str], paths: list[str] | None
) -> tuple[bytes, bool]:
    cmd = [RG, "--sort", "path", *flags, "-e", pattern, *(paths or [])]
    proc = subprocess.run(cmd, cwd=root, env=_rg_env(root), capture_output=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout, proc.returncode == 0


def _compare(root: Path, pattern: str, flags: list[str], paths: list[str] | None) -> None:
    is_json = "--json" in flags
    expected = _normalise(_rg(root, pattern, flags, paths), is_json)
    actual = _normalise(_drive(root, pattern, flags, paths), is_json)
    assert actual.decode(errors="replace") == expected.decode(errors="replace")
    assert actual == expected


@pytest.mark.parametrize("flags", FLAG_SETS, ids=" ".join)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_walked_tree(tree: Path, short_lines_tree: Path, pattern: str, flags: list[str]) -> None:
    every_byte = pattern in ("", "a*") and "--vimgrep" in flags and "-M" not in flags
    _compare(short_lines_tree if every_byte else tree, pattern, flags, None)


@pytest.mark.parametrize("flags", FLAG_SETS, ids=" ".join)
@pytest.mark.parametrize("paths", [["small.bin"], ["peek.bin"], ["small.bin", "late.bin", "e.txt"],
                                   sorted(FILES)])
def test_explicit_files(tree: Path, paths: list[str], flags: list[str]) -> None:
    _compare(tree, "foo", flags, paths)


@pytest.mark.parametrize("flags", [["-U", *f] for f in FLAG_SETS], ids=" ".join)
@pytest.mark.parametrize("pattern", MULTILINE_PATTERNS)
def test_multiline(tree: Path, pattern: str, flags: list[str]) -> None:
    if pattern == r"\n?" and "--vimgrep" in flags:
        # an empty match at every byte, each printing its whole line: hundreds of MB from
        # the 10 KB lines (test_cli_rg checks --vimgrep -U with empty matches instead)
        pytest.skip("quadratic output")
    _compare(tree, pattern, flags, None)


# rg's bytes_searched after -m stops a read search is the offset of the 64 KiB buffer the
# last printed line was searched in: stops in later buffers, with context kept or printed.
BUFFER_FILES: dict[str, bytes] = {
    "spread.txt": b"".join(
        (b"foo %d\n" % i if i % 997 == 0 else b"line %d %s\n" % (i, b"x" * (i % 50)))
        for i in range(12000)
    ),
    "dense.txt": b"foo\n" * 40000 + b"end",
    "long_lines.txt": b"".join(b"%s foo\n" % (b"y" * 30000) for _ in range(6)),
}


def _module_tree(factory: pytest.TempPathFactory, name: str, files: dict[str, bytes]) -> Path:
    root = factory.mktemp(name)
    for path, data in files.items():
        (root / path).write_bytes(data)
    return root


@pytest.fixture(scope="module")
def buffer_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _module_tree(tmp_path_factory, "buffers", BUFFER_FILES)


@pytest.mark.parametrize("flags", [
    ["-m1"], ["-m3"], ["-m5", "-A2"], ["-m9", "-B3"], ["-m4", "-C1"], ["-m20", "-A1"],
    ["-m2", "-v"], ["-m3", "-v", "-C1"], ["-m9999", "-A2"],
], ids=" ".join)
def test_bytes_searched_after_max_count(buffer_tree: Path, flags: list[str]) -> None:
    for paths in (None, sorted(BUFFER_FILES)):
        expected = _normalise(_rg(buffer_tree, "foo", ["--json", *flags], paths), True)
        assert _normalise(_drive(buffer_tree, "foo", ["--json", *flags], paths), True) == expected


# -U across lines: rg's multi-line searcher hands the printer groups of touching lines, with
# -v the lines between the lines of consecutive matches, and stops on the printer's -m verdict
# except on the last group (see searcher._MultiLine).
ACROSS_FILES: dict[str, bytes] = {
    "touching.txt": b"a1\nb1\na2 a3\nb2\nx\na4\nb3 a5\nb4\n",
    "ends.txt": b"a\nb\n\n\nxa\nb\nab\nc\nd",
    "crlf.txt": b"a\r\nb\r\nx\r\nz\r\na\r\n",
    "late_nul.txt": b"x\n" * 40000 + b"a\nb\x00\na\nb\n",
}
ACROSS_PATTERNS = [
    r"a\d?\r?\nb", r"\n?", r"x[^y]*z", r"(?:\nZ)?\z", r"^b|a\r?\n", r"\Ab|a\n", r"\bb\nc|a",
]
ACROSS_FLAGS: list[list[str]] = [
    ["-v", "-n"], ["-v", "-m1"], ["-m1", "-A2", "-n"], ["-m1", "-A1"], ["-m2", "-B1", "-n"],
    ["-v", "-C1", "-m2"], ["--json", "-m1", "-A2"], ["--json", "-v", "-B1", "-m3"], ["-c", "-m1"],
    ["--count-matches", "-v"], ["-l", "-v"], ["-o", "-v", "-n"],
]


@pytest.fixture(scope="module")
def across_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _module_tree(tmp_path_factory, "across", ACROSS_FILES)


@pytest.mark.parametrize("flags", ACROSS_FLAGS, ids=" ".join)
@pytest.mark.parametrize("pattern", ACROSS_PATTERNS)
def test_across_lines(across_tree: Path, pattern: str, flags: list[str]) -> None:
    for paths in (None, sorted(ACROSS_FILES)):
        _compare(across_tree, pattern, ["-U", *flags], paths)


_ACROSS_CHUNKS = st.sampled_from(
    [b"a", b"b", b"x", b"z", b"1", b" ", b"\n", b"\n", b"\n", b"\r\n", b"ab", b"\x00"]
)
_ACROSS_PATTERN = st.sampled_from([
    r"a\nb", r"\n?", r"x[^y]*z", r"a\d?\n", r"^b|\n\n", r"\Ab|a\n", r"\bb\n|a", r"(?s)a.*?b",
    r"(?:\nZ)?\z", r"(?m)^\s*$", r"\B\n", r"(?-m)^a|b\n", r"\w+\n\w+",
])
_ACROSS_FLAGS = st.tuples(
    st.sampled_from([[], ["-v"]]),
    st.sampled_from([[], ["-m1"], ["-m2"]]),
    st.sampled_from([[], ["-A1"], ["-B1"], ["-C1"], ["-A2"]]),
    st.sampled_from([[], ["-c"], ["--count-matches"], ["-l"], ["-o"], ["--json"], ["-n"]]),
).map(lambda groups: ["-U", *itertools.chain.from_iterable(groups)])


def _compare_files(
    tmp_path: Path, contents: list[bytes], pattern: str, flags: list[str], explicit: bool
) -> None:
    """Search files holding `contents` (named on the command line if `explicit`) like rg."""
    root = tmp_path / "random"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    names = [f"f{i}.txt" for i in range(len(contents))]
    for name, data in zip(names, contents, strict=True):
        (root / name).write_bytes(data)
    _compare(root, pattern, flags, names if explicit else None)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(st.lists(_ACROSS_CHUNKS, max_size=20).map(b"".join), min_size=1,
                      max_size=3),
    pattern=_ACROSS_PATTERN,
    flags=_ACROSS_FLAGS,
    explicit=st.booleans(),
)
def test_across_lines_random(
    tmp_path: Path, contents: list[bytes], pattern: str, flags: list[str], explicit: bool
) -> None:
    _compare_files(tmp_path, contents, pattern, flags, explicit)



# Text searched without -v, -U, context or JSON lines takes a short path (searcher's
# _search_plain); files with a NUL (before or after the first match, in the first 64 KiB
# buffer or later) and the flags next to those take the full one. Both must agree with rg,
# exit code included (-q prints nothing).
PLAIN_FILES: dict[str, bytes] = {
    "crlf.txt": b"foo\r\nbar foo\r\n\r\nbaz\r\n",
    "empty.txt": b"",
    "empty_lines.txt": b"\n\nfoo\n\n",
    "nomatch.txt": b"bar\nbaz\n",
    "noeol.txt": b"a foo\nfoo",
    "nul_after.bin": b"foo\nx\n\x00\nfoo\n",
    "nul_before.bin": b"x\x00\nfoo\n",
    "nul_late.bin": b"foo line\n" * 9000 + b"\x00\nfoo\n",
}
PLAIN_PATTERNS = ["foo", "", "a*", r"o\r?$", "(?m)^$", "x|foo"]
PLAIN_FLAGS: list[list[str]] = [
    [], ["-n"], ["-m1", "-n"], ["-m2"], ["-m0"], ["-o", "-n"], ["--color", "always", "-n"],
    ["-l"], ["-l", "-m2"], ["--files-without-match"], ["-q"], ["-c", "-m1"], ["--count-matches"],
    ["--count-matches", "-m1"], ["--json", "-l"], ["--json", "--count-matches"],
    # Next to the short path: the full one.
    ["-m1", "--json"], ["-q", "--json"], ["-v", "-l"], ["-A1", "-n"], ["-U", "-c"],
    ["--crlf", "-n"], ["--crlf", "--color", "always", "-o"], ["--crlf", "--count-matches"],
    ["--crlf", "-U", "--json"],
]


@pytest.fixture(scope="module")
def plain_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _module_tree(tmp_path_factory, "plain", PLAIN_FILES)


@pytest.mark.parametrize("flags", PLAIN_FLAGS, ids=" ".join)
@pytest.mark.parametrize("pattern", PLAIN_PATTERNS)
def test_plain_searches(plain_tree: Path, pattern: str, flags: list[str]) -> None:
    if "--crlf" in flags and "\\r" in pattern:
        pytest.skip("a literal \\r is an error with --crlf (test_cli_rg checks its wording)")
    is_json = flags[-1:] == ["--json"]  # rg's last output mode wins: --json -l prints paths
    for paths in (None, sorted(PLAIN_FILES), ["crlf.txt", "nul_after.bin"]):
        want, want_matched = _rg_matched(plain_tree, pattern, flags, paths)
        got, matched = _drive_matched(plain_tree, pattern, flags, paths)
        assert (_normalise(got, is_json), matched) == (_normalise(want, is_json), want_matched)


# A walked file bigger than rg's buffer with a NUL in its first 64 KiB is read only that far
# (extract.read_file's binary_head): rg searches no further, so the output must not change.
_HEAD_CHUNKS = st.sampled_from([b"foo", b"\n", b"\x00", b"x" * 700, b"a1\nb1", b"\r\n", b"zz"])
_HEAD_FLAGS = st.sampled_from(
    [*FLAG_SETS, ["-U"], ["-U", "-c"], ["-U", "--json"], ["-U", "-l"], ["-U", "-n", "-A1"]]
)


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.lists(_HEAD_CHUNKS, max_size=30).map(b"".join),
    lines=st.integers(0, 9000),
    after=st.lists(_HEAD_CHUNKS, max_size=30).map(b"".join),
    pattern=st.sampled_from([*PATTERNS, *MULTILINE_PATTERNS]),
    flags=_HEAD_FLAGS,
)
def test_binary_head_searches_like_the_whole_file(
    tmp_path: Path, before: bytes, lines: int, after: bytes, pattern: str, flags: list[str]
) -> None:
    data = before + b"foo line\n" * lines + after + b"foo\x00tail foo\n" + b"foo end\n" * 9000
    if pattern in MULTILINE_PATTERNS and "-U" not in flags:
        flags = ["-U", *flags]
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    head = read_searchable(str(path), binary_head=BUFFER_CAPACITY)
    assert len(head) < len(data) if b"\0" in data[:BUFFER_CAPACITY] else head == data
    match, out_opts = parse_search_flags([*flags, "-e", pattern])
    query = compile_query(match)
    outputs = []
    for content in (read_searchable(str(path)), head):
        buf = io.BytesIO()
        printer = make_printer(buf, out_opts, with_filename=True, is_tty=False)
        printer.file("big.bin", search_buffer(content, query, out_opts, binary=BinaryMode.QUIT))
        printer.finish()
        outputs.append((_normalise(buf.getvalue(), "--json" in flags), printer.matched))
    assert outputs[1] == outputs[0]


# --stop-on-nonmatch: rg stops a file's line-by-line search at the first line that is no match
# after one that is. With -v its fast path passes over the regex's line ending the first run
# of matches (within one read buffer: a walked file's first read is 3 bytes), see
# searcher._UntilNonmatch; NULs before and after where it stops, CRLF, no final newline.
STOP_FILES: dict[str, bytes] = {
    "f.txt": b"X1\na\nX2\na\na\nX3\n",
    "h.txt": b"a\nX1\nX2\na\nX3\n",
    "starts.txt": b"X1\nX2\na\nX3\n",
    "twin.txt": b"a\nX1\nX2\nb\nc\nX3\nd\n",
    "peek.txt": b"a\na\nX\nb\nb\nX\nc\n",
    "noeol.txt": b"X1\nX2\na\nX3",
    "noeol2.txt": b"a\nX1\nb",
    "crlf.txt": b"X1\r\nX2\r\na\r\nX3\r\nb\r\n",
    "all.txt": b"X1 X2\nX3\n",
    "none.txt": b"a\nb\n",
    "empty.txt": b"",
    "nul_before.bin": b"a\x00\nX1\nX2\nb\nX3\n",
    "nul_after.bin": b"X1\nX2\nb\nX3\x00\n",
    "nul_next.bin": b"b\nX1\n\x00\nX2\n",
    "nul_late.bin": b"X line\n" * 9000 + b"b\n\x00\nX\n",
    "big.txt": b"b\n" + b"X line\n" * 10000 + b"b\n" * 5 + b"X\n",
    "big_v.txt": b"b line\n" * 10000 + b"X\nb\nX\n" + b"b\n" * 3,
}
STOP_PATTERNS = ["X", "X[13]|b", "", "^$"]
STOP_FLAGS: list[list[str]] = [
    ["-n"], ["-n", "-A1"], ["-n", "-A2"], ["-n", "-B1"], ["-n", "-C1"], ["-c"], ["-l"],
    ["--count-matches"], ["-o", "-n"], ["--json"], ["--json", "-C1"],
    ["--passthru", "-n"], ["-m1", "-A3", "-n"], ["-m2", "--json"], ["-c", "-m1"],
    ["--files-without-match"], ["-q"], ["-b", "-B2"],
    ["-v", "-n"], ["-v", "-n", "-A1"], ["-v", "-n", "-A2"], ["-v", "-n", "-B1"],
    ["-v", "-n", "-C1"], ["-v", "--passthru", "-n"], ["-v", "-c"], ["-v", "-l"],
    ["-v", "--json"], ["-v", "--json", "-B1"], ["-v", "-m1", "-A3", "-n"],
    ["-v", "-m2", "--json", "-A1"], ["-v", "-o", "-C1"],
    # --crlf: rg's line-by-line check strips only a `\r\n`: `^$` matches after a lone `\n`
    ["--crlf", "-n", "-A1"], ["--crlf", "-v", "--json"], ["--crlf", "--passthru", "-n"],
]


@pytest.fixture(scope="module")
def stop_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _module_tree(tmp_path_factory, "stop", STOP_FILES)


@pytest.mark.parametrize("flags", STOP_FLAGS, ids=" ".join)
@pytest.mark.parametrize("pattern", STOP_PATTERNS)
def test_stop_on_nonmatch(stop_tree: Path, pattern: str, flags: list[str]) -> None:
    flags = ["--stop-on-nonmatch", *flags]
    small = sorted(name for name, data in STOP_FILES.items() if len(data) < BUFFER_CAPACITY)
    for paths in (None, ["f.txt"], ["h.txt", "nul_after.bin"], small, sorted(STOP_FILES)):
        _compare(stop_tree, pattern, flags, paths)


_STOP_CHUNKS = st.sampled_from([b"X", b"a", b"Xa", b"\n", b"\n", b"\n", b"\r\n", b"\x00"])
_STOP_FLAGS = st.tuples(
    st.sampled_from([[], ["-v"]]),
    st.sampled_from([[], ["-m1"], ["-m2"]]),
    st.sampled_from([[], ["-A1"], ["-B1"], ["-C1"], ["-A2"], ["--passthru"]]),
    st.sampled_from([[], ["-c"], ["--count-matches"], ["-l"], ["-o"], ["--json"], ["-n"]]),
).map(lambda groups: ["--stop-on-nonmatch", *itertools.chain.from_iterable(groups)])


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(st.lists(_STOP_CHUNKS, max_size=16).map(b"".join), min_size=1,
                      max_size=3),
    pattern=st.sampled_from(["X", "^a", "a$", "", "^$"]),
    flags=_STOP_FLAGS,
    explicit=st.booleans(),
)
def test_stop_on_nonmatch_random(
    tmp_path: Path, contents: list[bytes], pattern: str, flags: list[str], explicit: bool
) -> None:
    _compare_files(tmp_path, contents, pattern, flags, explicit)


# --null-data: a NUL ends each line and `\n` is a byte like any other (but `.` takes none);
# rg searches each line alone, so `^`/`$` hold at its NULs and at its `\n`s, while its
# printer looks for the matches in the whole buffer up to the line's end (`^` after a NUL is
# no match there: the line prints whole with -o). No binary detection; printed lines (and
# separators, headings, summary lines) end in NUL.
NUL_FILES: dict[str, bytes] = {
    "records.txt": b"foo bar\0baz\nfoo\0\nqux foo\n\0\0last foo",
    "ends.txt": b"a\n\0\nb\0ab\n\0b\nab\0zz ab\0",
    "lines.txt": b"l1 foo\nl2\nl3\n",
    "spaces.txt": b" \n\tfoo x\0  \n\0\x0b foo\r\n\0",
    "empty.txt": b"",
    "nuls.txt": b"\0\0foo\0\0",
    "big.txt": b"".join(b"rec %d %s\n%s\0" % (i, b"foo" if i % 500 == 0 else b"x", b"y" * 40)
                        for i in range(3000)),
}
NUL_PATTERNS = [
    "foo", r"o\nb|z\nf", r"b.r|o.b", "b$", r"[^a]b", r"\s+foo", r"\bfoo\b", r"(?s)o.b",
    # Anchors after a line start: rg's printer (and with -U its search) sees a text start at
    # the start of each read buffer, which only a memory-mapped file has once (see README).
    "^b", "^$", "^", r"^\w", "(?-m)^foo", r"\Afoo|ab\z",
]
NUL_FLAGS: list[list[str]] = [
    [], ["-n"], ["-n", "-C1"], ["-v", "-n"], ["-v", "-c"], ["-c"], ["--count-matches"], ["-l"],
    ["--files-without-match"], ["-o", "-n"], ["-o", "-b"], ["-b", "-n", "-A1"], ["--json"],
    ["--json", "-C1", "-m1"], ["-i", "--heading", "-n"], ["-w", "-n"], ["-x", "-n"],
    ["--vimgrep"], ["--color", "always", "-n"], ["--trim", "-n", "-B1"], ["-r", "<$0>"],
    ["--passthru", "-n"], ["-m1", "-A2", "--json"], ["--stop-on-nonmatch", "-n", "-A1"],
    ["-U", "-n"], ["-U", "-o", "-n"], ["-U", "-v", "-n"], ["-U", "--json"], ["-U", "-c"],
    ["-U", "--multiline-dotall", "-n"], ["-U", "--vimgrep"],
]


@pytest.fixture(scope="module")
def nul_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _module_tree(tmp_path_factory, "nul", NUL_FILES)


@pytest.mark.parametrize("flags", NUL_FLAGS, ids=" ".join)
@pytest.mark.parametrize("pattern", NUL_PATTERNS)
def test_null_data(nul_tree: Path, pattern: str, flags: list[str]) -> None:
    walked = [None] if "^" not in pattern and "\\A" not in pattern else []
    for paths in (*walked, sorted(NUL_FILES)):
        _compare(nul_tree, pattern, ["--null-data", *flags], paths)


@pytest.mark.parametrize("pattern", [r"\x00", r"o\x00b|a.b", r"[\x00-\x20]+", r"\n\x00?\n"])
@pytest.mark.parametrize("flags", [["-n"], ["-o", "-n"], ["-v", "--json"], ["-c"]], ids=" ".join)
def test_null_data_multiline_nul(nul_tree: Path, pattern: str, flags: list[str]) -> None:
    """-U lets a match hold a NUL (rg searches across lines only when one can)."""
    _compare(nul_tree, pattern, ["--null-data", "-U", *flags], None)


_NUL_CHUNKS = st.sampled_from(
    [b"a", b"b", b"ab", b" ", b"\t", b"\n", b"\n", b"\x00", b"\x00", b"\r\n", b"\xc3\xa9"])


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(st.lists(_NUL_CHUNKS, max_size=16).map(b"".join), min_size=1,
                      max_size=3),
    pattern=st.sampled_from([
        "a", "^a", "b$", "^$", r"a\nb", r"a.b", r"[^a]b", r"\s", r"\bab\b", "", r"^\s*$",
        r"(?i)A\n?B", "a|^b",
    ]),
    flags=st.tuples(
        st.sampled_from([[], ["-v"], ["-w"], ["-x"], ["-U"], ["-U", "-v"]]),
        st.sampled_from([[], ["-m1"], ["-A1"], ["-B1"], ["-C1"]]),
        st.sampled_from([[], ["-c"], ["-l"], ["-o"], ["--json"], ["-n"], ["-b", "-o"]]),
    ).map(lambda groups: ["--null-data", *itertools.chain.from_iterable(groups)]),
    explicit=st.booleans(),
)
def test_null_data_random(
    tmp_path: Path, contents: list[bytes], pattern: str, flags: list[str], explicit: bool
) -> None:
    # (`^` walked: rg sees a text start where each read buffer starts, see test_null_data)
    anchored = "^" in pattern or "-x" in flags
    _compare_files(tmp_path, contents, pattern, flags, explicit or anchored)
