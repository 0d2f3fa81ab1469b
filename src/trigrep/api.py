"""The typed Python API: `Index(path).search(pattern, **rg_options)` yields `Match` objects.

Option names are rg's long flags in snake_case. Results are the same files, lines and spans
the CLI prints, in the same order, and just as fresh: the open index only narrows the files
to read, changed files are searched directly.
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trigrep.engine import (
    SearchRun,
    build_at,
    open_index,
    rebuilt,
    writing_index,
)
from trigrep.errors import Error, IndexCorruptError, IndexFormatError, PathError
from trigrep.index import IndexReader, IndexStats
from trigrep.index.format import MANIFEST_NAME, unreadable
from trigrep.options import (
    CaseMode,
    MatchOptions,
    OutputOptions,
    TypeChange,
    WalkOptions,
)
from trigrep.parallel import SharedSearchPool
from trigrep.query import compile_query
from trigrep.roots import INDEX_DIR_NAME, tree_root
from trigrep.searcher import LineEvent, MatchColumns
from trigrep.walk import REPORTED, check_filters, relative_path

if TYPE_CHECKING:
    from trigrep.server.tree import ServedTree


# A watched Index keeps at most this many of its directories made relative to its root.
KEPT_DIRECTORIES = 1 << 16


@dataclass(frozen=True)
class ContextLine:
    """A line printed around a match (-A/-B/-C)."""

    line_number: int
    line: str


@dataclass(frozen=True)
class Match:
    """One matching line (with -U, possibly several lines) of one file.

    `path` is relative to the index root. `byte_offset` is the line's offset in the file's
    searchable bytes; `submatches` are (start, end) byte spans within `line_bytes`. `count`
    is set only for `count=True` searches: what `rg -c` prints for the file (its matching lines;
    with `multiline`, its matches).
    """

    path: str
    line_number: int
    line_bytes: bytes
    byte_offset: int
    submatches: tuple[tuple[int, int], ...]
    before: tuple[ContextLine, ...] = ()
    after: tuple[ContextLine, ...] = ()
    count: int | None = None

    @property
    def line(self) -> str:
        """The line without its terminator, decoded as UTF-8 (invalid bytes replaced)."""
        return self.line_bytes.rstrip(b"\n").decode("utf-8", errors="replace")


def _text(event: LineEvent) -> str:
    return event.lines.rstrip(b"\n").decode("utf-8", errors="replace")


def _matches(path: str, events: list[LineEvent], before: int, after: int) -> Iterator[Match]:
    """A file's match events as Matches, each with the context lines within its reach.

    Each Match is built without the frozen dataclass's __init__, which sets its fields one
    object.__setattr__ at a time (a tenth of a search yielding many Matches): its __dict__ is
    set at once, in this loop rather than a function called for each."""
    context = [e for e in events if not e.is_match] if before or after else []
    numbers = [e.line_number for e in context]

    def lines(first: int, last: int) -> tuple[ContextLine, ...]:
        picked = context[bisect_left(numbers, first) : bisect_right(numbers, last)]
        return tuple(ContextLine(e.line_number, _text(e)) for e in picked)

    new, set_field = object.__new__, object.__setattr__
    for e in events:
        if e.is_match:
            number = e.line_number
            match = new(Match)
            set_field(match, "__dict__", {
                "path": path, "line_number": number, "line_bytes": e.lines,
                "byte_offset": e.offset, "submatches": tuple(e.submatches),
                "before": lines(number - before, number - 1) if context else (),
                "after": lines(e.last_line_number() + 1, e.last_line_number() + after)
                if context else (),
                "count": None})
            yield match


def _column_matches(path: str, columns: MatchColumns) -> Iterator[Match]:
    """A file's matches from a worker's columns (see FileResult.columns), built as
    `_matches` builds them."""
    new, set_field = object.__new__, object.__setattr__
    for number, offset, line, spans in zip(*columns, strict=True):
        match = new(Match)
        set_field(match, "__dict__", {
            "path": path, "line_number": number, "line_bytes": line, "byte_offset": offset,
            "submatches": spans, "before": (), "after": (), "count": None})
        yield match


class Index:
    """The trigram index of the tree at `path` (its root: where `.trigrep/` is, or will be)."""

    def __init__(self, path: str | os.PathLike[str] = ".", *, watch: bool = False) -> None:
        """`watch=True` keeps the tree warm in this process, as the daemon does: the first
        search walks the tree and starts a file watcher; later searches check only what it
        reported changed, instead of walking and checking every file. `close()` (or leaving
        a `with` block) stops the watcher."""
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise Error(f"path must be a string or a path, not {path!r}")
        path = os.fsdecode(path)
        if not os.path.isdir(path):
            raise PathError(f"{path}: not a directory")
        self.root = os.path.abspath(tree_root(path))
        self._reader: IndexReader | None = None
        self._manifest_stamp: tuple[int, int] | None = None
        self._watch = watch
        self._warm: ServedTree | None = None
        self._warm_directories: dict[str, str] = {}  # (see `_relative_paths`)
        self._pool = SharedSearchPool("fork")  # kept by warm searches between searches
        # What `glob` patterns are relative to: the root, but `trigrep mcp` serving one of
        # its subdirectories sets that directory, as rg run there sees them.
        self._glob_base = self.root

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the watcher and the worker processes (a later search starts them again)."""
        if self._warm is not None:
            self._warm.stop()
            self._warm = None
            self._warm_directories = {}
        self._pool.close()

    def _warm_tree(self) -> ServedTree | None:
        if not self._watch:
            return None
        if self._warm is None:
            from trigrep.server.tree import ServedTree

            self._open()  # built first: the watcher must not see the build's own writes
            # The workers too, now rather than in the first search that needs them (~20 ms
            # of it), and before the watcher's threads start and the walk fills the heap
            # they would inherit.
            self._pool.get()
            warm = ServedTree(os.path.realpath(self.root), self._pool)
            warm.start()
            self._warm = warm
        return self._warm

    def build(self) -> IndexStats:
        """Build (or rebuild) the index of the tree, replacing the previous one atomically."""
        with writing_index(self.root):
            build_at(self.root, progress=False)
        self._reader = None
        return self.stats()

    def stats(self) -> IndexStats:
        return self._open().stats()

    def _open(self) -> IndexReader:
        """The open reader, reopened when a build replaced the manifest since."""
        manifest = os.path.join(self.root, INDEX_DIR_NAME, MANIFEST_NAME)
        try:
            st = os.stat(manifest)
        except FileNotFoundError:
            with writing_index(self.root):  # (a read-only tree, a full disk: an Error)
                build_at(self.root, progress=False)
            st = os.stat(manifest)
        except OSError as e:  # (another user's .trigrep/)
            raise unreadable(os.path.dirname(manifest), "manifest", e) from None
        stamp = (st.st_mtime_ns, st.st_ino)
        if (self._reader is None or stamp != self._manifest_stamp
                or self._reader.written_since_open()):
            self._reader = open_index(self.root, build_if_missing=True)
            if self._reader is None:
                raise PathError(f"{self.root}: cannot build an index here (read-only?)")
            self._manifest_stamp = stamp
        return self._reader

    def _index_damaged(self, reader: IndexReader, damage: IndexCorruptError) -> None:
        """A search found the open index damaged (in a block it read first: postings, the
        file table): as the CLI does, say so in one line and rebuild it now; that search
        reads every file (a watched index is mended by its warm tree, in the background)."""
        self._reader = None
        rebuilt(self.root, damage)

    def _relative(self, directory: str, warm: ServedTree | None) -> str:
        """`directory` (the root itself, perhaps) relative to the root (a warm tree walks
        from the root's real path)."""
        if warm is not None and not os.path.join(directory, "").startswith(
                os.path.join(self.root, "")):
            return relative_path(directory, warm.root)
        return relative_path(directory, self.root)

    def _relative_paths(self, warm: ServedTree | None) -> Callable[[str], str]:
        """`_relative` for one search's files, each directory made relative once: 0.4 µs a
        file instead of `relative_path`'s 1.3, in a search yielding thousands of files. A
        warm tree's directories are kept for the searches after (they are its directories:
        a tenth of the API's own time in a search yielding 2,000 matches went to them)."""
        directories: dict[str, str] = self._warm_directories if warm is not None else {}
        if len(directories) > KEPT_DIRECTORIES:  # (directories come and go: build trees)
            directories.clear()

        def relative(path: str) -> str:
            directory, _, name = path.rpartition(os.sep)
            rel = directories.get(directory)
            if rel is None:
                rel = directories[directory] = self._relative(directory, warm)
            return name if rel == os.curdir else rel + os.sep + name

        return relative

    def search(
        self,
        pattern: str | Sequence[str],
        *,
        paths: str | Sequence[str] = (),
        fixed_strings: bool = False,
        ignore_case: bool = False,
        smart_case: bool = False,
        word_regexp: bool = False,
        line_regexp: bool = False,
        invert_match: bool = False,
        multiline: bool = False,
        multiline_dotall: bool = False,
        glob: str | Sequence[str] = (),
        iglob: str | Sequence[str] = (),
        glob_case_insensitive: bool = False,
        type: str | Sequence[str] = (),
        type_not: str | Sequence[str] = (),
        type_add: str | Sequence[str] = (),
        hidden: bool = False,
        no_ignore: bool = False,
        follow: bool = False,
        max_count: int | None = None,
        context: int = 0,
        before_context: int | None = None,
        after_context: int | None = None,
        files_with_matches: bool = False,
        count: bool = False,
    ) -> Iterator[Match]:
        """Matches in path order, as `rg --sort path` finds them.

        `pattern` may be a list (like several `-e`). `paths` are files or directories inside
        the tree, relative to its root (default: the whole tree); so are `glob` patterns.
        Type flags apply as `--type-add ... -t ... -T ...` (`type_not` wins over `type`).
        With `files_with_matches` one Match per file (its first matching line); with `count`,
        one per file with `count` set.
        """
        case: CaseMode = "insensitive" if ignore_case else "smart" if smart_case else "sensitive"
        patterns = _strings("pattern", pattern)
        paths, glob, iglob, type, type_not, type_add = (
            _strings(name, value) for name, value in [
                ("paths", paths), ("glob", glob), ("iglob", iglob), ("type", type),
                ("type_not", type_not), ("type_add", type_add),
            ]
        )
        for name, value in [("max_count", max_count), ("context", context),
                            ("before_context", before_context), ("after_context", after_context)]:
            if (value is not None or name == "context") and not (
                    isinstance(value, int) and value >= 0):
                raise Error(f"{name} must be a non-negative integer, not {value!r}")
        if not patterns:
            return  # as rg with no pattern (an empty -f file): nothing can match
        type_changes: list[TypeChange] = [
            *(("add", d) for d in type_add), *(("select", t) for t in type),
            *(("negate", t) for t in type_not),
        ]
        walk_opts = WalkOptions(
            globs=list(glob), iglobs=list(iglob), glob_case_insensitive=glob_case_insensitive,
            type_changes=type_changes, hidden=hidden, no_ignore=no_ignore, follow=follow,
            glob_base=self._glob_base,
        )
        check_filters(walk_opts)
        if max_count == 0:
            return  # as rg -m0: nothing searched, and no word of a bad pattern
        query = compile_query(MatchOptions(
            patterns, fixed_strings=fixed_strings, case=case, word_regexp=word_regexp,
            line_regexp=line_regexp, invert_match=invert_match, multiline=multiline,
            multiline_dotall=multiline_dotall,
        ))
        if files_with_matches:  # as rg -l: no context, whose matching lines would be Matches,
            context, before_context, after_context = 0, None, None  # and one line (none: -m 0)
            max_count = 1 if max_count is None else min(max_count, 1)
        out_opts = OutputOptions(  # `count` needs the first line too: it yields it
            mode="count" if count else "lines", first_line=count,
            max_count=max_count,
            before_context=context if before_context is None else before_context,
            after_context=context if after_context is None else after_context,
        )
        roots = [_under(self.root, p) for p in paths]
        for path, root in zip(paths, roots, strict=True):
            if os.path.commonpath([self.root, os.path.abspath(root)]) != self.root:
                raise PathError(f"{path}: outside the tree ({self.root})")
        roots = roots or [self.root]
        warm = self._warm_tree()
        run = SearchRun(roots, query, walk_opts, out_opts, reader=None if warm else self._open(),
                        warm=warm, on_damage=self._index_damaged)
        relative = self._relative_paths(warm)
        for entry, result in run.results():
            if (count or files_with_matches) and not result.summary_count():
                continue  # as rg -c and -l: with -U -v, inverted lines count for nothing
            if count and result.quit_at_nul:
                continue  # as rg -c
            rel = relative(entry.path)
            found = (_matches(rel, result.events, out_opts.before_context,
                              out_opts.after_context) if result.columns is None
                     else _column_matches(rel, result.columns))
            if count:
                first = next(found, None)
                if first is not None:  # (set in the Match just built: replace() took 10x
                    vars(first)["count"] = result.summary_count()  # the time to build it)
                    yield first
            else:
                yield from found
        errors = [e for e in run.errors if e != REPORTED]  # (those were warned of)
        if errors:
            raise Error(errors[0])


def _under(root: str, path: str) -> str:
    """`path` (relative to `root`) joined to it as rg run from `root` walks it, for the globs
    that see the walked paths relative to the root: rg strips a path's leading `./` (twice)
    before it matches `-g` globs, so `.` and `./src` are searched as the root and `src`
    (joined as they were, `src/*.c` selected nothing below them)."""
    for _ in range(2):
        if path.startswith("./") and not path.startswith(".//"):  # (`.//x` stays inside)
            path = path[2:]
    return root if path in (".", "") else os.path.join(root, path)


def _strings(name: str, value: str | Sequence[str]) -> list[str]:
    """An option of one string or several (a lone string is one value, not its letters)."""
    values = [value] if isinstance(value, str) else (
        list(value) if isinstance(value, (list, tuple)) else [None])
    if not all(isinstance(v, str) for v in values):
        raise Error(f"{name} must be a string or a list of strings, not {value!r}")
    return values


__all__ = ["ContextLine", "Error", "Index", "IndexFormatError", "Match"]
