"""The daemon's inotify watcher on a real directory: what it reports, and what it stops
reporting once a directory is moved away or unwatched."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from trigrep.server.watch import ADDED, DELETED, MODIFIED, Batch, TreeWatcher


class Recorder:
    def __init__(self) -> None:
        self.batches: queue.Queue[tuple[Batch, bool]] = queue.Queue()

    def __call__(self, batch: Batch, overflowed: bool) -> None:
        self.batches.put((batch, overflowed))

    def until(self, wanted: tuple[str, str]) -> list[tuple[str, str]]:
        """Every change reported up to and including `wanted`."""
        seen: list[tuple[str, str]] = []
        while wanted not in seen:
            batch, overflowed = self.batches.get(timeout=10)
            assert not overflowed
            seen += batch
        return seen


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[TreeWatcher, Recorder, Path]]:
    recorder = Recorder()
    watcher = TreeWatcher("test watcher", recorder)
    root = tmp_path / "root"
    root.mkdir()
    watcher.watch(str(root))
    watcher.start()
    yield watcher, recorder, root
    watcher.stop()


def test_entries_and_contents(watched: tuple[TreeWatcher, Recorder, Path]) -> None:
    watcher, recorder, root = watched
    (root / "a.c").write_text("x\n")
    seen = recorder.until((MODIFIED, f"{root}/a.c"))
    assert seen[0] == (ADDED, f"{root}/a.c")
    (root / "sub").mkdir()
    watcher.watch(str(root / "sub"))
    (root / "sub" / "b.c").write_text("y\n")
    recorder.until((ADDED, f"{root}/sub/b.c"))
    (root / "a.c").rename(root / "c.c")
    assert recorder.until((ADDED, f"{root}/c.c"))[-2:] == [(DELETED, f"{root}/a.c"),
                                                           (ADDED, f"{root}/c.c")]
    (root / "c.c").unlink()
    recorder.until((DELETED, f"{root}/c.c"))


def test_a_directory_moved_away_is_no_longer_watched(
    watched: tuple[TreeWatcher, Recorder, Path], tmp_path: Path
) -> None:
    watcher, recorder, root = watched
    (root / "sub" / "deeper").mkdir(parents=True)
    watcher.watch(str(root / "sub"))
    watcher.watch(str(root / "sub" / "deeper"))
    (root / "sub").rename(tmp_path / "away")
    recorder.until((DELETED, f"{root}/sub"))
    (tmp_path / "away" / "deeper" / "late.c").write_text("z\n")  # no longer ours
    (root / "marker").write_text("")
    seen = recorder.until((MODIFIED, f"{root}/marker"))  # (written, closed: the last event)
    assert all("late.c" not in path for _, path in seen)
    watcher.unwatch([str(root)])
    (root / "after_unwatch").write_text("")
    with pytest.raises(queue.Empty):
        recorder.batches.get(timeout=0.3)


def test_caught_up_waits_for_the_events_queued_before_it(tmp_path: Path) -> None:
    """`caught_up` returns once every event queued before the call was handed over: not
    while the handler of a batch is held up, at once when nothing is pending."""
    handed: list[tuple[str, str]] = []
    release = threading.Event()

    def held_up(batch: Batch, overflowed: bool) -> None:
        release.wait()
        handed.extend(batch)

    watcher = TreeWatcher("test watcher", held_up)
    tmp_path.joinpath("root").mkdir()
    watcher.watch(str(tmp_path / "root"))
    watcher.start()
    try:
        assert watcher.caught_up(timeout=5)  # nothing queued
        (tmp_path / "root" / "a.c").write_text("x\n")
        assert not watcher.caught_up(timeout=0.2)
        release.set()
        assert watcher.caught_up(timeout=10)
        assert (MODIFIED, f"{tmp_path}/root/a.c") in handed
        for i in range(50):
            (tmp_path / "root" / f"b{i}.c").write_text("y\n")
            assert watcher.caught_up(timeout=10)
            assert handed[-1] == (MODIFIED, f"{tmp_path}/root/b{i}.c")
    finally:
        release.set()
        watcher.stop()
