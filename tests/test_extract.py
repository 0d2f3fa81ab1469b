"""-z/--search-zip against rg 14.1: decompressed content, failing programs, binary content.

A test-local driver does what the engine does with -z (read_searchable, search the partial
output of a failed program, report rg's error line), so the walker and CLI are not needed.
Compressed files are generated: in-process for gzip/bzip2/xz/lzma, with the installed
programs for zstd and lz4 (skipped when a program is missing).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import RG, isolated_env, normalise_json
from trigrep.extract import DecompressionError, is_decompressed, read_file, read_searchable
from trigrep.flags import parse_search_flags
from trigrep.options import OutputOptions
from trigrep.printer import make_printer
from trigrep.query import Query, compile_query
from trigrep.searcher import BinaryMode, FileResult, search_buffer

TEXT = b"hello foo\nbar\nfoo again\n"
BIG = b"".join(b"line %d foo\n" % i for i in range(20000))


def _xz(data: bytes) -> bytes:
    return lzma.compress(data)


def _lzma(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_ALONE)


def _program(argv: list[str], data: bytes) -> bytes | None:
    if shutil.which(argv[0]) is None:
        return None
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


FILES: dict[str, bytes | None] = {
    "plain.txt": TEXT,
    "a.gz": gzip.compress(TEXT), "a.tgz": gzip.compress(TEXT),
    "a.bz2": bz2.compress(TEXT), "a.tbz2": bz2.compress(TEXT),
    "a.xz": _xz(TEXT), "a.txz": _xz(TEXT), "a.lzma": _lzma(TEXT),
    "a.zst": _program(["zstd", "-q", "-c"], TEXT), "a.zstd": _program(["zstd", "-q", "-c"], TEXT),
    "a.lz4": _program(["lz4", "-q", "-c"], TEXT),
    "upper.GZ": gzip.compress(TEXT),  # rg's globs are case-sensitive: searched raw (binary)
    "concat.gz": gzip.compress(TEXT) * 2, "concat.bz2": bz2.compress(TEXT) * 2,
    "concat.xz": _xz(TEXT) * 2, "concat.lzma": _lzma(TEXT) * 2,
    "zeros.gz": gzip.compress(TEXT) + bytes(8), "zeros.xz": _xz(TEXT) + bytes(8),
    "garbage.gz": gzip.compress(TEXT) + b"garbage foo\n",
    "garbage.xz": _xz(TEXT) + b"garbage", "garbage.bz2": bz2.compress(TEXT) + b"garbage",
    "trunc.gz": gzip.compress(BIG)[:60000], "trunc.xz": _xz(BIG)[:20000],
    "bad.gz": b"garbage foo\n", "bad.zst": b"garbage foo\n", "bad.lz4": b"garbage foo\n",
    "bad.Z": b"garbage foo\n", "bad.br": b"garbage foo\n", "zero.gz": b"",
    "empty.gz": gzip.compress(b""),
    "nul.gz": gzip.compress(b"foo one\nbar\x00\nfoo two\n"),
    "bom16.gz": gzip.compress("\ufefffoo é\nbar\n".encode("utf-16-le")),
    "big.gz": gzip.compress(BIG),
}

FLAG_SETS: list[list[str]] = [
    [], ["-n"], ["-c"], ["--count-matches"], ["-l"], ["--files-without-match"], ["-q"],
    ["-m1"], ["-m1", "-A2"], ["-n", "-C1"], ["-v", "-c"], ["--json"], ["--json", "-m2"],
    ["--json", "-q"], ["-U", "-c"],
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("zip")
    for name, data in FILES.items():
        if data is not None:
            (root / name).write_bytes(data)
    (root / "home").mkdir()
    return root


def _search(name: str, query: Query, out_opts: OutputOptions, binary: BinaryMode) -> FileResult:
    """What the engine does for one file with -z (the program is run from the root)."""
    try:
        data = read_searchable(name, search_zip=True, program_path=name)
    except DecompressionError as e:
        return search_buffer(e.partial, query, out_opts, binary=binary, read_error=e.message)
    return search_buffer(data, query, out_opts, binary=binary)


def _drive(names: list[str], flags: list[str], walked: bool) -> tuple[bytes, bytes, int]:
    match, out_opts = parse_search_flags([*flags, "foo"])
    query = compile_query(match)
    out, err = io.BytesIO(), io.BytesIO()
    printer = make_printer(out, out_opts, with_filename=len(names) > 1 or walked, is_tty=False)
    errors = False
    for name in names:
        if walked:
            binary = BinaryMode.QUIT
        else:
            binary = BinaryMode.CONVERT if is_decompressed(name, True) else BinaryMode.CONVERT_MMAP
        result = _search(name, query, out_opts, binary)
        printer.file(name, result)
        if result.error is not None:
            errors = True
            err.write(f"rg: {name}: {result.error}\n".encode())
        if out_opts.mode == "quiet" and not out_opts.json and printer.matched:
            break
    printer.finish()
    quiet_match = out_opts.mode == "quiet" and printer.matched
    code = 2 if errors and not quiet_match else 0 if printer.matched else 1
    return out.getvalue(), err.getvalue(), code


def _rg(root: Path, names: list[str], flags: list[str], walked: bool) -> tuple[bytes, bytes, int]:
    cmd = [RG, "-z", "--sort", "path", *flags, "foo", *([] if walked else names)]
    if walked:
        cmd[-1:-1] = ["-g", "!home"]
    proc = subprocess.run(cmd, cwd=root, env=isolated_env(root / "home"), capture_output=True,
                          check=False)
    return proc.stdout, proc.stderr, proc.returncode


def _compare(root: Path, names: list[str], flags: list[str], walked: bool,
             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    expected = _rg(root, names, flags, walked)
    actual = _drive(names, flags, walked)
    if "--json" in flags:
        expected = (normalise_json(expected[0]), *expected[1:])
        actual = (normalise_json(actual[0]), *actual[1:])
    assert actual[1].decode() == expected[1].decode()
    assert actual[0].decode(errors="replace") == expected[0].decode(errors="replace")
    assert actual == expected


@pytest.mark.parametrize("flags", FLAG_SETS, ids=" ".join)
def test_walked(tree: Path, flags: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    names = sorted(n for n, data in FILES.items() if data is not None)
    _compare(tree, names, flags, True, monkeypatch)


@pytest.mark.parametrize("flags", FLAG_SETS, ids=" ".join)
@pytest.mark.parametrize("name", [
    "a.gz", "nul.gz", "garbage.gz", "trunc.gz", "bad.Z", "bad.br", "bom16.gz", "zero.gz",
])
def test_single_file(tree: Path, name: str, flags: list[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    if FILES[name] is None:
        pytest.skip("compressor not installed")
    _compare(tree, [name], flags, False, monkeypatch)


def test_without_search_zip_reads_raw(tree: Path) -> None:
    assert read_searchable(str(tree / "a.gz")) == FILES["a.gz"]
    assert not is_decompressed("a.gz", False)
    assert not is_decompressed("upper.GZ", True)


@pytest.mark.parametrize("hint", [0, 5, 11, 12, 100])
def test_a_stale_size_hint_still_reads_the_whole_file(tmp_path: Path, hint: int) -> None:
    """The hint (a stat taken before the file changed) only saves the fstat."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"0123456789\n")
    assert read_file(str(path), size_hint=hint) == b"0123456789\n"
