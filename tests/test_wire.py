"""The protocol's JSON without the json package (`trigrep.server.wire`), against json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trigrep.server import wire

# Every code point, lone surrogates included: the OS hands Python undecodable file names and
# arguments as surrogate escapes, and they must cross the socket intact.
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(ANY_TEXT, children, max_size=4),
    max_leaves=12,
)


def same(a: object, b: object) -> bool:
    """Equal, types and NaNs included (json.dumps tells 1 from 1.0 and spells NaN)."""
    return json.dumps(a) == json.dumps(b)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_dumps_writes_what_json_dumps_writes(value: object) -> None:
    assert wire.dumps(value) == json.dumps(value, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.booleans(), st.sampled_from([None, 1, "\t"]))
def test_loads_reads_what_json_dumps_writes(value: object, ascii_only: bool,
                                            indent: int | str | None) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert same(wire.loads(text), value)


@settings(max_examples=500, deadline=None)
@given(JSON_VALUES, st.data())
def test_loads_accepts_and_rejects_what_json_loads_does(value: object, data: st.DataObject) -> None:
    """Damaged documents: one character deleted, inserted or replaced."""
    text = json.dumps(value)
    at = data.draw(st.integers(0, len(text)))
    char = data.draw(st.sampled_from('"\\{}[]:,.-+eE0123456789 untfalsNIy\n\x01'))
    text = data.draw(st.sampled_from([text[:at] + text[at + 1:], text[:at] + char + text[at:],
                                      text[:at] + char + text[at + 1:]]))
    try:
        expected = json.loads(text, strict=False)
    except ValueError:
        with pytest.raises(ValueError):
            wire.loads(text)
    else:
        assert same(wire.loads(text), expected)


@pytest.mark.parametrize("text", [
    "", " ", "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "[1,]", "[,1]", "{,}",
    '{"a"}', '{"a":}', '{"a":1,}', "{1:2}", '"\\x"', '"\\u12"', '"\\u12G4"', '"\\ud800\\u12"',
    '"abc', "tru", "nul", "1 2", "[1 2]", "\ufeff1", "\u0661",
])
def test_loads_rejects_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text, strict=False)
    with pytest.raises(ValueError):
        wire.loads(text)


def test_surrogate_pairs_and_lone_surrogates() -> None:
    text = "\U0001f600 \udcff \ud83d"
    assert wire.dumps(text) == '"\\ud83d\\ude00 \\udcff \\ud83d"'
    assert wire.loads(wire.dumps(text)) == text


def test_dumps_refuses_what_json_cannot_say_as_the_protocol_does() -> None:
    with pytest.raises(TypeError):
        wire.dumps({1: "a"})  # json.dumps would turn the key into "1"
    with pytest.raises(TypeError):
        wire.dumps(b"bytes")
