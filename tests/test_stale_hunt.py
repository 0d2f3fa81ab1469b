"""Never stale: adversarial changes to an indexed tree, each followed by searches that must
print what rg prints for the content as it is now, by the CLI alone (which stats every walked
file against the index) and through a daemon (which trusts its watcher).

The tree's files get an mtime in the past before they are indexed, so the index trusts their
records (none is racily clean, see "Racily clean files" in trigrep.index.format): a file the
index rules out is skipped, and a change the freshness checks miss shows as a wrong answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import RG, TRIGREP, isolated_env, run
from test_daemon import SRC, Daemon
from trigrep.index import IndexReader

PAST_NS = (time.time_ns() // 10**9 - 86_400) * 10**9
QUERIES = [
    ["-n", "-e", "foo", "-e", "bar"],
    ["-L", "-c", "-e", "foo", "-e", "bar"],
    ["--files-without-match", "foo"],
]


def _write(root: Path, rel: str, data: str, *, keep_mtime: bool = False) -> None:
    """Write `data` to root/rel; `keep_mtime`: set the old mtime back (`touch -r`, `cp -p`)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat() if keep_mtime else None
    path.write_text(data)
    if before is not None:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _git(root: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root,
                   env=env, check=True, capture_output=True)


def _age(root: Path) -> None:
    """Every file outside .git gets an old mtime: indexed now, none is racily clean."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.utime(path, ns=(PAST_NS, PAST_NS))


def _tree(root: Path, outside: Path, env: dict[str, str]) -> None:
    """A git work tree (branch `other` changes a file and adds one) with symlinks into and out
    of it, a hard link and an ignored file."""
    for i in range(12):
        _write(root, f"d{i % 3}/f{i}.txt", f"line {i}\nfoo {i}\n")
    for rel, data in {"a/one.txt": "foo one\n", "a/two.txt": "bar two\n", "b/x.txt": "foo bx\n",
                      "sub/keep.txt": "foo keep\n", "sub/drop.log": "foo drop\n",
                      "tgt/t.txt": "foo target\n", "tgt2/t.txt": "bar target2\n",
                      "hl1.txt": "foo hardlink\n"}.items():
        _write(root, rel, data)
    _write(outside, "dir/o.txt", "foo outside\n")
    os.symlink("tgt/t.txt", root / "link.txt")
    os.symlink("tgt", root / "ldir")
    os.symlink(outside / "dir", root / "odir")
    os.link(root / "hl1.txt", root / "hl2.txt")
    _git(root, env, "init", "-q", "-b", "main")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-qm", "main")
    _git(root, env, "checkout", "-qb", "other")
    _write(root, "a/one.txt", "bar on other\n")
    _write(root, "branch_only.txt", "foo only on other\n")
    _git(root, env, "add", "-A")
    _git(root, env, "commit", "-qm", "other")
    _git(root, env, "checkout", "-q", "main")
    _age(root)
    _age(outside)


def _swap(a: Path, b: Path) -> None:
    tmp = a.with_name(a.name + ".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)


def _replace_by_rename(root: Path, rel: str, data: str) -> None:
    """A new inode under the old name, with the old file's size and mtime."""
    old = (root / rel).stat()
    new = root / (rel + ".new")
    new.write_text(data)
    os.utime(new, ns=(old.st_atime_ns, old.st_mtime_ns))
    new.rename(root / rel)


def _relink(link: Path, target: str) -> None:
    link.unlink()
    os.symlink(target, link)


def _steps(
    root: Path, outside: Path, env: dict[str, str]
) -> Iterator[tuple[str, Callable[[], None]]]:
    """(name, change) of each adversarial change, applied in order."""
    w = _write
    yield "same size, mtime set back", lambda: w(root, "a/one.txt", "bar one\n", keep_mtime=True)
    yield "two writes in a row", lambda: (w(root, "a/two.txt", "foo two\n"),
                                          w(root, "a/two.txt", "bar tw0\n"))
    yield "replaced by a rename", lambda: _replace_by_rename(root, "b/x.txt", "bar bx\n")
    yield "names swapped", lambda: _swap(root / "d0/f0.txt", root / "d0/f3.txt")
    yield "hard link edited", lambda: w(root, "hl2.txt", "bar hardlink\n", keep_mtime=True)
    yield "symlink retargeted", lambda: _relink(root / "link.txt", "tgt2/t.txt")
    yield "dir symlink retargeted", lambda: _relink(root / "ldir", "tgt2")
    yield "link target edited", lambda: w(root, "tgt2/t.txt", "foo target2\n", keep_mtime=True)
    yield "outside target edited", lambda: w(outside, "dir/o.txt", "bar outside\n",
                                              keep_mtime=True)
    yield "outside file added", lambda: w(outside, "dir/new.txt", "foo new outside\n")
    yield "dir renamed", lambda: (root / "d1").rename(root / "d1r")
    yield "dir replaced by a file", lambda: (shutil.rmtree(root / "d2"),
                                             w(root, "d2", "foo d2 a file\n"))
    yield "file replaced by a dir", lambda: ((root / "d2").unlink(),
                                             (root / "d1r").rename(root / "d2"))
    yield ".gitignore added below", lambda: w(root, "sub/.gitignore", "*.log\n")
    yield ".gitignore edited", lambda: w(root, "sub/.gitignore", "keep.txt\n")
    yield ".ignore added", lambda: w(root, "sub/.ignore", "!keep.txt\n")
    yield ".rgignore, mtime set back", lambda: (w(root, "sub/.rgignore", "drop.log\n"),
                                                w(root, "sub/.rgignore", "keep.txt\n",
                                                  keep_mtime=True))
    yield "info/exclude edited", lambda: w(root, ".git/info/exclude", "d0/\n")
    yield "info/exclude, mtime set back", lambda: w(root, ".git/info/exclude", "d9/\n",
                                                    keep_mtime=True)
    yield "git checkout", lambda: (_git(root, env, "stash", "-u", "-q"),
                                   _git(root, env, "checkout", "-q", "other"))
    yield "git checkout back", lambda: (_git(root, env, "checkout", "-q", "main"),
                                        _git(root, env, "stash", "pop", "-q"))
    yield "mtime in the future", lambda: (
        w(root, "a/future.txt", "foo future\n"),
        os.utime(root / "a/future.txt", ns=(0, time.time_ns() + 10**12)))
    yield "future file edited", lambda: w(root, "a/future.txt", "bar futur\n", keep_mtime=True)
    yield "truncated", lambda: w(root, "a/one.txt", "")
    yield "grown back, mtime set back", lambda: w(root, "a/one.txt", "foo one\n",
                                                  keep_mtime=True)
    yield "made hidden", lambda: (root / "a/two.txt").rename(root / "a/.two.txt")
    yield "nested repository", lambda: (root / "sub/.git").mkdir()
    yield "nested repository gone", lambda: (root / "sub/.git").rmdir()
    yield "a fifo in a file's place", lambda: ((root / "b/x.txt").unlink(),
                                               os.mkfifo(root / "b/x.txt"))


def _assert_like_rg(root: Path, env: dict[str, str], step: str) -> None:
    for args in QUERIES:
        ours = run([*TRIGREP, *args], root, env)
        theirs = run([RG, "--sort", "path", *args], root, env)
        assert (ours.out, ours.err, ours.code) == (
            theirs.out, theirs.err.replace(b"rg: ", b"trigrep: "), theirs.code), (step, args)


@pytest.fixture
def hunt_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = isolated_env(home)
    env.update(PYTHONPATH=SRC, XDG_RUNTIME_DIR=str(runtime))
    env.pop("TRIGREP_NO_DAEMON", None)
    return env


@pytest.mark.parametrize("served", [False, True], ids=["cli", "daemon"])
def test_adversarial_changes_to_a_trusted_index(tmp_path: Path, hunt_env: dict[str, str],
                                                served: bool) -> None:
    root, outside = tmp_path / "tree", tmp_path / "outside"
    _tree(root, outside, hunt_env)
    assert run([*TRIGREP, "index"], root, hunt_env).code == 0
    records = IndexReader.open(str(root)).records()
    assert records and not any(r.racily_clean for r in records.values())  # (trusted)
    daemon = Daemon(root, hunt_env) if served else None
    if daemon is None:
        hunt_env["TRIGREP_NO_DAEMON"] = "1"
    try:
        _assert_like_rg(root, hunt_env, "indexed")
        for step, change in _steps(root, outside, hunt_env):
            change()
            _assert_like_rg(root, hunt_env, step)
        if daemon is not None:
            assert daemon.warm_searches() > 0  # (the daemon answered)
    finally:
        if daemon is not None:
            daemon.close()


def test_a_served_root_replaced_by_a_copy(tmp_path: Path, hunt_env: dict[str, str]) -> None:
    """`cp -a tree copy; mv tree old; mv copy tree`: the copy holds the daemon's record and lock
    file (which the daemon would lock again), but its watches follow `old`; a search walks the
    copy, and the daemon stops."""
    root = tmp_path / "tree"
    _tree(root, tmp_path / "outside", hunt_env)
    assert run([*TRIGREP, "index"], root, hunt_env).code == 0
    daemon = Daemon(root, hunt_env)
    try:
        _assert_like_rg(root, hunt_env, "served")
        subprocess.run(["cp", "-a", str(root), str(tmp_path / "copy")], check=True)
        root.rename(tmp_path / "old")
        (tmp_path / "copy").rename(root)
        _write(root, "d1/f1.txt", "bar 1\nfoo 1\n", keep_mtime=True)
        _write(root, "d1/new.txt", "foo new\n")
        _assert_like_rg(root, hunt_env, "root replaced")
        daemon.proc.wait(timeout=60)
        assert b"another directory took its place" in daemon.proc.communicate()[1]
        _assert_like_rg(root, hunt_env, "daemon gone")
    finally:
        daemon.close()


def test_a_directory_searched_from_replaced_under_a_daemon(tmp_path: Path,
                                                           hunt_env: dict[str, str]) -> None:
    """The daemon enters each search's working directory; searched from again after it was
    moved away and another made in its place, relative paths name the new one (the daemon
    walked the old one, answering from files no longer there)."""
    root = tmp_path / "tree"
    _tree(root, tmp_path / "outside", hunt_env)
    assert run([*TRIGREP, "index"], root, hunt_env).code == 0
    daemon = Daemon(root, hunt_env)
    try:
        _assert_like_rg(root / "d1", hunt_env, "served")
        (root / "d1").rename(root / "d1.old")
        _write(root, "d1/g.txt", "foo new\n")
        _assert_like_rg(root / "d1", hunt_env, "replaced")
        shutil.rmtree(root / "d1")
        _write(root, "d1/h.txt", "bar newer\n")
        _assert_like_rg(root / "d1", hunt_env, "deleted and made again")
        assert daemon.warm_searches() > 0
    finally:
        daemon.close()
