"""`trigrep mcp [PATH]`: the tree at PATH served to AI agents over MCP (stdio).

Four read-only tools: `search`, `count`, `files`, `read`. Results are bounded for a model's
context (by default 100 results or about 20 kB of text, whichever comes first) and say how
much was left out and how to narrow. Failures a model can fix (bad regex, nothing found, a
path outside the tree) come back as tool errors with a hint, never as a server crash.

Security: every path argument is resolved, symlinks included, and refused unless it lands
inside the root; the walk never follows symlinks. So no tool returns bytes from outside.

When a daemon (`trigrep serve`) serves the tree, searches and listings run there, warm, as
the CLI's do: `Tree.matches` (the one place search results come from) sends the equivalent
`trigrep --json` argv and rebuilds the same `Match`es from rg's JSON messages. Otherwise, or
when the daemon declines, the `Index` kept open between calls answers. Either way results are
as fresh as the CLI's: files changed since the index was built are searched directly.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from trigrep import __version__
from trigrep.api import ContextLine, Index, Match, _matches
from trigrep.cli import NO_DAEMON_ENV
from trigrep.errors import Error, PatternError
from trigrep.options import WalkOptions
from trigrep.searcher import LineEvent
from trigrep.server import client
from trigrep.server.protocol import search_request
from trigrep.walk import check_filters, relative_path, walk

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000
MAX_TEXT_BYTES = 20_000  # text budget of one tool result, whatever max_results says
MAX_LINE_CHARS = 300  # longer lines (minified code, data) are clipped around the match
COUNT_OMITTED_UP_TO = 10_000  # past this many left-out results, stop counting them
READ_DEFAULT_LINES = 200
READ_LINES_LIMIT = 2000
READ_LINE_CHARS = 2000
BINARY_PROBE_BYTES = 8192

# Argument types: their descriptions are the JSON schema a model reads.
PatternArg = Annotated[str, Field(
    description="Regular expression (Rust regex syntax, as ripgrep), e.g. `fn\\s+parse_\\w+` or "
    "`TODO|FIXME`. Set fixed_strings to search for the text literally.")]
PathArg = Annotated[str | None, Field(
    description="File or directory to search, relative to the root (e.g. `src` or "
    "`src/main.py`). Default: the whole tree.")]
FixedStringsArg = Annotated[bool, Field(
    description="Treat the pattern as literal text, not a regex (no escaping needed).")]
IgnoreCaseArg = Annotated[bool, Field(description="Match case-insensitively.")]
SmartCaseArg = Annotated[bool, Field(
    description="Case-insensitive unless the pattern contains an uppercase letter.")]
WordRegexpArg = Annotated[bool, Field(
    description="Only match whole words (like grep -w).")]
GlobArg = Annotated[str | list[str] | None, Field(
    description="Only files whose path matches these globs, e.g. `*.py`, `src/**/*.ts`; "
    "a leading `!` excludes, e.g. `!*_test.go`.")]
IGlobArg = Annotated[str | list[str] | None, Field(
    description="Like `glob`, but ignoring case: `*.md` also selects `README.MD`.")]
TypeArg = Annotated[str | list[str] | None, Field(
    description="Only files of these ripgrep file types, e.g. `py`, `rust`, `js`, `c`, `go`, "
    "`java`, `md`.")]
ContextArg = Annotated[int, Field(
    ge=0, le=20, description="Lines of context to show before and after each match.")]
MaxResultsArg = Annotated[int, Field(
    ge=1, le=MAX_RESULTS_LIMIT,
    description="At most this many results (output is also capped at about 20 kB).")]
OptionalPatternArg = Annotated[str | None, Field(
    description="Only list files containing a match of this regex (same syntax as `search`).")]
ReadPathArg = Annotated[str, Field(description="The file to read, relative to the root.")]
StartLineArg = Annotated[int, Field(ge=1, description="First line to return (1-based).")]
EndLineArg = Annotated[int | None, Field(
    ge=1, description=f"Last line to return, inclusive. Default: start_line + "
    f"{READ_DEFAULT_LINES - 1}; at most {READ_LINES_LIMIT} lines per call.")]


class LineOut(BaseModel):
    line_number: int
    line: str


class MatchOut(LineOut):
    before: list[LineOut] = Field(default_factory=list, description="Context lines before.")
    after: list[LineOut] = Field(default_factory=list, description="Context lines after.")


class FileMatchesOut(BaseModel):
    path: str = Field(description="Relative to the root.")
    matches: list[MatchOut]


class Omission(BaseModel):
    """What a bounded result left out, so a model knows whether to narrow the query."""

    truncated: bool = Field(description="True when results were left out.")
    omitted_results: int = Field(description="Results left out.")
    omitted_is_lower_bound: bool = Field(
        description="True when counting stopped: at least omitted_results were left out.")
    hint: str | None = Field(description="How to see the rest or narrow the query.")


class SearchOut(Omission):
    files: list[FileMatchesOut]
    shown_matches: int


class FileCountOut(BaseModel):
    path: str
    count: int = Field(description="Matching lines in this file.")


class CountOut(Omission):
    files: list[FileCountOut]
    total_matching_lines: int
    total_files: int


class FilesOut(Omission):
    files: list[str] = Field(description="Paths relative to the root, in path order.")


class ReadOut(BaseModel):
    path: str
    start_line: int
    end_line: int = Field(description="Last line returned (start_line - 1 when none).")
    total_lines: int
    lines: list[str]
    truncated: bool = Field(description="True when the file goes on after end_line.")
    hint: str | None


def _printable(path: str) -> str:
    """A path as results show it: JSON text is UTF-8, so the bytes of a file name that is
    not (kept by `os.fsdecode` as lone surrogates) are shown as `\\xff` escapes."""
    if path.isascii():
        return path
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def _unescaped(path: str) -> str:
    """The file name `_printable` showed as `path`."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m[1], 16)]), path.encode())
    return os.fsdecode(raw)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _clip(text: str, focus: int = 0, limit: int = MAX_LINE_CHARS) -> str:
    """`text` cut to `limit` characters around character `focus`, saying how much was cut."""
    if len(text) <= limit:
        return text
    start = max(0, min(focus - limit // 4, len(text) - limit))
    end = start + limit
    head = f"[…{start} chars] " if start else ""
    tail = f" […{len(text) - end} chars]" if end < len(text) else ""
    return f"{head}{text[start:end]}{tail}"


def _match_line(m: Match) -> str:
    """The match's line, clipped so that its first match stays visible."""
    focus = 0
    if m.submatches:
        focus = len(m.line_bytes[: m.submatches[0][0]].decode("utf-8", errors="replace"))
    return _clip(m.line, focus)


def _context(lines: Iterable[ContextLine]) -> list[LineOut]:
    return [LineOut(line_number=c.line_number, line=_clip(c.line)) for c in lines]


@dataclass
class _FileBlock:
    """One file's shown matches, rendered like `rg --heading -n` (context merged, `--` gaps)."""

    path: str
    gaps_marked: bool  # rg prints `--` between non-adjacent lines only when showing context
    matches: list[MatchOut] = field(default_factory=list)
    lines: dict[int, str] = field(default_factory=dict)  # line number -> rendered line

    def add(self, match: MatchOut) -> int:
        """Add a match with its context; returns how many characters of text it added."""
        self.matches.append(match)
        added = 0 if self.lines else len(self.path) + 2
        entries = [(c, "-") for c in match.before] + [(match, ":")]
        for line, sep in entries + [(c, "-") for c in match.after]:
            rendered = f"{line.line_number}{sep}{line.line}"
            previous = self.lines.get(line.line_number)
            if previous is None or sep == ":":
                added += len(rendered) + 1 - (len(previous) + 1 if previous else 0)
                self.lines[line.line_number] = rendered
        return added

    def render(self) -> str:
        out = [self.path]
        last = None
        for number in sorted(self.lines):
            if self.gaps_marked and last is not None and number > last + 1:
                out.append("--")
            out.append(self.lines[number])
            last = number
        return "\n".join(out)


@dataclass
class _Bounded:
    """Counts what a bounded listing left out, up to COUNT_OMITTED_UP_TO."""

    omitted: int = 0
    omitted_files: set[str] = field(default_factory=set)  # only where results are lines
    stopped_counting: bool = False

    def leave_out(self, path: str | None = None) -> bool:
        """Record one left-out result (a line of `path`); False once counting should stop."""
        self.omitted += 1
        if path is not None:
            self.omitted_files.add(path)
        self.stopped_counting = self.omitted >= COUNT_OMITTED_UP_TO
        return not self.stopped_counting

    def omission(self, what: str, narrow: str) -> dict[str, Any]:
        """The Omission fields, with a hint worded for a model."""
        hint = None
        if self.omitted:
            more = "at least " if self.stopped_counting else ""
            unseen = len(self.omitted_files)
            where = (f" ({unseen}{'+' if self.stopped_counting else ''} "
                     f"{'file' if unseen == 1 else 'files'} not shown at all)" if unseen else "")
            hint = f"left out {more}{_plural(self.omitted, what)}{where}. {narrow}"
        return {"truncated": bool(self.omitted), "omitted_results": self.omitted,
                "omitted_is_lower_bound": self.stopped_counting, "hint": hint}


T = TypeVar("T")

_NARROW_LISTING = (f"Narrow with `path`, `glob` or `type`, or raise max_results "
                   f"(up to {MAX_RESULTS_LIMIT}).")


def _result(text: str, structured: BaseModel) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


def _no_match_error(pattern: str, *, fixed_strings: bool, ignore_case: bool,
                    narrowed: bool) -> ToolError:
    tips = []
    if not ignore_case:
        tips.append("ignore_case=true")
    if not fixed_strings and any(ch in pattern for ch in ".*+?()[]{}|\\^$"):
        tips.append("fixed_strings=true if the pattern is meant literally")
    if narrowed:
        tips.append("a wider path/glob/type")
    tips.append("a shorter or more general pattern")
    return ToolError(f"No matches for {pattern!r}. Try " + ", ".join(tips) + ".")


class _Declined(Exception):
    """The daemon gave no (complete) answer: no daemon, it declined, went away or failed."""


# `Index.search` options as the CLI's flags; -S before -i, since ignore_case wins in the API.
_FLAGS = {"fixed_strings": "-F", "smart_case": "-S", "ignore_case": "-i", "word_regexp": "-w"}
_LIST_OPTIONS = {"glob": "--glob", "iglob": "--iglob", "type": "--type"}
_DAEMON_OPTIONS = {*_FLAGS, *_LIST_OPTIONS, "context", "files_with_matches"}
_JSON = ["--json"]  # the output of `_json_matches`
_COUNTS = ["--count", "--with-filename", "--null"]  # the output of `_counts`


def _search_argv(pattern: str, sub: str, options: dict[str, Any], output: list[str]) -> list[str]:
    """Arguments for the `output` flags, finding from the root what `Index.search` would under
    `sub`. With files_with_matches, one match per file (-m 1).
    """
    unknown = set(options) - _DAEMON_OPTIONS
    if unknown:
        raise _Declined(f"no CLI flags for {sorted(unknown)}")
    argv = [*output, *(flag for name, flag in _FLAGS.items() if options.get(name))]
    for name, flag in _LIST_OPTIONS.items():
        argv += [f"{flag}={value}" for value in options.get(name, ())]
    if options.get("context"):
        argv.append(f"--context={options['context']}")
    if options.get("files_with_matches"):
        argv.append("--max-count=1")
    return [*argv, f"--regexp={pattern}", "--", *([] if sub == "." else [sub])]


def _json_bytes(value: dict[str, str]) -> bytes:
    """rg's JSON representation of some bytes (`text` when UTF-8, else base64 `bytes`)."""
    return value["text"].encode() if "text" in value else base64.b64decode(value["bytes"])


def _json_matches(lines: Iterable[bytes], context: int) -> Iterator[Match]:
    """The Matches `Index.search` yields, rebuilt from rg's JSON Lines messages; paths are as
    printed (relative to the working directory). A file's matches come with its `end`."""
    events: list[LineEvent] = []
    for line in lines:
        message = json.loads(line)
        kind, data = message["type"], message["data"]
        if kind == "begin":
            events = []
        elif kind in ("match", "context"):
            spans = [(s["start"], s["end"]) for s in data["submatches"]]
            events.append(LineEvent(kind == "match", data["line_number"],
                                    data["absolute_offset"], _json_bytes(data["lines"]), spans))
        elif kind == "end":
            yield from _matches(os.fsdecode(_json_bytes(data["path"])), events, context, context)


def _counts(lines: Iterable[bytes]) -> Iterator[tuple[str, int]]:
    """(path, count) from `rg --count --with-filename --null`'s lines (a line without a NUL
    is the start of a path holding a line break)."""
    held = b""
    for line in lines:
        path, nul, count = (held + line).rpartition(b"\0")
        if not nul:
            held += line + b"\n"
            continue
        held = b""
        yield os.path.normpath(os.fsdecode(path)), int(count)


class Tree:
    """The tree served: path confinement, the open index, and the four tools' logic."""

    def __init__(self, root: str) -> None:
        if not os.path.isdir(root):
            raise Error(f"{root}: not a directory")
        self.root = os.path.realpath(root)
        self._index = Index(self.root)  # (its root: where .trigrep/ is, perhaps above)
        self._index._glob_base = self.root  # globs are the tools', relative to this root
        # Tools run in worker threads; the index reader is not meant to be shared by them.
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Open (building on first use) the index now, so the first call does not wait; and
        start a daemon for a big tree, as a search of the CLI does (see `_daemon_lines`)."""
        with self._lock, suppress(Error, OSError):  # the first tool call reports it
            self._index.stats()
        if not os.environ.get(NO_DAEMON_ENV):
            client.serve_in_background(self.root)

    def resolve(self, path: str | None) -> str:
        """The real absolute path of `path` (relative to the root), refused if outside it."""
        if path is None or path in ("", "."):
            return self.root
        if os.path.isabs(path) or path.startswith("~"):
            raise ToolError(f"{path}: paths are relative to the root of the tree ({self.root}); "
                            "use e.g. `src/main.py`.")
        real = os.path.realpath(os.path.join(self.root, path))
        if not os.path.lexists(real) and "\\x" in path:  # a name `_printable` escaped
            real = os.path.realpath(os.path.join(self.root, _unescaped(path)))
        if os.path.commonpath([self.root, real]) != self.root:
            raise ToolError(f"{path}: outside the tree; only paths under its root are served.")
        if not os.path.exists(real):
            raise ToolError(f"{path}: no such file or directory under the root "
                            "(call `files` to see what exists).")
        return real

    def _relative(self, path: str) -> str:
        return relative_path(path, self.root)

    def matches(self, pattern: str, target: str, **options: Any) -> Iterator[tuple[str, Match]]:
        """(path relative to the root, match) for `Index.search` under `target`.

        The single source of search results: from the daemon serving the tree when one does,
        else from the open index.
        """
        def from_daemon(lines: Iterable[bytes]) -> Iterator[tuple[str, Match]]:
            for m in _json_matches(lines, options.get("context", 0)):
                yield os.path.normpath(m.path), m

        return self._answered(
            lambda: _search_argv(pattern, self._relative(target), options, _JSON), from_daemon,
            lambda: self._indexed(pattern, target, options))

    def counts(self, pattern: str, target: str, **options: Any) -> Iterator[tuple[str, int]]:
        """(path relative to the root, its count) as `rg -c` counts under `target`: from the
        daemon's `-c` (not from JSON messages for every match, which a pattern matching every
        line made take minutes), else from the open index."""
        def from_index() -> Iterator[tuple[str, int]]:
            for rel, m in self._indexed(pattern, target, {**options, "count": True}):
                assert m.count is not None
                yield rel, m.count

        return self._answered(
            lambda: _search_argv(pattern, self._relative(target), options, _COUNTS), _counts,
            from_index)

    def _indexed(self, pattern: str, target: str,
                 options: dict[str, Any]) -> Iterator[tuple[str, Match]]:
        """`Index.search` under `target`, with paths relative to the root."""
        index_root = self._index.root
        index_sub = os.path.relpath(target, index_root)
        paths = [] if index_sub == "." else [index_sub]
        for m in self._index.search(pattern, paths=paths, **options):
            yield self._relative(os.path.join(index_root, m.path)), m

    def _answered(self, argv: Callable[[], list[str]],
                  parse: Callable[[Iterable[bytes]], Iterator[T]],
                  local: Callable[[], Iterable[T]], end: bytes = b"\n") -> Iterator[T]:
        """What `parse` makes of the output of `trigrep ARGV` run by the daemon serving the tree;
        `local()`'s results instead when the daemon gives none (its failures are rerun here,
        so that they raise the local run's typed errors)."""
        given = False
        try:
            for item in parse(self._daemon_lines(argv(), end)):
                given = True
                yield item
            return
        except _Declined as e:
            if given:
                raise Error(str(e)) from None
        yield from local()

    def _daemon_lines(self, argv: list[str], end: bytes) -> Iterator[bytes]:
        """The output of `trigrep ARGV` run from the root by the daemon serving the tree, in
        pieces that each ended in `end`; raises _Declined when there is none, it declines,
        goes away or the search fails."""
        if os.environ.get(NO_DAEMON_ENV):
            raise _Declined(f"{NO_DAEMON_ENV} is set")
        connected = client.connect(self.root)
        if connected is None:
            # As after a search the CLI ran itself: a big tree gets a daemon for the next
            # calls (without one each call walks and stats the tree: 1.3-1.6 s for Linux's,
            # under a load of 5).
            client.serve_in_background(self.root)
            raise _Declined("no daemon serves the tree")
        served_root, _record, sock = connected
        answer = client.SearchAnswer(sock)
        pending = b""
        with closing(sock):  # closing it (the consumer stopped early) cancels the search
            request = search_request(argv, served_root, self.root, tty=False)
            if not client.send(served_root, sock, request):
                raise _Declined("the daemon does not answer")
            for data in answer:
                *lines, pending = (pending + data).split(end)
                yield from lines
        if answer.declined is not None:
            raise _Declined(answer.declined)
        if answer.exit is None:
            raise _Declined("the daemon stopped in the middle of the search")
        if answer.exit not in (0, 1):
            failure = answer.stderr.partition("\n")[0]
            raise _Declined(failure.removeprefix("trigrep: "))
        if pending:
            yield pending

    @staticmethod
    def _guarded(results: Iterable[tuple[str, T]]) -> Iterator[tuple[str, T]]:
        """`matches` or `counts`, with trigrep's errors turned into tool errors a model can
        act on."""
        try:
            for rel, found in results:
                yield _printable(rel), found
        except PatternError as e:
            raise ToolError(f"{e}. Escape regex metacharacters with `\\`, or set "
                            "fixed_strings=true to search for the text literally.") from None
        except Error as e:
            raise ToolError(str(e)) from None
        except OSError as e:  # e.g. a read-only tree where the index cannot be built
            raise ToolError(f"cannot search the tree: {e.strerror} ({e.filename})") from None

    def search(self, pattern: str, path: str | None, *, fixed_strings: bool, ignore_case: bool,
               smart_case: bool, word_regexp: bool, glob: list[str], iglob: list[str],
               type: list[str], context: int, max_results: int) -> CallToolResult:
        target = self.resolve(path)
        blocks: list[_FileBlock] = []
        bounded = _Bounded()
        shown = size = 0
        with self._lock:
            for rel, m in self._guarded(self.matches(
                pattern, target, fixed_strings=fixed_strings, ignore_case=ignore_case,
                smart_case=smart_case, word_regexp=word_regexp, glob=glob, iglob=iglob,
                type=type, context=context,
            )):
                if bounded.omitted or shown >= max_results or size >= MAX_TEXT_BYTES:
                    if not bounded.leave_out(rel):
                        break
                    continue
                if not blocks or blocks[-1].path != rel:
                    blocks.append(_FileBlock(rel, gaps_marked=context > 0))
                size += blocks[-1].add(MatchOut(
                    line_number=m.line_number, line=_match_line(m),
                    before=_context(m.before), after=_context(m.after),
                ))
                shown += 1
        if not blocks:
            raise _no_match_error(pattern, fixed_strings=fixed_strings, ignore_case=ignore_case,
                                  narrowed=bool(path or glob or iglob or type))
        bounded.omitted_files.difference_update(b.path for b in blocks)
        narrow = "Narrow with `path`, `glob`, `type` or a more specific pattern (`count` shows " \
                 "where the matches are)"
        if size < MAX_TEXT_BYTES:
            narrow += f", or raise max_results (up to {MAX_RESULTS_LIMIT})"
        out = SearchOut(
            files=[FileMatchesOut(path=b.path, matches=b.matches) for b in blocks],
            shown_matches=shown, **bounded.omission("matching line", narrow + "."),
        )
        text = "\n\n".join(b.render() for b in blocks)
        if out.hint:
            text += (f"\n\n[Showed {_plural(shown, 'matching line')} in "
                     f"{_plural(len(blocks), 'file')}; {out.hint}]")
        return _result(text, out)

    def count(self, pattern: str, path: str | None, *, fixed_strings: bool, ignore_case: bool,
              smart_case: bool, word_regexp: bool, glob: list[str], iglob: list[str],
              type: list[str], max_results: int) -> CallToolResult:
        target = self.resolve(path)
        files: list[FileCountOut] = []
        total = total_files = size = 0
        with self._lock:
            for rel, count in self._guarded(self.counts(
                pattern, target, fixed_strings=fixed_strings, ignore_case=ignore_case,
                smart_case=smart_case, word_regexp=word_regexp, glob=glob, iglob=iglob, type=type,
            )):
                total += count
                total_files += 1
                if len(files) < max_results and size < MAX_TEXT_BYTES:
                    files.append(FileCountOut(path=rel, count=count))
                    size += len(rel) + 8
        if not total_files:
            raise _no_match_error(pattern, fixed_strings=fixed_strings, ignore_case=ignore_case,
                                  narrowed=bool(path or glob or iglob or type))
        out = CountOut(
            files=files, total_matching_lines=total, total_files=total_files,
            **_Bounded(omitted=total_files - len(files)).omission("file", _NARROW_LISTING),
        )
        text = "\n".join(f"{f.path}:{f.count}" for f in files)
        text += (f"\n\nTotal: {_plural(total, 'matching line')} in "
                 f"{_plural(total_files, 'file')}.")
        if out.hint:
            text += f"\n[Listed {_plural(len(files), 'file')}; {out.hint}]"
        return _result(text, out)

    def files(self, pattern: str | None, path: str | None, *, glob: list[str],
              iglob: list[str], type: list[str], fixed_strings: bool, ignore_case: bool,
              smart_case: bool, word_regexp: bool, max_results: int) -> CallToolResult:
        target = self.resolve(path)
        listed: list[str] = []
        bounded = _Bounded()
        size = 0
        with self._lock:
            for rel in self._list(pattern, target, glob=glob, iglob=iglob, type=type,
                                  fixed_strings=fixed_strings, ignore_case=ignore_case,
                                  smart_case=smart_case, word_regexp=word_regexp):
                if bounded.omitted or len(listed) >= max_results or size >= MAX_TEXT_BYTES:
                    if not bounded.leave_out():
                        break
                    continue
                listed.append(rel)
                size += len(rel) + 1
        if not listed:
            if pattern is not None:
                raise _no_match_error(pattern, fixed_strings=fixed_strings,
                                      ignore_case=ignore_case,
                                      narrowed=bool(path or glob or iglob or type))
            raise ToolError("No files match. Check `glob`/`type`/`path`; hidden and "
                            "git-ignored files are not listed, as with ripgrep.")
        out = FilesOut(files=listed, **bounded.omission("file", _NARROW_LISTING))
        text = "\n".join(listed)
        if out.hint:
            text += f"\n\n[Listed {_plural(len(listed), 'file')}; {out.hint}]"
        return _result(text, out)

    def _list(self, pattern: str | None, target: str, *, glob: list[str], iglob: list[str],
              type: list[str], fixed_strings: bool, ignore_case: bool, smart_case: bool,
              word_regexp: bool) -> Iterator[str]:
        """Files under `target` as `rg --files` lists them, or only those `pattern` matches."""
        if pattern is not None:
            for rel, _ in self._guarded(self.matches(
                    pattern, target, glob=glob, iglob=iglob, type=type,
                    fixed_strings=fixed_strings, ignore_case=ignore_case,
                    smart_case=smart_case, word_regexp=word_regexp,
                    files_with_matches=True)):
                yield rel
            return
        sub = self._relative(target)
        argv = [*(f"--glob={g}" for g in glob), *(f"--iglob={g}" for g in iglob),
                *(f"--type={t}" for t in type), "--files", "--null", "--",
                *([] if sub == "." else [sub])]

        def from_daemon(names: Iterable[bytes]) -> Iterator[str]:
            return (os.path.normpath(os.fsdecode(name)) for name in names)

        def from_walk() -> Iterator[str]:
            opts = WalkOptions(globs=glob, iglobs=iglob,
                               type_changes=[("select", t) for t in type])
            check_filters(opts)
            for entry in walk([target], opts):
                yield self._relative(entry.path)

        try:
            yield from map(_printable, self._answered(lambda: argv, from_daemon, from_walk,
                                                      end=b"\0"))
        except Error as e:
            raise ToolError(str(e)) from None

    def read(self, path: str, start_line: int, end_line: int | None) -> CallToolResult:
        real = self.resolve(path)
        if os.path.isdir(real):
            raise ToolError(f"{path}: is a directory; call `files` with path={path!r} to list it.")
        last = min(end_line or start_line + READ_DEFAULT_LINES - 1,
                   start_line + READ_LINES_LIMIT - 1)
        if last < start_line:
            raise ToolError(f"end_line ({end_line}) is before start_line ({start_line}).")
        lines: list[str] = []
        total = size = 0
        try:
            with open(real, "rb") as f:
                if b"\0" in f.read(BINARY_PROBE_BYTES):
                    raise ToolError(f"{path}: binary file; `read` returns text only.")
                f.seek(0)
                for total, raw in enumerate(f, 1):
                    if start_line <= total <= last and size < MAX_TEXT_BYTES:
                        text = raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
                        lines.append(_clip(text, limit=READ_LINE_CHARS))
                        size += len(lines[-1]) + 8
        except OSError as e:
            raise ToolError(f"{path}: {e.strerror}") from None
        if start_line > max(total, 1):
            raise ToolError(f"{path} has only {total} lines; start_line must be at most that.")
        end = start_line + len(lines) - 1
        hint = None
        if end < total:
            hint = (f"Lines {start_line}-{end} of {total}. Call read with start_line={end + 1} "
                    "to continue.")
        out = ReadOut(path=_printable(self._relative(real)), start_line=start_line, end_line=end,
                      total_lines=total, lines=lines, truncated=end < total, hint=hint)
        text = "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(lines, start_line))
        if hint:
            text += f"\n\n[{hint}]"
        return _result(text, out)


INSTRUCTIONS = """\
trigrep searches the source tree at {root} like ripgrep (same regex syntax, .gitignore
respected, hidden files skipped), answered from a trigram index so it is fast on large trees
and never stale. All paths are relative to that root; nothing outside it is served.
Typical flow: `search` (or `count` first for common words) -> `read` around a hit.
`files` lists files by glob/type, or those containing a pattern.
Results are capped; a note at the end says what was left out and how to narrow."""

SEARCH_DESCRIPTION = """\
Search the tree for a regex (ripgrep syntax) and get matching lines grouped by file, with line
numbers, like `rg --heading -n`: `12:text` is a match, `13-text` context, `--` a gap.
Respects .gitignore; skips hidden and binary files. At most max_results matching lines (default
100) and about 20 kB of text are returned; a note at the end says how many were left out.
Structured content holds the same matches as JSON."""

COUNT_DESCRIPTION = """\
Count the lines matching a regex, per file (like `rg -c`) and in total. Cheap even for very
common patterns: use it to see how widespread something is, or where, before `search`."""

FILES_DESCRIPTION = """\
List the files that would be searched (like `rg --files`), under `path`, filtered by `glob` and
`type`; with `pattern`, only the files containing a match (like `rg -l`). Paths are in path
order, at most max_results (default 100)."""

READ_DESCRIPTION = f"""\
Read a range of lines of a text file under the root, each prefixed by its line number. Default:
{READ_DEFAULT_LINES} lines from start_line. Use it after `search` to see a match's surroundings;
the note at the end says how to continue."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def create_server(tree: Tree) -> MCPServer:
    """An MCP server whose four tools answer from `tree`."""
    server: MCPServer = MCPServer(
        "trigrep", version=__version__, log_level="WARNING",
        instructions=INSTRUCTIONS.format(root=tree.root),
    )

    def search(
        pattern: PatternArg, path: PathArg = None, fixed_strings: FixedStringsArg = False,
        ignore_case: IgnoreCaseArg = False, smart_case: SmartCaseArg = False,
        word_regexp: WordRegexpArg = False, glob: GlobArg = None, iglob: IGlobArg = None,
        type: TypeArg = None, context: ContextArg = 0,
        max_results: MaxResultsArg = DEFAULT_MAX_RESULTS,
    ) -> Annotated[CallToolResult, SearchOut]:
        return tree.search(
            pattern, path, fixed_strings=fixed_strings, ignore_case=ignore_case,
            smart_case=smart_case, word_regexp=word_regexp, glob=_as_list(glob),
            iglob=_as_list(iglob), type=_as_list(type), context=context, max_results=max_results,
        )

    def count(
        pattern: PatternArg, path: PathArg = None, fixed_strings: FixedStringsArg = False,
        ignore_case: IgnoreCaseArg = False, smart_case: SmartCaseArg = False,
        word_regexp: WordRegexpArg = False, glob: GlobArg = None, iglob: IGlobArg = None,
        type: TypeArg = None, max_results: MaxResultsArg = DEFAULT_MAX_RESULTS,
    ) -> Annotated[CallToolResult, CountOut]:
        return tree.count(
            pattern, path, fixed_strings=fixed_strings, ignore_case=ignore_case,
            smart_case=smart_case, word_regexp=word_regexp, glob=_as_list(glob),
            iglob=_as_list(iglob), type=_as_list(type), max_results=max_results,
        )

    def files(
        glob: GlobArg = None, iglob: IGlobArg = None, type: TypeArg = None,
        pattern: OptionalPatternArg = None,
        path: PathArg = None, fixed_strings: FixedStringsArg = False,
        ignore_case: IgnoreCaseArg = False, smart_case: SmartCaseArg = False,
        word_regexp: WordRegexpArg = False, max_results: MaxResultsArg = DEFAULT_MAX_RESULTS,
    ) -> Annotated[CallToolResult, FilesOut]:
        return tree.files(
            pattern, path, glob=_as_list(glob), iglob=_as_list(iglob), type=_as_list(type),
            fixed_strings=fixed_strings, ignore_case=ignore_case, smart_case=smart_case,
            word_regexp=word_regexp, max_results=max_results,
        )

    def read(
        path: ReadPathArg, start_line: StartLineArg = 1, end_line: EndLineArg = None,
    ) -> Annotated[CallToolResult, ReadOut]:
        return tree.read(path, start_line, end_line)

    for tool, description in ((search, SEARCH_DESCRIPTION), (count, COUNT_DESCRIPTION),
                              (files, FILES_DESCRIPTION), (read, READ_DESCRIPTION)):
        server.add_tool(tool, description=description, annotations=_READ_ONLY)
    return server


def serve(path: str) -> int:
    """Serve the tree at `path` over stdio until the client closes the connection."""
    tree = Tree(path)
    # rg matches `-g` globs against paths relative to its working directory, and so does the
    # walker: working from the root gives globs the meaning a model expects, whatever
    # directory the client started the server in.
    os.chdir(tree.root)
    threading.Thread(target=tree.warm_up, name="trigrep-warm-up", daemon=True).start()
    create_server(tree).run("stdio")
    return 0
