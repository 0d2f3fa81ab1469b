"""Differential tests of the searches that print (or count) most of a tree's lines, whose
fast paths compute less than the general one: --column's first match only, -v's counts
from line counts, empty matches on long lines, context lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import RG, TRIGREP, run
from test_cli_rg import assert_same
from trigrep.parallel import BIG_FILE, INLINE_FILES
from trigrep.searcher import COUNT_CHUNK, DENSE_LINES

FILES: dict[str, bytes] = {
    "crlf.txt": b"ab cd\r\nxx\r\n\r\nfoo bar\r\n",
    "noeol.txt": b"abc\n\nfoo x",
    "spaces.txt": b"  foo bar\n123\n\t x\n",
    "early.bin": b"foo\nbar\0baz\nfoo\n",
    "late.bin": b"foo x\n" * 12_000 + b"bar\0baz\nfoo\n",
    "long.txt": b"x" * 80_000 + b" foo\n" + b"ab\n" * 3,
    "empty.txt": b"",
    "blank.txt": b"\n\n\n",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("heavy")
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    return root


@pytest.mark.parametrize("flags", [
    ["--column"], ["--column", "-v"], ["--column", "-C1"], ["--column", "--trim"],
    ["--column", "--crlf"], ["--column", "-m1"], ["--column", "-b", "-N"],
    ["--column", "--color", "always"], ["--column", "--color", "always", "--colors", "match:none"],
    ["--column", "-M", "6"], ["--column", "-o"], ["--column", "-U"], ["--column", "-r", "<$0>"],
    ["--column", "--stats"], ["--column", "--json"], ["--column", "-a"],
    ["--column", "--heading"], ["--column", "--null", "-v", "-C1"],
    ["--column", "--field-match-separator", "%d", "--field-context-separator", "%s", "-C1"],
    ["--column", "--color", "always", "--colors", "column:fg:red", "-A1"],
    ["--column", "--hyperlink-format", "default", "--color", "always"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["x*", "o", "[a-z]*", "$", "b|$"])
def test_column_prints_the_first_match(
    tree: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """Without colour, --column prints the first match's column: only it is looked for; a
    line is printed with one format (a line without a match, with none)."""
    assert_same([*flags, pattern], tree, env)


@pytest.mark.parametrize("flags", [
    ["-c", "-v"], ["-l", "-v"], ["--files-without-match", "-v"], ["-q", "-v"],
    ["--count-matches", "-v"], ["-c", "-v", "--include-zero"], ["-c", "-v", "-m2"],
    ["-c", "-v", "-m0"], ["-l", "-v", "-m1"], ["-c", "-v", "--crlf"], ["-c", "-v", "-C1"],
    ["-c", "-v", "--passthru"], ["-c", "-v", "--null-data"], ["-c", "-v", "-U"],
    ["-c", "-v", "-a"], ["-c", "-v", "--stop-on-nonmatch"], ["-c", "-v", "--stats"],
    ["-c", "-v", "--json"], ["-c", "-v", "--mmap"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "x*", "^$", "x$", "b|^", "\\r$"])
def test_inverted_lines_are_counted(
    tree: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """-v in the summary modes counts a text file's lines without a match (the last one
    perhaps unterminated) rather than visiting each; binary files are searched as before."""
    assert_same([*flags, pattern], tree, env)
    assert_same([*flags, pattern, *sorted(FILES)], tree, env)


@pytest.mark.parametrize("flags", [
    ["--vimgrep"], ["--vimgrep", "--stats"], ["--vimgrep", "-b", "--trim"],
    ["--vimgrep", "--color", "always"], ["--vimgrep", "-M", "100", "--max-columns-preview"],
    ["-o", "-n"], ["--vimgrep", "--heading"],
], ids=" ".join)
def test_a_long_line_printed_once_per_match(
    tmp_path: Path, env: dict[str, str], flags: list[str]
) -> None:
    """--vimgrep prints a line once per match: an empty match at each of a 5 KB line's bytes
    makes 25 MB of output, which stays in pieces sharing the line (searcher.Rendered), in a
    file searched alone or among others (joined by a worker)."""
    (tmp_path / "wide.txt").write_bytes(b"  " + b"ab" * 2500 + b"\nab\n")
    for i in range(30):
        (tmp_path / f"small{i}.txt").write_bytes(b"ab\nx\n" if i % 2 else b"b\n")
    assert_same([*flags, "x*", "wide.txt"], tmp_path, env)
    assert_same([*flags, "x*"], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-l", "-v"], ["-q", "-v"], ["--files-without-match", "-v"], ["-c", "-v"], ["-c", "-v", "-m3"],
], ids=" ".join)
def test_inverted_lines_counted_on_standard_input(
    tmp_path: Path, env: dict[str, str], flags: list[str]
) -> None:
    """Standard input is searched window by window (1 MiB): the only line without a match
    comes in a later window, once unterminated."""
    for tail in (b"bar\n", b"bar", b"foo"):
        data = b"foo\n" * 700_000 + tail
        want = run([RG, *flags, "foo"], tmp_path, env, stdin=data)
        got = run([*TRIGREP, *flags, "foo"], tmp_path, env, stdin=data)
        assert (got.out, got.code) == (want.out, want.code), tail


ONE_RUN_FILES: dict[str, bytes] = {
    "words.txt": b"foo foo\nfoox\n  xfoo\nfoo\n\nbar foo baz foo\nfoo",
    "crlf.txt": b"foo\r\nfoo x\r\n\r\nxfoo\r\n",
    "utf8.txt": "éfoo\nfooé foo\nαfoo\n".encode() + b"\xfffoo\xff\n",
    "late.bin": b"foo x\n" * 12_000 + b"bar\0baz\nfoo\n",
    "noeol.txt": b"a\nfoo",
}


@pytest.mark.parametrize("flags", [
    ["-n"], ["--count-matches"], ["--count-matches", "--include-zero"], ["-c"], ["-o", "-b"],
    ["-n", "--color", "always"], ["--json"], ["-m2", "--count-matches"],
    ["-m1", "-n", "--color", "always"], ["--vimgrep"],
    ["-n", "--crlf", "--color", "always"], ["-n", "-a", "--color", "always"], ["-w", "-o"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", [
    "foo", "o\\b", "\\bfoo", "o$", "^foo", "\\w+$", "o|x", "\\s", "[^a-z]", "\\Bfoo", "(?-u:\\W)",
])
def test_spans_found_in_one_run(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """A regex that cannot match empty finds a text file's matching lines and their spans in
    one run over the buffer (searcher._lines_with_spans): the same spans as a search of each
    line alone, at line starts, line ends (a `\\r`, an unterminated last one) and beside
    non-ASCII or invalid UTF-8."""
    for name, data in ONE_RUN_FILES.items():
        (tmp_path / name).write_bytes(data)
    assert_same([*flags, pattern], tmp_path, env)


CONTEXT_FILES: dict[str, bytes] = {
    "dense.txt": b"".join(b"foo %d\n" % i if i % 3 == 0 else b"bar %d\n" % i for i in range(40)),
    "crlf.txt": b"foo\r\nx\r\n\r\ny\r\nfoo\r\nz",
    "noeol.txt": b"a\nb\nfoo\nc\nd",
    "late.bin": b"x\n" * 40_000 + b"foo\nbar\0baz\nfoo\nq\n",
    "nul.txt": b"foo\0a\0b\0foo\0c",
}


@pytest.mark.parametrize("flags", [
    ["-C2", "-n"], ["-A1", "-B3", "-b"], ["-m1", "-A2"], ["-m2", "-C1", "-c"], ["--passthru", "-n"],
    ["-C2", "--mmap"], ["-C1", "-a"], ["-C1", "--null-data"], ["-B1", "--crlf"],
    ["--passthru", "-m1"], ["-C1", "--json"], ["-C5", "--heading"],
], ids=" ".join)
def test_context_lines_in_one_loop(tmp_path: Path, env: dict[str, str], flags: list[str]) -> None:
    """Context lines that need no spans nor a NUL check are made in one loop, numbered one
    past another (searcher._Collector._bare_context): overlapping context, -m, --passthru,
    a last line without a terminator, and files whose NUL rg meets line by line."""
    for name, data in CONTEXT_FILES.items():
        (tmp_path / name).write_bytes(data)
    assert_same([*flags, "foo"], tmp_path, env)
    assert_same([*flags, "foo", *sorted(CONTEXT_FILES)], tmp_path, env)


LINE_FILES: dict[str, bytes] = {
    "words.txt": b"foo foo\nfoox\n\n  xfoo\nfoo\n\nbar foo baz foo\nfoo",
    "crlf.txt": b"foo\r\nfoo x\r\n\r\nxfoo\r\n\r\n",
    "blank.txt": b"\n\nfoo\n\n",
    "empty.txt": b"",
    "noeol.txt": b"a\nfoo",
    # matches at the ends of rg's 64 KiB buffers, and past a gap of over 8 KiB (counted
    # with numpy: searcher.VECTOR_COUNT_MIN)
    "edges.txt": b"x" * 65_532 + b"foo\n" + b"foo\n" + b"y\n" * 6_000 + b"foo " * 3 + b"\nfoo",
    "late.bin": b"foo x\n" * 12_000 + b"bar\0baz\nfoo\n",
    "early.bin": b"foo\n\0foo\n",
    "nul.txt": b"foo\0a\0\0foo x\0",
}


@pytest.mark.parametrize("flags", [
    ["-n"], ["-N", "-m2"], ["-c"], ["-c", "-m2"], ["-l"], ["--files-without-match"],
    ["-n", "--color", "always"], ["-n", "--color", "always", "-m2"], ["--count-matches", "-m1"],
    ["-n", "--crlf"], ["-c", "--crlf"], ["-n", "--null-data"], ["-c", "--null-data"],
    ["-c", "-a"], ["--json", "-c"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "o\\b", "o$", "x*", "^foo"])
def test_lines_found_in_one_loop(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """A text file's matching lines become events numbered in the loop that finds them, its
    spans from one run over the buffer (searcher._bare_events, _span_events); -c counts the
    lines without making them (counted_lines): empty lines, CRLF, a last line without a
    terminator, matches at buffer ends and far apart, -m, NUL bytes."""
    for name, data in LINE_FILES.items():
        (tmp_path / name).write_bytes(data)
    assert_same([*flags, pattern], tmp_path, env)
    assert_same([*flags, pattern, *sorted(LINE_FILES)], tmp_path, env)



NUMBERED_FILES: dict[str, bytes] = {
    **LINE_FILES,
    "100%d %s.txt": b"foo %d\nx\nfoo %s\n",  # a path a %-format must not read
    "one.txt": b"foo",
}


@pytest.mark.parametrize("flags", [
    ["-n"], ["-n", "-m2"], ["-n", "-m1"], ["-n", "--null"], ["-n", "--heading"],
    ["-n", "--heading", "--null"], ["-n", "-H"], ["-n", "--no-filename"], ["-n", "--crlf"],
    ["-n", "--null-data"], ["-n", "--path-separator", "|"], ["-n", "-a"],
    ["-n", "--color", "always", "--colors", "match:none"],
    ["-n", "--field-match-separator", "%d"], ["-n", "-v"], ["-n", "-w"], ["-n", "-i"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "", "x*", "o\\b", "foo$", "^"])
def test_numbered_lines_cut_from_the_buffer(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """-n without context nor spans prints a text file's lines cut from its buffer, numbered
    between them, with one %-format for the file (parallel.FileSearch._bare_file): CRLF, a
    last line without a terminator or holding the match, -m, several or empty matches on a
    line, --null, headings, paths holding `%`, NUL bytes (searched as before)."""
    _same_on_numbered_files([*flags, pattern], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-p"], ["--color", "always"], ["--color", "always", "-n"], ["-p", "--null"],
    ["--color", "always", "--heading"], ["-p", "-m1"], ["--color", "always", "-n", "-m2"],
    ["-p", "--no-filename"], ["--color", "always", "-H", "-n"], ["-p", "--crlf"],
    ["-p", "--path-separator", "|"], ["--color", "always", "-n", "--field-match-separator", "%d"],
    ["-p", "--colors", "match:fg:green", "--colors", "line:none", "--colors", "path:none"],
    ["-p", "--colors", "match:style:bold"], ["-p", "-w"], ["-p", "-i"], ["-p", "-v"],
    ["-p", "-a"], ["-p", "--hyperlink-format", "default"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "", "x*", "o\\b", "foo$", "^", "o", "%s|d"])
def test_painted_lines_cut_from_the_buffer(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """What a terminal shows (matches painted, lines printed whole) is made from a text
    file's lines and spans as one run of the regex finds them, with one %-format for the
    file (printer.LineFormat.painted_output): the cases of
    test_numbered_lines_cut_from_the_buffer, painted, under headings or not."""
    _same_on_numbered_files([*flags, pattern], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["--json"], ["--json", "-N"], ["--json", "-w"], ["--json", "-i"], ["--json", "--crlf"],
    ["--json", "-m2"], ["--json", "-a"], ["--json", "-F"], ["--json", "-c"],
    ["--json", "--count-matches"], ["--json", "-l"], ["--json", "--files-without-match"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "", "x*", "o\\b", "foo$", "^", "o", "%s|d"])
def test_json_lines_of_a_plain_search(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """--json without -m, context or -v takes a text file's lines as a plain search finds
    them, reporting the whole file searched (searcher.BufferSearch.plain): the files of
    test_numbered_lines_cut_from_the_buffer, walked and named."""
    _same_on_numbered_files([*flags, pattern], tmp_path, env)


def _same_on_numbered_files(args: list[str], tmp_path: Path, env: dict[str, str]) -> None:
    """rg and trigrep print alike for NUMBERED_FILES, walked and named."""
    for name, data in NUMBERED_FILES.items():
        (tmp_path / name).write_bytes(data)
    assert_same(args, tmp_path, env)
    assert_same([*args, *sorted(NUMBERED_FILES)], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-n"], ["-N"], ["-n", "-m", str(DENSE_LINES + 10)], ["-n", "--crlf"], ["-n", "-w"],
    ["-n", "-i"], ["-n", "--heading"], ["-n", "--null"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "", "x*", "o\\b", "foo$", "^", "b|$"])
def test_lines_of_a_dense_search_found_with_the_rest_of_their_line(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """Once a search found DENSE_LINES lines, the next files' lines come from one run of a
    regex that takes the rest of each line too (searcher.bare_lines): the files of
    test_numbered_lines_cut_from_the_buffer after a first one holding that many lines, and
    one holding more than -m."""
    _write_dense_files(tmp_path)
    assert_same([*flags, pattern], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-c"], ["-c", "-m", str(DENSE_LINES + 10)], ["-c", "--crlf"], ["-c", "-w"], ["-c", "-i"],
    ["-c", "--null"], ["-c", "--null-data"], ["-c", "--include-zero"], ["-c", "-v"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "", "x*", "o\\b", "foo$", "^", "b|$", "o|x"])
def test_lines_of_a_dense_search_counted_with_the_rest_of_their_line(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """Once a search found DENSE_LINES lines, -c counts the next files' lines by the matches
    of the regex that takes the rest of each line too (searcher.counted_dense_lines), unless
    it has a limit (-m) or matches empty: the files of
    test_lines_of_a_dense_search_found_with_the_rest_of_their_line."""
    _write_dense_files(tmp_path)
    assert_same([*flags, pattern], tmp_path, env)


def _write_dense_files(tmp_path: Path) -> None:
    """A file of DENSE_LINES matching lines, first, then more, and NUMBERED_FILES."""
    (tmp_path / "0dense.txt").write_bytes(b"foo\n" * DENSE_LINES)
    (tmp_path / "1many.txt").write_bytes(b"foo\nx\n" * 2 * DENSE_LINES)
    for name, data in NUMBERED_FILES.items():
        (tmp_path / name).write_bytes(data)


def test_numbered_lines_of_many_files_and_a_big_one(tmp_path: Path, env: dict[str, str]) -> None:
    """The same in worker processes (a search of over INLINE_FILES files: each run of text
    files joined into one output), and in a file over BIG_FILE, searched in windows."""
    for i in range(INLINE_FILES + 200):
        (tmp_path / f"f{i:04}.txt").write_bytes(b"x\n" * (i % 5) + b"foo %d\n" % i * (i % 3))
    line = b"some text of a line, foo or not\n"
    (tmp_path / "big.txt").write_bytes(line * ((BIG_FILE + (1 << 20)) // len(line)) + b"foo")
    for flags in (["-n"], ["-n", "--heading"], ["-n", "-m3"], ["--count-matches"], ["-N"],
                  ["-N", "--heading", "-m", "40000"], ["-c"], ["-c", "-v"]):
        assert_same([*flags, "foo|o$"], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-l"], ["-c"], ["-c", "--crlf"], ["-c", "--no-filename"], ["-l", "--no-filename"],
    ["-c", "-m1"], ["--count-matches"], ["-l", "--null"], ["-c", "--null"],
    ["-l", "--path-separator", "|"], ["-c", "--path-separator", "|"], ["-l", "--null-data"],
    ["-c", "--color", "always"], ["-l", "--color", "always"], ["-c", "--include-zero"],
], ids=" ".join)
def test_summary_lines_of_paths_and_counts(
    tmp_path: Path, env: dict[str, str], flags: list[str]
) -> None:
    """A bare summary line holding only the path and count is made in one step
    (printer.SummaryFormat.bare_count_output), others as before: colour, --null,
    --path-separator, CRLF, a path that is not UTF-8, a file named alone."""
    (tmp_path / "sub").mkdir()
    for name, data in NUMBERED_FILES.items():
        (tmp_path / "sub" / name).write_bytes(data)
    (tmp_path / os.fsdecode(b"caf\xe9 foo.txt")).write_bytes(b"foo\n")
    assert_same([*flags, "foo"], tmp_path, env)
    assert_same([*flags, "foo", "sub/words.txt"], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["--count-matches"], ["--count-matches", "--null"], ["--count-matches", "-H"],
    ["--count-matches", "--no-filename"], ["--count-matches", "-m1"], ["--count-matches", "-a"],
    ["--count-matches", "--crlf"], ["--count-matches", "--null-data"],
    ["--count-matches", "--include-zero"], ["--count-matches", "-w"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "o\\b", "foo$", "x*", "o|%"])
def test_matches_counted_without_events(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """--count-matches counts a text file's matches in one run and prints the count, with no
    result to render (parallel.FileSearch._bare_file); with -m, a regex matching empty,
    --crlf or --include-zero, files are searched as before."""
    _same_on_numbered_files([*flags, pattern], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["-c"], ["--count-matches"], ["--files-without-match"], ["-c", "--include-zero"],
    ["-v", "-c"], ["-c", "--passthru"], ["-c", "-m3"], ["--files-without-match", "-m2"],
    ["-c", "--stats"], ["--count-matches", "--json"], ["-c", "--stop-on-nonmatch"],
], ids=" ".join)
def test_summaries_dropped_at_a_nul_after_many_matching_lines(
    tmp_path: Path, env: dict[str, str], flags: list[str]
) -> None:
    """A walked file whose NUL comes after 200,000 matching lines: rg drops its count (or
    its --files-without-match line) when it meets the NUL, which a search without -m, --json
    or --stats need not search up to (BufferSearch.drops_at_nul); with them, it does."""
    (tmp_path / "log.txt").write_bytes(b"foo bar\n" * 200_000 + b"x\0y\n")
    (tmp_path / "head.bin").write_bytes(b"\0foo\n")
    (tmp_path / "plain.txt").write_bytes(b"foo\nbar\n")
    assert_same([*flags, "foo"], tmp_path, env)


@pytest.mark.parametrize("flags", [
    ["--count-matches"], ["--count-matches", "-w"], ["--count-matches", "-i"],
    ["--count-matches", "--include-zero"], ["--count-matches", "-m3"],
    ["-c"], ["-c", "-w"], ["-c", "-v"], ["-c", "-v", "--include-zero"], ["-c", "-m3"],
], ids=" ".join)
@pytest.mark.parametrize("pattern", ["foo", "o\\b", "\\bf", "o$", "^f", "o\\z", "o+"])
def test_matches_and_lines_counted_a_chunk_of_lines_at_a_time(
    tmp_path: Path, env: dict[str, str], flags: list[str], pattern: str
) -> None:
    """--count-matches and -c count a text file's matches and lines COUNT_CHUNK bytes of
    lines at a time (searcher.counted_matches, counted_lines), -c with its rest-of-line
    regex once the first chunk found DENSE_LINES lines: lines of many lengths put the
    chunks' ends and starts at matches, a long line spans a chunk, and a last line lacks
    its terminator. Walked, and named (searched as any named file, then counted so)."""
    line_lengths = [1, 7, 300, 4095, 70_000]
    lines = [b"foo" + b"o" * (n % 11) + b" foo" * (n // 4) + b" x\n" for n in line_lengths]
    long_lines = b"".join(lines[i % len(lines)] for i in range(3 * COUNT_CHUNK // 15_000))
    short_lines = b"foo x\nxfoo\nx\n" * DENSE_LINES
    (tmp_path / "chunks.txt").write_bytes(short_lines + long_lines + short_lines + b"f foo")
    (tmp_path / "small.txt").write_bytes(b"foo\nxfoo\nfo o\n")
    assert_same([*flags, pattern], tmp_path, env)
    assert_same([*flags, pattern, "chunks.txt", "small.txt"], tmp_path, env)
