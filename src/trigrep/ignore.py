"""Gitignore-style pattern files with the semantics of rg's `ignore` crate (not git's).

rg translates every line into a `globset` glob, and the two differ from git in details
that show in its output: `{a,b}` alternation works, `?` and `[...]` match one *byte*,
`**` next to anything but a `/` is two plain stars, and `a/**` never matches `a` itself.
So globs are translated here token by token as globset does, into bytes regexes run over
raw file-name bytes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable

from trigrep.errors import PatternError

_SPECIAL = frozenset("*?[{},\\")
_WHITESPACE = " \t\n\r\x0b\x0c"


def _literal(text: str) -> bytes:
    return re.escape(text.encode("utf-8", "surrogateescape"))


_RECURSIVE_PREFIX = b"(?:/?|.*/)"  # `**/` at the start: any leading directories, or none
_RECURSIVE_SUFFIX = b"/.*"  # `/**` at the end: anything below
_RECURSIVE_MIDDLE = b"(?:/|/.*/)"  # `/**/`: zero or more directories


def glob_to_regex(glob: str, *, literal_separator: bool, shown: str | None = None) -> bytes:
    """Translate one globset glob (backslash escapes on) into a bytes regex body.

    With `literal_separator`, `*`, `?` never match `/` (gitignore and `-g` globs); without
    it they do (type globs, which only ever see a file name). Raises PatternError worded
    like rg for globs globset rejects, quoting `shown` (the line as the user wrote it).
    """
    return _GlobTranslator(glob, literal_separator, shown or glob).translate()


class _GlobTranslator:
    """globset's parser, emitting regex pieces; `{a,b}` branches collect in `alternates`."""

    def __init__(self, glob: str, literal_separator: bool, shown: str) -> None:
        self.glob = glob
        self.shown = shown
        self.any_char = b"[^/]" if literal_separator else b"."
        self.star = b"[^/]*" if literal_separator else b".*"
        self.out: list[bytes] = []
        self.alternates: list[list[bytes]] | None = None
        self.pos = 0

    def fail(self, reason: str) -> PatternError:
        return PatternError(f"error parsing glob '{self.shown}': {reason}")

    def pieces(self) -> list[bytes]:
        """Where the next token goes: the open alternation branch, else the top level."""
        return self.alternates[-1] if self.alternates is not None else self.out

    def peek(self) -> str | None:
        return self.glob[self.pos] if self.pos < len(self.glob) else None

    def translate(self) -> bytes:
        while (c := self.peek()) is not None:
            self.pos += 1
            if c == "\\":
                if self.peek() is None:
                    raise self.fail("dangling '\\'")
                self.pieces().append(_literal(self.glob[self.pos]))
                self.pos += 1
            elif c == "?":
                self.pieces().append(self.any_char)
            elif c == "*":
                if self.peek() == "*":
                    self.pos += 1
                    self.double_star()
                else:
                    self.pieces().append(self.star)
            elif c == "[":
                self.pieces().append(self.char_class())
            elif c == "{":
                if self.alternates is not None:
                    raise self.fail("nested alternate groups are not allowed")
                self.alternates = [[]]
            elif c == "}" and self.alternates is not None:
                branches = [b"".join(branch) for branch in self.alternates if branch]
                self.alternates = None
                self.out.append(b"(?:" + b"|".join(branches) + b")")
            elif c == "," and self.alternates is not None:
                self.alternates.append([])
            else:
                self.pieces().append(_literal(c))
        if self.alternates is not None:
            raise self.fail("unclosed alternate group; missing '}' (maybe escape '{' with '[{]'?)")
        if self.out == [_RECURSIVE_PREFIX]:
            return b".*"  # a lone `**` matches everything
        return b"".join(self.out)

    def double_star(self) -> None:
        """`**` is recursive only as a whole path component; elsewhere it is a plain `*`."""
        pieces = self.pieces()
        following = self.peek()
        if not pieces:
            if following not in (None, "/"):
                pieces.append(self.star)
                return
            self.pos += following == "/"
            pieces.append(_RECURSIVE_PREFIX)
            return
        before = self.glob[self.pos - 3]
        if before != "/" and (self.alternates is None or before not in ",{"):
            pieces.append(self.star)
            return
        if following is None or (self.alternates is not None and following in ",}"):
            replacement = _RECURSIVE_SUFFIX
        elif following == "/":
            self.pos += 1
            replacement = _RECURSIVE_MIDDLE
        else:
            pieces.append(self.star)
            return
        last = pieces.pop()  # the `/` before `**` belongs to the recursive token
        pieces.append(last if last in (_RECURSIVE_PREFIX, _RECURSIVE_SUFFIX) else replacement)

    def char_class(self) -> bytes:
        """`[...]` after its `[`: `!`/`^` negates, `]` first is literal, `-` last is literal."""
        negated = self.peek() in ("!", "^")
        self.pos += negated
        ranges: list[tuple[str, str]] = []
        first, in_range = True, False
        while True:
            c = self.peek()
            if c is None:
                raise self.fail("unclosed character class; missing ']'")
            self.pos += 1
            if c == "]" and not first:
                break
            if c == "-" and not first and not in_range:
                in_range = True
            elif in_range:
                low = ranges[-1][0]
                if c < low:
                    raise self.fail(f"invalid range; '{low}' > '{c}'")
                ranges[-1] = (low, c)
                in_range = False
            else:
                ranges.append((c, c))
            first = False
        if in_range:
            ranges.append(("-", "-"))
        return _class_regex(ranges, negated)


def _class_regex(ranges: list[tuple[str, str]], negated: bool) -> bytes:
    """A class over bytes; non-ASCII members become alternatives of their UTF-8 bytes."""
    ascii_part = b"".join(
        _literal(low) if low == high else _literal(low) + b"-" + _literal(high)
        for low, high in ranges
        if high < "\x80"
    )
    wide = [low for low, high in ranges if high >= "\x80"]
    if negated:
        body = b"[^" + ascii_part + b"]" if ascii_part else b"."
        return b"".join(b"(?!" + _literal(w) + b")" for w in wide) + body
    alternatives = [b"[" + ascii_part + b"]"] if ascii_part else []
    alternatives += [_literal(w) for w in wide]
    return b"(?:" + b"|".join(alternatives) + b")"


class GitignoreGlob:
    """One pattern line after gitignore processing (`glob` is what globset compiles)."""

    __slots__ = ("case_insensitive", "dir_only", "glob", "regex", "whitelist")

    def __init__(self, glob: str, whitelist: bool, dir_only: bool, regex: bytes,
                 case_insensitive: bool = False) -> None:
        self.glob = glob
        self.whitelist = whitelist
        self.dir_only = dir_only
        self.regex = regex  # `glob` translated
        # ASCII letters only, as globset's `(?-u)(?i)` regexes
        self.case_insensitive = case_insensitive

    def body(self, regex: bytes) -> bytes:
        """`regex` (all or part of this glob's) with the glob's case rule applied."""
        return b"(?i:" + regex + b")" if self.case_insensitive else regex


def parse_line(line: str, case_insensitive: bool = False) -> GitignoreGlob | None:
    """Turn one ignore-file line into a glob as the ignore crate does; None for no pattern.

    Raises PatternError (quoting the line) when the glob does not parse.
    """
    if line.startswith("#"):
        return None
    if not line.endswith("\\ "):
        line = line.rstrip(_WHITESPACE)
    if not line:
        return None
    original = line
    whitelist = anchored = False
    if line.startswith(("\\!", "\\#")):
        line = line[1:]
        anchored = line.startswith("/")
    else:
        if line.startswith("!"):
            whitelist, line = True, line[1:]
        if line.startswith("/"):
            anchored, line = True, line[1:]
    dir_only = line.endswith("/")
    if dir_only:
        line = line[:-1]
        if line.endswith("\\"):
            line = line[:-1]
    if not anchored and "/" not in line and not line.startswith("**/"):
        line = "**/" + line
    if line.endswith("/**"):
        line += "/*"
    regex = glob_to_regex(line, literal_separator=True, shown=original)
    return GitignoreGlob(line, whitelist, dir_only, regex, case_insensitive)


def _basename_glob(glob: str) -> str | None:
    """The part after `**/` when the glob can be decided on the file name alone (not `**/`
    alone: globset matches every path with it)."""
    if not glob.startswith("**/"):
        return None
    rest = glob[3:]
    if not rest or "/" in rest or "**" in rest or "[!" in rest or "[^" in rest:
        return None
    return rest


def _fixed_depth(glob: str) -> int | None:
    """How many `/` each path the glob matches has, when that is fixed (no `**`, classes or
    alternatives): such a glob can be dropped in directories at any other depth."""
    if "**" in glob or "[" in glob or "{" in glob:
        return None
    return glob.count("/")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class _Table:
    """Patterns of one matcher for one kind of entry (files, or directories), split so the
    common kinds cost a dict lookup (`name`) or one `endswith` (`*.ext`), not a regex."""

    def __init__(self, globs: list[tuple[int, GitignoreGlob]]) -> None:
        self.names: dict[bytes, int] = {}
        self.suffixes: list[tuple[bytes, int]] = []
        name_globs: list[tuple[int, bytes]] = []
        path_globs: list[tuple[int, bytes]] = []
        for index, item in globs:
            rest = _basename_glob(item.glob)
            if rest is None:
                path_globs.append((index, item.body(item.regex)))
            elif item.case_insensitive:
                name_globs.append((index, item.body(item.regex.removeprefix(_RECURSIVE_PREFIX))))
            elif not _SPECIAL.intersection(rest):
                self.names[_encode(rest)] = index
            elif rest.startswith("*") and not _SPECIAL.intersection(rest[1:]):
                self.suffixes.append((_encode(rest[1:]), index))
            else:
                name_globs.append((index, item.regex.removeprefix(_RECURSIVE_PREFIX)))
        self.any_suffix = tuple(suffix for suffix, _ in self.suffixes)
        self.name_regex, self.name_index = _last_wins_regex(name_globs)
        self.path_regex, self.path_index = _last_wins_regex(path_globs)

    def best(self, rel: bytes, name: bytes) -> int:
        """Index of the last pattern matching, or -1."""
        best = self.names.get(name, -1)
        if self.any_suffix and name.endswith(self.any_suffix):
            for suffix, index in self.suffixes:
                if index > best and name.endswith(suffix):
                    best = index
        if self.name_regex is not None:
            m = self.name_regex.fullmatch(name)
            if m:
                best = max(best, self.name_index[m.lastindex or 0])
        if self.path_regex is not None:
            m = self.path_regex.fullmatch(rel)
            if m:
                best = max(best, self.path_index[m.lastindex or 0])
        return best


def _last_wins_regex(
    globs: list[tuple[int, bytes]],
) -> tuple[re.Pattern[bytes] | None, list[int]]:
    """One regex for many globs: alternatives in reverse order, so the first alternative
    that matches (the one `re` reports) is the last pattern, which gitignore says wins."""
    if not globs:
        return None, []
    ordered = sorted(globs, reverse=True)
    regex = re.compile(b"(?s)" + b"|".join(b"(" + body + b")" for _, body in ordered))
    return regex, [-1] + [index for index, _ in ordered]


class IgnoreMatcher:
    """The patterns of one ignore file (or `-g` list), matched against paths relative to it."""

    def __init__(self, globs: Iterable[GitignoreGlob]) -> None:
        self.globs = list(globs)
        numbered = list(enumerate(self.globs))
        self._dirs = _Table(numbered)
        self._files = _Table([(i, g) for i, g in numbered if not g.dir_only])
        self.num_ignores = sum(not g.whitelist for g in self.globs)
        self._by_depth: dict[int, IgnoreMatcher | None] = {}

    def __bool__(self) -> bool:
        return bool(self.globs)

    @property
    def by_name(self) -> bool:
        """Whether every pattern is decided by the file name alone, whatever the path seen."""
        return all(_basename_glob(g.glob) is not None for g in self.globs)

    def at_depth(self, depth: int) -> IgnoreMatcher | None:
        """The patterns that can match a relative path with `depth` slashes (None if none).

        Anchored patterns such as `/build` or `docs/*.html` drop out below their level, so
        deep directories do not pay for them.
        """
        if depth not in self._by_depth:
            kept = [g for g in self.globs if _fixed_depth(g.glob) in (None, depth)]
            same = len(kept) == len(self.globs)
            self._by_depth[depth] = self if same else IgnoreMatcher(kept) if kept else None
        return self._by_depth[depth]

    def matched(self, rel: bytes, name: bytes, is_dir: bool) -> bool | None:
        """True: ignored, False: whitelisted (`!`), None: no pattern matches.

        `rel` is the path relative to the ignore file's directory and `name` its last part.
        """
        best = (self._dirs if is_dir else self._files).best(rel, name)
        return None if best < 0 else not self.globs[best].whitelist


BadGlobHandler = Callable[[int, str], None]


def parse_lines(
    lines: Iterable[str],
    on_bad_glob: BadGlobHandler | None = None,
    case_insensitive: bool = False,
) -> IgnoreMatcher:
    """Compile ignore-file lines; `on_bad_glob(line_number, message)` hears about globs that
    fail to parse (rg warns and skips them). Without a callback, a bad glob raises."""
    globs = []
    for number, line in enumerate(lines, 1):
        try:
            parsed = parse_line(line, case_insensitive)
        except PatternError as e:
            if on_bad_glob is None:
                raise
            on_bad_glob(number, str(e))
            continue
        if parsed is not None:
            globs.append(parsed)
    return IgnoreMatcher(globs)


def read_ignore_file(
    path: bytes, on_errors: Callable[[list[str]], None] | None = None,
    case_insensitive: bool = False,
) -> IgnoreMatcher | None:
    """Parse an ignore file (`case_insensitive`: its globs ignore the case of ASCII letters);
    None when it cannot be read (rg skips those silently).

    As rg, it is read up to its first line that is not UTF-8, and `on_errors` hears of the
    file's errors all at once (`line N: ...`): its bad globs, then that line (of which rg
    says nothing when there is no other error)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # A UTF-8 BOM stays: rg 14.1 reads it as part of the first pattern (which then never
    # matches), where git would drop it.
    lines = []
    not_utf8 = None
    raw_lines = data.split(b"\n")
    for number, raw in enumerate(raw_lines, 1):
        if number < len(raw_lines):  # rg reads lines without their `\n` or `\r\n`, so a
            raw = raw.removesuffix(b"\r")  # `\r` never ends one ending in an escaped space
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            not_utf8 = number
            break
    errors: list[str] = []
    matcher = parse_lines(
        lines, lambda number, problem: errors.append(f"line {number}: {problem}"), case_insensitive)
    if errors and not_utf8 is not None:
        errors.append(f"line {not_utf8}: stream did not contain valid UTF-8")
    if errors and on_errors is not None:
        on_errors(errors)
    return matcher or None


def _homes() -> tuple[str | None, str | None]:
    """$HOME, and $XDG_CONFIG_HOME defaulting to ~/.config."""
    home = os.environ.get("HOME")
    config_home = os.environ.get("XDG_CONFIG_HOME") or (
        os.path.join(home, ".config") if home else None
    )
    return home, config_home


def git_config_paths() -> list[bytes]:
    """The git config files `global_excludes_path` reads, in its order."""
    home, config_home = _homes()
    candidates = [os.path.join(home, ".gitconfig")] if home else []
    if config_home:
        candidates.append(os.path.join(config_home, "git", "config"))
    return [os.fsencode(path) for path in candidates]


# Seconds after a change to a git config file during which its stat is not trusted to tell a
# second change: one in the same timestamp tick, keeping its size, would not change it.
_RACY_S = 2.0
# A git config file's (mtime, ctime, size, inode, device), None when there is none.
_ConfigStat = tuple[int, int, int, int, int] | None
# The last path `global_excludes_path` read, with the homes and `_config_stats` it read it at.
_kept_excludes: tuple[tuple[str | None, str | None], list[_ConfigStat], bytes | None] | None = None


def _config_stats() -> list[_ConfigStat]:
    """The stat of each of `git_config_paths()`."""
    stats: list[_ConfigStat] = []
    for config in git_config_paths():
        try:
            st = os.stat(config)
        except OSError:
            stats.append(None)
        else:
            stats.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev))
    return stats


def global_excludes_path() -> bytes | None:
    """git's global excludes file as the ignore crate finds it: `core.excludesFile` from
    ~/.gitconfig, else from $XDG_CONFIG_HOME/git/config, else $XDG_CONFIG_HOME/git/ignore
    (XDG_CONFIG_HOME defaulting to ~/.config).

    A daemon asks before every search (an edit of the config must show in the next one): the
    files are read again only when their stat changed, or changed less than _RACY_S before
    they were last read."""
    global _kept_excludes
    homes, stats = _homes(), _config_stats()
    kept = _kept_excludes
    if kept is not None and kept[:2] == (homes, stats):
        return kept[2]
    settled = time.time_ns() - int(_RACY_S * 1e9)
    path = _read_excludes_path()
    if all(s is None or max(s[0], s[1]) < settled for s in stats):
        _kept_excludes = (homes, stats, path)
    return path


def _read_excludes_path() -> bytes | None:
    """`global_excludes_path`, read from the config files."""
    home, config_home = _homes()
    for config in git_config_paths():
        try:
            with open(config, "rb") as f:
                m = _EXCLUDES_FILE.search(f.read())
        except OSError:
            continue
        if m:
            value = m.group(1).decode("utf-8", "surrogateescape")
            return os.fsencode(value.replace("~", home) if home else value)
    return os.fsencode(os.path.join(config_home, "git", "ignore")) if config_home else None


# The ignore crate's deliberately lazy reading of git config: any `excludesfile = ...` line
# (`\s` as its ASCII one: a `\r` or line breaks around the `=` and the value are fine).
_EXCLUDES_FILE = re.compile(rb'(?im)^\s*excludesfile\s*=\s*"?\s*(\S+?)\s*"?\s*$')
