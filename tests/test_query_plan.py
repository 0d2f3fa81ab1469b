"""The trigram planner and the required byte sets: soundness above all (a file with a match
must pass its plan and hold a byte of each required set)."""

from __future__ import annotations

import sys

import pytest
import rurex
from hypothesis import given, settings
from hypothesis import strategies as st

from trigrep.errors import PatternError
from trigrep.options import MatchOptions
from trigrep.query import ALL, NONE, TrigramQuery, compile_query
from trigrep.query.plan import (
    _bmp_probe_text,
    _caseless,
    and_,
    evaluate,
    or_,
    required_bytes,
    trigrams_of,
)
from trigrep.query.syntax import Flags, parse

ALPHABET = [
    "a", "b", "k", "K", "\u212a", "s", "S", "\u017f", "é", "É", "\r", "x", " ", "_", "1",
    "α", "ϐ", "→", ">",
]

ATOMS = [
    *ALPHABET,
    "[ab]",
    "[a-c]",
    "[^a]",
    "[kK]",
    "[é\u212a]",
    r"\w",
    r"\d",
    r"\s",
    ".",
    "[[:alpha:]]",
    r"\pL",
    r"(?-u:\w)",
    r"(?-u:\xC3)",
    r"(?-u:\xE9)",
    r"(?-u:[\x80-\xff])",
    r"\p{Greek}",
    "[αβ]",
    "[é-ú]",
    "->",
    "^",
    "$",
    r"\b",
    r"\B",
    r"\A",
    r"\z",
]


def _regex_strategy() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(inner, min_size=2, max_size=4).map("".join),
            st.lists(inner, min_size=2, max_size=3).map("|".join).map(lambda s: f"(?:{s})"),
            inner.map(lambda s: f"(?i:{s})"),
            inner.map(lambda s: f"(?-i:{s})"),
            st.tuples(inner, st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{0,2}", "+?"])).map(
                lambda t: f"(?:{t[0]}){t[1]}"
            ),
        )

    return st.recursive(st.sampled_from(ATOMS), extend, max_leaves=8)


TEXTS = st.lists(
    st.sampled_from([*ALPHABET, "\n", "ſ", "ab", "kiss", "\xff", "Β", "-", "\0"]), max_size=14
)
FLAGS = st.fixed_dictionaries(
    {
        "case": st.sampled_from(["sensitive", "insensitive", "smart"]),
        "word_regexp": st.booleans(),
        "line_regexp": st.booleans(),
        "multiline": st.booleans(),
    }
)


def _encode(parts: list[str]) -> bytes:
    return b"".join(b"\xff" if p == "\xff" else p.encode() for p in parts)


def _assert_sound(opts: MatchOptions, text: bytes) -> None:
    try:
        query = compile_query(opts)
    except PatternError:
        return
    if query.regex.search(text) is not None:
        assert evaluate(query.plan, trigrams_of(text)), (opts, text, query.source, query.plan)
    for match in query.regex.finditer(text):
        held = _byte_set(text[match.start() : match.end()])
        assert all(s & held for s in query.required_bytes), (opts, text, query.source)


def _byte_set(data: bytes) -> int:
    return sum(1 << b for b in set(data))


@settings(max_examples=400, deadline=None)
@given(st.lists(_regex_strategy(), min_size=1, max_size=2), FLAGS, TEXTS)
def test_plan_is_sound_for_regexes(patterns: list[str], flags: dict, parts: list[str]) -> None:
    _assert_sound(MatchOptions(patterns, **flags), _encode(parts))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(ALPHABET), max_size=6).map("".join), min_size=1, max_size=3),
    FLAGS,
    TEXTS,
)
def test_plan_is_sound_for_fixed_strings(
    patterns: list[str], flags: dict, parts: list[str]
) -> None:
    _assert_sound(MatchOptions(patterns, fixed_strings=True, **flags), _encode(parts))


@pytest.mark.parametrize(
    ("pattern", "case", "text"),
    [
        ("kiss", "insensitive", "\u212aiss"),
        ("KISS", "insensitive", "ki\u017f\u017f"),
        ("\u212aelvin", "insensitive", "KELVIN"),
        ("ſun", "insensitive", "Sun"),
        ("[a-z]ss", "insensitive", "\u212ass"),
        ("foo", "sensitive", "FOO".lower()),
        ("Foo", "smart", "Foo"),
        ("abc|x*", "sensitive", "zzz"),
        ("a\rb", "sensitive", "a\rb"),
        ("é+x", "sensitive", "ééx"),
        ("(?-u:\\xE9)", "sensitive", "\xe9"),
        ("(?i)ſ", "sensitive", "s"),
        ("(?i)\\x{212A}", "sensitive", "k"),
        ("k", "insensitive", "\u212a"),
        ("é", "insensitive", "É"),
        ("ϐ", "insensitive", "Β"),
        ("[αβ]x", "insensitive", "ϐX"),
        ("é|foo", "sensitive", "foo"),
        ("(?i)ß", "sensitive", "ẞ"),
        ("[a-f&&A-F]{4}", "insensitive", "beef"),
        ("(?i)[[:lower:]&&[:upper:]]", "sensitive", "q"),
        ("(?-u)\\x{e9}", "sensitive", "\xc3\xa9"),
    ],
)
def test_tricky_cases_are_sound(pattern: str, case: str, text: str) -> None:
    data = text.encode("latin-1") if pattern.startswith("(?-u") else text.encode()
    _assert_sound(MatchOptions([pattern], case=case), data)  # type: ignore[arg-type]


def _depth(q: TrigramQuery) -> int:
    return 1 + max((_depth(s) for s in q.subs), default=0)


def _size(q: TrigramQuery) -> int:
    return len(q.trigrams) + sum(_size(s) for s in q.subs) + 1


@pytest.mark.parametrize(
    ("pattern", "case"),
    [
        ("foo", "sensitive"),
        ("HashMap", "insensitive"),
        ("pm_resume", "insensitive"),
        ("foo|bar", "insensitive"),
        ("[A-Z]+_RESUME", "sensitive"),
        ("foo|bar|baz|qux", "sensitive"),
        (r"PM_RESUME\w+", "sensitive"),
        (r"\bfn\s+main\(", "sensitive"),
        ("(?i)kelvin", "sensitive"),
        (r"foo.*bar", "sensitive"),
        (r"(abc)+", "sensitive"),
        (r"x{4}", "sensitive"),
    ],
)
def test_selective_patterns_have_nontrivial_plans(pattern: str, case: str) -> None:
    plan = compile_query(MatchOptions([pattern], case=case)).plan  # type: ignore[arg-type]
    assert plan.op in ("and", "or")


@pytest.mark.parametrize("pattern", ["", "a", "ab", ".*", r"\w+", "a|bc", "x*", "[^a]{3}"])
def test_unselective_patterns_plan_all(pattern: str) -> None:
    assert compile_query(MatchOptions([pattern])).plan == ALL


def test_invert_match_plans_all() -> None:
    assert compile_query(MatchOptions(["foobar"], invert_match=True)).plan == ALL


def test_impossible_class_plans_none() -> None:
    assert compile_query(MatchOptions(["[a&&b]xyz"])).plan == NONE


def test_case_insensitive_long_literal_stays_small() -> None:
    plan = compile_query(MatchOptions(["kskskskskskskskskskskskskskssk"], case="insensitive")).plan
    assert plan.op != "all"
    assert _size(plan) < 1000


def test_many_alternatives_stay_linear() -> None:
    words = [f"word{i:03d}" for i in range(300)]
    plan = compile_query(MatchOptions(words)).plan
    assert plan.op != "all"
    assert _size(plan) < 20 * len(words)
    assert _depth(plan) <= 4


def test_boolean_simplification() -> None:
    t = TrigramQuery("and", frozenset({1}))
    assert and_(ALL, t) == t
    assert and_(NONE, t) == NONE
    assert or_(ALL, t) == ALL
    assert or_(NONE, t) == t
    assert evaluate(and_(t, TrigramQuery("and", frozenset({2}))), {1, 2})
    assert not evaluate(and_(t, TrigramQuery("and", frozenset({2}))), {1})


def test_trigrams_of_keeps_raw_case() -> None:
    assert trigrams_of(b"ABc") == {(ord("A") << 16) | (ord("B") << 8) | ord("c")}
    assert trigrams_of(b"ABc") != trigrams_of(b"abc")
    assert trigrams_of(b"ab") == set()


@pytest.mark.parametrize(
    ("pattern", "case", "present", "absent"),
    [
        ("PM_RESUME", "sensitive", "PM_RESUME", "pm_resume"),
        ("Foo", "smart", "Foo", "foo"),
        ("(?i:k)iss", "sensitive", "\u212aiss", "kISS"),
        ("foo", "insensitive", "fOO", "f0o"),
    ],
)
def test_plan_tells_cases_apart(pattern: str, case: str, present: str, absent: str) -> None:
    plan = compile_query(MatchOptions([pattern], case=case)).plan  # type: ignore[arg-type]
    assert evaluate(plan, trigrams_of(present.encode()))
    assert not evaluate(plan, trigrams_of(absent.encode()))


def _all_chars_haystack() -> str:
    return "".join(chr(cp) for cp in range(0x80, sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)


def test_caseless_rule_agrees_with_rust_case_folding() -> None:
    """Characters we plan as caseless under (?i) must have no case partner in Rust's regex."""
    haystack = _all_chars_haystack()
    ranges: list[list[int]] = []
    for ch in haystack:
        if _caseless(ch):
            if ranges and ranges[-1][1] == ord(ch) - 1:
                ranges[-1][1] = ord(ch)
            else:
                ranges.append([ord(ch), ord(ch)])
    body = "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges)
    data = haystack.encode()
    plain = rurex.compile(f"(?u)[{body}]".encode()).findall(data)
    folded = rurex.compile(f"(?iu)[{body}]".encode()).findall(data)
    assert len(plain) == len(folded)


def test_ascii_letters_fold_only_to_kelvin_and_long_s() -> None:
    found = rurex.compile(b"(?iu)[a-z]").findall(_all_chars_haystack().encode())
    assert {m.decode() for m in found} == {"\u212a", "\u017f"}


def _bytes_of(byte_set: int) -> set[int]:
    return {b for b in range(256) if byte_set >> b & 1}


def _required(pattern: str, **flags: object) -> list[set[int]]:
    return [_bytes_of(s) for s in compile_query(MatchOptions([pattern], **flags)).required_bytes]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "flags", "expected"),
    [
        ("é", {}, [{0xA9}, {0xC3}]),
        ("->", {}, [{ord("-")}, {ord(">")}]),
        ("(?-u:\\xe9)", {}, [{0xE9}]),
        ("(?i-u)[a-c]", {}, [set(b"abcABC")]),
        ("[αβ]", {}, [{0xCE}, {0xB1, 0xB2}]),
        # Unicode simple case folding reaches ASCII from U+017F and U+212A, and back.
        ("(?i)ſ", {}, [{ord("s"), ord("S"), 0xC5}]),
        ("(?i)\\x{212A}", {}, [{ord("k"), ord("K"), 0xE2}]),
        ("s", {"case": "insensitive"}, [{ord("s"), ord("S"), 0xC5}]),
        ("K", {"case": "smart"}, [{ord("K")}]),
        ("k", {"case": "smart"}, [{ord("k"), ord("K"), 0xE2}]),
        ("é|foo", {}, [{0xA9, ord("f")}, {0xA9, ord("o")}, {0xC3, ord("f")}, {0xC3, ord("o")}]),
        ("é", {"word_regexp": True}, [{0xA9}, {0xC3}]),
        ("é", {"line_regexp": True, "multiline": True}, [{0xA9}, {0xC3}]),
        ("é", {"fixed_strings": True}, [{0xA9}, {0xC3}]),
        # nothing is required where a match may hold none of some bytes
        ("é", {"invert_match": True}, []),
        ("x*", {}, []),
        ("é?", {}, []),
        ("é|", {}, []),
        ("é|x*", {}, []),
        (".", {}, []),
        ("\\w", {}, []),  # it matches ASCII: a set would rule out no file
        ("[^a]", {}, []),  # over MAX_SET_BYTES values
        ("[a&&b]", {}, [set()]),  # no match at all
    ],
)
def test_required_bytes(pattern: str, flags: dict, expected: list[set[int]]) -> None:
    assert sorted(map(sorted, _required(pattern, **flags))) == sorted(map(sorted, expected))


@pytest.mark.parametrize("pattern", ["\\p{Greek}", "(?i:é)", "(?i:[αβ])", "\\p{Cyrillic}+x"])
def test_probed_classes_require_their_first_bytes(pattern: str) -> None:
    """Classes we have no tables for: the regex engine itself tells their first bytes."""
    [leads, *_] = sorted(_required(pattern), key=len, reverse=True)
    regex = rurex.compile(f"(?u)(?:{pattern.removesuffix('+x')})".encode())
    matched = {m[0] for m in regex.findall(_all_chars_haystack().encode())}
    assert matched <= leads and not leads & set(range(0x80))


def test_probe_text_is_every_bmp_character_windowed_by_first_byte() -> None:
    text, windows = _bmp_probe_text()
    assert text.decode() == "".join(
        chr(cp) for cp in range(0x80, 0x10000) if not 0xD800 <= cp <= 0xDFFF
    )
    assert [w[0] for w in windows] == list(range(0xC2, 0xF0))
    for lead, start, end in windows:
        assert text[start] == lead and (end == len(text) or text[end] != lead)
    assert windows[-1][2] == len(text)


def test_required_bytes_of_a_parsed_node() -> None:
    assert required_bytes(parse("a(?:b|c)+", Flags(), False)) == (
        1 << ord("a"), (1 << ord("b")) | (1 << ord("c")),
    )
