"""Search options shared by the CLI, the Python API, the MCP server and the daemon.

Field names are ripgrep's long flag names in snake_case, so `--max-count` is `max_count`.

The option sets are NamedTuples, not dataclasses: every search builds them, and importing
`dataclasses` (with `inspect`, `ast`, `dis`...) took about a fifth of the CLI's import time.
Being tuples, they cannot change once built; `_replace` makes a changed copy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple

from trigrep.colors import DEFAULT_PALETTE, Palette

if TYPE_CHECKING:
    from trigrep.extract import Preprocessor
    from trigrep.hyperlink import Hyperlinks
    from trigrep.query.replace import Replacer

CaseMode = Literal["sensitive", "insensitive", "smart"]
# -t NAME, -T NAME, --type-add DEFINITION, --type-clear NAME: rg applies them in order.
TypeChange = tuple[Literal["select", "negate", "add", "clear"], str]


class MatchOptions(NamedTuple):
    """What counts as a match: the pattern(s) and the flags that change the regex."""

    patterns: Sequence[str]
    fixed_strings: bool = False
    case: CaseMode = "sensitive"  # -s / -i / -S; the last one given wins, as in rg
    word_regexp: bool = False
    line_regexp: bool = False
    invert_match: bool = False
    multiline: bool = False  # -U
    multiline_dotall: bool = False  # --multiline-dotall: with -U, `.` matches `\n` too
    unicode: bool = True  # --no-unicode: every pattern as if in `(?-u)`
    text: bool = False  # -a: a literal NUL in a pattern may match (rg refuses it otherwise)
    crlf: bool = False  # --crlf: `$` matches before `\r\n`, `^` after a `\r`, `.` takes no `\r`
    # --null-data: a NUL ends each line (no match holds one without -U); a `\n` is any byte
    # (the CLI also sets `text`, as rg: no NUL is binary)
    null_data: bool = False

    @property
    def eol(self) -> bytes:
        """What ends the lines searched."""
        return b"\0" if self.null_data else b"\n"


MmapChoice = Literal["auto", "always", "never"]


class WalkOptions(NamedTuple):
    """Which files are searched: rg's defaults plus the flags that narrow or widen the set."""

    globs: Sequence[str] = ()  # -g, in order; "!" prefix negates
    iglobs: Sequence[str] = ()  # --iglob: rg applies them after all -g
    glob_case_insensitive: bool = False  # --glob-case-insensitive: -g globs ignore case too
    type_changes: Sequence[TypeChange] = ()  # in command-line order
    hidden: bool = False  # --hidden
    no_ignore: bool = False  # --no-ignore: none of the following ignore files
    no_ignore_vcs: bool = False  # --no-ignore-vcs: no .gitignore, info/exclude, global excludes
    no_ignore_dot: bool = False  # --no-ignore-dot: no .ignore or .rgignore
    no_ignore_exclude: bool = False  # --no-ignore-exclude: no .git/info/exclude
    no_ignore_global: bool = False  # --no-ignore-global: no global git excludes
    no_ignore_parent: bool = False  # --no-ignore-parent: none from above the paths searched
    no_require_git: bool = False  # --no-require-git: .gitignore counts outside repositories
    # --ignore-file: gitignore-style files ranking below all others (even --no-ignore keeps
    # them), anchored at the cwd like the global excludes; the last one given wins
    ignore_files: Sequence[str] = ()
    search_zip: bool = False  # -z
    pre: Preprocessor | None = None  # --pre, --pre-glob: files read through a command
    # -E: how file bytes become the text searched, as a codec of `extract.encoding_codec`
    # ("auto": BOM sniffing, what the index holds; see `engine.index_narrows` for others)
    encoding: str = "auto"
    # --mmap (always), --no-mmap (never): whether rg memory-maps the files it searches, which
    # shows in how it handles a NUL (by default: only files named on the command line)
    mmap: MmapChoice = "auto"
    # --ignore-file-case-insensitive: the rules of ignore files (not --ignore-file's) ignore
    # the case of ASCII letters
    ignore_case_insensitive: bool = False
    follow: bool = False  # -L: symlinks are followed (loops and dangling links are errors)
    one_file_system: bool = False  # --one-file-system: no directory on another device than
    # the path searched (files still are, as rg)
    max_depth: int | None = None  # --max-depth: levels below each path given (0: just them)
    max_filesize: int | None = None  # --max-filesize: bigger files found by walking are left out
    glob_base: str | None = None  # directory that -g globs are relative to (rg: the cwd)
    # --sort/--sortr: files in path order (trigrep's order, also for --sort none) unless
    # sorted by another stat field, or in reverse
    sort_by: Literal["path", "modified", "accessed", "created"] = "path"
    sort_reverse: bool = False

    @property
    def filtered(self) -> bool:
        """True when globs or type selections narrow (or, by overriding, widen) the walk."""
        return bool(self.globs or self.iglobs) or any(
            kind in ("select", "negate") for kind, _ in self.type_changes
        )

    @property
    def is_default(self) -> bool:
        """True when the file set is exactly what the index holds (before glob/type filters)."""
        every_ignore_file = not (
            self.no_ignore or self.no_ignore_vcs or self.no_ignore_dot or self.no_ignore_exclude
            or self.no_ignore_global or self.no_ignore_parent or self.no_require_git)
        return (every_ignore_file and not self.ignore_files and not self.hidden
                and not self.ignore_case_insensitive
                and not self.follow and not self.one_file_system and self.max_depth is None
                and self.max_filesize is None
                and self.sort_by == "path" and not self.sort_reverse)


OutputMode = Literal[
    "lines", "files_with_matches", "files_without_match", "count", "count_matches", "quiet"
]


class OutputOptions(NamedTuple):
    """How matches are gathered per file (count limit, context) and printed."""

    mode: OutputMode = "lines"
    json: bool = False
    line_number: bool | None = None  # None: rg's default (on for a TTY)
    heading: bool | None = None  # None: rg's default (on for a TTY)
    null: bool = False  # --null: a NUL, not ':' or a newline, ends each path printed
    path_separator: bytes | None = None  # --path-separator: printed paths use it, not '/'
    column: bool = False  # --column: the column (1-based byte) of a line's first match
    vimgrep: bool = False  # --vimgrep: a line per match, with its line and column
    with_filename: bool | None = None  # -H/-I; None: rg's default (unless one file is named)
    # NUL bytes: "auto" as rg by default, "binary" (--binary, -uuu) treats walked files as
    # named ones, "text" (-a) sees a NUL as any other byte.
    binary: Literal["auto", "binary", "text"] = "auto"
    color: Literal["never", "auto", "always", "ansi"] = "auto"
    palette: Palette = DEFAULT_PALETTE  # --colors: what each painted piece starts with
    crlf: bool = False  # --crlf: lines the printer ends (and its separators) end in `\r\n`
    null_data: bool = False  # --null-data: lines end in NUL, and so does what the printer ends
    hyperlinks: Hyperlinks | None = None  # --hyperlink-format (printed when painting)
    only_matching: bool = False
    replace: Replacer | None = None  # -r: what a match prints as (see query.replace)
    max_count: int | None = None
    max_columns: int | None = None  # -M: lines longer (in bytes) print as a note; None: any
    max_columns_preview: bool = False  # -M's note is the line's start and what is left out
    byte_offset: bool = False  # -b: each line's (or -o match's) byte offset in the file
    trim: bool = False  # --trim: lines printed without their leading ASCII spaces
    context_separator: bytes | None = b"--"  # between context groups; None: no line at all
    field_match_separator: bytes = b":"  # after the path, line number... of a matching line
    field_context_separator: bytes = b"-"  # ... and of a context line
    include_zero: bool = False  # --include-zero: -c/--count-matches print files counting 0
    messages: bool = True  # False (--no-messages): files that cannot be read go unreported
    ignore_messages: bool = True  # False (--no-ignore-messages): nor errors in ignore files
    before_context: int = 0
    after_context: int = 0
    passthru: bool = False  # --passthru: every line of every file searched, matching or not
    # --stop-on-nonmatch: a file's search (line by line, never -U) ends at the first line that
    # is no match after one that is
    stop_on_nonmatch: bool = False
    stats: bool = False  # --stats: totals after the output (every file searched in full)
    # --line-buffered (True), --block-buffered (False); None: line-buffered on a terminal
    line_buffered: bool | None = None

    def shown_path(self, display_path: str) -> bytes:
        """A path as the text printers show it (--json shows paths as they are)."""
        return shown_path(display_path, self.path_separator)

    @property
    def eol(self) -> bytes:
        """What ends the lines searched."""
        return b"\0" if self.null_data else b"\n"

    @property
    def line_term(self) -> bytes:
        """What ends a line the printers end: one printed without its own terminator (a
        file's last), a separator, a heading, a summary line."""
        return b"\0" if self.null_data else b"\r\n" if self.crlf else b"\n"

    @property
    def counts_zero(self) -> bool:
        """--include-zero in a count mode (the only ones it changes): a file without a match
        prints its count too."""
        return self.include_zero and self.mode in ("count", "count_matches")

    # A summary mode keeps the first matching line too (the API's count=True yields it).
    first_line: bool = False


# How os.fsencode encodes a path: the printers encode each path so, without its Python call
# (0.8 of its 1.6 µs a path, under load).
FS_ENCODING, FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def shown_path(display_path: str, separator: bytes | None) -> bytes:
    """`display_path` with each `/` replaced by `separator` (--path-separator), if given."""
    path = display_path.encode(FS_ENCODING, FS_ERRORS)
    return path if separator is None else path.replace(b"/", separator)
