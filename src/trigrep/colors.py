"""rg's `--colors` specs and the terminal escapes its printers write for them.

A spec is `{type}:{attribute}:{value}` (or `{type}:none`), applied in order over rg's
defaults: paths magenta, line numbers green, matches bold red, columns unstyled. Each
style's escapes are written as the termcolor crate writes them: a reset, then bold and
underline, then the foreground and background colours (`intense` picks the bright ones of
the eight named colours).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from trigrep.errors import Error

RESET = b"\x1b[0m"
_TYPES = ("path", "line", "column", "match")
_NAMES = {"black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6,
          "white": 7}
_STYLES = ("nobold", "bold", "nointense", "intense", "nounderline", "underline")
_FORMAT = "'(path|line|column|match):(fg|bg|style):(value)'"


class _Style(NamedTuple):
    """One output type's termcolor ColorSpec: a colour is a name, an ANSI 256 number or an
    RGB triple."""

    fg: str | int | tuple[int, ...] | None = None
    bg: str | int | tuple[int, ...] | None = None
    bold: bool = False
    intense: bool = False
    underline: bool = False

    @property
    def is_none(self) -> bool:
        return self == _Style()

    def escapes(self) -> bytes:
        out = RESET + (b"\x1b[1m" if self.bold else b"") + (b"\x1b[4m" if self.underline else b"")
        for layer, colour in ((b"3", self.fg), (b"4", self.bg)):
            if isinstance(colour, str):
                code = _NAMES[colour]
                out += (b"\x1b[%b8;5;%dm" % (layer, code + 8) if self.intense
                        else b"\x1b[%b%dm" % (layer, code))
            elif isinstance(colour, int):
                out += b"\x1b[%b8;5;%dm" % (layer, colour)
            elif colour is not None:
                out += b"\x1b[%b8;2;%d;%d;%dm" % (layer, *colour)
        return out


class Palette(NamedTuple):
    """The escapes that start each painted piece (a reset ends it). `match` is None when
    matches are not painted at all (`match:none`: rg then prints the line as it is)."""

    path: bytes
    line: bytes
    column: bytes
    match: bytes | None


_DEFAULTS = {"path": _Style(fg="magenta"), "line": _Style(fg="green"), "column": _Style(),
             "match": _Style(fg="red", bold=True)}


def palette(specs: Sequence[str] = ()) -> Palette:
    """The palette of rg's defaults with `specs` applied in order; a bad spec raises rg's
    error."""
    styles = dict(_DEFAULTS)
    for spec in specs:
        kind, change = _parsed(spec)
        styles[kind] = _Style() if change is None else styles[kind]._replace(**change)
    match = styles["match"]
    return Palette(styles["path"].escapes(), styles["line"].escapes(),
                   styles["column"].escapes(), None if match.is_none else match.escapes())


DEFAULT_PALETTE = palette()


def _parsed(spec: str) -> tuple[str, dict[str, object] | None]:
    """(output type, the fields a spec sets; None for `none`)."""
    pieces = spec.split(":")
    if not 2 <= len(pieces) <= 3:
        raise _error(f"invalid color spec format: '{spec}'. Valid format is {_FORMAT}.")
    kind, attribute = pieces[0].lower(), pieces[1].lower()
    if kind not in _TYPES:
        raise _error(f"unrecognized output type '{pieces[0]}'. Choose from: "
                     f"{', '.join(_TYPES)}.")
    if attribute not in ("fg", "bg", "style", "none"):
        raise _error(f"unrecognized spec type '{pieces[1]}'. Choose from: fg, bg, style, none.")
    if attribute == "none":
        return kind, None
    if len(pieces) < 3:
        raise _error(f"invalid color spec format: '{spec}'. Valid format is {_FORMAT}.")
    value = pieces[2]
    if attribute != "style":
        return kind, {attribute: _colour(value)}
    style = value.lower()
    if style not in _STYLES:
        raise _error(f"unrecognized style attribute '{value}'. Choose from: "
                     f"{', '.join(_STYLES)}.")
    return kind, {style.removeprefix("no"): not style.startswith("no")}


def _colour(value: str) -> str | int | tuple[int, ...]:
    """A colour as termcolor parses one: a name (any case), else a number or a triple of
    numbers, each decimal or `0x` hex."""
    if value.lower() in _NAMES:
        return value.lower()
    codes = value.split(",")
    numbers = [_number(code) for code in codes]
    if len(codes) > 1:
        if len(codes) == 3 and None not in numbers:
            return tuple(n for n in numbers if n is not None)
        raise _error("unrecognized RGB color triple, should be '[0-255],[0-255],[0-255]' (or "
                     f"a hex triple), but is '{value}'")
    if numbers[0] is not None:
        return numbers[0]
    if all(c in _HEX_DIGITS for c in value):
        raise _error("unrecognized ansi256 color number, should be '[0-255]' (or a hex "
                     f"number), but is '{value}'")
    raise _error(f"unrecognized color name '{value}'. Choose from: "
                 "black, blue, green, red, cyan, magenta, yellow, white")


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _number(code: str) -> int | None:
    """A number as Rust's u8::from_str_radix reads it (an optional `+`, then digits)."""
    digits, base = (code[2:], 16) if code.startswith("0x") else (code, 10)
    digits = digits.removeprefix("+")
    if not digits or not all(c in _HEX_DIGITS for c in digits):
        return None
    try:
        n = int(digits, base)
    except ValueError:
        return None
    return n if n <= 255 else None


def _error(message: str) -> Error:
    return Error(f"error parsing flag --colors: {message}")
