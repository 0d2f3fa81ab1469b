"""The Python API returns what `rg --json` reports: same files, lines, offsets and spans."""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import trigrep
from conftest import RG, parse_json_lines, run
from test_cli_rg import make_tree
from trigrep import parallel, stream

if TYPE_CHECKING:
    from trigrep.server.tree import ServedTree


def _text(data: dict) -> bytes:
    return data["text"].encode() if "text" in data else base64.b64decode(data["bytes"])


def rg_matches(root: Path, env: dict[str, str], *args: str) -> list[tuple]:
    out = run([RG, "--sort", "path", "--json", *args], root, env).out
    return [
        (_text(d["path"]), d["line_number"], _text(d["lines"]), d["absolute_offset"],
         tuple((s["start"], s["end"]) for s in d["submatches"]))
        for d in (m["data"] for m in parse_json_lines(out) if m["type"] == "match")
    ]


def api_matches(matches: list[trigrep.Match]) -> list[tuple]:
    return [(m.path.encode(), m.line_number, m.line_bytes, m.byte_offset, m.submatches)
            for m in matches]


@pytest.fixture(params=[False, True], ids=["cold", "watched"])
def index(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[trigrep.Index]:
    make_tree(tmp_path)
    with trigrep.Index(tmp_path, watch=request.param) as index:
        yield index


CASES = [
    (("foo",), {}),
    (("-i", "pm_resume"), {"ignore_case": True}),
    (("-S", "pm_resume"), {"smart_case": True}),
    (("-w", "foo"), {"word_regexp": True}),
    (("-x", "foo"), {"line_regexp": True}),
    (("-F", "foo()"), {"fixed_strings": True}),
    (("-v", "o"), {"invert_match": True}),
    (("-m", "1", "foo"), {"max_count": 1}),
    (("-m", "2", "foo"), {"max_count": 2}),
    (("-m", "0", "foo"), {"max_count": 0}),
    (("-g", "*.c", "foo"), {"glob": ["*.c"]}),
    (("-t", "md", "foo"), {"type": ["md"]}),
    (("-T", "md", "foo"), {"type_not": ["md"]}),
    (("-U", r"foo\nbar"), {"multiline": True}),
    (("-U", "--multiline-dotall", "foo.bar"), {"multiline": True, "multiline_dotall": True}),
    (("-U", "-v", r"o\nb"), {"multiline": True, "invert_match": True}),
    (("--hidden", "foo"), {"hidden": True}),
    (("--no-ignore", "foo"), {"no_ignore": True}),
]


@pytest.mark.parametrize(("rg_args", "options"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_search_equals_rg_json(
    index: trigrep.Index, env: dict[str, str], rg_args: tuple[str, ...], options: dict
) -> None:
    pattern = rg_args[-1]
    got = api_matches(list(index.search(pattern, **options)))
    assert got == rg_matches(Path(index.root), env, *rg_args)


def test_context_and_counts(index: trigrep.Index) -> None:
    [m] = [m for m in index.search("PM_RESUME_FLAG", context=1)]
    assert (m.path, m.line_number) == ("src/main.c", 3)
    assert [c.line_number for c in m.before] == [2] and [c.line_number for c in m.after] == [4]
    counts = {m.path: m.count for m in index.search("foo", count=True)}
    assert counts["src/crlf.txt"] == 2
    files = [m.path for m in index.search("foo", files_with_matches=True)]
    assert files == sorted(set(files), key=lambda p: p.split("/")) and "src/main.c" in files


@pytest.mark.parametrize(("rg_args", "options"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_counts_and_files_equal_rg_count_and_list(
    index: trigrep.Index, env: dict[str, str], rg_args: tuple[str, ...], options: dict
) -> None:
    """count=True: per file, rg -c's count and (as the Match) its first matching line;
    files_with_matches=True: the files rg -l lists, each with that Match (with -U -v,
    neither lists any)."""
    pattern = rg_args[-1]
    got = list(index.search(pattern, count=True, **options))
    assert [(m.path.encode(), m.count) for m in got] == rg_counts(Path(index.root), env, rg_args)
    listed = run([RG, "--sort", "path", "-l", *rg_args], Path(index.root), env).out
    for context in (0, 2):  # (context lines matching after -m's one: no more Matches)
        assert [m.path.encode() for m in index.search(
            pattern, files_with_matches=True, after_context=context, **options)
        ] == listed.splitlines()
    first: dict[str, trigrep.Match] = {}
    for m in index.search(pattern, **options):
        first.setdefault(m.path, m)
    assert api_matches(got) == api_matches([first[m.path] for m in got])
    files = list(index.search(pattern, files_with_matches=True, **options))
    assert api_matches(files) == api_matches([first[m.path] for m in files])


def rg_counts(root: Path, env: dict[str, str], rg_args: tuple[str, ...]) -> list[tuple]:
    out = run([RG, "--sort", "path", "-c", "--with-filename", *rg_args], root, env).out
    return [(path, int(n)) for path, _, n in (line.rpartition(b":") for line in out.splitlines())]


@pytest.mark.parametrize(("rg_args", "options"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_searches_in_workers_equal_rg(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    rg_args: tuple[str, ...], options: dict,
) -> None:
    """Past its first file a watched index's search goes to the workers, which send the
    matches as columns (context lines as events): the same Matches, counts and files as rg."""
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)
    monkeypatch.setattr(parallel, "BATCH_FILES", 2)
    make_tree(tmp_path)
    pattern = rg_args[-1]
    with trigrep.Index(tmp_path, watch=True) as index:
        for context in (0, 1):
            rg_context = ("-C", "1") if context else ()
            got = api_matches(list(index.search(pattern, context=context, **options)))
            assert got == rg_matches(tmp_path, env, *rg_context, *rg_args)
        got = list(index.search(pattern, count=True, **options))
        counts = rg_counts(tmp_path, env, rg_args)
        assert [(m.path.encode(), m.count) for m in got] == counts
        firsts: dict[bytes, tuple] = {}  # each file's first Match
        for match in rg_matches(tmp_path, env, *rg_args):
            firsts.setdefault(match[0], match)
        assert api_matches(got) == [firsts[path] for path, _ in counts]
        listed = run([RG, "--sort", "path", "-l", *rg_args], tmp_path, env).out
        assert [m.path.encode() for m in index.search(
            pattern, files_with_matches=True, **options)] == listed.splitlines()


@pytest.mark.parametrize("watch", [False, True], ids=["taken-here", "in-workers"])
@pytest.mark.parametrize(("rg_args", "options"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_big_files_searched_in_windows_equal_rg(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    rg_args: tuple[str, ...], options: dict, watch: bool,
) -> None:
    """A big text file (over BIG_FILE: a few KB here) is searched a window (a few lines
    here) at a time, read as it is searched: the same Matches, counts and files as rg.
    One the search takes itself has its matches searched as they are taken (see
    stream.streamed_events): its first Match comes once its first windows were searched;
    a worker (past the first file of a watched index's search) sends them all. With
    context, its Matches are those of a search of each file whole, context lines too."""
    monkeypatch.setattr(parallel, "BIG_FILE", 2000)
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)
    monkeypatch.setattr(parallel, "BATCH_FILES", 2)
    monkeypatch.setattr(stream, "FILE_WINDOW", 300)
    make_tree(tmp_path)
    rng = random.Random(7)
    words = ["foo", "bar", "PM_RESUME", "foo()", "o", "x", "fo\tbar", ""]
    big = "big.txt" if not watch else "zz/big.txt"  # (*.log: ignored)
    (tmp_path / big).parent.mkdir(exist_ok=True)
    (tmp_path / big).write_bytes("\n".join(
        " ".join(rng.choice(words) for _ in range(rng.randrange(4))) for _ in range(2000)
    ).encode())
    pattern = rg_args[-1]
    with trigrep.Index(tmp_path, watch=watch) as index:
        got = api_matches(list(index.search(pattern, **options)))
        assert got == rg_matches(tmp_path, env, *rg_args)
        got = list(index.search(pattern, count=True, **options))
        assert [(m.path.encode(), m.count) for m in got] == rg_counts(tmp_path, env, rg_args)
        listed = run([RG, "--sort", "path", "-l", *rg_args], tmp_path, env).out
        assert [m.path.encode() for m in index.search(
            pattern, files_with_matches=True, **options)] == listed.splitlines()
        windows: list[int] = []
        search_window = stream.Windows.search
        monkeypatch.setattr(stream.Windows, "search", lambda self, window, at_end: (
            windows.append(len(window)) or search_window(self, window, at_end)))
        in_context = list(index.search(pattern, context=1, **options))
        assert api_matches(in_context) == rg_matches(tmp_path, env, "-C1", *rg_args)
        if not watch:
            # (big.txt, when it matches, was searched here in windows; -U searches it whole)
            assert windows or options.get("multiline") or all(
                m.path != "big.txt" for m in in_context)
            windows.clear()
            found = index.search("foo", paths="big.txt")
            assert next(found).line_number == int(run(
                [RG, "-m1", "-n", "foo", "big.txt"], tmp_path, env).out.split(b":")[0])
            assert 0 < sum(windows) < 1000
    # Matches (their context lines too) as a search of each file whole finds them:
    monkeypatch.setattr(parallel, "BIG_FILE", 1 << 40)
    with trigrep.Index(tmp_path) as whole:
        assert in_context == list(whole.search(pattern, context=1, **options))


def _caught_up(warm: ServedTree) -> None:
    """Wait for the update a warm tree starts with (to catch up with changes made while it
    was not watched), then until it is `_settled`."""
    deadline = time.monotonic() + 60
    while warm._updater.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    _settled(warm)


def _settled(warm: ServedTree) -> None:
    """Wait until no update of the warm tree's index runs and none is being reopened."""
    deadline = time.monotonic() + 60
    while (warm._updater.running or warm._touched is not None) and (
            time.monotonic() < deadline):
        time.sleep(0.05)


def _updated_index(warm: ServedTree) -> None:
    """Have the warm tree's index updated in the background, and wait until it is reopened
    (from the previous one's records: see `IndexReader.records_since`) and `_settled`."""
    current = warm.reader()
    warm.refresh_index(warm.root)
    deadline = time.monotonic() + 60
    while warm.reader() is current and time.monotonic() < deadline:
        time.sleep(0.05)
    _settled(warm)


def test_a_watched_index_knows_which_files_it_holds_after_every_kind_of_change(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watched tree keeps, per file, its id in the index if the index holds it as it is
    (else -1), patching in the files each change touched: after edits, additions, deletions
    and renames of files and directories, and once the index holds them, what a search uses
    equals a check of every file from scratch, for the tree and for a directory of it, and
    the Matches equal rg's, also through globs and types (whose verdicts on the files are
    kept from one search to the next). The index is updated (and merged) only where the
    test says, each reopened from the one before (see `IndexReader.records_since`): an
    update reopened while a file changes leaves that file searched directly until the next
    (safe, but not what a check from scratch says; under a load of 8 that happened)."""
    from trigrep.engine import freshness
    from trigrep.options import WalkOptions
    from trigrep.server import updater

    monkeypatch.setattr(updater, "UPDATE_DEBOUNCE", 3600.0)
    monkeypatch.setattr(updater, "UPDATE_MAX_DELAY", 3600.0)
    make_tree(tmp_path)
    for path in tmp_path.rglob("*"):  # (files written just before the index is built are
        os.utime(path, (time.time() - 60,) * 2)  # searched directly: they may change again)
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "src"
    changes = [
        lambda: (src / "app.py").write_text("def foo():\n    return 'foo'\n"),
        lambda: (src / "added.c").write_text("int foo;\n"),
        lambda: (tmp_path / "new_dir").mkdir(),
        lambda: (tmp_path / "new_dir" / "a.txt").write_text("foo in a new directory\n"),
        lambda: (src / "added.c").rename(src / "renamed.c"),
        lambda: (src / "renamed.c").unlink(),
        lambda: (tmp_path / "new_dir").rename(tmp_path / "moved_dir"),
        lambda: (tmp_path / "top.txt").write_text("foo at the top\n"),
    ]
    def updated_index() -> None:
        _updated_index(warm)

    filters = [({"glob": ["*.c"]}, ["-g", "*.c"]), ({"glob": ["!*.txt"]}, ["-g", "!*.txt"]),
               ({"type": ["c"]}, ["-t", "c"]), ({"glob": ["!new_dir/"]}, ["-g", "!new_dir/"])]
    with trigrep.Index(tmp_path, watch=True) as index:
        list(index.search("foo"))
        warm = index._warm
        assert warm is not None
        _caught_up(warm)
        before = warm.reader()
        steps = [lambda: None, *changes[:2], updated_index, *changes[2:5], updated_index,
                 changes[5], updated_index, *changes[6:], updated_index]
        for change in steps:
            change()
            assert api_matches(list(index.search("foo"))) == rg_matches(tmp_path, env, "foo")
            for options, flags in filters:  # (their verdicts on the files kept: see _filtered)
                for paths in ([], ["src"]):
                    assert api_matches(list(index.search("foo", paths=paths, **options))) == (
                        rg_matches(tmp_path, env, *flags, "foo", *paths))
            reader = warm.reader()
            assert reader is not None
            for paths in ([], [str(src)]):
                entries = warm.entries(paths, WalkOptions())
                assert entries is not None
                truth = [freshness(reader).indexed_id(entry)[0] for entry in entries]
                assert warm.indexed_ids(entries, reader).tolist() == truth
                assert max(truth) >= 0
        assert reader is not before


def test_a_watched_tree_takes_again_the_stats_its_watcher_missed_once_the_index_has_them(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard link made outside the tree changes a file's ctime (its count of links) with no
    event for the tree's watches, and an index update after it records the new ctime: the
    warm tree then takes those files' stats again. Holding the old ones, it took every such
    file for changed since it was indexed, and searched each directly, search after search
    (the Linux tree copied with `cp -al`: 1.2 s a search, rg's time), while the index held
    them all as they were."""
    from trigrep.engine import freshness
    from trigrep.options import WalkOptions
    from trigrep.server import updater

    monkeypatch.setattr(updater, "UPDATE_DEBOUNCE", 3600.0)
    monkeypatch.setattr(updater, "UPDATE_MAX_DELAY", 3600.0)
    tree, links = tmp_path / "tree", tmp_path / "links"
    tree.mkdir()
    links.mkdir()
    make_tree(tree)
    for path in tree.rglob("*"):  # (not racily clean once indexed: see the test above)
        os.utime(path, (time.time() - 60,) * 2)
    monkeypatch.chdir(tree)

    def held(warm: ServedTree) -> list[int]:
        """Per file of the tree, its id in the index if the warm tree searches it there."""
        reader = warm.reader()
        assert reader is not None
        entries = warm.entries([], WalkOptions())
        assert entries is not None
        truth = [freshness(reader).indexed_id(entry)[0] for entry in entries]
        assert warm.indexed_ids(entries, reader).tolist() == truth
        return truth

    with trigrep.Index(tree, watch=True) as index:
        list(index.search("foo"))
        warm = index._warm
        assert warm is not None
        _caught_up(warm)
        before = held(warm)
        assert max(before) >= 0
        records = warm.reader().records()
        for number, path in enumerate(sorted(tree.rglob("*"))):
            if path.is_file() and ".trigrep" not in path.parts:
                os.link(path, links / str(number))
        _updated_index(warm)
        assert api_matches(list(index.search("foo"))) == rg_matches(tree, env, "foo")
        assert [file_id >= 0 for file_id in held(warm)] == [file_id >= 0 for file_id in before]
        assert warm.reader().records() != records  # (indexed again: their ctimes changed)


@pytest.mark.parametrize("watch", [False, True], ids=["cold", "watched"])
def test_a_tree_opened_through_a_symlink_yields_paths_relative_to_it(
    tmp_path: Path, env: dict[str, str], watch: bool
) -> None:
    """(A warm tree walks from the root's real path.) Files at the top and in directories."""
    real = tmp_path / "real"
    real.mkdir()
    make_tree(real)
    (real / "top.c").write_bytes(b"foo\n")
    (tmp_path / "link").symlink_to(real)
    with trigrep.Index(tmp_path / "link", watch=watch) as index:
        got = api_matches(list(index.search("foo")))
    assert got == rg_matches(real, env, "foo")
    assert b"top.c" in {path for path, *_ in got}


def test_lone_strings_and_no_pattern(index: trigrep.Index) -> None:
    """A lone string is one glob, type or path, not its letters; no pattern matches nothing,
    as rg with only an empty -f file."""
    assert {m.path for m in index.search("foo", glob="*.c")} == {"src/main.c"}
    assert {m.path for m in index.search("foo", type="c", paths="src")} == {"src/main.c"}
    assert list(index.search([])) == []


def test_paths_and_stats(index: trigrep.Index) -> None:
    assert {m.path for m in index.search("foo", paths=["docs"])} == {
        "docs/readme.md", "docs/deep/nested/file.md"}
    stats = index.build()
    assert stats.files > 10 and stats.index_bytes > 0 and index.stats() == stats


def test_errors_share_one_family(index: trigrep.Index, tmp_path: Path) -> None:
    with pytest.raises(trigrep.PatternError):
        list(index.search("("))
    with pytest.raises(trigrep.PatternError, match="not valid UTF-8"):
        list(index.search("\ud800"))
    for bad in [{"pattern": b"foo"}, {"pattern": "foo", "glob": [b"*.c"]},
                {"pattern": "foo", "max_count": -1}, {"pattern": "foo", "context": -1},
                {"pattern": "foo", "after_context": 1.5}, {"pattern": 123}, {"pattern": None},
                {"pattern": "foo", "paths": 5}, {"pattern": "foo", "glob": 5},
                {"pattern": "foo", "context": None}]:
        with pytest.raises(trigrep.Error):
            list(index.search(**bad))
    for outside in ["/etc", "..", "src/../../x"]:  # only paths inside the tree are searched
        with pytest.raises(trigrep.PathError, match="outside the tree"):
            list(index.search("foo", paths=outside))
    for not_a_path in [5, None]:
        with pytest.raises(trigrep.Error):
            trigrep.Index(not_a_path)  # type: ignore[arg-type]
    assert trigrep.Index(os.fsencode(index.root)).root == index.root
    with pytest.raises(trigrep.Error):
        list(index.search("x", type=["nosuchtype"]))
    with pytest.raises(trigrep.Error):
        trigrep.Index(tmp_path / "missing")


def test_max_count_zero_reports_no_bad_pattern(index: trigrep.Index, env: dict[str, str]) -> None:
    """As rg -m0 (exit 1, no word), no Match and no PatternError for a bad pattern; a bad
    glob or type is still an error (rg's too)."""
    for pattern in ["(", r"import\nfrom"]:
        assert run([RG, "-m", "0", pattern], Path(index.root), env).code == 1
        assert list(index.search(pattern, max_count=0)) == []
        assert list(index.search(pattern, max_count=0, files_with_matches=True)) == []
    for bad in [{"glob": "["}, {"type": "nosuchtype"}]:
        with pytest.raises(trigrep.Error):
            list(index.search("(", max_count=0, **bad))


def test_globs_are_relative_to_the_root_whatever_the_cwd(
    index: trigrep.Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    paths = {m.path for m in index.search("foo", glob=["src/*.c"])}
    assert paths == {"src/main.c"}
    for under in [".", "./src", "././src", "./"]:  # as rg run in the root: `./` left out
        paths = {m.path for m in index.search("foo", glob=["src/*.c"], paths=[under])}
        assert paths == {"src/main.c"}, under
    assert not list(index.search("foo", glob=["src/*.c"], paths=[".//src"]))  # (`/src/...`)


def test_a_watched_index_sees_every_change(tmp_path: Path, env: dict[str, str]) -> None:
    make_tree(tmp_path)
    with trigrep.Index(tmp_path, watch=True) as index:
        def same_as_rg() -> None:
            for pattern in ("foo", "fresh"):
                got = api_matches(list(index.search(pattern)))
                assert got == rg_matches(tmp_path, env, pattern), pattern

        same_as_rg()
        (tmp_path / "src" / "main.c").write_bytes(b"fresh foo\n")  # edited
        (tmp_path / "new" / "deeper").mkdir(parents=True)
        (tmp_path / "new" / "deeper" / "n.txt").write_bytes(b"foo fresh\n")  # added
        (tmp_path / "docs" / "readme.md").unlink()  # deleted
        same_as_rg()
        (tmp_path / ".gitignore").write_bytes(b"new/\n")  # a rule change re-walks
        same_as_rg()


def test_a_watched_index_lists_again_only_the_files_that_changed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A watched Index searches from its root's absolute path, so its warm tree lists copies
    of its cached files shown from there: after an edit, only the edited file's is made
    again (all were, 170 ms of the next search of the Linux tree)."""
    from trigrep.options import WalkOptions

    make_tree(tmp_path)
    edited = tmp_path / "src" / "main.c"
    with trigrep.Index(tmp_path, watch=True) as index:
        list(index.search("foo"))
        warm, opts = index._warm, WalkOptions(glob_base=index.root)
        assert warm is not None
        before = {entry.path: entry for entry in warm.entries([index.root], opts) or []}
        edited.write_bytes(b"fresh foo\n")
        assert api_matches(list(index.search("foo"))) == rg_matches(tmp_path, env, "foo")
        after = warm.entries([index.root], opts) or []
        assert len(after) == len(before) > 1
        assert [e.path for e in after if e is not before[e.path]] == [os.path.realpath(edited)]


def test_a_watched_index_keeps_its_workers_until_closed(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big searches of a watched index go to worker processes started once, not per search."""
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)
    monkeypatch.setattr(parallel, "BATCH_FILES", 2)
    make_tree(tmp_path)
    with trigrep.Index(tmp_path, watch=True) as index:
        for pattern in ("foo", "o", "foo"):
            assert api_matches(list(index.search(pattern))) == rg_matches(
                tmp_path, env, pattern), pattern
        pool = index._pool.get()
        workers = [worker.process for worker in pool._all]
        assert index._pool.get() is pool and all(w.is_alive() for w in workers)
    assert not any(w.is_alive() for w in workers)


def test_kept_contents_of_a_watched_index_never_outlive_an_edit(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watched index's workers keep a search's files on their first read (see
    parallel._ContentCache): searched again, and after edits that keep the size and put the
    old mtime back (only the ctime moves), a file shows what rg finds in it, binary or not."""
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 1)
    monkeypatch.setattr(parallel, "BATCH_FILES", 4)
    for i in range(40):
        (tmp_path / f"f{i:02}.c").write_bytes(b"int key_%d;\nother\nkey again\n" % i)
    (tmp_path / "late_nul.bin").write_bytes(b"key before\n" * 9000 + b"\0key after\n")
    time.sleep(2.2)  # parallel.CACHE_RACY_NS: files this old are kept

    def same_as_rg() -> None:
        for _ in range(2):  # read (and kept), then from the workers' cache
            for pattern in ("key", "KEY", "again"):
                assert api_matches(list(index.search(pattern))) == rg_matches(
                    tmp_path, env, pattern), pattern
            out = run([RG, "--sort", "path", "-c", "key"], tmp_path, env).out
            assert [(m.path.encode(), m.count) for m in index.search("key", count=True)] == [
                (path, int(n)) for path, _, n in (line.rpartition(b":")
                                                  for line in out.splitlines())]

    with trigrep.Index(tmp_path, watch=True) as index:
        same_as_rg()
        for path in [*sorted(tmp_path.glob("f*.c"))[::3], tmp_path / "late_nul.bin"]:
            st = path.stat()
            data = path.read_bytes()
            path.write_bytes(data.replace(b"key", b"KEY").replace(b"other", b"ot\0er"))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            assert path.stat().st_size == st.st_size
        same_as_rg()


@pytest.fixture
def sent_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of files of each batch a search sends to a worker (past the first 2 files,
    in batches of 2 to 4 files). The machine's cores are taken as busy, as under load: a
    search yielding many events then goes on inline (see parallel._cores_busy)."""
    monkeypatch.setattr(parallel, "_cores_busy", lambda: True)
    monkeypatch.setattr(parallel, "WARM_INLINE_FILES", 2)
    monkeypatch.setattr(parallel, "BATCH_FILES", 2)
    monkeypatch.setattr(parallel, "BATCH_FILES_MAX", 4)
    sent: list[int] = []
    send = parallel._Dispatch._send

    def counted(self: parallel._Dispatch, worker: object, batch: parallel._Batch) -> None:
        sent.append(len(batch.to_search))
        send(self, worker, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel._Dispatch, "_send", counted)
    return sent


@pytest.mark.parametrize(("rg_args", "options", "to_workers"), [
    (("-C", "1", "dense"), {"context": 1}, False),
    (("dense",), {}, False),
    (("-v", "needle"), {"invert_match": True}, False),
    (("-U", r"line\r\nd"), {"multiline": True}, True),  # (one event: adjacent lines)
    (("-U", r"e\r?\n"), {"multiline": True}, True),
    (("-m", "1", "dense"), {"max_count": 1}, True),
    (("needle",), {}, True),
    (("-w", "needle"), {"word_regexp": True}, True),
], ids=["dense context", "dense", "inverted", "dense -U", "dense -U lines",
        "dense -m 1", "sparse", "sparse -w"])
def test_searches_yielding_many_events_stay_inline(
    tmp_path: Path, env: dict[str, str], sent_batches: list[int],
    rg_args: tuple[str, ...], options: dict, to_workers: bool,
) -> None:
    """Past the inline files, a search whose files average INLINE_EVENTS_PER_FILE events
    (or matches) goes on searching itself; others go to the workers, which send their
    matches as columns (context lines as events); all find what rg finds."""
    for n in range(12):
        (tmp_path / f"f{n:02}.c").write_bytes(
            b"dense line\r\n" * 6 + b"a needle\n" + b"dense \xff\n" * 3 + b"x\n" * 20)
    (tmp_path / "zbin.c").write_bytes(b"dense\n" * 9 + b"\0needle\n")
    with trigrep.Index(tmp_path, watch=True) as index:
        got = api_matches(list(index.search(rg_args[-1], **options)))
    assert got == rg_matches(tmp_path, env, *rg_args)
    assert bool(sent_batches) == to_workers


def test_searches_of_fewer_matches_a_file_than_inline_go_to_the_workers(
    tmp_path: Path, env: dict[str, str], sent_batches: list[int]
) -> None:
    """Matches shipped as columns: to the workers while fewer than INLINE_EVENTS_PER_FILE a
    file, inline from there."""
    few, many = parallel.INLINE_EVENTS_PER_FILE - 1, parallel.INLINE_EVENTS_PER_FILE
    for n in range(12):
        (tmp_path / f"f{n:02}.c").write_bytes(b"few\n" * few + b"many\n" * many + b"x\n" * 9)
    with trigrep.Index(tmp_path, watch=True) as index:
        for pattern, to_workers in [("few", True), ("many", False)]:
            sent_batches.clear()
            got = api_matches(list(index.search(pattern)))
            assert got == rg_matches(tmp_path, env, pattern)
            assert bool(sent_batches) == to_workers, pattern


@pytest.mark.parametrize(("rg_args", "options"), [
    (("-C", "1", "dense"), {"context": 1}), (("dense",), {}), (("-v", "needle"),
                                                               {"invert_match": True}),
])
def test_with_a_core_to_spare_searches_yielding_many_events_go_to_the_workers(
    tmp_path: Path, env: dict[str, str], sent_batches: list[int],
    monkeypatch: pytest.MonkeyPatch, rg_args: tuple[str, ...], options: dict,
) -> None:
    """On a machine with an idle core the workers search an eventful search's files too
    (their columns and events rebuilt here cost less than the other core's time)."""
    monkeypatch.setattr(parallel, "_cores_busy", lambda: False)
    for n in range(12):
        (tmp_path / f"f{n:02}.c").write_bytes(
            b"dense line\r\n" * 6 + b"a needle\n" + b"dense \xff\n" * 3 + b"x\n" * 20)
    with trigrep.Index(tmp_path, watch=True) as index:
        got = api_matches(list(index.search(rg_args[-1], **options)))
    assert got == rg_matches(tmp_path, env, *rg_args)
    assert sum(sent_batches) == 12 - 2  # all but the first two, searched inline


def test_a_search_turning_eventful_searches_its_next_batches_itself(
    tmp_path: Path, env: dict[str, str], sent_batches: list[int]
) -> None:
    """Files with one match first, then files with many: workers search the first batches,
    the search the batches after its results averaged INLINE_EVENTS_PER_FILE events."""
    for n in range(100):
        (tmp_path / f"f{n:02}.c").write_bytes(b"word\n" * (1 if n < 10 else 20))
    with trigrep.Index(tmp_path, watch=True) as index:
        got = api_matches(list(index.search("word", context=1)))
    assert got == rg_matches(tmp_path, env, "-C", "1", "word")
    assert 0 < sum(sent_batches) < 50


def test_matches_are_the_dataclass_they_say(index: trigrep.Index) -> None:
    """A search builds its Matches without the dataclass's __init__ (see api._matches): they
    are still frozen Matches equal to, and hashed as, those built by it."""
    import dataclasses

    found = [*index.search("foo", context=1), *index.search("foo"),
             *index.search("foo", count=True)]
    assert found
    for match in found:
        fields = {f.name: getattr(match, f.name) for f in dataclasses.fields(trigrep.Match)}
        built = trigrep.Match(**fields)
        assert (match, hash(match), repr(match)) == (built, hash(built), repr(built))
        assert vars(match) == vars(built)
        assert dataclasses.replace(match, count=1) == dataclasses.replace(built, count=1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            match.path = "x"  # type: ignore[misc]


def _flip(root: Path, section_name: str) -> None:
    """Write over a section of every segment of the index in place, as a stray write would."""
    from trigrep.index import IndexReader

    for segment in IndexReader.open(str(root)).segments:
        section = segment.header.sections[section_name]
        with open(segment.path, "r+b") as f:
            f.seek(section.offset)
            flipped = bytes(b ^ 0x5A for b in f.read(section.length))
            f.seek(section.offset)
            f.write(flipped)


@pytest.mark.parametrize("section", ["POSTINGS", "FILE_PATHS"])
@pytest.mark.parametrize("watch", [False, True])
def test_damage_a_search_finds_is_searched_like_rg_said_once_and_mended(
    tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str], watch: bool,
    section: str,
) -> None:
    """Damage a search finds (in posting blocks, in the file table): the search answers like
    rg, one line says what is damaged, and the index is rebuilt, with or without `watch`
    (without, the search raised the damage until `build()` was called)."""
    from trigrep.index import IndexReader

    make_tree(tmp_path)
    with trigrep.Index(tmp_path, watch=watch) as index:
        want = rg_matches(tmp_path, env, "foo")
        assert api_matches(list(index.search("foo"))) == want
        _flip(tmp_path, section)
        for _ in range(3):
            assert api_matches(list(index.search("foo"))) == want
        deadline = time.monotonic() + 60
        while index.stats().segments == 0 or not _verifies(tmp_path):
            assert time.monotonic() < deadline, "not rebuilt"
            time.sleep(0.05)
        assert api_matches(list(index.search("foo"))) == want
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch); rebuilding it\n" in err, err
    IndexReader.open(str(tmp_path)).verify()


def _verifies(root: Path) -> bool:
    from trigrep.index import IndexReader

    try:
        IndexReader.open(str(root)).verify()
    except trigrep.IndexFormatError:
        return False
    return True
