"""The trigram index: round trip against a pure-Python reference, corruption, crashes, locking."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trigrep.api import Index
from trigrep.cpu import AVX512_TARGETS, is_zen4_family
from trigrep.engine import open_index
from trigrep.errors import IndexFormatError
from trigrep.extract import read_searchable
from trigrep.index import IndexEntry, IndexReader, find_index_root
from trigrep.index import build as build_module
from trigrep.index.build import PathOrdered, build_index, sort_entries
from trigrep.index.format import (
    FORMAT_VERSION,
    HEADER_SIZE,
    LOCK_NAME,
    MANIFEST_NAME,
    SECTIONS,
    bitmap_bytes,
    unpack_header,
)
from trigrep.options import MatchOptions, WalkOptions
from trigrep.query import compile_query
from trigrep.query.plan import ALL, NONE, TrigramQuery
from trigrep.roots import INDEX_DIR_NAME
from trigrep.walk import walk


def trigrams_of(data: bytes) -> set[int]:
    """Raw trigrams (no case folding), written out independently of the planner's version."""
    return {(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(len(data) - 2)}


def entries_of(root: Path) -> list[IndexEntry]:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != INDEX_DIR_NAME]
        for name in filenames:
            path = os.path.join(dirpath, name)
            entries.append(IndexEntry.of(os.path.relpath(path, root), path, os.stat(path)))
    return entries


def make_tree(root: Path, seed: int = 0, files: int = 60) -> None:
    rng = random.Random(seed)
    words = [b"alpha", b"Beta", b"GAMMA", b"delta", b"\xc3\xa9t\xc3\xa9", b"x", b"\x00\xff", b"\n"]
    for folder in ("sub/deeper", "deeper"):
        (root / folder).mkdir(parents=True)
    for i in range(files):
        body = b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 300)))
        folder = root / ("sub" if i % 3 else "") / ("deeper" if i % 5 == 0 else "")
        (folder / f"file{i}.txt").write_bytes(body)
    (root / "empty").write_bytes(b"")
    (root / "two").write_bytes(b"ab")
    (root / "three").write_bytes(b"abc")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 3)
    (root / "utf16.txt").write_bytes(b"\xff\xfe" + "Hello UTF16 World".encode("utf-16-le"))
    (root / "longline.txt").write_bytes(b"q" * 50_000 + b"needle" + b"z" * 50_000)
    # A line longer than a chunk after a small file: documents must still come in order.
    (root / "m0.txt").write_bytes(b"rare words")
    (root / "minified.js").write_bytes(b"alpha Beta rare words " * 4_000)
    (root / os.fsdecode(b"bad-\xff\xfe-name.txt")).write_bytes(b"non utf8 name content")
    (root / "MixedCase.TXT").write_bytes(b"SomeThing LOUD and quiet")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    return root


def reference(root: Path) -> dict[str, set[int]]:
    return {e.relpath: trigrams_of(read_searchable(e.abspath)) for e in entries_of(root)}


def truth(ref: dict[str, set[int]], plan: TrigramQuery) -> set[str]:
    def holds(trigrams: set[int], q: TrigramQuery) -> bool:
        if q.op in ("all", "none"):
            return q.op == "all"
        results = [t in trigrams for t in q.trigrams] + [holds(trigrams, s) for s in q.subs]
        return all(results) if q.op == "and" else any(results)

    return {path for path, trigrams in ref.items() if holds(trigrams, plan)}


def answer(reader: IndexReader, plan: TrigramQuery) -> set[str]:
    return {reader.path_of(i) for i in reader.candidates(plan)}


def byte_answer(reader: IndexReader, *required: int) -> set[str]:
    """The candidates of files holding a byte of each of the `required` sets."""
    return {reader.path_of(i) for i in reader.candidates(ALL, required)}


def assert_byte_sets_exact(reader: IndexReader, root: Path) -> None:
    """Each file's FILE_BYTES row is the set of the bytes of its searchable content."""
    contents = {e.relpath: set(read_searchable(e.abspath)) for e in entries_of(root)}
    for value in range(256):
        expected = {path for path, held in contents.items() if value in held}
        assert byte_answer(reader, 1 << value) == expected, value
    greek_or_x, x, e = {0xCE, ord("x")}, 1 << ord("x"), 1 << ord("e")
    assert byte_answer(reader, sum(1 << b for b in greek_or_x)) == {
        path for path, held in contents.items() if held & greek_or_x
    }
    assert byte_answer(reader, x, e) == {
        path for path, held in contents.items() if {ord("x"), ord("e")} <= held
    }
    assert byte_answer(reader, 0) == set()


def test_round_trip_is_exact(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "CHUNK_BYTES", 4096)  # split the long line into pieces
    stats = build_index(str(tree), entries_of(tree), workers=2)
    ref = reference(tree)
    reader = IndexReader.open(str(tree))
    all_trigrams = set().union(*ref.values())
    assert stats.files == len(ref) and stats.trigrams == len(all_trigrams)
    for trigram in all_trigrams:
        plan = TrigramQuery("and", frozenset([trigram]))
        assert answer(reader, plan) == truth(ref, plan)
    assert answer(reader, ALL) == set(ref)
    assert answer(reader, NONE) == set()
    assert answer(reader, TrigramQuery("and", frozenset([0x7A7A7A + 1]))) == set()
    for entry in entries_of(tree):
        record = reader.lookup(entry.relpath)
        assert record is not None
        assert (record.size, record.mtime_ns, record.ctime_ns) == (
            entry.size, entry.mtime_ns, entry.ctime_ns
        )
        assert reader.path_of(record.file_id) == entry.relpath
    assert reader.lookup("no/such/file") is None
    assert (tree / INDEX_DIR_NAME / ".gitignore").read_text() == "*\n"
    reader.verify()
    assert_byte_sets_exact(reader, tree)


@pytest.mark.parametrize("workers", [1, 2])
def test_how_the_work_is_cut_does_not_change_the_segment(
    tree: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Pieces of big files, chunks whose file ids skip tiny files, several blocks per run,
    many tasks and merge slices narrowed inside one trigram range only cut the work
    differently: the segment holds the same bytes as with the default sizes."""
    build_index(str(tree), entries_of(tree), workers=1)
    expected = next((tree / INDEX_DIR_NAME).glob("seg-*")).read_bytes()
    for name, value in [
        ("CHUNK_BYTES", 4096),
        ("MAX_CHUNK_FILES", 3),
        ("BLOCK_KEYS", 100),
        ("TASK_FILES", 7),
        ("SLICE_POSTINGS", 50),
    ]:
        monkeypatch.setattr(build_module, name, value)
    planned = []
    plan_slices = build_module._plan_slices
    monkeypatch.setattr(
        build_module, "_plan_slices", lambda *a: planned.extend(plan_slices(*a)) or planned
    )
    build_index(str(tree), entries_of(tree), workers=workers)
    assert any(s.stop - s.first == 1 and s.high - s.low < 1 << 20 for s in planned)
    assert next((tree / INDEX_DIR_NAME).glob("seg-*")).read_bytes() == expected
    IndexReader.open(str(tree)).verify()


def document_postings(root: Path) -> dict[int, set[int]]:
    """Each trigram's documents, computed by hand from the documents' bytes (as "Documents"
    in format.py cuts them)."""
    postings: dict[int, set[int]] = {}
    first = 0
    for entry in sort_entries(entries_of(root)):
        n_docs = build_module.documents_of(entry.size)
        content = read_searchable(entry.abspath)
        for number, begin, end in build_module.document_bounds(content, n_docs):
            for trigram in trigrams_of(content[begin:end]):
                postings.setdefault(trigram, set()).add(first + number)
        first += n_docs
    return postings


def segment_postings(root: Path) -> dict[int, set[int]]:
    """Each trigram's documents, as the segment's posting lists hold them."""
    [segment] = IndexReader.open(str(root)).segments
    dictionary = segment.section("DICT_TRIGRAMS").cast("I")[: segment.header.n_trigrams]
    return {trigram: set(segment.decode(segment.postings(trigram)).tolist())
            for trigram in dictionary}


EDGE_FILES = {
    "ff.bin": b"\xff" * 40 + b"\xff\xfe\xfd\xfc" * 50,  # the last trigram range, 0xFFFxxx
    "ff-too.bin": b"a\xff\xff\xff\xf0\xff\xf7b",
    "abc": b"abc",
    "abcd": b"abcd",
    "ab": b"ab",
    "empty": b"",
    "same.txt": b"z" * 700,
    "crlf.txt": b"foo\r\nbar\r\n" * 30,
    "nul-late.txt": b"alpha\n" * 50 + b"\0tail",
    "utf16be.txt": b"\xfe\xff" + "h\u00e9llo w\u00f6rld\n".encode("utf-16-be") * 20,
    "line.txt": b"head\n" + b"abcdefgh" * 300 + b" needle\nfoot\n",  # documents reach far
}


@pytest.mark.parametrize(
    "sizes",
    [
        {"SLICE_POSTINGS": 1},  # every range narrowed into parts, the last one too
        {"CHUNK_BYTES": 3, "DOC_BYTES": 16, "BLOCK_KEYS": 300},  # documents in pieces
        {"CHUNK_BYTES": 64, "MAX_CHUNK_FILES": 2, "BLOCK_KEYS": 100, "SLICE_POSTINGS": 50},
        {"CHUNK_BYTES": 200, "DOC_BYTES": 100, "TASK_FILES": 7},  # blocks of many chunks
        # slices of up to 2 ranges merge their pairs as uint32, wider ones as uint64
        {"SLICE_POSTINGS": 40, "_packed_trigrams": lambda n_docs: 2 << 12},
    ],
    ids=["narrowed", "tiny-chunks", "many-blocks", "many-chunks-a-block", "pair-widths"],
)
def test_every_document_has_its_trigrams_however_the_work_is_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sizes: dict[str, object]
) -> None:
    """The posting lists hold exactly each document's trigrams, with build sizes that cut the
    work into many documents, chunks, blocks and slices; a missing posting is a missed match."""
    rng = random.Random(1)
    words = [b"alpha", b"Beta", b"\xc3\xa9t\xc3\xa9", b"x", b"\n", b"\xff"]
    for i in range(20):
        (tmp_path / f"words{i}.txt").write_bytes(
            b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 100))))
    for name, data in EDGE_FILES.items():
        (tmp_path / name).write_bytes(data)
    for name, value in sizes.items():
        monkeypatch.setattr(build_module, name, value)
    build_index(str(tmp_path), entries_of(tmp_path), workers=2)
    assert segment_postings(tmp_path) == document_postings(tmp_path)
    IndexReader.open(str(tmp_path)).verify()


def test_posting_lists_either_side_of_the_bitmap_length(tmp_path: Path) -> None:
    """Lists of one document fewer than a bitmap's length, as many, and one more (which
    encode_postings makes bitmaps without their varints), and a list whose varints reach a
    bitmap's length by a gap over 127 documents: each holds exactly its documents, in a
    segment whose ids cross a chunk's MAX_CHUNK_FILES."""
    n_docs = build_module.MAX_CHUNK_FILES + 44
    length = bitmap_bytes(n_docs)
    members = {
        b"AAA": range(0, n_docs, n_docs // (length - 1))[: length - 1],
        b"BBB": range(1, n_docs, n_docs // length)[:length],
        b"CCC": range(2, n_docs, n_docs // (length + 1))[: length + 1],
        b"DDD": [0, *range(n_docs - length + 2, n_docs)],  # (length - 1 ids, one gap of 2 bytes)
    }
    for i in range(n_docs):
        (tmp_path / f"f{i:03d}").write_bytes(
            b" ".join([b"f%03d" % i, *(marker for marker, ids in members.items() if i in ids)]))
    build_index(str(tmp_path), entries_of(tmp_path), workers=1)
    postings = segment_postings(tmp_path)
    assert postings == document_postings(tmp_path)
    for marker, ids in members.items():
        assert postings[int.from_bytes(marker, "big")] == set(ids)
    IndexReader.open(str(tmp_path)).verify()


def test_a_build_takes_a_walk_in_path_order_as_it_comes(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries streamed from a walk in path order (tasks sent to the workers while it goes
    on) give the segment a sorted list gives; entries out of order are refused."""
    (tree / "a.c").write_bytes(b"alpha dot\n")
    (tree / "a").mkdir()
    (tree / "a" / "x.c").write_bytes(b"alpha slash\n")
    (tree / "a0").write_bytes(b"alpha zero\n")
    build_index(str(tree), entries_of(tree), workers=1)
    expected = next((tree / INDEX_DIR_NAME).glob("seg-*")).read_bytes()
    monkeypatch.setattr(build_module, "TASK_FILES", 7)

    def walked() -> Iterator[IndexEntry]:
        for entry in walk([str(tree)], WalkOptions(hidden=True, no_ignore=True), path_order=True):
            yield IndexEntry.of(os.path.relpath(entry.path, tree), entry.path, entry.stat())

    build_index(str(tree), PathOrdered(walked()), workers=2)
    assert next((tree / INDEX_DIR_NAME).glob("seg-*")).read_bytes() == expected
    with pytest.raises(ValueError, match="comes after"):
        build_index(str(tree), PathOrdered(reversed(sort_entries(entries_of(tree)))), workers=2)
    IndexReader.open(str(tree)).verify()  # the refused build left the index as it was


def test_find_index_root(tree: Path) -> None:
    assert find_index_root(str(tree / "sub" / "deeper")) is None
    build_index(str(tree), entries_of(tree), workers=1)
    assert find_index_root(str(tree / "sub" / "deeper")) == str(tree)


trigram_strategy = st.sampled_from(
    sorted(trigrams_of(b"alpha beta gamma delta SomeThing x\x00\xff"))
)
plans = st.recursive(
    st.builds(
        TrigramQuery,
        st.sampled_from(["and", "or"]),
        st.frozensets(trigram_strategy, max_size=4),
    )
    | st.sampled_from([ALL, NONE]),
    lambda children: st.builds(
        TrigramQuery,
        st.sampled_from(["and", "or"]),
        st.frozensets(trigram_strategy, max_size=3),
        st.lists(children, max_size=3).map(tuple),
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def built_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[IndexReader, dict[str, set[int]]]:
    root = tmp_path_factory.mktemp("plans")
    make_tree(root, seed=1, files=80)
    (root / "unreadable").write_bytes(b"secret alpha")
    entries = entries_of(root)
    os.unlink(root / "unreadable")  # vanishes after the walk: indexed as "always a candidate"
    build_index(str(root), entries, workers=2)
    return IndexReader.open(str(root)), reference(root)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=plans)
def test_candidates_are_the_truth_plus_unindexed(built_tree, plan: TrigramQuery) -> None:
    reader, ref = built_tree
    got = answer(reader, plan)
    expected = truth(ref, plan)
    if plan.op != "none":
        expected.add("unreadable")
    assert got == expected
    assert reader.stats().unindexed_files == 1


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.integers(0, 300), st.integers(0, 2**32 - 1)), min_size=1))
def test_varints_decode_to_what_was_encoded(values: list[int]) -> None:
    """A posting list's LEB128 gaps, of one to five bytes each, decode to their values and
    starts (one list, or many concatenated, as a merge decodes them)."""
    import numpy as np

    from trigrep.index.build import _varints
    from trigrep.index.reader import leb128_values

    gaps = np.array(values, np.uint32)
    widths = np.ones(len(gaps), np.uint8)
    for bits in (7, 14, 21, 28):
        widths += gaps >= np.uint32(1 << bits)
    decoded, starts = leb128_values(_varints(gaps, widths))
    assert decoded.tolist() == values
    assert starts.tolist() == (np.cumsum(widths, dtype=np.int64) - widths).tolist()


def _regions(path: Path) -> list[int]:
    """A byte offset inside every header field group and every section of a segment."""
    header = unpack_header(path.read_bytes(), str(path))
    offsets = [0, 8, 12, 36, 40, 44, HEADER_SIZE - 1]
    for name in SECTIONS:
        offset, length = header.sections[name].offset, header.sections[name].length
        if length:
            offsets += [offset, offset + length // 2, offset + length - 1]
    return offsets


def test_every_flipped_byte_is_detected_or_harmless(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    ref = reference(tree)
    index_dir = tree / INDEX_DIR_NAME
    segment = next(index_dir.glob("seg-*"))
    pristine = {p: p.read_bytes() for p in (segment, index_dir / MANIFEST_NAME)}
    targets = [(segment, o) for o in _regions(segment)]
    manifest_size = len(pristine[index_dir / MANIFEST_NAME])
    targets += [(index_dir / MANIFEST_NAME, o) for o in range(0, manifest_size, 7)]
    probes = [TrigramQuery("and", frozenset([t])) for t in sorted(set().union(*ref.values()))[::5]]
    for path, offset in targets:
        data = bytearray(pristine[path])
        data[offset] ^= 0x10
        path.write_bytes(bytes(data))
        try:
            reader = IndexReader.open(str(tree))
            for plan in [ALL, *probes]:
                assert answer(reader, plan) == truth(ref, plan), (path.name, offset)
            reader.verify()
        except IndexFormatError as e:
            assert "is corrupt" in str(e) or "format version" in str(e)
        else:
            pytest.fail(f"flip at {path.name}:{offset} went unnoticed")
        path.write_bytes(pristine[path])


def test_truncated_missing_and_foreign_versions_are_errors(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    index_dir = tree / INDEX_DIR_NAME
    segment = next(index_dir.glob("seg-*"))
    raw = segment.read_bytes()
    segment.write_bytes(raw[:-1])
    with pytest.raises(IndexFormatError, match="corrupt"):
        IndexReader.open(str(tree))
    segment.unlink()
    with pytest.raises(IndexFormatError, match="missing"):
        IndexReader.open(str(tree))
    segment.write_bytes(raw)
    manifest = index_dir / MANIFEST_NAME
    text = manifest.read_bytes()
    old = FORMAT_VERSION - 1
    manifest.write_bytes(text.replace(f" v{FORMAT_VERSION}\n".encode(), f" v{old}\n".encode(), 1))
    with pytest.raises(IndexFormatError, match=f"format version {old}, .*run 'trigrep index'"):
        IndexReader.open(str(tree))
    build_index(str(tree), entries_of(tree), workers=1)  # an old index is simply rebuilt
    IndexReader.open(str(tree)).verify()
    manifest.unlink()
    with pytest.raises(IndexFormatError, match="no manifest"):
        IndexReader.open(str(tree))


def test_a_segment_truncated_while_open_is_damage_not_sigbus(tree: Path) -> None:
    """An open reader whose segment something else truncates: what it reads next (blocks it
    verified already, the file table) is reported as damage. Through a memory map, the
    process died of SIGBUS, which no Python code can catch."""
    build_index(str(tree), entries_of(tree), workers=1)
    query = compile_query(MatchOptions(["delta"], case="insensitive"))
    reader = IndexReader.open(str(tree))
    assert reader.candidates(query.plan, query.required_bytes)
    [segment] = reader.segments
    os.truncate(segment.path, 64)
    with pytest.raises(IndexFormatError, match=r"segment 0: truncated to 64 bytes since it"):
        reader.candidates(query.plan, query.required_bytes)
    with pytest.raises(IndexFormatError, match=r"\(segment 0: size 64, manifest says"):
        IndexReader.open(str(tree))


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_segment_or_manifest_that_is_not_a_file_is_corrupt(tree: Path, kind: str) -> None:
    """Opening a FIFO would wait for a writer forever: the reader does not wait, and calls
    the index corrupt (a rebuild replaces it)."""
    build_index(str(tree), entries_of(tree), workers=1)
    index_dir = tree / INDEX_DIR_NAME
    for victim in (next(index_dir.glob("seg-*")), index_dir / MANIFEST_NAME):
        raw = victim.read_bytes()
        victim.unlink()
        if kind == "fifo":
            os.mkfifo(victim)
        else:
            victim.mkdir()
        with pytest.raises(IndexFormatError, match="not a regular file"):
            IndexReader.open(str(tree))
        if kind == "fifo":
            victim.unlink()
        else:
            victim.rmdir()
        victim.write_bytes(raw)
    IndexReader.open(str(tree)).verify()


def _as_another_user(call: Callable[[], object]) -> str:
    """repr() of what `call()` returns (or raises) in a child process of another user than
    the owner of the files (uid 65534 when this is root, whom file modes do not stop)."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                result = repr(call())
            except Exception as e:
                result = f"{type(e).__name__}: {e}"
            os.write(writing, result.encode())
        finally:
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as answer:
        result = answer.read().decode()
    os.waitpid(pid, 0)
    return result


@pytest.fixture
def shared_tree() -> Iterator[Path]:
    """A tree that another user may read (tmp_path lies in a directory only its owner may
    enter)."""
    shared = Path(tempfile.mkdtemp(prefix="trigrep-shared-"))
    try:
        shared.chmod(0o755)
        make_tree(shared / "tree")
        yield shared / "tree"
    finally:
        shutil.rmtree(shared)


def test_an_index_this_user_may_not_read_is_searched_without(shared_tree: Path) -> None:
    """Another user's index written under umask 077 made every search fail: 'corrupt
    (manifest unreadable: Permission denied); run trigrep index' (which that user cannot),
    or, for a segment, 'internal error: PermissionError'. A search goes on without it, as
    rg would answer (IndexReader.open tells why, as the API does)."""
    tree = shared_tree
    build_index(str(tree), entries_of(tree), workers=1)
    index_dir = tree / INDEX_DIR_NAME
    for victim in (index_dir / MANIFEST_NAME, next(index_dir.glob("seg-*"))):
        victim.chmod(0)
        try:
            assert _as_another_user(lambda: open_index(str(tree), build_if_missing=True)) == "None"
            why = _as_another_user(lambda: IndexReader.open(str(tree)))
            assert why.startswith(f"IndexUnreadableError: cannot read the index at {index_dir}")
            assert why.endswith(": Permission denied")
        finally:
            victim.chmod(0o644)
    index_dir.chmod(0)  # the API stat'ed the manifest first: a PermissionError escaped
    try:
        why = _as_another_user(lambda: list(Index(str(tree)).search("alpha")))
        assert why.startswith(f"IndexUnreadableError: cannot read the index at {index_dir}")
    finally:
        index_dir.chmod(0o755)
    IndexReader.open(str(tree)).verify()


@pytest.mark.parametrize("name", [LOCK_NAME, MANIFEST_NAME])
def test_an_empty_directory_in_place_of_the_lock_or_manifest_is_replaced(
    tree: Path, name: str
) -> None:
    """Every build failed with 'Is a directory' (no lock could be taken, no manifest
    written), and every search warned that it was not indexing, until the user removed it."""
    build_index(str(tree), entries_of(tree), workers=1)
    victim = tree / INDEX_DIR_NAME / name
    victim.unlink()
    victim.mkdir()
    build_index(str(tree), entries_of(tree), workers=1)
    assert victim.is_file()
    IndexReader.open(str(tree)).verify()


@pytest.mark.parametrize("name", [MANIFEST_NAME, ".ignore", ".gitignore"])
def test_a_fifo_in_the_index_does_not_block_a_build(tree: Path, name: str) -> None:
    """A build read the old manifest's generation, and wrote an empty ignore file, through
    plain opens, which wait for a FIFO's other end forever: every search then hung. The
    FIFO is replaced instead (a build in a thread: a hang fails the test, not the suite)."""
    build_index(str(tree), entries_of(tree), workers=1)
    victim = tree / INDEX_DIR_NAME / name
    victim.unlink()
    os.mkfifo(victim)
    builder = threading.Thread(
        target=build_index, args=(str(tree), entries_of(tree)), kwargs={"workers": 1},
        daemon=True,
    )
    builder.start()
    builder.join(timeout=30)
    if builder.is_alive():
        os.close(os.open(victim, os.O_RDWR))  # (both its ends: the build goes on)
        pytest.fail(f"a build waited on a FIFO in place of {name}")
    assert victim.is_file() and not victim.is_symlink()
    IndexReader.open(str(tree)).verify()


@pytest.mark.parametrize(
    ("pattern", "case", "expected"),
    [
        ("PM_RESUME", "sensitive", {"upper.c"}),
        ("pm_resume", "sensitive", {"lower.c"}),
        ("Pm_Resume", "sensitive", set()),
        ("PM_RESUME", "insensitive", {"upper.c", "lower.c"}),
        ("[A-Z]+_RESUME", "sensitive", {"upper.c"}),
        ("kelvin", "insensitive", {"kelvin.txt"}),
    ],
)
def test_case_sensitive_candidates_exclude_the_other_case(
    tmp_path: Path, pattern: str, case: str, expected: set[str]
) -> None:
    """Raw-case trigrams: a case-sensitive query skips files holding only the other case."""
    (tmp_path / "upper.c").write_bytes(b"#define PM_RESUME 1\n")
    (tmp_path / "lower.c").write_bytes(b"int pm_resume(void);\n")
    (tmp_path / "kelvin.txt").write_bytes("\u212aELVIN".encode())
    build_index(str(tmp_path), entries_of(tmp_path), workers=1)
    plan = compile_query(MatchOptions([pattern], case=case)).plan  # type: ignore[arg-type]
    assert answer(IndexReader.open(str(tmp_path)), plan) == expected


def test_rebuild_replaces_segments_and_cleans_up(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    (tree / "new.txt").write_bytes(b"brand new words")
    build_index(str(tree), entries_of(tree), workers=1)
    names = sorted(os.listdir(tree / INDEX_DIR_NAME))
    assert [n for n in names if n.startswith("seg-")] == ["seg-00000002-0.tgs"]
    assert not [n for n in names if n.startswith("tmp-")]
    reader = IndexReader.open(str(tree))
    assert "new.txt" in answer(reader, TrigramQuery("and", frozenset(trigrams_of(b"brand"))))


_BUILD_SCRIPT = """
import os, sys
from trigrep.index.build import PathOrdered, build_index, sort_entries
from trigrep.index import IndexEntry
root = sys.argv[1]
entries = []
for d, ds, fs in os.walk(root):
    ds[:] = [x for x in ds if x != ".trigrep"]
    for f in fs:
        p = os.path.join(d, f)
        s = os.stat(p)
        entries.append(IndexEntry.of(os.path.relpath(p, root), p, s))
import trigrep.index.build as build_module
build_module.TASK_FILES = 16  # several tasks: the extract phase runs in a pool of workers
print("start", flush=True)
build_index(root, entries, workers=2)
"""


def _build_process(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _BUILD_SCRIPT, str(root)],
        stdout=subprocess.PIPE,
        start_new_session=True,  # so kill -9 reaches its pool workers too
    )


def test_kill_during_build_keeps_previous_index(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    ref = reference(tree)
    plans_ = [
        ALL,
        *(TrigramQuery("and", frozenset([t])) for t in sorted(set().union(*ref.values()))[::7]),
    ]
    before = [answer(IndexReader.open(str(tree)), p) for p in plans_]
    for i in range(60):
        (tree / f"bulk{i}.txt").write_bytes(os.urandom(20_000))
    rng = random.Random(3)
    for _ in range(4):
        process = _build_process(tree)
        assert process.stdout is not None
        process.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.6))
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        reader = IndexReader.open(str(tree))
        now = [answer(reader, p) for p in plans_]
        if reader.manifest.generation == 1:
            assert now == before
        else:  # the build finished before the kill: the new index is complete
            reader.verify()
            assert "bulk0.txt" in answer(reader, ALL)
    build_index(str(tree), entries_of(tree), workers=1)  # cleans up the leftovers
    assert not [n for n in os.listdir(tree / INDEX_DIR_NAME) if n.startswith("tmp-")]


def test_a_build_killed_alone_leaves_no_worker_holding_the_lock(tree: Path) -> None:
    """kill -9 of the building process only (not its process group): its workers die with
    it, so the next build gets the lock at once and completes."""
    for i in range(400):
        (tree / f"bulk{i}.txt").write_bytes(os.urandom(20_000))
    process = _build_process(tree)
    assert process.stdout is not None
    process.stdout.readline()
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tree / INDEX_DIR_NAME / MANIFEST_NAME).exists()  # killed while building
    deadline = time.monotonic() + 10
    try:
        while True:
            os.killpg(process.pid, 0)  # ProcessLookupError: no process of the build is left
            assert time.monotonic() < deadline, "the killed build's workers live on"
            time.sleep(0.05)
    except ProcessLookupError:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    build_index(str(tree), entries_of(tree), workers=1)
    assert "bulk0.txt" in answer(IndexReader.open(str(tree)), ALL)


def test_concurrent_builds_take_turns(tree: Path) -> None:
    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_index(str(tree), entries_of(tree), workers=1)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    processes = [_build_process(tree) for _ in range(2)]
    for t in threads:
        t.join()
    assert all(p.wait() == 0 for p in processes)
    assert not errors
    reader = IndexReader.open(str(tree))
    reader.verify()
    assert reader.manifest.generation == 5
    assert answer(reader, ALL) == set(reference(tree))


def test_index_survives_copying(tree: Path, tmp_path: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    assert answer(IndexReader.open(str(copy)), ALL) == set(reference(tree))


# numpy's AVX-512 sort is the slow one on AMD Zen 4 (see trigrep.cpu).
INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 143\n"
ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
ZEN5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"


def test_only_zen4_is_kept_off_numpys_avx512_sort() -> None:
    assert is_zen4_family(ZEN4)
    assert is_zen4_family(ZEN4[:-6])  # the head read, cut anywhere after the family
    assert not is_zen4_family(INTEL)
    assert not is_zen4_family(ZEN5)
    assert not is_zen4_family("")


@pytest.mark.parametrize("chosen", [None, "AVX512_SPR"])
def test_the_cli_keeps_numpy_off_avx512_on_zen4_unless_the_user_chose(
        chosen: str | None, tmp_path: Path) -> None:
    """What the CLI's index build (and any process it starts) loads numpy with."""
    env = {k: v for k, v in os.environ.items() if k != "NPY_DISABLE_CPU_FEATURES"}
    if chosen is not None:
        env["NPY_DISABLE_CPU_FEATURES"] = chosen
    (tmp_path / "a.txt").write_text("hello\n")
    env["TRIGREP_AUTO_SERVE"] = "off"
    probe = ("import os, sys; sys.argv = ['trigrep', 'index', '.'];"
             "import trigrep.cli as cli; cli.main();"
             "print(os.environ.get('NPY_DISABLE_CPU_FEATURES'))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    with open("/proc/cpuinfo") as f:
        zen4 = is_zen4_family(f.read(512))
    expected = chosen if chosen is not None else AVX512_TARGETS if zen4 else None
    assert run.stdout.splitlines()[-1] == str(expected)
