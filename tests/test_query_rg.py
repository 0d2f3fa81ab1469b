"""compile_query against the oracle: our whole-buffer regex must find exactly rg's matches."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import RG
from trigrep.errors import PatternError
from trigrep.options import MatchOptions
from trigrep.query import compile_query

TEXT = (
    b"foo bar baz\n"
    b"Foo BAR qux_foo foobar\r\n"
    b"\tindent\ttabs  \n"
    b"\n"
    b"-foo- #x# a#x#b x\n"
    b"caf\xc3\xa9 CAF\xc3\x89 na\xc3\xafve \xce\xa9mega \xe2\x84\xa6hm\n"
    b"K \xe2\x84\xaa k s \xc5\xbf S kiss KISS\n"
    b"invalid \xff\xfe bytes \xc3 here\n"
    b"lone\rcarriage\r\n"
    b"a1 b22 c333 0x7F 255\n"
    b"  \n"
    b"PM_RESUME PM_RESUMED pm_resume_x RESUME_PM\n"
    b"end without newline foo"
)

PATTERNS = [
    "foo",
    "Foo",
    "FOO",
    "foo|bar|baz|qux",
    "",
    "^",
    "$",
    "^$",
    "^foo",
    "foo$",
    r"\Afoo",
    r"foo\z",
    r"line\z",
    "(?-m)^foo",
    r"\bfoo\b",
    r"\Bfoo",
    r"\<foo\>",
    r"\b{start}foo",
    r"foo\b{end}",
    r"\b{start-half}#x#",
    r"x\b{end-half}",
    r"\w+",
    r"\W+",
    r"\s+",
    r"\S+",
    r"\d+",
    r"(?-u)\w+",
    r"(?-u)\W",
    r".",
    r"(?s).",
    r"(?-u:.)",
    r"(?s-u:.)",
    r"[^a]+",
    r"[^\n]",
    r"[\s\S]",
    r"foo\sbar",
    r"foo.bar",
    r"a.*b",
    r"a.*?b",
    r"(?U)a.*b",
    r"\pL+",
    r"\p{Greek}",
    r"\P{L}",
    r"\p{Lu}",
    r"[[:alpha:]]+",
    r"[[:^alpha:][:digit:]]",
    r"[a-z&&[^aeiou]]+",
    r"[\w--\d]+",
    r"[a-c~~b-d]",
    r"[[a-f]&&[d-z]]",
    r"k",
    r"(?i)k",
    r"(?i)s",
    r"(?i)kiss",
    r"(?i)caf\u{e9}",
    r"(?i)Ω",
    r"(?i)[a-z]+",
    r"(?i)[k]",
    r"a(?i)bar",
    r"(?i)foo(?-i)bar|BAZ",
    "(?x) f o o # comment\n",
    r"(?x)[ f o ]+",
    r"\x7F|\x{10FFFF}|\u{00e9}",
    r"(?-u)\xC3",
    r"(?-u)[\x80-\xFF]+",
    # Under (?-u) only `\xHH` is a byte: `\x{HH}` is a code point (matched as UTF-8).
    r"(?-u)\x{e9}",
    r"(?-u)\x{100}|\x{FF}",
    # (?i) folds each operand of `&&` first: `[a-f&&A-F]` is not empty then.
    r"(?i)[a-f&&A-F]+",
    r"(?i)x[a&&A]",
    r"(?i)[[:lower:]&&[:upper:]]",
    r"(?i-u)[a-f&&A-F]",
    # A `-` after a nested class starts no range: it is a literal.
    r"[[:digit:]-x]+",
    r"(?x)[[a] -z]+",
    # Under (?x), a `-` before `]` or `-` past whitespace starts no range (regex-syntax's
    # `peek_space`, which takes a `#` for no comment there).
    r"(?x)[ a - ]+",
    "(?x)[a- \n]\n",
    "(?x)[a-# ]\n c]+",
    r"(?x)[a - -b]+",
    # `ı` has no partner but a Turkic one: a literal, merged with `\n` into a class
    r"(?i)ı|\n",
    r"\xE9",
    r"a{2}",
    r"\d{2,3}",
    r"\d{2,}?",
    r"(?:ab)+",
    r"a**",
    r"x*",
    r"(foo|bar)+",
    r"(?P<n>foo)(?<m>bar)",
    r"\t",
    r"\r",
    r"[\r]",
    r"o\r",
    r"(?R)e$",
    r"(?R).",
    # Text anchors are the edges of a line without its `\n`, whatever `(?R)` says.
    r"(?R)\Acarriage",
    r"(?R)lone\z",
    "carriage$",
    r"\.",
    r"[]a]",
    r"[-a]",
    r"\-foo\-",
    "PM_RESUME\\w+",
    "[A-Z]+_RESUME",
    "foo(?i)BAR",
]

FLAG_SETS: list[dict[str, object]] = [
    {},
    {"case": "insensitive"},
    {"case": "smart"},
    {"word_regexp": True},
    {"line_regexp": True},
]

EXTRA_CASES: list[tuple[list[str], dict[str, object]]] = [
    (["foo", "bar"], {}),
    (["foo", "bar"], {"word_regexp": True}),
    (["o)|(b", "c"], {}),
    (["a.b", "(x"], {"fixed_strings": True}),
    (["F", "k"], {"fixed_strings": True, "case": "smart"}),
    ([".", "#x#"], {"fixed_strings": True, "word_regexp": True}),
    (["foo bar baz"], {"fixed_strings": True, "line_regexp": True}),
    (["", "foo"], {}),
    (["\\"], {"fixed_strings": True}),
    (["é"], {"case": "insensitive"}),
    # regex-syntax merges `\n` into a class with other one-character branches, so rg allows it
    # (and drops it: these search as if the `\n` were not there).
    ([r"\n|o"], {}),
    ([r"(?:\n)|o"], {}),
    ([r"[\n]|o"], {}),
    ([r"\x0A|o|\n"], {}),
    ([r"\n{1}|(?:){3}o"], {}),
    ([r"(?:\n|a)|b"], {}),
    ([r"(?i)(?-i:\n)|(?i: )"], {}),
    ([r"(?x) \n | a"], {}),
    ([r"\d+\n|\d+x"], {}),  # common prefixes are factored out first
    ([r"o*\n|o*b|o*c"], {}),
    ([r"\n", "o"], {}),
    ([r"\n|(?-u:\xFF)"], {}),
]

MULTILINE_CASES = [
    r"foo\nbar",
    r"baz\s+Foo",
    r"(?s)qux.*?foo",
    r"x\n\n",
    r"^\n",
    r"\Afoo",
    r"foo\z",
    r"[^a]+foo",
]

INVALID = [
    "[[]",
    # A byte class holds no code point above ASCII.
    r"(?-u)[\x{e9}]",
    "(?-u)[Σ]",
    r"(?-u)[\x80-\x{FF}]",
    "(?x)a # comment",
    "(a",
    "[a",
    "a)",
    "*a",
    # A bare `(?flags)` is no expression to repeat, even after one.
    "a(?i)*",
    "a(?-i){2}",
    "(?x)a(?i) ?",
    r"\n",
    r"[\n]",
    r"\x0A",
    r"\x{110000}",
    r"\p{Foo}",
    r"\e",
    r"(?z)",
    "a{3,2}",
    "(?=a)",
    r"\1",
    "[z-a]",
    "(?x)[a-#x\n]",
    r"[\d-z]",
    r"\b{foo}",
    "(?P<a>x)(?P<a>y)",
    "(?i-i:a)",
    r"\w{1000}{1000}",
    # `\n` only merges with one-character literals (or classes with classes), after groups
    # (not captures), `x{1}`, `x{0}` and empty concatenation items are simplified away.
    r"\n|\n",
    r"(\n)|a",
    r"(?P<n>\n)|a",
    r"\n|ab",
    r"\n|",
    r"\n|[ab]",
    r"(?i)a|\n",
    r"(?i)\n|k",
    r"(?:a|b)|\n",
    r"(?:\n|ab)|c",
    r"ax|a\n",
    r"\n|a{0}",
    r"\n?|a",
    r"\n|^",
    r"\n|.",
    r"(?-u:\xFF)|é|\n",
    # (?i) makes a class of a letter with a partner in simple case folding, which keeps a
    # `\n` alternative a literal: `ß` (whose partner ẞ maps to it), `ᾳ` (its titlecase)
    r"(?i)ß|\n",
    r"(?i)ᾳ|\n",
]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RIPGREP_CONFIG_PATH"}
    env.update(HOME=str(tmp), XDG_CONFIG_HOME=str(tmp))
    return env


def _rg_args(patterns: list[str], flags: dict[str, object]) -> list[str]:
    args = [RG, "--json", "--no-config"]
    args += {"insensitive": ["-i"], "smart": ["-S"]}.get(str(flags.get("case")), [])
    for name, flag in [
        ("fixed_strings", "-F"),
        ("word_regexp", "-w"),
        ("line_regexp", "-x"),
        ("multiline", "-U"),
    ]:
        if flags.get(name):
            args.append(flag)
    for p in patterns:
        args += ["-e", p]
    return args


Spans = set[tuple[int, int]]


def rg_matches(tmp: Path, patterns: list[str], flags: dict[str, object]) -> tuple[set[int], Spans]:
    """Absolute offsets of the lines rg reports and of its submatches; PatternError if rg
    rejects the pattern."""
    path = tmp / "haystack.txt"
    path.write_bytes(TEXT)
    out = subprocess.run(
        [*_rg_args(patterns, flags), str(path)], capture_output=True, env=_env(tmp), check=False
    )
    if out.returncode == 2:
        raise PatternError(out.stderr.decode())
    lines, spans = set(), set()
    for line in out.stdout.splitlines():
        event = json.loads(line)
        if event["type"] == "match":
            base = event["data"]["absolute_offset"]
            lines.add(base)
            for sub in event["data"]["submatches"]:
                spans.add((base + sub["start"], base + sub["end"]))
    return lines, spans


def our_spans(patterns: list[str], flags: dict[str, object]) -> Spans:
    """Match spans the way rg reports them: an empty match touching the previous match is
    skipped, and so is an empty match at the very end of the file (rg's printer drops it even
    when the last line has no newline, though the line itself still matches)."""
    regex = compile_query(MatchOptions(patterns, **flags)).regex  # type: ignore[arg-type]
    spans: set[tuple[int, int]] = set()
    pos, last_end = 0, -1
    while pos <= len(TEXT):
        m = regex.search(TEXT, pos)
        if m is None:
            break
        start, end = m.span()
        if start == end and (start == last_end or start == len(TEXT)):
            pos = start + 1
            continue
        spans.add((start, end))
        last_end = end
        pos = end if end > start else end + 1
    return spans


def _has_text_anchor(patterns: list[str]) -> bool:
    # rg finds such lines but its printer reports no submatches for them (see report).
    return any("\\A" in p or "(?-m)" in p for p in patterns)


CASES = [([p], f) for p in PATTERNS for f in FLAG_SETS] + EXTRA_CASES


@pytest.mark.parametrize(("patterns", "flags"), CASES, ids=lambda v: repr(v))
def test_matches_like_rg(tmp_path: Path, patterns: list[str], flags: dict[str, object]) -> None:
    lines, spans = rg_matches(tmp_path, patterns, flags)
    ours = our_spans(patterns, flags)
    if _has_text_anchor(patterns):
        # rg reports these lines without submatch spans: compare the lines only.
        assert {TEXT.rfind(b"\n", 0, start) + 1 for start, _ in ours} == lines
    else:
        assert ours == spans


@pytest.mark.parametrize("pattern", MULTILINE_CASES)
def test_multiline_matches_like_rg(tmp_path: Path, pattern: str) -> None:
    flags: dict[str, object] = {"multiline": True}
    assert our_spans([pattern], flags) == rg_matches(tmp_path, [pattern], flags)[1]


@pytest.mark.parametrize("pattern", INVALID)
def test_invalid_patterns_error_like_rg(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(PatternError):
        rg_matches(tmp_path, [pattern], {})
    with pytest.raises(PatternError) as info:
        compile_query(MatchOptions([pattern]))
    assert "\n" not in str(info.value)


def test_error_messages_use_rg_wording() -> None:
    with pytest.raises(PatternError, match="regex parse error: unclosed group"):
        compile_query(MatchOptions(["(a"]))
    with pytest.raises(PatternError, match='literal "\\\\n" is not allowed'):
        compile_query(MatchOptions([r"\n"]))
    with pytest.raises(PatternError, match="exceeds size limit"):
        compile_query(MatchOptions([r"\w{1000}{1000}"]))


def _nested(opening: str, middle: str, closing: str, levels: int) -> str:
    return opening * levels + middle + closing * levels


# rg's nest limit (250): each group, bracketed class, set operation, union, repetition,
# alternation and concatenation is a level (rg wraps each pattern in a group); these are far
# enough from it that the regex trigrep compiles (a little deeper) is no error either.
NESTED = [
    (_nested("(", "a", ")", 240), True), (_nested("(", "a", ")", 250), False),
    (_nested("(", "a", ")", 5000), False), (_nested("[", "a", "]", 240), True),
    (_nested("[", "a", "]", 250), False), (_nested("[", "ab", "]", 249), False),
    (_nested("(a|", "b", ")", 115), True), (_nested("(a|", "b", ")", 125), False),
    (_nested("(?:x", "a", ")", 124), True), (_nested("(?:x", "a", ")", 125), False),
    (_nested("[a&&", "b", "]", 125), False), ("a" + "*" * 100_000, False),
    ("a" + "*" * 250, False), (_nested("(a", "", ")*", 126), False),
    ("(?i)" + _nested("(?:(?i)a", "", ")", 248), False),
    ("(?x)" + _nested("( #\n", "a", ")", 300), False),
]


@pytest.mark.parametrize(("pattern", "valid"), NESTED, ids=lambda v: repr(v)[:40])
def test_nest_limit_like_rg(tmp_path: Path, pattern: str, valid: bool) -> None:
    """A pattern nested deeper than rg's limit is rg's one-line error, not a crash (the
    parser recurses), however deep; one within it compiles."""
    if valid:
        rg_matches(tmp_path, [pattern], {})
        compile_query(MatchOptions([pattern]))
        return
    with pytest.raises(PatternError, match="exceed the maximum number of nested"):
        rg_matches(tmp_path, [pattern], {})
    with pytest.raises(PatternError) as info:
        compile_query(MatchOptions([pattern]))
    assert str(info.value) == ("regex parse error: exceed the maximum number of nested "
                               "parentheses/brackets (250)")


# Patterns for which rg decides whether -U really searches across lines (the regex must be
# able to match "\n"; any ^/$/\A/\z counts as able, x{0} as nothing).
NEWLINE_PROBES = [
    "z", "^z", "z$", r"\Az", r"z\z", "(?-m)^z", "(?R)z$", r"\bz", r"\Bz", r"\b{start}z",
    "(?s).z", ".z", "(?R).z", "[^a]z", r"[^\n]z", r"[^\r]", r"\sz", r"\Sz", r"\Wz", r"\wz",
    r"\Dz", r"(?-u:\W)z", r"\x0az", r"\pLz", r"\p{Cc}", r"\x{85}", r"z(?:\n){0}", r"z\n?",
    "[[:space:]]z", r"[\s&&a]", r"[\x00-\x0a&&\x0a]", "(?i)z", "",
]


@pytest.mark.parametrize("pattern", NEWLINE_PROBES)
@pytest.mark.parametrize("flag", ["", "word_regexp", "line_regexp"])
def test_multiline_only_when_newline_can_match_like_rg(
    tmp_path: Path, pattern: str, flag: str
) -> None:
    """Searching "b\\nb\\n" for `b|P`, rg reports one event per line when it searches line by
    line, and one event for both lines when it searches across lines."""
    flags: dict[str, object] = {"multiline": True, **({flag: True} if flag else {})}
    path = tmp_path / "b.txt"
    path.write_bytes(b"b\nb\n")
    out = subprocess.run(
        [*_rg_args([f"b|{pattern}"], flags), str(path)], capture_output=True,
        env=_env(tmp_path), check=True,
    )
    events = [e for e in map(json.loads, out.stdout.splitlines()) if e["type"] == "match"]
    assert len(events) in (1, 2)
    query = compile_query(MatchOptions([f"b|{pattern}"], **flags))  # type: ignore[arg-type]
    assert query.multiline == (len(events) == 1)
