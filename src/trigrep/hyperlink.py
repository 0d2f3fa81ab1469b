"""rg's `--hyperlink-format`: terminal hyperlinks (OSC 8) around the paths it prints.

A format is an alias (`vscode`, `file`...) or a URL with `{path}`, `{line}`, `{column}`,
`{host}` and `{wslprefix}` in it (`{{` and `}}` are braces). `{path}` is the file's
canonical absolute path, percent-encoded but for unreserved characters, `/`, `:` and
non-ASCII bytes; a file without one (standard input) gets no link. The printers link only
when they paint (`--color`).
"""

from __future__ import annotations

import os
from typing import NamedTuple

from trigrep.errors import Error

END = b"\x1b]8;;\x1b\\"
ALIASES = {
    "default": "file://{host}{path}",
    "file": "file://{host}{path}",
    "grep+": "grep+://{path}:{line}",
    "kitty": "file://{host}{path}#{line}",
    "macvim": "mvim://open?url=file://{path}&line={line}&column={column}",
    "none": "",
    "textmate": "txmt://open?url=file://{path}&line={line}&column={column}",
    "vscode": "vscode://file{path}:{line}:{column}",
    "vscode-insiders": "vscode-insiders://file{path}:{line}:{column}",
    "vscodium": "vscodium://file{path}:{line}:{column}",
}
_VARIABLES = ("path", "line", "column", "host", "wslprefix")
_SCHEME = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+-.")
_KEPT = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz/:-._~")


class Hyperlinks(NamedTuple):
    """A parsed format: literal text and variable names (`Var`), and the directory that
    printed paths are relative to (the search's cwd)."""

    pieces: tuple[str | Var, ...]
    base: str

    def start(self, display_path: str) -> Link | None:
        """The link of a printed path, None when it has no canonical path."""
        try:
            real = os.path.realpath(os.path.join(self.base, display_path), strict=True)
        except (OSError, ValueError):
            return None
        return Link(self.pieces, _encoded(os.fsencode(real)))


class Var(str):
    """A variable's name in a format (what is not a Var is literal text)."""


class Link(NamedTuple):
    """One file's link: `at(line, column)` opens it (a line's link may name its match)."""

    pieces: tuple[str | Var, ...]
    path: bytes

    @property
    def has_line(self) -> bool:
        """Whether the link names a line (rg links a line under a heading only then)."""
        return any(isinstance(p, Var) and p == "line" for p in self.pieces)

    def at(self, line: int, column: int) -> bytes:
        values = {"path": self.path, "line": b"%d" % line, "column": b"%d" % column}
        url = b"".join(values[p] if isinstance(p, Var) else p.encode() for p in self.pieces)
        return b"\x1b]8;;" + url + b"\x1b\\"


def parse(text: str, base: str, hostname_bin: str | None = None) -> Hyperlinks | None:
    """The format `text` (None: no links), checked as rg checks it. `{host}` is what the
    program `hostname_bin` prints, trimmed, or else (it fails or prints nothing) the
    system's host name; `{wslprefix}` is `wsl$/` and WSL_DISTRO_NAME (see _wsl_prefix)."""
    text = ALIASES.get(text, text)
    if not text:
        return None
    pieces: list[str | Var] = []
    literal, pos = "", 0
    while pos < len(text):
        c = text[pos]
        if text.startswith(("{{", "}}"), pos):
            literal, pos = literal + c, pos + 2
        elif c == "}":
            raise _error("unopened variable: found '}' without a corresponding '{' "
                         "preceding it")
        elif c == "{":
            close = text.find("}", pos)
            if close < 0:
                raise _error("unclosed variable: found '{' without a corresponding '}' "
                             "following it")
            name = text[pos + 1 : close]
            if name not in _VARIABLES:
                raise _error(f"invalid hyperlink format variable: '{name}', choose from: "
                             f"{', '.join(_VARIABLES)}")
            pieces += [literal, Var(name)]
            literal, pos = "", close + 1
        else:
            literal, pos = literal + c, pos + 1
    pieces.append(literal)
    names = {p for p in pieces if isinstance(p, Var)}
    if not names:
        raise _error("at least a {path} variable is required in a hyperlink format, or "
                     f"otherwise use a valid alias: {', '.join(ALIASES)}")
    if "path" not in names:
        raise _error("the {path} variable is required in a hyperlink format")
    if "column" in names and "line" not in names:
        raise _error("the hyperlink format contains a {column} variable, but no {line} "
                     "variable is present")
    scheme, colon, _ = str(pieces[0]).partition(":")
    if not (colon and scheme and set(scheme) <= _SCHEME):
        raise _error("the hyperlink format must start with a valid URL scheme, i.e., "
                     "[0-9A-Za-z+-.]+:")
    if "host" in names:
        host = _hostname(hostname_bin)
        pieces = [host if isinstance(p, Var) and p == "host" else p for p in pieces]
    prefix = _wsl_prefix()
    pieces = [prefix if isinstance(p, Var) and p == "wslprefix" else p for p in pieces]
    pieces = [p for p in pieces if p]
    return Hyperlinks(tuple(pieces), base)


def _wsl_prefix() -> str:
    """rg's `{wslprefix}`: `wsl$/` and the distribution WSL names in WSL_DISTRO_NAME, when
    that is set (even empty) and UTF-8, whatever the system; else nothing."""
    distro = os.environb.get(b"WSL_DISTRO_NAME")
    try:
        return "" if distro is None else "wsl$/" + distro.decode()
    except UnicodeDecodeError:
        return ""


def _hostname(program: str | None) -> str:
    if program is not None:
        import subprocess

        from trigrep.spawn import popen  # (a daemon runs it: never during a fork of workers)

        try:
            proc = popen([program], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
            printed = proc.communicate()[0].decode().strip()
            if printed and proc.returncode == 0:
                return printed
        except (OSError, UnicodeDecodeError):
            pass  # (rg too falls back to the system's name)
    return os.uname().nodename


def _encoded(path: bytes) -> bytes:
    return b"".join(bytes((b,)) if b in _KEPT or b >= 0x80 else b"%%%02X" % b for b in path)


def _error(message: str) -> Error:
    return Error(f"error parsing flag --hyperlink-format: invalid hyperlink format: {message}")
