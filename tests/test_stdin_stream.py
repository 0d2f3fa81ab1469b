"""Searching window by window (trigrep.stream): standard input as it arrives, whose output must
not depend on how the input was split across reads, -m, -q and -l answering before the input
ends (`tail -f log | trigrep -m1 ready`); and big files, whose output must be that of one
search of the whole file."""

from __future__ import annotations

import contextlib
import io
import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import RG, TRIGREP, normalise_json, run
from trigrep import stream
from trigrep.flags import parse_search_flags
from trigrep.parallel import BIG_FILE
from trigrep.printer import LineFormat, make_printer
from trigrep.query import compile_query
from trigrep.searcher import BinaryMode, search_buffer

WORDS = [b"foo", b"bar", b"foobar", b"", b"x foo y", b"Foo", b"\xc3\xa9foo", b"zzz " * 40,
         b"baz\r", b"fo", b"o"]
FLAG_CHOICES = [
    [], ["-n"], ["-C1"], ["-A2"], ["-B3"], ["-n", "-C2"], ["-m2"], ["-m3", "-A2"], ["-v"],
    ["-v", "-n", "-B1"], ["-b", "-o"], ["--heading", "-H", "-n"], ["--color", "always"],
    ["--column"], ["--vimgrep"], ["-r", "<$0>"], ["-w"], ["-i", "-n"], ["-x"], ["-l"],
    ["-q"], ["-H", "-A1", "--context-separator", "=="], ["-m1", "-B2", "-n"], ["--trim"],
    ["-M", "20"], ["-c"], ["--files-without-match"], ["--json"], ["--passthru", "-n"],
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
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(1, 12))))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    args = [*rng.choice(FLAG_CHOICES), rng.choice(["foo", "^$", "o+", "bar|^x", "zzz"])]
    want = run([RG, *args], tmp_path, env, stdin=data)
    got = _feed(args, chunks, tmp_path, env)
    if "--json" in args:  # (its timings)
        got = (normalise_json(got[0]), *got[1:])
        want = type(want)(normalise_json(want.out), want.err, want.code)
    assert got == (want.out, want.err.replace(b"rg: ", b"trigrep: "), want.code), (args, chunks)


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


BIG_FLAGS = [
    [], ["-n"], ["-n", "-C2"], ["-A3", "-b"], ["-B4", "-n", "--heading", "-H"], ["-m5"],
    ["-m7", "-A2", "-n"], ["-v", "-n"], ["-v", "-C1"], ["-o", "-b"], ["--color", "always"],
    ["-n", "--context-separator", "=="], ["-r", "[$0]", "-n"], ["--column", "-w"],
    ["-M", "9", "-n"], ["--vimgrep"], ["-B1", "-H", "--no-heading"],
]


@pytest.mark.parametrize("case", range(60))
def test_a_big_file_searched_in_windows_prints_what_one_search_does(
        monkeypatch: pytest.MonkeyPatch, case: int) -> None:
    """A big text file's output, rendered window by window (windows of a few bytes here),
    is that of one search of the whole file (which the other tests compare with rg's)."""
    rng = random.Random(case)
    monkeypatch.setattr(stream, "FILE_WINDOW", rng.choice([1, 7, 40, 200]))
    lines = [rng.choice(WORDS) for _ in range(rng.randrange(1, 300))]
    data = b"\n".join(lines) + rng.choice([b"\n", b""])
    argv = [*rng.choice(BIG_FLAGS), rng.choice(["foo", "^$", "o+", "bar|^x", "zzz"])]
    match_opts, opts = parse_search_flags(argv)
    query = compile_query(match_opts)
    printer = make_printer(io.BytesIO(), opts, with_filename=bool(opts.with_filename),
                           is_tty=False)
    fmt = printer.file_format
    assert isinstance(fmt, LineFormat) and stream.windowed(query, opts)
    binary = BinaryMode.QUIT
    whole = fmt.output("big.txt", search_buffer(data, query, opts, binary=binary))
    windowed = stream.search_big_file(data, query, opts, binary, fmt, "big.txt").rendered
    if whole is None:
        assert windowed is not None and (windowed.body, windowed.has_match) == (b"", False)
    else:
        assert windowed is not None
        assert (windowed.body, windowed.has_match) == (whole.body, whole.has_match), argv


@pytest.mark.parametrize("args", [["-n", "-C1", "needle"], ["-c", "needle"], ["-m2", "needle"]],
                         ids=" ".join)
def test_a_big_file_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """A text file over BIG_FILE (searched in windows) and one with a NUL (searched whole)."""
    line = b"some text of a line, nothing to see\n"
    body = line * ((BIG_FILE + (1 << 20)) // len(line))
    (tmp_path / "big.txt").write_bytes(b"needle 1\n" + body + b"a needle 2\n" + body[:99999]
                                       + b"needle 3\nneedle 4")
    (tmp_path / "big.bin").write_bytes(b"needle\n" + body + b"\0needle\n")
    for path in ("big.txt", "big.bin"):
        want = run([RG, *args, path], tmp_path, env)
        assert run([*TRIGREP, *args, path], tmp_path, env) == want
