"""--null-data anchors and word boundaries through the CLI, byte for byte against rg.

With --null-data a NUL ends each line, so rg checks `^`, `$`, `\\b`, -w and -x against
each NUL-ended line, while its printer (-o, --column, -r, --json submatches,
--count-matches) finds a line's matches with `^`/`$` holding at the `\\n`s inside it. The files
are named on the command line (memory-mapped by rg, read whole): a walked file's `^` depends on
rg's read buffers, and text anchors (`\\A`, `\\z`, `(?-m)^`) on how rg rates a pattern's
literals (both in the README's known differences), so the patterns hold no text anchor, and
test_walked_records searches walked files without `^` or -x.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RG, TRIGREP, isolated_env, normalise_json, run

PATTERNS = [
    "^", "$", "^$", "^a", "b$", r"\b", r"\B", r"\bab\b", "a|^b", "a$|^b", r"^\s*$", "(?m)^",
    r"^\n", r"\n$", "", "ab", r"a\nb", r"\w+$", r"^\W",
]
FLAGS = [
    [], ["-w"], ["-x"], ["-o"], ["-o", "-b"], ["-r", "<$0>"], ["--column"], ["--json"],
    ["-U"], ["-U", "-o"], ["-U", "--column"], ["-v"], ["-v", "-o", "-C1"], ["--count-matches"],
    ["-c"], ["--vimgrep"], ["-w", "-o"], ["-x", "--column"], ["-U", "-r", "X"],
    ["-U", "--count-matches"], ["-U", "--json"], ["-U", "-v"],
]
_CHUNKS = st.sampled_from(
    [b"a", b"b", b"ab", b" ", b"\n", b"\n", b"\x00", b"\x00", b"\r\n", b"\xc3\xa9", b"x"])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = isolated_env(tmp_path_factory.mktemp("home"))
    env["TRIGREP_NO_DAEMON"] = "1"
    return env


def _assert_like_rg(cwd: Path, env: dict[str, str], args: list[str]) -> None:
    ours = run([*TRIGREP, *args], cwd, env)
    theirs = run([RG, "--sort", "path", *args], cwd, env)
    assert (normalise_json(ours.out), ours.err, ours.code) == (
        normalise_json(theirs.out), theirs.err.replace(b"rg: ", b"trigrep: "), theirs.code), args


@pytest.mark.parametrize("flags", FLAGS, ids=" ".join)
def test_records_with_line_feeds(tmp_path: Path, env: dict[str, str], flags: list[str]) -> None:
    """Records holding `\\n`s, empty records, and a last record without its NUL."""
    (tmp_path / "f").write_bytes(b"abc\x00de\nfg\x00\x00\nab\n\x00ab b\r\n\x00 \n\nba")
    for pattern in ["^", "$", "^$", "a$|^b", r"\bab\b", r"^\s*$", r"\n$", "", r"\w+$"]:
        _assert_like_rg(tmp_path, env, ["--null-data", *flags, "-e", pattern, "f"])


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    contents=st.lists(_CHUNKS, max_size=14).map(b"".join),
    pattern=st.sampled_from(PATTERNS),
    flags=st.lists(st.sampled_from(FLAGS), min_size=1, max_size=2),
)
def test_random_records(tmp_path: Path, env: dict[str, str], contents: bytes, pattern: str,
                        flags: list[list[str]]) -> None:
    (tmp_path / "f").write_bytes(contents)
    args = [arg for group in flags for arg in group]
    _assert_like_rg(tmp_path, env, ["--null-data", *args, "-e", pattern, "f"])


@pytest.mark.parametrize("flags", [["--column"], ["-o", "-b"], ["--json"], ["-w", "-c"],
                                   ["-r", "<$0>"], ["-U", "--count-matches"]], ids=" ".join)
def test_walked_records(tmp_path: Path, env: dict[str, str], flags: list[str]) -> None:
    """A walked tree (read in buffers by rg), with the anchors that do not depend on them."""
    (tmp_path / "f").write_bytes(b"abc\x00de\nfg\x00\x00\nab\n\x00ab b\r\n\x00 \n\nba")
    (tmp_path / "g").write_bytes(b"b" * 70_000 + b"\n\x00ab\x00" + b"a\n" * 40_000)
    for pattern in ["$", "b$", r"\bab\b", r"\B", r"\n$", "a$|b"]:
        _assert_like_rg(tmp_path, env, ["--null-data", *flags, "-e", pattern])
