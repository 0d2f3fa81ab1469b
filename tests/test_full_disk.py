"""A full disk: on a small tmpfs (skipped where mounting one is not allowed), the index that
cannot be written leaves searches as right as rg's, `trigrep index` fails in one line, and
once there is room again the index catches up. With a daemon serving the tree too, and on
the same tmpfs mounted read-only."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import trigrep
from conftest import RG, TRIGREP, run

DISK_BYTES = 4 << 20
QUERIES = (["-c", "needle"], ["-l", "word7"], ["-n", "needle", "d1"], ["--files"])


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs",
                              str(mount)], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def tree(disk: Path) -> Path:
    """160 files (about 0.6 MiB) on the small disk."""
    root = disk / "tree"
    for i in range(160):
        path = root / f"d{i % 4}" / f"f{i}.c"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"word{(i * j) % 13} needle{i % 5} line {j}" for j in range(120)]
        path.write_text("\n".join(lines) + "\n")
    return root


@contextlib.contextmanager
def _disk_full(disk: Path) -> Iterator[None]:
    """Fill what is left of `disk` (a writer then gets ENOSPC), freed on exit."""
    filler = disk / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    try:
        yield
    finally:
        filler.unlink()


def _edit(tree: Path, step: int) -> None:
    """Edit, add and delete a few files, in place (no temporary file: the disk is full)."""
    for i in range(step, step + 3):
        path = tree / f"d{i % 4}" / f"f{i}.c"
        data = path.read_bytes()
        with open(path, "r+b") as f:  # same size, so it fits
            f.write(data.replace(b"word1 ", b"needle", 1))
    (tree / f"d{step % 4}" / f"f{step + 40}.c").unlink()


def _assert_index_fails(tree: Path, env: dict[str, str]) -> None:
    got = run([*TRIGREP, "index"], tree, env)
    assert got.code == 2 and got.err.count(b"\n") == 1, got.err
    assert b"No space left on device" in got.err


def _assert_like_rg(tree: Path, env: dict[str, str]) -> None:
    for args in QUERIES:
        want = run([RG, "--sort", "path", *args], tree, env)
        got = run([*TRIGREP, *args], tree, env)
        assert (got.out, got.code) == (want.out, want.code), args
        assert b"Traceback" not in got.err


def test_no_room_for_the_index(disk: Path, tree: Path, env: dict[str, str]) -> None:
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    with _disk_full(disk):
        _assert_like_rg(tree, env)  # (each search tries to build the index, and cannot)
        _assert_index_fails(tree, env)
        with pytest.raises(trigrep.Error, match="No space left on device"):  # (an OSError)
            list(trigrep.Index(tree).search("needle"))
    assert run([*TRIGREP, "index"], tree, env).code == 0
    _assert_like_rg(tree, env)


def test_a_full_disk_keeps_the_previous_index(
    disk: Path, tree: Path, env: dict[str, str]
) -> None:
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    assert run([*TRIGREP, "index"], tree, env).code == 0
    index = sorted(p.name for p in (tree / ".trigrep").iterdir())
    with _disk_full(disk):
        _edit(tree, 0)
        _assert_like_rg(tree, env)
        _assert_index_fails(tree, env)
        assert sorted(p.name for p in (tree / ".trigrep").iterdir()) == index  # no leftovers
        _edit(tree, 10)
        _assert_like_rg(tree, env)
    assert run([*TRIGREP, "index"], tree, env).code == 0
    _assert_like_rg(tree, env)


def test_a_daemon_on_a_full_disk(disk: Path, tree: Path, env: dict[str, str]) -> None:
    env = {**env, "TRIGREP_AUTO_SERVE": "off"}
    assert run([*TRIGREP, "serve", "--detach", "."], tree, env).code == 0
    try:
        with _disk_full(disk):
            for step in (0, 10, 20):
                _edit(tree, step)
                _assert_like_rg(tree, env)
        _edit(tree, 30)
        _assert_like_rg(tree, env)
    finally:
        run([*TRIGREP, "stop", "."], tree, env)


def test_a_read_only_tree(disk: Path, tree: Path, env: dict[str, str]) -> None:
    """A tree on a read-only mount is searched directly, as rg searches it, without a word
    (EROFS warned on every search, unlike EACCES); `index` and `serve` fail in one line (they
    were internal errors)."""
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    assert subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=False).returncode == 0
    for args in QUERIES:
        want = run([RG, "--sort", "path", *args], tree, env)
        got = run([*TRIGREP, *args], tree, env)
        assert (got.out, got.err, got.code) == (want.out, b"", want.code), args
    for args in (["index"], ["serve", "."], ["serve", "--detach", "."]):
        got = run([*TRIGREP, *args], tree, env)
        assert got.code == 2 and got.err.count(b"\n") == 1, (args, got.err)
        assert got.err.endswith(b"/.trigrep: Read-only file system\n"), (args, got.err)
    with pytest.raises(trigrep.Error, match="Read-only file system"):  # (it was an OSError)
        list(trigrep.Index(tree).search("needle"))


def test_an_indexed_read_only_tree_starts_no_daemon(
    disk: Path, tree: Path, env: dict[str, str]
) -> None:
    """A read-only mount holding an index: searches use it, answer as rg, and start no
    daemon, which could write nothing there (each search printed its answer, then failed:
    'internal error: OSError: [Errno 30] Read-only file system: .../daemon.log')."""
    env = {**env, "TRIGREP_AUTO_SERVE": "1"}  # "big": at least 1 indexed file
    assert run([*TRIGREP, "index"], tree, env).code == 0
    assert subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=False).returncode == 0
    for args in QUERIES:
        want = run([RG, "--sort", "path", *args], tree, env)
        got = run([*TRIGREP, *args], tree, env)
        assert (got.out, got.err, got.code) == (want.out, b"", want.code), args
