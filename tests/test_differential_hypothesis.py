"""Random differential tests: trigrep must print exactly what rg prints, index or no index.

Hypothesis draws small trees whose content is rich in the bytes that break searchers (case
folding orbits like K/k/U+212A and s/S/U+017F, ß, Greek, CR, tabs, NUL, invalid UTF-8) and
patterns from a grammar of Rust regex constructs, with random rg flags. trigrep runs in-process
(`trigrep.cli.main`) for speed, over an index built once per tree with file mtimes in the past
so the index really rules files out; the tree is then edited behind the index's back, and
re-indexed, and compared again. A second test checks the index alone: every file rg finds a
match in must be a candidate of the trigram plan and the byte filter, also in UTF-16 files
with a BOM (searched transcoded).

Runs are derandomized so CI is deterministic; set TRIGREP_FUZZ_EXAMPLES=500 (and optionally
TRIGREP_FUZZ_SEED) to hunt for more.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from conftest import RG, isolated_env, normalise_json, run
from trigrep import cli, engine
from trigrep.index import IndexReader, build
from trigrep.options import MatchOptions
from trigrep.query import compile_query

EXAMPLES = int(os.environ.get("TRIGREP_FUZZ_EXAMPLES", "0"))
FUZZ_SEED = os.environ.get("TRIGREP_FUZZ_SEED")


def fuzz_settings(default_examples: int):
    """Deterministic by default; random (or seeded) when hunting with TRIGREP_FUZZ_EXAMPLES."""
    hunting = EXAMPLES > 0
    configured = settings(
        max_examples=EXAMPLES or default_examples,
        deadline=None,
        derandomize=not hunting or FUZZ_SEED is None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
    )
    if hunting and FUZZ_SEED is not None:
        return lambda test: seed(int(FUZZ_SEED))(configured(test))
    return configured


# --- trees -------------------------------------------------------------------------------

_TEXT_CHUNKS = [
    "a", "b", "k", "K", "s", "S", "x", "o", "_", "1", "42", " ", " ", "  ",
    "é", "É", "ß", "ẞ", "\u212a", "\u017f", "α", "Ω", "ω", "σ", "ς", "Σ", "\u2126",
    "foo", "bar", "Foo", "FOO", "PM_RESUME", "pm_resume", "foobar", "foo_bar", "oo",
    "\t", "\r", "\n", "\n", "\n", "\r\n", "->", "→", "✓",
]
_BYTE_CHUNKS = [b"\xff", b"\xe9", b"\xc3", b"\x00"]
# Each odd byte is drawn about once in every 200 chunks: present in some files, not all.
CHUNKS = st.sampled_from([c.encode() for c in _TEXT_CHUNKS] * 5 + _BYTE_CHUNKS)
CONTENT = st.lists(CHUNKS, max_size=30).map(b"".join)
UTF16_BOM = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}
UTF16_CONTENT = st.tuples(
    st.sampled_from(sorted(UTF16_BOM)), st.lists(st.sampled_from(_TEXT_CHUNKS), max_size=30)
).map(lambda t: UTF16_BOM[t[0]] + "".join(t[1]).encode(t[0]))
FILE_NAMES = ["a.txt", "b.rs", "d/c.txt", "d/e/f.md", "z.py"]
TREES = st.dictionaries(st.sampled_from(FILE_NAMES), CONTENT, min_size=1, max_size=4)
TREES_WITH_UTF16 = st.dictionaries(
    st.sampled_from(FILE_NAMES), st.one_of(CONTENT, UTF16_CONTENT), min_size=1, max_size=4
)


def write_tree(root: Path, files: dict[str, bytes], mtime: float) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))


# --- patterns ----------------------------------------------------------------------------

_LITERALS = [
    "a", "b", "f", "o", "k", "K", "s", "S", "x", "_", "1", " ", "é", "É", "ß", "\u212a",
    "\u017f", "α", "Ω", "ω", "Σ", "ς", "foo", "bar", "PM_RESUME", "oo", "\\.", "\\t",
    "\\r", "\\n", "\\x{212A}", "(?-u:\\xff)", "(?-u:\\xe9)", "->", "→", "✓", "ı", "ᾳ",
]
_CLASSES = [
    ".", "\\w", "\\W", "\\d", "\\s", "\\S", "\\D", "[a-z]", "[^a ]", "[ks]", "[KS]",
    "[[:upper:]]", "[[:alpha:]]", "[α-ω]", "\\p{Greek}", "\\pL", "\\p{Lu}", "[é-ÿ]", "[^\\n]",
    "[a-z&&[^aeiou]]", "[0-9_]", "(?-u:\\w)", "(?-u:[\\x80-\\xff])", "(?x:[ a - ])",
]
_ANCHORS = ["^", "$", "\\b", "\\B", "\\A", "\\z"]
_REPEATS = ["*", "+", "?", "{2}", "{1,3}", "{0,2}", "{2,}", "*?", "+?", "??", "{0}", "{0,1}"]
_GROUPS = ["(", "(?:", "(?i:", "(?-i:", "(?s:", "(?u:", "(?x:"]

_LEAF = st.sampled_from(_LITERALS * 3 + _CLASSES * 2 + _ANCHORS)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    parts = st.lists(inner, min_size=2, max_size=3)
    return st.one_of(
        parts.map("".join),
        parts.map("|".join),
        st.tuples(inner, st.sampled_from(_REPEATS)).map(lambda t: f"(?:{t[0]}){t[1]}"),
        st.tuples(st.sampled_from(_GROUPS), inner).map(lambda t: f"{t[0]}{t[1]})"),
    )


PATTERNS = st.tuples(
    st.sampled_from(["", "", "", "(?i)"]),
    st.recursive(_LEAF, _extend, max_leaves=6),
).map("".join)

_FLAG_GROUPS = [
    ["", "", "-i", "-S", "-s"],
    ["", "", "", "-w", "-x"],
    ["", "", "", "-F"],
    ["", "", "", "-v"],
    ["", "", "", "-U"],
    ["", "", "", "", "-c", "-l", "--count-matches", "--files-without-match", "-o", "--json"],
    ["", "", "", "-m1", "-m2"],
    ["", "", "", "-C1", "-A1", "-B2"],
    ["", "-n"],
]
FLAGS = st.tuples(*(st.sampled_from(g) for g in _FLAG_GROUPS)).map(
    lambda chosen: [f for f in chosen if f]
)
QUERIES = st.lists(st.tuples(FLAGS, PATTERNS), min_size=1, max_size=3)


# --- running both tools ------------------------------------------------------------------


@contextmanager
def inside(root: Path, env: dict[str, str]) -> Iterator[None]:
    """cwd at `root` and rg's isolated environment, for running trigrep in-process."""
    old_cwd = os.getcwd()
    os.chdir(root)
    try:
        with mock.patch.dict(os.environ, env, clear=True):
            yield
    finally:
        os.chdir(old_cwd)


def trigrep_main(args: list[str], root: Path, env: dict[str, str]) -> tuple[bytes, int]:
    """stdout and exit code of `trigrep ARGS` run in-process (no interpreter start-up)."""
    out = io.BytesIO()
    text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    with inside(root, env), redirect_stdout(text), redirect_stderr(io.StringIO()):
        code = cli.main(args)
    text.flush()
    return out.getvalue(), code


def assert_same(
    flags: list[str], pattern: str, root: Path, env: dict[str, str], paths: list[str]
) -> None:
    args = [*flags, f"--regexp={pattern}", *paths]
    want = run([RG, "--sort", "path", *args], root, env)
    got_out, got_code = trigrep_main(args, root, env)
    assert got_code == want.code, (args, want.err)
    if want.code != 2:
        assert normalise_json(got_out) == normalise_json(want.out), args


# --- tests -------------------------------------------------------------------------------

MUTATION = st.tuples(
    st.sampled_from(FILE_NAMES), CONTENT, st.sampled_from(FILE_NAMES), st.booleans()
)


@contextmanager
def sandbox() -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty tree and an isolated environment (home, XDG) for one hypothesis example.
    Files are indexed as documents of a few bytes each (see "Documents" in format.py), so
    that the index's within-line candidate selection meets every kind of line break."""
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(build, "DOC_BYTES", 16):
        root = Path(tmp) / "tree"
        home = Path(tmp) / "home"
        (home / ".config").mkdir(parents=True)
        root.mkdir()
        yield root, isolated_env(home)


@fuzz_settings(default_examples=120)
@given(files=TREES, queries=QUERIES, mutation=MUTATION, explicit=st.booleans())
def test_cli_same_as_rg_with_index(
    files: dict[str, bytes],
    queries: list[tuple[list[str], str]],
    mutation: tuple[str, bytes, str, bool],
    explicit: bool,
) -> None:
    with sandbox() as (root, env):
        past = time.time() - 1000
        write_tree(root, files, past)
        assert trigrep_main(["index", "."], root, env)[1] == 0

        def compare(tree: dict[str, bytes]) -> None:
            paths = sorted(tree) if explicit else ["."]
            for flags, pattern in queries:
                assert_same(flags, pattern, root, env, paths)

        compare(files)
        # Behind the index's back: edit or add one file (fresh mtime), maybe delete another.
        edited, content, deleted, delete = mutation
        write_tree(root, {edited: content}, time.time())
        files = {**files, edited: content}
        if delete and deleted != edited and deleted in files:
            (root / deleted).unlink()
            del files[deleted]
        compare(files)
        # Re-indexed with the edits (mtimes in the past again, distinct from the first build).
        write_tree(root, {edited: content}, past + 10)
        assert trigrep_main(["index", "."], root, env)[1] == 0
        compare(files)


SOUNDNESS_FLAGS = st.tuples(
    st.sampled_from(["sensitive", "insensitive", "smart"]),
    st.sampled_from(["", "-w", "-x"]),
    st.booleans(),
    st.booleans(),
)


SoundnessSearch = tuple[str, tuple[str, str, bool, bool]]  # a pattern, SOUNDNESS_FLAGS


def rg_matched_files(
    root: Path, env: dict[str, str], searches: list[SoundnessSearch], extra: Sequence[str] = ()
) -> Iterator[tuple[str, MatchOptions, list[str], set[str]]]:
    """For each search rg accepts: its pattern, its MatchOptions, rg's arguments (`extra`
    first) and the files `rg -l` matches under `root`, which any index plan must keep."""
    for pattern, (case, word_line, fixed, multiline) in searches:
        opts = MatchOptions(
            [pattern], fixed_strings=fixed, case=case, word_regexp=word_line == "-w",
            line_regexp=word_line == "-x", multiline=multiline,
        )
        flags = {"sensitive": "-s", "insensitive": "-i", "smart": "-S"}[case]
        args = [*extra, flags, *([word_line] if word_line else []), *(["-F"] if fixed else []),
                *(["-U"] if multiline else []), "-l", f"--regexp={pattern}"]
        want = run([RG, "--sort", "path", *args], root, env)
        if want.code != 2:
            yield pattern, opts, args, set(os.fsdecode(want.out).splitlines())


@fuzz_settings(default_examples=150)
@given(
    files=TREES_WITH_UTF16, patterns=st.lists(st.tuples(PATTERNS, SOUNDNESS_FLAGS), max_size=4)
)
def test_every_file_rg_matches_is_a_candidate(
    files: dict[str, bytes], patterns: list[SoundnessSearch]
) -> None:
    with sandbox() as (root, env):
        write_tree(root, files, time.time() - 1000)
        engine.build_at(str(root), progress=False)
        reader = IndexReader.open(str(root))
        for pattern, opts, args, matched in rg_matched_files(root, env, patterns):
            query = compile_query(opts)
            found = reader.candidates(
                query.plan, query.required_bytes, within_lines=not query.multiline
            )
            candidates = {reader.path_of(i) for i in found}
            assert matched <= candidates, (pattern, args, query.plan, query.required_bytes)


def test_newline_in_single_character_alternation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    root = tmp_path / "tree"
    root.mkdir()
    (root / "a.txt").write_bytes(b"x a\n")
    env = isolated_env(home)
    want = run([RG, "-c", "\\n|a", "."], root, env)
    assert trigrep_main(["-c", "\\n|a", "."], root, env) == (want.out, want.code)



def test_json_summaries_with_files_the_index_rules_out() -> None:
    """`--json -q`'s summary counts every file searched, those the index rules out too;
    `--json` (lines) leaves files without a match out, so it need not hear of them."""
    files = {"a.txt": b"foo\n", "b.rs": b"bar\n", "d/c.txt": b"bar foo\n", "z.py": b"baz\n"}
    with sandbox() as (root, env):
        write_tree(root, files, time.time() - 1000)
        assert trigrep_main(["index", "."], root, env)[1] == 0
        for flags in (["--json", "-q"], ["--json"], ["--json", "-c"], ["--files-without-match"]):
            for pattern in ("foo", "nowhere"):
                assert_same(flags, pattern, root, env, [])
