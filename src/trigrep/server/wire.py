"""The JSON of the daemon protocol's lines, written and read without the `json` package.

Why: every CLI search a daemon answers is a fresh process whose start-up is most of its cost,
and `import json` alone loads `re` and `enum` (json.decoder compiles regexes), several ms;
even its C half, `_json`, is a shared library to load. What the protocol sends is small
(objects, lists, strings, numbers, booleans, null), so this module does it in plain Python
with C-speed string methods for the long strings (base64 output chunks).

`dumps` writes exactly what `json.dumps(value, separators=(",", ":"))` writes (ASCII only:
every other character, lone surrogates from undecodable file names included, as a `\\uXXXX`
escape); `loads` reads all JSON, as `json.loads` does (NaN and Infinity included), except
that it accepts control characters inside strings (as `strict=False`). Tests check both
against the json package.
"""

# No `from __future__ import annotations`: it would import the __future__ module.

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\b": "\\b", "\f": "\\f"}
_UNESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r",
              "t": "\t"}
_CONSTANTS = {"true": True, "false": False, "null": None, "NaN": float("nan"),
              "Infinity": float("inf"), "-Infinity": float("-inf")}
_WHITESPACE = " \t\n\r"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def dumps(value: object) -> str:
    """`value` (dicts with string keys, lists, tuples, strings, numbers, booleans, None) as
    compact ASCII JSON."""
    if isinstance(value, str):
        return _dump_string(value)
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
        return "{" + ",".join(f"{_dump_string(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(dumps, value)) + "]"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# What a JSON string holds as is: printable ASCII but the quote and the backslash.
_VERBATIM = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')


def _dump_string(text: str) -> str:
    # The common case, checked at C speed (str.isprintable() takes five times as long: the
    # daemon's output, 64 KiB of base64 per message, spent most of its encoding there).
    if text.isascii() and not text.encode().translate(None, _VERBATIM):
        return f'"{text}"'
    return '"' + "".join(map(_escape, text)) + '"'


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return char
    if code > 0xFFFF:  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
        code -= 0x10000
        return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
    return f"\\u{code:04x}"


def loads(text: str) -> object:
    """The value of the JSON document `text`; ValueError if it is not one."""
    try:
        value, end = _value(text, _skip_whitespace(text, 0))
    except IndexError:
        raise ValueError("JSON document ends too early") from None
    if _skip_whitespace(text, end) != len(text):
        raise ValueError(f"extra data after JSON value at {end}")
    return value


def _skip_whitespace(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _value(text: str, at: int) -> tuple[object, int]:
    """(the JSON value starting at `at`, the index after it)."""
    first = text[at]
    if first == '"':
        return _string(text, at + 1)
    if first == "{":
        return _object(text, at + 1)
    if first == "[":
        return _array(text, at + 1)
    for name, constant in _CONSTANTS.items():
        if text.startswith(name, at):
            return constant, at + len(name)
    return _number(text, at)


def _object(text: str, at: int) -> tuple[dict[str, object], int]:
    result: dict[str, object] = {}
    at = _skip_whitespace(text, at)
    if text[at] == "}":
        return result, at + 1
    while True:
        if text[at] != '"':
            raise ValueError(f"expected a string key at {at}")
        key, at = _string(text, at + 1)
        at = _skip_whitespace(text, at)
        if text[at] != ":":
            raise ValueError(f"expected ':' at {at}")
        result[key], at = _value(text, _skip_whitespace(text, at + 1))
        at = _skip_whitespace(text, at)
        if text[at] == "}":
            return result, at + 1
        if text[at] != ",":
            raise ValueError(f"expected ',' or '}}' at {at}")
        at = _skip_whitespace(text, at + 1)


def _array(text: str, at: int) -> tuple[list[object], int]:
    result: list[object] = []
    at = _skip_whitespace(text, at)
    if text[at] == "]":
        return result, at + 1
    while True:
        item, at = _value(text, at)
        result.append(item)
        at = _skip_whitespace(text, at)
        if text[at] == "]":
            return result, at + 1
        if text[at] != ",":
            raise ValueError(f"expected ',' or ']' at {at}")
        at = _skip_whitespace(text, at + 1)


def _string(text: str, at: int) -> tuple[str, int]:
    """(the string whose opening quote is just before `at`, the index after its closing
    quote). Every scan is a `str.find`: linear however many escapes the string holds."""
    parts = []
    quote = text.find('"', at)
    while True:
        if quote < 0:
            raise ValueError("unterminated string")
        backslash = text.find("\\", at, quote)
        if backslash < 0:
            parts.append(text[at:quote])
            return "".join(parts), quote + 1
        parts.append(text[at:backslash])
        char, at = _unescape(text, backslash + 1)
        parts.append(char)
        if at > quote:  # that quote was an escaped one
            quote = text.find('"', at)


def _unescape(text: str, at: int) -> tuple[str, int]:
    """(the character the escape sequence after the backslash at `at - 1` stands for, the
    index after it); a pair of \\u escapes of a surrogate pair stands for one character."""
    kind = text[at]
    if kind != "u":
        if kind not in _UNESCAPES:
            raise ValueError(f"invalid escape at {at}")
        return _UNESCAPES[kind], at + 1
    code = _hex4(text, at + 1)
    if 0xD800 <= code <= 0xDBFF and text.startswith("\\u", at + 5):
        low = _hex4(text, at + 7)
        if 0xDC00 <= low <= 0xDFFF:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), at + 11
    return chr(code), at + 5


def _hex4(text: str, at: int) -> int:
    digits = text[at:at + 4]
    if len(digits) != 4 or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(f"invalid \\u escape at {at}")
    return int(digits, 16)


def _number(text: str, at: int) -> tuple[int | float, int]:
    """(the number at `at`, the index after it), checked against JSON's grammar
    -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?."""
    start = at
    if text.startswith("-", at):
        at += 1
    digits_end = _digits(text, at)
    if digits_end == at or (text[at] == "0" and digits_end > at + 1):
        raise ValueError(f"invalid JSON value at {start}")
    at = digits_end
    is_float = False
    if text.startswith(".", at):
        at, is_float = _digits(text, at + 1, required=True), True
    if at < len(text) and text[at] in "eE":
        at += 1
        if at < len(text) and text[at] in "+-":
            at += 1
        at, is_float = _digits(text, at, required=True), True
    number = text[start:at]
    return (float(number) if is_float else int(number)), at


def _digits(text: str, at: int, required: bool = False) -> int:
    """The index after the ASCII digits starting at `at` (ValueError if `required` and none)."""
    start = at
    while at < len(text) and "0" <= text[at] <= "9":
        at += 1
    if required and at == start:
        raise ValueError(f"expected a digit at {at}")
    return at
