"""Searching window by window (trigrep.stream): standard input as it arrives, whose output must
not depend on how the input was split across reads, in every mode (lines, counts, --json,
--stats, --passthru, -E), -m, -q and -l answering before the input ends (`tail -f log |
trigrep -m1 ready`), and the counts taken window by window; and big files, whose output must
be that of one search of the whole file."""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import pytest

from conftest import RG, TRIGREP, normalise_timings, run
from trigrep import parallel, stream
from trigrep.flags import parse_search_flags
from trigrep.parallel import BIG_FILE
from trigrep.printer import make_printer
from trigrep.query import compile_query
from trigrep.searcher import BinaryMode, BufferSearch, FileResult, search_buffer
from trigrep.walk import FileEntry

WORDS = [b"foo", b"bar", b"foobar", b"", b"x foo y", b"Foo", b"\xc3\xa9foo", b"zzz " * 40,
         b"baz\r", b"fo", b"o"]
FLAG_CHOICES = [
    [], ["-n"], ["-C1"], ["-A2"], ["-B3"], ["-n", "-C2"], ["-m2"], ["-m3", "-A2"], ["-v"],
    ["-v", "-n", "-B1"], ["-b", "-o"], ["--heading", "-H", "-n"], ["--color", "always"],
    ["--column"], ["--vimgrep"], ["-r", "<$0>"], ["-w"], ["-i", "-n"], ["-x"], ["-l"],
    ["-q"], ["-H", "-A1", "--context-separator", "=="], ["-m1", "-B2", "-n"], ["--trim"],
    ["-M", "20"], ["-c"], ["--files-without-match"], ["--json"], ["--passthru", "-n"],
    ["--count-matches"], ["-c", "-m3"], ["-c", "-v"], ["--count-matches", "-H"],
    ["--files-without-match", "-v"], ["-l", "--stats"], ["-q", "--json"], ["--json", "-n", "-C1"],
    ["--json", "-v", "-B2"], ["--json", "-m1"], ["--stats"], ["--stats", "-n", "-A1", "-m2"],
    ["--stats", "-c"], ["--stats", "-o", "-v"], ["--passthru", "-m2"], ["--passthru", "-b", "-v"],
    ["-E", "latin1", "-n"], ["-E", "utf-8", "-C1"], ["-E", "utf-16le", "-c"],
    ["--stop-on-nonmatch"], ["--stop-on-nonmatch", "-n", "-A1", "-B2"],
    ["--stop-on-nonmatch", "-c"], ["--stop-on-nonmatch", "--passthru"],
    ["--stop-on-nonmatch", "--json", "-m3"],
]


def _feed(args: list[str], chunks: list[bytes], cwd: Path, env: dict[str, str],
          pause: float = 0.003) -> tuple[bytes, bytes, int]:
    """trigrep's output with `chunks` written to its stdin one by one, a pause between."""
    p = subprocess.Popen([*TRIGREP, *args], cwd=cwd, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None and p.stderr is not None
    stdin = p.stdin

    def write() -> None:
        with contextlib.suppress(BrokenPipeError):  # it stopped reading (-m, -q, -l)
            for chunk in chunks:
                stdin.write(chunk)
                stdin.flush()
                time.sleep(pause)
        with contextlib.suppress(BrokenPipeError):
            stdin.close()

    writer = threading.Thread(target=write)
    writer.start()
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    out = p.stdout.read()
    code = p.wait(timeout=60)
    writer.join()
    reader.join()
    return out, err[0], code


@pytest.mark.parametrize("case", range(48))
def test_split_input_prints_what_rg_prints(tmp_path: Path, env: dict[str, str],
                                           case: int) -> None:
    rng = random.Random(case)
    lines = [rng.choice(WORDS) for _ in range(rng.randrange(1, 400))]
    data = b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n"])
    args = [*rng.choice(FLAG_CHOICES), rng.choice(["foo", "^$", "o+", "bar|^x", "zzz"])]
    _assert_like_rg(args, data, _split(rng, data), tmp_path, env)


def _assert_like_rg(args: list[str], data: bytes, chunks: list[bytes], cwd: Path,
                    env: dict[str, str]) -> None:
    """trigrep fed `chunks` prints what rg prints for `data` (but for timings)."""
    want = run([RG, *args], cwd, env, stdin=data)
    out, err, code = _feed(args, chunks, cwd, env)
    assert (normalise_timings(out), err, code) == (
        normalise_timings(want.out), want.err.replace(b"rg: ", b"trigrep: "), want.code), (
        args, chunks)


def _split(rng: random.Random, data: bytes) -> list[bytes]:
    """`data` in up to 12 pieces, cut anywhere."""
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(1, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("args", [["-m1", "foo"], ["-q", "foo"], ["-l", "foo"],
                                  ["-m1", "-A1", "foo"]], ids=" ".join)
def test_answered_before_the_input_ends(tmp_path: Path, env: dict[str, str],
                                        args: list[str]) -> None:
    """As rg: once -m, -q or -l have their answer, the search ends with the pipe still open."""
    p = subprocess.Popen([*TRIGREP, *args], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None
    p.stdin.write(b"a\nfoo 1\nb\n")
    p.stdin.flush()
    try:
        out, err = p.communicate(timeout=30)  # (it closes stdin only after the exit)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    want = run([RG, *args], tmp_path, env, stdin=b"a\nfoo 1\nb\n")
    assert (out, err, p.returncode) == (want.out, want.err, want.code)


def test_lines_print_as_they_arrive(tmp_path: Path, env: dict[str, str]) -> None:
    """`tail -f log | trigrep --line-buffered x`: a matching line is printed once read."""
    p = subprocess.Popen([*TRIGREP, "--line-buffered", "-n", "foo"], cwd=tmp_path, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    try:
        p.stdin.write(b"a\nfoo 1\nb")  # "b" is not a whole line yet
        p.stdin.flush()
        assert p.stdout.readline() == b"2:foo 1\n"
        p.stdin.write(b"foo\nfoo 2\n")
        p.stdin.flush()
        assert p.stdout.readline() == b"3:bfoo\n"
        assert p.stdout.readline() == b"4:foo 2\n"
        p.stdin.close()
        assert p.wait(timeout=30) == 0
    finally:
        p.kill()


def _readline(out: BinaryIO, timeout: float = 30) -> bytes:
    """The next line of `out`, or b"" (a failed test, not a hung one) if none comes."""
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(out.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else b""


_JSON_MATCH = b'{"type":"match","data":{"path":{"text":"<stdin>"},"lines":{"text":"foo %d\\n"}'


@pytest.mark.parametrize(("args", "first", "then"), [
    (["--json", "foo"], [b'{"type":"begin"', _JSON_MATCH % 1], [_JSON_MATCH % 2]),
    (["--passthru", "-n", "foo"], [b"1-a\n", b"2:foo 1\n"], [b"3-b\n", b"4:foo 2\n"]),
    (["--stats", "foo"], [b"foo 1\n"], [b"foo 2\n"]),
], ids=["json", "passthru", "stats"])
def test_other_modes_print_as_they_arrive(tmp_path: Path, env: dict[str, str], args: list[str],
                                          first: list[bytes], then: list[bytes]) -> None:
    """`tail -f log | trigrep --json x` (--passthru, --stats): each line's output (starting
    so) once it is read; the end message and the stats once the input ends."""
    p = subprocess.Popen([*TRIGREP, "--line-buffered", *args], cwd=tmp_path, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    try:
        for written, printed in ((b"a\nfoo 1\n", first), (b"b\nfoo 2\n", then)):
            p.stdin.write(written)
            p.stdin.flush()
            for start in printed:
                assert _readline(p.stdout).startswith(start), start
        p.stdin.close()
        rest = p.stdout.read()
        assert p.wait(timeout=30) == 0
        assert (b'"type":"end"' in rest) == (args[0] == "--json")
        assert (b"2 matched lines" in rest) == (args[0] == "--stats")
    finally:
        p.kill()


@pytest.mark.parametrize("args", [["--stop-on-nonmatch", "-n", "foo"],
                                  ["--stop-on-nonmatch", "-c", "foo"]], ids=" ".join)
def test_stop_on_nonmatch_ends_before_the_input(tmp_path: Path, env: dict[str, str],
                                                args: list[str]) -> None:
    """As rg: the first line that is no match after a match ends the search, the pipe still
    open (its matching lines came in earlier reads)."""
    p = subprocess.Popen([*TRIGREP, *args], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None
    written = b""
    try:
        for piece in (b"a\nfoo 1\n", b"foo 2\n", b"b\nfoo 3\n"):
            p.stdin.write(piece)
            p.stdin.flush()
            written += piece
            time.sleep(0.05)
        assert p.wait(timeout=30) == 0
        want = run([RG, *args], tmp_path, env, stdin=written)
        assert p.stdout.read() == want.out
    finally:
        p.kill()


@pytest.mark.parametrize("args", [["foo"], ["-n", "-B1", "foo"], ["-A1", "foo"],
                                  ["-c", "foo"]], ids=" ".join)
@pytest.mark.parametrize("rest", [b"\0\nbar\nfoo\n", b"\0\nbar\n", b"bar\n\0x\nfoo\n"],
                         ids=["match-after", "no-match-after", "context-first"])
def test_a_nul_in_a_later_read(tmp_path: Path, env: dict[str, str], args: list[str],
                               rest: bytes) -> None:
    """A NUL in a read after matches were printed: rg's note that the input is binary (and a
    context break before it) follows them, as when rg reads the same pieces."""
    outputs = []
    for program in ([RG], TRIGREP):
        p = subprocess.Popen([*program, "--line-buffered", *args], cwd=tmp_path, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert p.stdin is not None and p.stdout is not None
        try:
            p.stdin.write(b"foo\n")
            p.stdin.flush()
            first = _readline(p.stdout) if args[0] != "-c" else b""
            p.stdin.write(rest)
            p.stdin.close()
            outputs.append((normalise_timings(first + p.stdout.read()), p.wait(timeout=30)))
        finally:
            p.kill()
    assert outputs[1] == outputs[0]


def test_a_match_after_a_nul_ends_the_search(tmp_path: Path, env: dict[str, str]) -> None:
    """As rg: the first match after a NUL ends the line output (with rg's note), the pipe
    still open."""
    outputs = []
    for program in ([RG], TRIGREP):
        p = subprocess.Popen([*program, "--line-buffered", "-n", "foo"], cwd=tmp_path, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert p.stdin is not None and p.stdout is not None
        try:
            p.stdin.write(b"foo\n")
            p.stdin.flush()
            first = _readline(p.stdout)
            p.stdin.write(b"\0\nbar\nfoo\n")
            p.stdin.flush()
            outputs.append((first, _readline(p.stdout), p.wait(timeout=30)))
        finally:
            p.kill()
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize("case", range(16))
def test_a_nul_mid_stream_in_the_modes_that_count_on(tmp_path: Path, env: dict[str, str],
                                                     case: int) -> None:
    """The counting modes, -l, -q and --json go on past a NUL as rg does (converted to a line
    end: counts, line numbers, binary_offset, bytes_searched), window by window."""
    rng = random.Random(case)
    words = [*WORDS, b"\0", b"a\0foo", b"foo\0\0"]
    lines = [rng.choice(words) for _ in range(rng.randrange(1, 300))]
    data = b"\n".join(lines) + rng.choice([b"\n", b""])
    args = [*rng.choice([["-c"], ["--count-matches"], ["-c", "-v", "-m5"], ["--json", "-C1"],
                         ["--json", "-n", "-v"], ["-l"], ["-q", "--stats"],
                         ["--files-without-match"], ["--stats", "-c"]]),
            rng.choice(["foo", "^$", "o+", "bar|^x"])]
    _assert_like_rg(args, data, _split(rng, data), tmp_path, env)


@pytest.mark.parametrize("case", range(12))
def test_null_data_split_input(tmp_path: Path, env: dict[str, str], case: int) -> None:
    """--null-data: lines end in a NUL (and hold `\\n`s), so do the windows."""
    rng = random.Random(case)
    words = [b"foo", b"bar", b"", b"x\nfoo", b"foo\n", b"\nbar\n", b"zzz " * 30]
    data = b"\0".join(rng.choice(words) for _ in range(rng.randrange(1, 300)))
    data += rng.choice([b"\0", b""])
    args = ["--null-data", *rng.choice([["-n"], ["-C1"], ["-A2", "-m2"], ["-v", "-B1"], ["-c"],
                                        ["--json"], ["--passthru"], ["--stop-on-nonmatch"]]),
            rng.choice(["foo", "o+", "bar|x"])]  # (`^`: see README's known differences)
    _assert_like_rg(args, data, _split(rng, data), tmp_path, env)


@pytest.mark.parametrize("case", range(16))
def test_an_encoding_decoded_as_it_arrives(tmp_path: Path, env: dict[str, str],
                                           case: int) -> None:
    """-E (and UTF-16 with a BOM): the input decoded piece by piece, a BOM or a character
    cut anywhere, is searched as rg searches it decoded whole."""
    rng = random.Random(case)
    lines = [rng.choice(WORDS) for _ in range(rng.randrange(1, 200))]
    text = (b"\n".join(lines) + b"\n").decode("utf-8")
    data, encoding = rng.choice([
        (b"\xff\xfe" + text.encode("utf-16-le"), []),
        (b"\xfe\xff" + text.encode("utf-16-be"), ["-E", "latin1"]),
        (text.encode("utf-16-le") + b"\x00", ["-E", "utf-16le"]),  # (an odd last byte)
        (b"\xef\xbb\xbf\xff\xfe" + text.encode("utf-16-le"), ["-E", "utf-16le"]),
        (text.encode("utf-8") + b"\xe9\x80", ["-E", "latin1"]),
        (b"\xef\xbb\xbf" + text.encode("utf-8") + b"\xff", ["-E", "utf-8"]),
    ])
    args = [*encoding, *rng.choice([["-n"], ["-c"], ["--json"], ["-o", "-b"], ["-C1"]]),
            rng.choice(["foo", "é", "o+", "^$"])]
    _assert_like_rg(args, data, _split(rng, data), tmp_path, env)


def test_counts_take_a_window_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """-c on a pipe holds no more than a window of it at once (a 2 GB pipe is no 2 GB
    buffer): each search gets at most WINDOW_BYTES and the line it ends in."""
    monkeypatch.setattr(stream, "WINDOW_BYTES", 1000)
    monkeypatch.setattr(stream, "READ_SIZE", 100)
    searched: list[int] = []

    def search(data: bytes, *args: object, **kwargs: object) -> object:
        searched.append(len(data))
        return search_buffer(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stream, "search_buffer", search)
    data = b"".join(b"line %d%s\n" % (i, b" foo" * (i % 3 == 0)) for i in range(20000))
    read, write = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write, data), os.close(write)))
    writer.start()
    match_opts, opts = parse_search_flags(["-c", "foo"])
    out = io.BytesIO()
    printer = make_printer(out, opts, with_filename=False, is_tty=False)
    try:
        stream.search_stdin(read, compile_query(match_opts), opts, "auto", printer, None)
    finally:
        writer.join()
        os.close(read)
    assert out.getvalue() == b"%d\n" % data.count(b"foo")
    assert len(searched) > 100 and max(searched) < 1000 + 20


@pytest.mark.parametrize("data", [
    b"foo\n\0foo\nbar\n", b"\xff\xfef\x00o\x00o\x00\n\x00",
    b"\xef\xbb\xbffoo\nfoo bar\n",
], ids=["nul", "utf16", "utf8-bom"])
@pytest.mark.parametrize("args", [["-n", "foo"], ["-b", "-o", "foo"], ["-c", "foo"]],
                         ids=" ".join)
def test_a_nul_or_a_bom_read_first(tmp_path: Path, env: dict[str, str], data: bytes,
                                   args: list[str]) -> None:
    """Input rg reads whole in its first read: its binary handling and BOM sniffing."""
    want = run([RG, *args], tmp_path, env, stdin=data)
    got = _feed(args, [data[:1], data[1:]], tmp_path, env)
    assert got == (want.out, want.err.replace(b"rg: ", b"trigrep: "), want.code)


@pytest.mark.parametrize("encoding", ["", "utf-8-sig", "utf-16"],
                         ids=["plain", "utf8-bom", "utf16-bom"])
@pytest.mark.parametrize("args", [
    ["-n", "-C1", "a"], ["-A1", "a"], ["--json", "-A1", "a"], ["-E", "latin1", "-A1", "a"],
], ids=" ".join)
def test_a_nul_past_the_buffer_of_stdin_read_from_a_file(
    tmp_path: Path, env: dict[str, str], encoding: str, args: list[str]
) -> None:
    """Rust's stdin reads through an 8 KiB buffer, which rg's BOM sniffer fills to peek at
    3 bytes: rg's next read (a transcoder's next fill) is the rest of it, so the lines in
    it are printed (-C1: with their context) before the read that meets a NUL at 10 KB."""
    text = "a\n" + "x\n" * (2500 if encoding == "utf-16" else 5000) + "\0\na\n"
    path = tmp_path / "in.txt"
    path.write_bytes(text.encode(encoding or "ascii"))
    outs = []
    for cmd in ([RG, *args], [*TRIGREP, *args]):
        with path.open("rb") as stdin:
            p = subprocess.run(cmd, cwd=tmp_path, env=env, stdin=stdin, capture_output=True,
                               timeout=120, check=False)
        outs.append((normalise_timings(p.stdout), p.returncode))
    assert outs[1] == outs[0]


BIG_FLAGS = [
    [], ["-n"], ["-n", "-C2"], ["-A3", "-b"], ["-B4", "-n", "--heading", "-H"], ["-m5"],
    ["-m7", "-A2", "-n"], ["-v", "-n"], ["-v", "-C1"], ["-o", "-b"], ["--color", "always"],
    ["-n", "--context-separator", "=="], ["-r", "[$0]", "-n"], ["--column", "-w"],
    ["-M", "9", "-n"], ["--vimgrep"], ["-B1", "-H", "--no-heading"],
    ["-n", "--heading", "-H", "-m9"], ["-H", "--null"], ["-m30", "-H"],
]


def _big_file_in_small_windows(monkeypatch: pytest.MonkeyPatch, rng: random.Random) -> bytes:
    """A random file's bytes, searched here a window of a few bytes at a time, and read
    through a FileView a few bytes at a time."""
    monkeypatch.setattr(stream, "FILE_WINDOW", rng.choice([1, 7, 40, 200]))
    monkeypatch.setattr(stream.FileView, "CHUNK", rng.choice([1, 3, 64]))
    lines = [rng.choice(WORDS) for _ in range(rng.randrange(1, 300))]
    return b"\n".join(lines) + rng.choice([b"\n", b""])


def _printed(result: FileResult) -> tuple[bytes, bool, bool] | None:
    """A result's rendered output as the printer takes it: its bytes (its pieces, perhaps
    searched as they are written, joined), whether it matches and has lines."""
    rendered = result.rendered
    if rendered is None:
        return None
    body = rendered.body
    return (body if isinstance(body, bytes) else b"".join(body), rendered.has_match,
            rendered.has_lines)


@pytest.mark.parametrize("case", range(120))
def test_a_big_file_searched_in_windows_prints_what_one_search_does(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: int) -> None:
    """A big text file's output, rendered window by window (windows of a few bytes here),
    is that of one search of the whole file (which the other tests compare with rg's), and
    so are its counts (--json and --stats report them); so is that of a search printing its
    lines whole (stream.bare_big_file: the windows here are dense, their lines then found by
    a regex matching whole lines). Both search the file's bytes, and the file itself through
    a FileView (read a few bytes at a time here), their windows' outputs gathered, or
    searched as they are printed (stream.streamed)."""
    rng = random.Random(case)
    data = _big_file_in_small_windows(monkeypatch, rng)
    argv = [*rng.choice([*BIG_FLAGS, ["--json"], ["--json", "-C1"], ["--json", "-v", "-n"],
                         ["--stats"], ["--stats", "-B2", "-n"]]),
            rng.choice(["foo", "^$", "o+", "bar|^x", "zzz", "o\\b", "(?i)^f", "\\w$"])]
    match_opts, opts = parse_search_flags(argv)
    query = compile_query(match_opts)
    printer = make_printer(io.BytesIO(), opts, with_filename=bool(opts.with_filename),
                           is_tty=False)
    fmt = printer.file_format
    assert fmt.renders_in_windows and stream.windowed(query, opts)
    binary = BinaryMode.QUIT
    one = search_buffer(data, query, opts, binary=binary)
    whole = fmt.output("big.txt", one)
    want = None if whole is None or not (whole.body or whole.has_match) else (
        whole.body, whole.has_match, whole.has_lines)
    # (the matches and the bytes searched are counted where they are reported)
    counts = (one.matched_lines, one.matches, one.bytes_searched) if (
        opts.json or opts.stats) else (one.matched_lines,)
    search = BufferSearch(query, opts, spans=fmt.needs_spans)
    (tmp_path / "big.txt").write_bytes(data)
    with (tmp_path / "big.txt").open("rb") as f:
        for source in (data, stream.FileView(f.fileno(), len(data))):
            for outputs in (stream.gathered, stream.streamed):
                total = FileResult()
                windowed = outputs(stream.search_big_file(source, query, opts, binary, fmt,
                                                          "big.txt", total), total)
                assert _printed(windowed) == want, argv
                assert (total.matched_lines, total.matches, total.bytes_searched)[
                    :len(counts)] == counts, argv
                if fmt.renders_bare and search.bare:
                    total = FileResult()
                    bare = outputs(stream.bare_big_file(source, query, search.limit, fmt,
                                                        "big.txt", total), total)
                    assert _printed(bare) == want, argv
                    assert total.matched_lines == one.matched_lines, argv


SUMMARY_FLAGS = [
    ["-c"], ["--count-matches"], ["-c", "-v"], ["-l"], ["--files-without-match"], ["-q"],
    ["-c", "-m2"], ["--count-matches", "-m3"], ["-v", "-l"], ["-c", "-v", "-m5"], ["-c", "-w"],
]


@pytest.mark.parametrize("case", range(60))
def test_a_big_file_counted_in_windows_counts_what_one_search_does(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: int) -> None:
    """A big text file's summary counted window by window (stream.counted_big_file; windows
    of a few bytes here), from its bytes or through a FileView, counts the lines and matches
    of one search of the whole file (which the other tests compare with rg's)."""
    rng = random.Random(case)
    data = _big_file_in_small_windows(monkeypatch, rng)
    argv = [*rng.choice(SUMMARY_FLAGS),
            rng.choice(["foo", "^$", "o+", "bar|^x", "zzz", "o\\b", "(?i)^f", "\\w$", "x*"])]
    match_opts, opts = parse_search_flags(argv)
    query = compile_query(match_opts)
    assert stream.counts_in_windows(query, opts)
    binary = BinaryMode.QUIT
    whole = search_buffer(data, query, opts, binary=binary, spans=False, line_numbers=False)
    (tmp_path / "big.txt").write_bytes(data)
    with (tmp_path / "big.txt").open("rb") as f:
        for source in (data, stream.FileView(f.fileno(), len(data))):
            counted = stream.counted_big_file(source, query, opts, binary)
            assert (counted.matched_lines, counted.matches) == (
                whole.matched_lines, whole.matches), argv


@pytest.mark.parametrize("case", range(20))
def test_a_file_view_reads_what_the_bytes_hold(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, case: int) -> None:
    """stream.FileView's length, slices, and finds of a byte (read a few bytes at a time
    here) are those of the file's bytes; a file cut shorter since it was opened reads as
    ending there. A slice holding a NUL raises BinaryContent, unless the view takes NULs."""
    rng = random.Random(case)
    monkeypatch.setattr(stream.FileView, "CHUNK", rng.choice([1, 2, 5, 64]))
    data = bytes(rng.choice(b"ab\n\0") for _ in range(rng.randrange(0, 200)))
    path = tmp_path / "f"
    path.write_bytes(data)
    with path.open("rb") as f:
        view = stream.FileView(f.fileno(), len(data), nuls=True)
        checked = stream.FileView(f.fileno(), len(data))
        assert len(view) == len(data)
        for _ in range(50):
            start, end = sorted(rng.randrange(len(data) + 3) for _ in range(2))
            byte = rng.choice([b"\n", b"\0", b"a", b"z"])
            assert view[start:end] == data[start:end]
            assert view.find(byte, start) == data.find(byte, start)
            assert view.rfind(byte, start, end) == data.rfind(byte, start, end)
            if b"\0" in data[start:end]:
                with pytest.raises(stream.BinaryContent):
                    checked[start:end]
            else:
                assert checked[start:end] == data[start:end]
        cut = rng.randrange(len(data) + 1)
        os.truncate(path, cut)
        assert view[0:len(data)] == data[:cut]
        assert view.find(b"\n", 0) == data[:cut].find(b"\n")
        assert view.rfind(b"\n", 0, len(data)) == data[:cut].rfind(b"\n")


@pytest.mark.parametrize("args", [
    ["-n", "-C1", "needle"], ["-c", "needle"], ["-m2", "needle"], ["--count-matches", "e"],
    ["-c", "-v", "needle"], ["-l", "needle"], ["--files-without-match", "needle"],
    ["-c", "-m3", "needle"], ["-q", "needle"], ["-n", "-m1", "needle"], ["-a", "-c", "needle"],
    ["needle"], ["-o", "-b", "-A1", "needle"], ["-a", "-n", "needle"], ["-B2", "--heading", "2"],
    ["--json", "needle"], ["--json", "-C1", "needle"], ["--json", "-m2", "needle"],
    ["--stats", "needle"], ["--stats", "-A1", "-n", "needle"],
], ids=" ".join)
def test_a_big_file_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """A text file over BIG_FILE (searched in windows, each read as it is searched) and two
    with a NUL, after the matches or between them (searched whole; -a: in windows), named
    or walked."""
    line = b"some text of a line, nothing to see\n"
    body = line * ((BIG_FILE + (1 << 20)) // len(line))
    (tmp_path / "big.txt").write_bytes(b"needle 1\n" + body + b"a needle 2\n" + body[:99999]
                                       + b"needle 3\nneedle 4")
    (tmp_path / "big.bin").write_bytes(b"needle\n" + body + b"\0needle\n")
    (tmp_path / "mid.bin").write_bytes(b"needle\n" + body[:5000] + b"\0" + body + b"needle\n")
    for paths in (["big.txt"], ["big.bin"], ["mid.bin"], []):
        want = run([RG, "--sort", "path", *args, *paths], tmp_path, env)
        got = run([*TRIGREP, *args, *paths], tmp_path, env)
        if "--json" in args or "--stats" in args:
            want, got = (replace(r, out=normalise_timings(r.out)) for r in (want, got))
        assert got == want


@pytest.mark.parametrize("args", [["-m1", "foo"], ["-m1", "-n", "foo"], ["-l", "foo"],
                                  ["-q", "foo"], ["-m2", "-A1", "foo"]], ids=" ".join)
def test_a_big_file_search_stopping_before_a_nul_rg_read_with_its_match(
        tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """A walked big file's search that stops early (-m, -l, -q) after its first window has
    not read the NUL just past it, which rg read with the line of its first match (a line
    across its 64 KiB reads), so rg stopped before printing it: a NUL within reach of the
    lines searched sends the file to the whole search."""
    (tmp_path / "a.log").write_bytes(b"x\n" * (65_500 // 2) + b"y" * 89 + b" foo\n"
                                     + b"z\n" * 2_000 + b"\0\n" + b"foo\n" * 4_300_000)
    assert run([*TRIGREP, *args], tmp_path, env) == run([RG, *args], tmp_path, env)


def test_a_big_file_is_printed_as_it_is_searched(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """A big text file's lines, searched by the process that prints them, are read, searched
    and printed a window at a time (after a look for a NUL): the output's first piece comes
    when its first windows were read, not the file; all of them are the file's output. A
    file holding a NUL is searched as before (its output whole)."""
    monkeypatch.setattr(parallel, "BIG_FILE", 1000)
    monkeypatch.setattr(stream, "FILE_WINDOW", 4096)
    data = b"".join(b"line %d foo\n" % i for i in range(20000))
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    match_opts, opts = parse_search_flags(["-n", "foo"])
    query = compile_query(match_opts)
    fmt = make_printer(io.BytesIO(), opts, with_filename=False, is_tty=False).file_format
    search = parallel.FileSearch.of(query, opts, False, [str(path)], render=fmt)
    read: list[int] = []
    pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, at: read.append(n) or pread(fd, n, at))
    result, error = search.streamed(FileEntry("big.txt", str(path), True))
    assert error is None and result is not None and result.rendered is not None
    body = result.rendered.body
    assert not isinstance(body, (bytes, list))
    read.clear()
    first = next(body)
    assert sum(read) < 3 * 4096
    assert first + b"".join(body) == fmt.output(
        "big.txt", search_buffer(data, query, opts, binary=BinaryMode.QUIT)).body
    path.write_bytes(data + b"\0")
    result, error = search.streamed(FileEntry("big.txt", str(path), True))
    assert result is not None and result.rendered is not None
    assert isinstance(result.rendered.body, bytes)
