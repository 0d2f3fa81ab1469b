"""Incremental index updates (one new segment + tombstones), merges, racily clean files, crashes
and damage: after every step trigrep's output must be rg's, and the index's candidates exact.

Files get mtimes in the past, so the index really rules files out (files modified within
RACY_WINDOW_NS of a build are always searched directly and would hide index bugs)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RG, TRIGREP, isolated_env, normalise_json, run
from test_differential_hypothesis import trigrep_main
from test_index import (
    answer,
    assert_byte_sets_exact,
    byte_answer,
    entries_of,
    make_tree,
    reference,
    trigrams_of,
    truth,
)
from trigrep.engine import REFRESH_MIN_STALE
from trigrep.index import IndexEntry, IndexReader
from trigrep.index.format import MANIFEST_NAME, RACY_WINDOW_NS, parse_manifest
from trigrep.index.update import merge_run, update_index
from trigrep.query.plan import ALL, TrigramQuery
from trigrep.roots import INDEX_DIR_NAME

PAST = time.time() - 10_000
QUERIES = [["-c", "alpha"], ["-l", "Beta"], ["-i", "gamma"], ["-c", "needle|brand new"],
           ["-n", "delta"], ["--files-without-match", "alpha"], ["-c", "x"]]


def write(path: Path, data: bytes, mtime: float = PAST) -> None:
    """Replace `path` by a new file (never in place) with a past mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.utime(tmp, (mtime, mtime))
    os.replace(tmp, path)


def age(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != INDEX_DIR_NAME]
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (PAST, PAST))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root, files=80)
    age(root)
    return root


def trigrep_index(root: Path, env: dict[str, str], *args: str) -> None:
    """`trigrep index` (in-process: the tests run hundreds)."""
    assert trigrep_main(["index", *args], root, env)[1] == 0


def assert_like_rg(root: Path, env: dict[str, str]) -> None:
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    for args in QUERIES:
        theirs = run([RG, "--sort", "path", *args], root, env)
        assert trigrep_main(args, root, env) == (theirs.out, theirs.code), args


def assert_exact(root: Path) -> None:
    """The index's candidates are exactly the files holding each trigram (or byte), and its
    records are the tree's files."""
    reader = IndexReader.open(str(root))
    reader.verify()
    ref = reference(root)
    assert set(reader.records()) == set(ref)
    trigrams = sorted(set().union(*ref.values()))
    for trigram in trigrams[:: max(1, len(trigrams) // 300)]:
        plan = TrigramQuery("and", frozenset([trigram]))
        assert answer(reader, plan) == truth(ref, plan)
    assert answer(reader, ALL) == set(ref)
    assert_byte_sets_exact(reader, root)
    stats = reader.stats()
    assert stats.files == len(ref)
    assert stats.segments == len(reader.manifest.segments)


def reopened(earlier: IndexReader, root: Path) -> IndexReader:
    """The index of `root` opened again with its records made from `earlier`'s, as a daemon
    does after an update: the same records as made in full, and every path whose record
    changed said to have."""
    reader = IndexReader.open(str(root))
    changed = reader.records_since(earlier)
    records, before = reader.records(), earlier.records()
    assert records == IndexReader.open(str(root)).records()
    assert changed is not None
    assert {p for p in records.keys() | before.keys() if records.get(p) != before.get(p)} <= changed
    return reader


def manifest(root: Path):
    return parse_manifest((root / INDEX_DIR_NAME / MANIFEST_NAME).read_bytes(), str(root))


def test_edit_add_delete_rename_make_one_segment_with_tombstones(
    tree: Path, env: dict[str, str]
) -> None:
    trigrep_index(tree, env)
    assert_like_rg(tree, env)
    write(tree / "sub" / "file1.txt", b"alpha brand new content\n", PAST + 1)  # edit
    write(tree / "added.txt", b"brand new delta\n")  # add
    (tree / "sub" / "file2.txt").unlink()  # delete
    os.replace(tree / "file3.txt", tree / "sub" / "renamed.txt")  # rename
    trigrep_index(tree, env)
    segments = manifest(tree).segments
    assert [len(s.tombstones) for s in segments] == [3, 0]
    assert segments[1].files == 3  # the edited, the added and the renamed file
    assert_like_rg(tree, env)
    assert_exact(tree)
    generation = manifest(tree).generation
    trigrep_index(tree, env)  # nothing changed: nothing written
    assert manifest(tree).generation == generation
    trigrep_index(tree, env, "--full")
    assert [(s.files, s.tombstones) for s in manifest(tree).segments] == [(len(reference(tree)),
                                                                           [])]
    assert_like_rg(tree, env)


def test_a_segment_whose_files_all_died_leaves_the_manifest(
    tree: Path, env: dict[str, str]
) -> None:
    """Files added, then deleted (a burst of build output, a branch switched back): their
    segment goes at once, the segments after it move up, and a daemon's records follow."""
    trigrep_index(tree, env)
    for k in range(3):
        write(tree / "burst" / f"b{k}.txt", f"alpha burst {k}\n".encode())
    trigrep_index(tree, env)
    write(tree / "later.txt", b"alpha Beta later\n")
    trigrep_index(tree, env)
    segments = manifest(tree).segments
    assert [s.files for s in segments[1:]] == [3, 1]
    burst, later = segments[1].name, segments[2].name
    earlier = IndexReader.open(str(tree))
    earlier.records()
    for k in range(3):
        (tree / "burst" / f"b{k}.txt").unlink()
    trigrep_index(tree, env)
    assert [(s.name, s.tombstones) for s in manifest(tree).segments[1:]] == [(later, [])]
    assert not (tree / INDEX_DIR_NAME / burst).exists()
    reader = reopened(earlier, tree)
    stats = reader.stats()
    assert stats.trigrams == sum(s.header.n_trigrams for s in reader.segments)
    assert stats.postings == sum(s.header.n_postings for s in reader.segments)
    assert_exact(tree)
    assert_like_rg(tree, env)


def test_an_empty_tree_indexes_then_grows_and_merges(tmp_path: Path, env: dict[str, str]) -> None:
    """The segment of no files has an empty path table; searches and updates read it, and
    merges take it in."""
    root = tmp_path / "tree"
    root.mkdir()
    trigrep_index(root, env)
    for k in range(6):
        write(root / f"f{k}.txt", f"alpha Beta {k}\n".encode())
        assert_like_rg(root, env)  # searches the index's files and the new one
        trigrep_index(root, env)
        assert_exact(root)
    assert len(manifest(root).segments) < 6


def test_edits_that_keep_size_and_mtime_are_seen(tree: Path, env: dict[str, str]) -> None:
    """touch -r after an edit in place, or a copy that keeps the mtime (cp -p, rsync -t):
    only the ctime tells, and the index records it."""
    trigrep_index(tree, env)
    in_place, replaced = tree / "sub" / "file1.txt", tree / "file3.txt"
    before = {path: path.stat() for path in (in_place, replaced)}
    with open(in_place, "r+b") as f:
        f.write(b"needle")
    os.utime(in_place, ns=(before[in_place].st_atime_ns, before[in_place].st_mtime_ns))
    write(replaced, b"needle" + replaced.read_bytes()[6:], before[replaced].st_mtime_ns / 1e9)
    os.utime(replaced, ns=(before[replaced].st_atime_ns, before[replaced].st_mtime_ns))
    for path, old in before.items():
        assert (path.stat().st_size, path.stat().st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    assert_like_rg(tree, env)
    trigrep_index(tree, env)
    assert [len(s.tombstones) for s in manifest(tree).segments] == [2, 0]
    assert_like_rg(tree, env)
    assert_exact(tree)


def test_a_file_gone_between_the_walk_and_its_stat_is_left_out(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary file listed by the walk but deleted before its stat: the index is
    updated without it, not abandoned."""
    from trigrep import engine
    from trigrep.walk import FileEntry

    walked = engine.walk

    def walk_with_a_ghost(*args, **kwargs):
        yield from walked(*args, **kwargs)
        yield FileEntry("zzz-gone.txt", str(tree / "zzz-gone.txt"), False)  # last in order

    monkeypatch.setattr(engine, "walk", walk_with_a_ghost)
    engine.build_at(str(tree), progress=False)
    assert "zzz-gone.txt" not in IndexReader.open(str(tree)).records()
    assert_exact(tree)


def test_many_updates_merge_and_stay_bounded(tree: Path, env: dict[str, str]) -> None:
    trigrep_index(tree, env)
    reader = IndexReader.open(str(tree))
    reader.records()
    rng = random.Random(5)
    merged = False
    for step in range(14):
        for _ in range(rng.randrange(1, 4)):
            name = tree / f"churn{rng.randrange(12)}.txt"
            if name.exists() and rng.random() < 0.3:
                name.unlink()
            else:
                write(name, b"alpha needle %d Beta\n" % step * rng.randrange(1, 50), PAST + step)
        write(tree / "sub" / f"file{step + 1}.txt", b"delta %d\n" % step, PAST + step)
        trigrep_index(tree, env)
        reader = reopened(reader, tree)
        segments = manifest(tree).segments
        assert len(segments) <= 5
        merged |= any(s.files > 8 for s in segments[1:])
        assert merge_run(segments) is None
        assert_like_rg(tree, env)
    assert merged
    assert_exact(tree)


def test_merge_of_bitmaps_varints_and_flags_is_exact(tree: Path) -> None:
    """Merged posting lists hold exactly the live files, whatever their encoding (many
    files share the common trigrams: bitmaps), unindexed and irregular files included."""
    update_index(str(tree), entries_of(tree))
    for step in range(8):
        for i in range(step, 80, 7):
            write(tree / f"grown{i}.txt", b"alpha Beta common %d\n" % i)
        if step % 3 == 0:  # same size: a new mtime tells the change
            write(tree / "bom.txt", b"\xef\xbb\xbfalpha " + b"%d" % step, PAST + step)
        (tree / f"grown{step}.txt").unlink()
        assert update_index(str(tree), entries_of(tree)) == "update"
        assert_exact(tree)
    vanished = IndexEntry(  # walked, then gone
        "vanished.txt", str(tree / "vanished.txt"), 7, 1, 1, 1)
    update_index(str(tree), [*entries_of(tree), vanished])
    reader = IndexReader.open(str(tree))
    assert reader.stats().unindexed_files == 1
    plan = TrigramQuery("and", frozenset(trigrams_of(b"alpha")))
    assert "vanished.txt" in answer(reader, plan)
    assert "vanished.txt" in byte_answer(reader, 1 << 0xF4)  # content unknown: any byte


def test_racily_clean_files_are_reindexed_once_settled(tree: Path, env: dict[str, str]) -> None:
    fresh = tree / "fresh.txt"
    write(fresh, b"alpha fresh\n", mtime=time.time())
    trigrep_index(tree, env)
    records = IndexReader.open(str(tree)).records()
    assert records["fresh.txt"].racily_clean and not records["file3.txt"].racily_clean
    generation = manifest(tree).generation
    trigrep_index(tree, env)  # still within the window: indexing it again would not help
    assert manifest(tree).generation == generation
    # Make every record racily clean, as if the build had started right after the writes.
    index_manifest = manifest(tree)
    index_manifest.segments[0] = index_manifest.segments[0]._replace(
        started_ns=int(PAST * 1e9) + RACY_WINDOW_NS // 2)
    (tree / INDEX_DIR_NAME / MANIFEST_NAME).write_bytes(index_manifest.dumps())
    assert_like_rg(tree, env)
    trigrep_index(tree, env)
    segments = manifest(tree).segments
    assert len(segments) == 1  # so many re-indexed that it rebuilt in full
    reader = IndexReader.open(str(tree))
    assert not reader.records()["file3.txt"].racily_clean
    assert reader.records()["fresh.txt"].racily_clean
    assert_like_rg(tree, env)
    assert_exact(tree)


def test_merged_segment_keeps_racy_files_racy(tree: Path) -> None:
    update_index(str(tree), entries_of(tree))
    now = time.time()
    for i in range(4):
        write(tree / f"new{i}.txt", b"alpha %d" % i, mtime=PAST if i else now)
        assert update_index(str(tree), entries_of(tree)) == "update"
    reader = IndexReader.open(str(tree))
    assert len(reader.segments) == 2  # the four small segments were merged
    records = reader.records()
    assert records["new0.txt"].racily_clean
    assert not records["new1.txt"].racily_clean
    assert not records["file3.txt"].racily_clean


def test_many_tombstones_rebuild_in_full(tree: Path, env: dict[str, str]) -> None:
    trigrep_index(tree, env)
    files = sorted(reference(tree))
    for name in files[: len(files) // 5]:
        write(tree / name, b"alpha rewritten\n", PAST + 1)
    trigrep_index(tree, env)
    assert len(manifest(tree).segments) == 2
    for name in files[len(files) // 5 : len(files) // 3]:
        write(tree / name, b"Beta rewritten\n", PAST + 2)
    trigrep_index(tree, env)
    assert [len(s.tombstones) for s in manifest(tree).segments] == [0]
    assert_like_rg(tree, env)


SMALL_ALPHABET = bytes(b"alphneds \n"[i % 10] for i in range(256))  # few distinct trigrams
_UPDATE_SCRIPT = """
import sys
from trigrep import engine
print("start", flush=True)
engine.build_at(sys.argv[1], progress=False)
"""


@pytest.mark.parametrize("merging", [False, True])
def test_kill_9_during_update_or_merge(tree: Path, env: dict[str, str], merging: bool) -> None:
    trigrep_index(tree, env)
    rng = random.Random(7)
    rounds = 5
    # Fewer unindexed files in all than make a search refresh the index in the background:
    # such a refresh, started by the last search, could still be writing its temp files
    # when the final check below lists them.
    bulk = (REFRESH_MIN_STALE - 1) // rounds
    for round_ in range(rounds):
        if merging:  # three small segments: the next update ends with a merge
            for i in range(3):
                write(tree / f"pre{round_}-{i}.txt", b"alpha pre %d\n" % i)
                trigrep_index(tree, env)
        for i in range(bulk):
            write(tree / f"bulk{round_}-{i}.txt", os.urandom(30_000).translate(SMALL_ALPHABET))
        process = subprocess.Popen(
            [sys.executable, "-c", _UPDATE_SCRIPT, str(tree)], env=env, stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None
        process.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.5))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        IndexReader.open(str(tree)).verify()
        assert_like_rg(tree, env)
    trigrep_index(tree, env)
    assert not [n for n in os.listdir(tree / INDEX_DIR_NAME) if n.startswith("tmp-")]
    in_use = {s.name for s in manifest(tree).segments}
    assert {n for n in os.listdir(tree / INDEX_DIR_NAME) if n.startswith("seg-")} == in_use
    assert_exact(tree)


def test_an_update_with_nothing_to_do_deletes_what_a_killed_writer_left(
    tree: Path, env: dict[str, str]
) -> None:
    """A writer killed after it published its manifest, before it deleted the segments the
    manifest no longer names (and a temp file): the next update, with no file changed, deletes
    them. It kept them, and test_kill_9_during_update_or_merge failed now and then under load
    (seg-14 to seg-20 left beside the manifest's seg-21)."""
    trigrep_index(tree, env)
    write(tree / "added.txt", b"alpha brand new\n")
    index_dir = tree / INDEX_DIR_NAME
    before = {n for n in os.listdir(index_dir) if n.startswith("seg-")}
    trigrep_index(tree, env)
    in_use = {s.name for s in manifest(tree).segments}
    left = {"seg-00000099-0" + Path(next(iter(in_use))).suffix, *(before - in_use)}
    for name in left:
        (index_dir / name).write_bytes(b"left by a killed writer")
    (index_dir / "tmp-1-manifest").write_bytes(b"half written")
    trigrep_index(tree, env)
    assert {n for n in os.listdir(index_dir) if n.startswith(("seg-", "tmp-"))} == in_use
    assert_like_rg(tree, env)


def test_corrupt_small_segment_is_reported_and_repaired(tree: Path, env: dict[str, str]) -> None:
    trigrep_index(tree, env)
    write(tree / "added.txt", b"alpha brand new\n")
    trigrep_index(tree, env)
    small = tree / INDEX_DIR_NAME / manifest(tree).segments[1].name
    data = bytearray(small.read_bytes())
    data[len(data) // 2] ^= 0x40
    small.write_bytes(bytes(data))
    assert_repaired_by_a_search(tree, env, b"is corrupt")


def assert_repaired_by_a_search(tree: Path, env: dict[str, str], damage: bytes) -> None:
    """A search answers as rg does, with one line on the `damage`, and leaves a sound index."""
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    repaired = run([*TRIGREP, "-c", "alpha"], tree, env)
    theirs = run([RG, "--sort", "path", "-c", "alpha"], tree, env)
    assert (repaired.out, repaired.code) == (theirs.out, theirs.code)
    assert repaired.err.count(b"\n") == 1 and damage in repaired.err
    assert_like_rg(tree, env)
    assert_exact(tree)


def test_a_segment_made_a_symlink_is_rebuilt_by_the_next_update(
    tree: Path, env: dict[str, str]
) -> None:
    """A segment replaced by a symlink to a copy of itself was read through it; the next
    update deleted the copy (a seg-* file no manifest names) and failed on the index it had
    just written, telling the user to run the very command that failed. It is damage: the
    next search rebuilds the index."""
    trigrep_index(tree, env)
    segment = tree / INDEX_DIR_NAME / manifest(tree).segments[0].name
    copy = segment.with_name(segment.name + ".copy")
    segment.rename(copy)
    segment.symlink_to(copy.name)
    write(tree / "added.txt", b"alpha added\n")
    assert_repaired_by_a_search(tree, env, b"not a regular file")


def test_damage_a_merge_finds_rebuilds_the_index(
    tree: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A segment damaged after the update verified the index (a stray write while it runs)
    is found by the merge, which verifies its sources again: the update rebuilds the index
    in full. It failed with the damage before, and the daemon, whose updates those are,
    never learnt of it."""
    from trigrep.index import update

    trigrep_index(tree, env)
    for step in range(update.MERGE_FANIN - 1):
        write(tree / f"small{step}.txt", b"alpha small %d\n" % step)
        trigrep_index(tree, env)
    append_segment = update._append_segment

    def append_then_damage(*args: object) -> None:
        append_segment(*args)
        first_small = IndexReader.open(str(tree)).segments[1]
        postings = first_small.header.sections["POSTINGS"].offset
        with open(first_small.path, "r+b") as f:  # in place, as a stray write would
            f.seek(postings)
            byte = f.read(1)[0]
            f.seek(postings)
            f.write(bytes([byte ^ 0xFF]))

    monkeypatch.setattr(update, "_append_segment", append_then_damage)
    write(tree / "last.txt", b"alpha last\n")
    assert update.update_index(str(tree), entries_of(tree)) == "full"
    assert_exact(tree)
    assert_like_rg(tree, env)


# --- random sequences ----------------------------------------------------------------------

NAMES = ["a.txt", "b.txt", "d/c.txt", "d/e.txt", "f.rs", "g.md"]
CONTENTS = st.lists(st.sampled_from([b"alpha", b"Beta", b"gamma", b" ", b"\n", b"x", b"needle",
                                     b"\x00", b"delta", b"brand new"]), max_size=12).map(b"".join)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), CONTENTS),
        st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just(b"")),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("index"), st.just(""), st.just(b"")),
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=STEPS)
def test_random_edits_updates_and_merges_match_rg(steps: list[tuple[str, str, object]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tree"
        home = Path(tmp) / "home"
        (home / ".config").mkdir(parents=True)
        root.mkdir()
        env = {**isolated_env(home), "TRIGREP_NO_DAEMON": "1"}
        write(root / "base.txt", b"alpha base\n")
        assert trigrep_main(["index", "."], root, env)[1] == 0
        reader = IndexReader.open(str(root))
        reader.records()
        for tick, (op, name, arg) in enumerate(steps):
            path = root / name
            if op == "write":
                write(path, arg, PAST + tick)  # type: ignore[arg-type]
            elif op == "delete" and path.exists():
                path.unlink()
            elif op == "rename" and path.exists():
                target = root / str(arg)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
            elif op == "index":
                assert trigrep_main(["index", "."], root, env)[1] == 0
                reader = reopened(reader, root)
                assert merge_run(reader.manifest.segments) is None
        assert trigrep_main(["index", "."], root, env)[1] == 0
        for args in (["-c", "alpha|needle"], ["-l", "Beta"], ["--json", "gamma"], ["-c", "a"]):
            theirs = run([RG, "--sort", "path", *args], root, env)
            out, code = trigrep_main(args, root, env)
            assert (normalise_json(out), code) == (normalise_json(theirs.out), theirs.code), args
        assert_exact(root)


def test_status_json_shape_of_stats(tree: Path, env: dict[str, str]) -> None:
    trigrep_index(tree, env)
    write(tree / "added.txt", b"alpha\n")
    trigrep_index(tree, env)
    stats = json.loads(run([*TRIGREP, "stats", "--json"], tree, env).out)
    assert (stats["segments"], stats["tombstones"]) == (2, 0)
    assert stats["files"] == len(reference(tree))
    missing = run([*TRIGREP, "stats", "no-such-dir"], tree, env)
    assert (missing.code, missing.out) == (2, b"")
    assert missing.err == b"trigrep: no-such-dir: No such file or directory\n"
