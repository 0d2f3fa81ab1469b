"""Big files indexed as documents (see "Documents" in format.py): the pieces cover every
trigram and every line, a within-line query needs its trigrams in one piece, a multiline one
only in the file, and updates and merges carry the documents over exactly."""

from __future__ import annotations

import os
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import RG, run
from test_differential_hypothesis import trigrep_main
from test_index import entries_of, reference, trigrams_of, truth
from trigrep.index import IndexReader
from trigrep.index import build as build_module
from trigrep.index.build import build_index, document_bounds, documents_of
from trigrep.index.update import update_index
from trigrep.query.plan import TrigramQuery

LINES = st.lists(
    st.sampled_from([b"alpha", b"omega", b" ", b"\n", b"\n", b"\r\n", b"x", b"\xce\xb1", b"ab"]),
    max_size=60,
).map(b"".join)


def lines_of(content: bytes) -> list[tuple[int, int]]:
    """(start, end) of each line, its terminating newline included."""
    bounds, start = [], 0
    while start < len(content):
        end = content.find(b"\n", start) + 1 or len(content)
        bounds.append((start, end))
        start = end
    return bounds


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(content=LINES, doc_bytes=st.integers(1, 20), extra=st.integers(-3, 3))
def test_pieces_hold_every_trigram_and_every_line(
    content: bytes, doc_bytes: int, extra: int
) -> None:
    """Whatever the document count (the stat's size may differ from the content's: UTF-16),
    each line with the newline before it lies in one piece, and the pieces' trigrams are
    the file's."""
    with mock.patch.object(build_module, "DOC_BYTES", doc_bytes):
        n_docs = max(1, documents_of(len(content)) + extra)
        pieces = list(document_bounds(content, n_docs))
    assert [n for n, _, _ in pieces] == sorted({n for n, _, _ in pieces})
    assert all(0 <= n < n_docs for n, _, _ in pieces)
    covered = set().union(*(trigrams_of(content[b:e]) for _, b, e in pieces)) if pieces else set()
    assert covered == trigrams_of(content)
    for start, end in lines_of(content):
        assert any(b <= max(0, start - 1) and end <= e for _, b, e in pieces), (start, end)


def plan_of(*words: bytes) -> TrigramQuery:
    return TrigramQuery("and", frozenset().union(*(trigrams_of(w) for w in words)))


def candidates(root: Path, plan: TrigramQuery, within_lines: bool) -> set[str]:
    reader = IndexReader.open(str(root))
    return {reader.path_of(i) for i in reader.candidates(plan, within_lines=within_lines)}


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files of many 64-byte documents: `far.txt` holds alpha and omega far apart."""
    monkeypatch.setattr(build_module, "DOC_BYTES", 64)
    root = tmp_path / "tree"
    root.mkdir()
    filler = b"".join(b"line %d of filler\n" % i for i in range(40))
    (root / "far.txt").write_bytes(b"alpha\n" + filler + b"omega\n")
    (root / "near.txt").write_bytes(filler + b"alpha omega\n" + filler)
    (root / "small.txt").write_bytes(b"alpha\nomega\n")
    (root / "one-line.txt").write_bytes(b"alpha" + b" " * 500 + b"omega")
    (root / "utf16.txt").write_bytes(
        b"\xff\xfe" + ("alpha\n" + filler.decode() + "omega\n").encode("utf-16-le")
    )
    return root


def assert_documents_decide(root: Path) -> None:
    """A within-line query is a candidate only where its words share a line's piece; a
    multiline one wherever the file holds them; single trigrams are exact either way."""
    both = plan_of(b"alpha", b"omega")
    assert candidates(root, both, within_lines=True) == {
        "near.txt", "small.txt", "one-line.txt"
    }
    assert candidates(root, both, within_lines=False) == {
        "far.txt", "near.txt", "small.txt", "one-line.txt", "utf16.txt"
    }
    ref = reference(root)
    for trigram in sorted(set().union(*ref.values())):
        plan = TrigramQuery("and", frozenset([trigram]))
        assert candidates(root, plan, within_lines=True) == truth(ref, plan)
    IndexReader.open(str(root)).verify()


def test_within_line_queries_need_their_trigrams_in_one_document(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=2)
    assert IndexReader.open(str(tree)).segments[0].n_docs > 5 * 5
    assert_documents_decide(tree)


def test_updates_and_merges_keep_the_documents(tree: Path) -> None:
    build_index(str(tree), entries_of(tree), workers=1)
    for step in range(10):  # enough small segments for merges
        (tree / f"new{step}.txt").write_bytes(b"alpha\n" + b"-\n" * 99 + b"omega %d\n" % step)
        if step % 2:
            (tree / "near.txt").write_bytes((tree / "near.txt").read_bytes() + b"x\n")
        assert update_index(str(tree), entries_of(tree)) == "update"
    reader = IndexReader.open(str(tree))
    assert len(reader.segments) < 10  # merged
    both = plan_of(b"alpha", b"omega")
    assert candidates(tree, both, within_lines=True) == {
        "near.txt", "small.txt", "one-line.txt"
    }
    for name in [f"new{step}.txt" for step in range(10)]:
        (tree / name).unlink()
    update_index(str(tree), entries_of(tree))
    assert_documents_decide(tree)


def test_cli_on_a_big_file_finds_what_rg_finds(tmp_path: Path, env: dict[str, str]) -> None:
    """With the real DOC_BYTES: a multiline match from the first document to the last is
    found, and within-line queries print what rg prints, whichever documents they touch."""
    root = tmp_path / "tree"
    root.mkdir()
    filler = b"".join(b"static int filler_%d(void) { return %d; }\n" % (i, i) for i in range(6000))
    (root / "big.c").write_bytes(b"alpha first\n" + filler + b"omega last\nalpha omega\n")
    (root / "small.c").write_bytes(b"alpha\nomega\n")
    past = time.time() - 1000
    for path in root.iterdir():
        os.utime(path, (past, past))
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    assert trigrep_main(["index", "."], root, env)[1] == 0
    assert IndexReader.open(str(root)).segments[0].n_docs > 4
    for args in (
        ["-U", "-c", r"alpha first[\s\S]*omega last"],
        ["-U", "-l", r"first\nstatic"],
        ["-c", "alpha.*omega"],
        ["-n", "filler_5999|alpha first|omega last"],
        ["-w", "-c", "filler_1234"],
        ["-l", "alpha first.*omega"],
    ):
        want = run([RG, "--sort", "path", *args], root, env)
        assert trigrep_main(args, root, env) == (want.out, want.code), args


def test_a_merge_of_segments_whose_files_are_all_gone(tree: Path) -> None:
    """An update drops a segment once its last file dies, but an index written by an earlier
    version can hold such segments, and a merge may take them (made here as it wrote them)."""
    from trigrep.index.build import publish
    from trigrep.index.update import _manifest, _merge

    build_index(str(tree), entries_of(tree), workers=1)
    for step in range(2):
        (tree / f"gone{step}.txt").write_bytes(b"alpha\n" + b"-\n" * 99 + b"omega\n")
        update_index(str(tree), entries_of(tree))
    for step in range(2):
        (tree / f"gone{step}.txt").unlink()
    before = IndexReader.open(str(tree))
    first, *later = before.manifest.segments
    dead = [ref._replace(tombstones=list(range(ref.files))) for ref in later]
    publish(before.index_dir, _manifest(before.manifest.generation + 1, [first, *dead],
                                        before.manifest.stats, time.time()))
    reader = IndexReader.open(str(tree))
    assert len(reader.segments) == 3 and all(
        len(s.tombstones) == s.n_files for s in reader.segments[1:]
    )
    _merge(reader, 1, 3)
    reader = IndexReader.open(str(tree))
    assert reader.segments[1].n_files == 0
    assert_documents_decide(tree)
