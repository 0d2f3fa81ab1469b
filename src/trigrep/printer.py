"""rg's printers: the standard text output, the summary modes (-c, -l, ...) and --json.

Each printer receives one `FileResult` per searched file, in output order, and writes rg's
exact bytes; `matched` then tells the caller whether rg would exit 0.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cached_property, partial
from itertools import chain
from typing import BinaryIO, NamedTuple, Protocol

from trigrep import hyperlink
from trigrep.colors import RESET
from trigrep.options import OutputOptions, shown_path
from trigrep.searcher import FileResult, LineEvent, Rendered, joined_output

_TRIMMED = b" \t\x0b\x0c\r"  # what --trim takes off a line's front (ASCII spaces but `\n`)
_TRIMMED_CRLF = b" \t\x0b\x0c"  # ... and with --crlf (never a byte of the line terminator)
_TRIMMED_NUL = b" \t\n\x0b\x0c\r"  # ... and with --null-data (all of them)
# rg's --max-columns-preview counts Unicode's extended grapheme clusters; `_graphemes_end`
# follows their main rules: marks extend a character, controls (and lone bytes) stand alone.
_MARK_CATEGORIES = frozenset({"Mn", "Me", "Mc"})
_SINGLE_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})  # Cs: a byte that is not UTF-8


class Printer(Protocol):
    """What the engine drives: one `file` call per searched file, then `finish`."""

    matched: bool
    # How worker processes may render each file's output ahead of `file` (which then writes
    # `FileResult.rendered`); None when the printer needs the line events themselves.
    file_format: FileFormat | None
    bytes_printed: int  # what --stats reports: only rg's standard printer counts its bytes

    def file(self, display_path: str, result: FileResult) -> None: ...

    def finish(self) -> None: ...


def use_color(choice: str, is_tty: bool, env: Mapping[str, str] | None = None) -> bool:
    """--color auto means colour on a terminal that is not `dumb`, unless NO_COLOR is set.

    `env` is the user's environment (a daemon prints for a client with its own); default ours.
    """
    if choice == "auto":
        env = os.environ if env is None else env
        return is_tty and env.get("TERM") != "dumb" and "NO_COLOR" not in env
    return choice in ("always", "ansi")


def make_printer(
    out: BinaryIO,
    opts: OutputOptions,
    *,
    with_filename: bool,
    is_tty: bool,
    env: Mapping[str, str] | None = None,
) -> Printer:
    """The printer rg would use for these options (summary modes win over --json)."""
    if opts.mode not in ("lines", "quiet"):
        return SummaryPrinter(out, opts, with_filename=with_filename, color=use_color(
            opts.color, is_tty, env))
    if opts.json:
        return JsonPrinter(out, opts)
    if opts.mode == "quiet":
        return SummaryPrinter(out, opts, with_filename=with_filename, color=False)
    return StandardPrinter(out, opts, with_filename=with_filename, is_tty=is_tty, env=env)


def _graphemes_end(text: bytes, count: int) -> int:
    """Where the first `count` graphemes of `text` end, in bytes: an ill-formed UTF-8 unit is
    one (as rg decodes them: see `_ill_formed_length`), `\\r\\n` is one, a control character is
    one, and any other character takes along the marks and joiners after it (and an emoji
    a joiner joins to an emoji, and a flag's second regional indicator)."""
    import unicodedata

    chars = text.decode("utf-8", "surrogateescape")
    i, n = 0, len(chars)
    while i < n and count > 0:
        first = chars[i]
        i += 1
        count -= 1
        if first == "\r" and chars[i : i + 1] == "\n":
            i += 1
        elif "\udc80" <= first <= "\udcff":  # a byte of ill-formed UTF-8
            i += _ill_formed_length(chars, i - 1) - 1
        elif unicodedata.category(first) not in _SINGLE_CATEGORIES:
            if _is_regional(first) and i < n and _is_regional(chars[i]):
                i += 1
            while i < n and (_extends(chars[i]) or (
                    chars[i - 1] == "\u200d" and _pictographic(first)
                    and _pictographic(chars[i]))):
                i += 1
    return len(chars[:i].encode("utf-8", "surrogateescape"))


def _ill_formed_length(chars: str, i: int) -> int:
    """How many of the escaped bytes from chars[i] make one ill-formed unit: the longest
    start of a UTF-8 sequence there (a lead byte and the continuation bytes it allows), or
    the byte alone (what Unicode calls a maximal subpart, which decoders, rg's too, turn
    into one U+FFFD)."""
    def byte(k: int) -> int:
        c = chars[k : k + 1]
        return ord(c) - 0xDC00 if c and "\udc80" <= c <= "\udcff" else -1

    lead = byte(i)
    if not 0xC2 <= lead <= 0xF4:
        return 1
    low = {0xE0: 0xA0, 0xF0: 0x90}.get(lead, 0x80)
    high = {0xED: 0x9F, 0xF4: 0x8F}.get(lead, 0xBF)
    if not low <= byte(i + 1) <= high:
        return 1
    length = 2
    while length < (2 if lead < 0xE0 else 3 if lead < 0xF0 else 4) and (
            0x80 <= byte(i + length) <= 0xBF):
        length += 1
    return length


def _pictographic(c: str) -> bool:
    """An emoji-like character (roughly Unicode's Extended_Pictographic), which a joiner
    (U+200D) joins to the one before it."""
    import unicodedata

    return c >= "\U0001f000" or unicodedata.category(c) == "So"


def _is_regional(c: str) -> bool:
    return "\U0001f1e6" <= c <= "\U0001f1ff"


def _extends(c: str) -> bool:
    """Joins the grapheme before it: a mark, a joiner, an emoji modifier or a tag."""
    import unicodedata

    return (unicodedata.category(c) in _MARK_CATEGORIES or c in "\u200c\u200d"
            or "\U0001f3fb" <= c <= "\U0001f3ff" or "\U000e0020" <= c <= "\U000e007f")


def _escaped(text: bytes) -> bytes:
    """`text` as a literal part of a %-format."""
    return text.replace(b"%", b"%%")


def _paint(text: bytes, spec: bytes | None) -> bytes:
    return spec + text + RESET if spec else text


_ESCAPES = None  # compiled on first use: colours and links, which rg counts as no byte printed


def _printed_length(body: bytes, painted: bool) -> int:
    """What --stats counts of `body`: rg's printer counts the bytes it writes through its
    colour writer, which leaves out the escapes of colours and links."""
    if not painted or b"\x1b" not in body:
        return len(body)
    global _ESCAPES
    if _ESCAPES is None:
        import re

        _ESCAPES = re.compile(rb"\x1b\[[0-9;]*m|\x1b\]8;;[^\x1b]*\x1b\\")
    return len(body) - sum(len(m) for m in _ESCAPES.findall(body))


class _Lead(NamedTuple):
    """What a file's printed lines start with: its painted path (None under a heading or
    without paths) and the link around it and the line's numbers (None: no link)."""

    path: bytes | None
    link: hyperlink.Link | None


def _merge_adjacent(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """rg paints back-to-back matches as one coloured run."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and merged[-1][1] == start and start != end:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class FileFormat:
    """How a printer turns one file's result into its output, which depends on nothing
    printed before: worker processes render files with it and ship bytes, not line events."""

    # Whether a result without line events may print something (a summary line).
    renders_without_events = False
    renders_in_windows = False  # has continued_output (see trigrep.stream)
    # Whether a worker ends the files it renders (their output as `ended` gives it): --json's
    ends_files = False

    @property
    def needs_spans(self) -> bool:
        """Whether match events must carry their submatch spans."""
        return False

    @property
    def needs_first_span_only(self) -> bool:
        """Whether, of the spans it needs, the first of each line is all it uses."""
        return False

    @property
    def needs_line_numbers(self) -> bool:
        """Whether line events must carry their line numbers (counting them reads every byte
        before the last match)."""
        return True

    @property
    def file_break(self) -> bytes:
        """What rg prints before a file's lines when some file printed before it."""
        return b""

    @property
    def renders_bare(self) -> bool:
        """Whether a text file's output (without a NUL or an error) is made from its matching
        lines' bytes alone, by `bare_output` (a worker then makes no events: see
        parallel.FileSearch)."""
        return False

    def render(self, display_path: str, result: FileResult) -> Rendered | None:
        """The file's output; None when it prints nothing and changes no exit code."""
        raise NotImplementedError

    @property
    def paints_bare(self) -> bool:
        """Whether a text file's output (without a NUL or an error) is made from its matching
        lines and their matches' spans alone, by `painted_output` (a worker then makes no
        events: see parallel.FileSearch)."""
        return False

    def painted_output(self, display_path: str, numbers: list[int], lines: list[bytes],
                       spans: list[list[tuple[int, int]]]) -> bytes:
        """The output of a text file whose matching lines are `lines`, at least one, their
        numbers `numbers` (0s if not numbered) and their matches at `spans` (see
        `paints_bare`)."""
        raise NotImplementedError

    @property
    def counts_bare(self) -> bool:
        """Whether a bare output needs only the count of the matching lines (rendered by
        `bare_count_output`), not their bytes (`bare_output`)."""
        return False

    # Whether a bare output has lines (see Rendered); it always has a match.
    bare_has_lines = False

    @property
    def bare_numbered(self) -> bool:
        """Whether a bare output numbers its lines (`bare_output` is given their numbers)."""
        return False

    def bare_output(self, display_path: str, lines: list[int | bytes],
                    numbered: bool = False, continued: bool = False) -> bytes:
        """The output of a text file whose matching lines are `lines`, at least one, each
        after its number if `numbered` (`bare_numbered`; see `renders_bare`); `continued`:
        more lines of a file whose lines were output before (a big file's: no heading)."""
        raise NotImplementedError

    def bare_count_output(self, display_path: str, count: int) -> bytes:
        """The output of a text file holding `count` matching lines, at least one (see
        `counts_bare`)."""
        raise NotImplementedError

    def continued_output(self, display_path: str, result: FileResult, after_line: int,
                         matched: bool) -> Rendered | None:
        """The output of more lines of a file whose lines rendered so far ended at line
        `after_line`, a match among them if `matched` (see `renders_in_windows`)."""
        raise NotImplementedError

    def output(self, display_path: str, result: FileResult) -> Rendered | None:
        """The file's output, as a worker rendered it already or rendered now."""
        if result.rendered is not None:
            return result.rendered
        if result.events or self.renders_without_events:
            return self.render(display_path, result)
        return None

    def joined(self, first: Rendered, rest: list[Rendered]) -> Rendered:
        """The output of consecutive files as one: what the printer would write for them,
        but the break before the first (which depends on the files before them)."""
        body: list[bytes | list[bytes]] = [first.body]
        has_lines, written = first.has_lines, bool(first.body)
        for rendered in rest:
            if rendered.has_lines:
                if written:
                    body.append(self.file_break)
                else:  # the run's first output: the printer decides the break before it
                    has_lines = True
            body.append(rendered.body)
            written = written or bool(rendered.body)
        has_match = first.has_match or any(r.has_match for r in rest)
        return Rendered(joined_output(body), has_match, has_lines)


class LineFormat(FileFormat):
    """How rg prints one file's lines."""

    renders_in_windows = True

    def __init__(self, opts: OutputOptions, with_filename: bool, heading: bool,
                 line_number: bool, color: bool, continued: tuple[int, bool] | None = None
                 ) -> None:
        self.opts = opts
        self.with_filename = with_filename
        self.heading = heading
        self.line_number = line_number
        self.color = color
        # The lines continue the file's lines printed before (standard input as it arrives):
        # the number of the last of those and whether one was a match; no heading again.
        self.continued = continued

    @property
    def needs_spans(self) -> bool:
        """Whether match events must carry their submatch spans: to paint, print (one
        --vimgrep line each), replace or count (--stats) them."""
        return (self.paints_matches or self.opts.only_matching or self.opts.column
                or self.opts.vimgrep or self.opts.replace is not None or self.opts.stats)

    @property
    def needs_first_span_only(self) -> bool:
        """--column alone prints the first match's column (--max-columns' note counts them)."""
        opts = self.opts
        return opts.column and not (
            self.paints_matches or opts.only_matching or opts.vimgrep
            or opts.replace is not None or opts.stats or opts.max_columns)

    @property
    def paints_matches(self) -> bool:
        """Colour with a style for matches (`match:none` leaves rg's printer unaware of
        them, unless something else needs them)."""
        return self.color and self.opts.palette.match is not None

    @property
    def needs_line_numbers(self) -> bool:
        """To print them, or to see the gaps between context lines."""
        return self.line_number or self.has_context

    @property
    def has_context(self) -> bool:
        return self.opts.before_context > 0 or self.opts.after_context > 0

    @property
    def file_break(self) -> bytes:
        """A blank line under headings, the context separator with context, else nothing."""
        return self.term if self.heading else self.context_break if self.has_context else b""

    @property
    def context_break(self) -> bytes:
        """The line between context groups (none with --no-context-separator)."""
        sep = self.opts.context_separator
        return b"" if sep is None else sep + self.term

    @property
    def term(self) -> bytes:
        """What ends a line the printer ends (one printed without its own terminator)."""
        return self.opts.line_term

    def _ended(self, line: bytes) -> bytes:
        eol, term = self._line_ends
        return line if line.endswith(eol) else line + term

    @cached_property
    def _line_ends(self) -> tuple[bytes, bytes]:
        """(what ends the lines searched, what ends one the printer ends): properties of the
        options, looked up for each file's last line."""
        return self.opts.eol, self.term

    def _reterminated(self, line: bytes) -> bytes:
        """--crlf: a line of a -U match that rg prints by its matches (painted, replaced,
        with a column, one per match) ends in `\\r\\n`, whatever its own terminator."""
        if not (self.opts.crlf and line.endswith(b"\n")):
            return line
        return line[: -2 if line.endswith(b"\r\n") else -1] + self.term

    def _link(self, display_path: str) -> hyperlink.Link | None:
        """The file's hyperlink: rg links a path it prints, when it paints."""
        links = self.opts.hyperlinks
        if links is None or not (self.color and self.with_filename):
            return None
        return links.start(os.fsdecode(self.opts.shown_path(display_path)))

    def _spec(self, spec: bytes | None) -> bytes | None:
        return spec if self.color else None

    def render(self, display_path: str, result: FileResult) -> Rendered | None:
        """The file's output; None when rg prints nothing for it."""
        cut = result.text_cut
        events = result.events[:cut]
        # rg counts the match it stops at (and prints the break before it), not context.
        counted = result.events if cut is None else result.events[: cut + 1]
        has_match = any(e.is_match for e in counted)
        last_line, matched_before = self.continued or (None, False)
        binary_note = (has_match or matched_before) and result.binary_offset is not None and (
            not result.cut_short)
        if not events and not binary_note:
            return None
        path, link = self._painted_path(display_path)
        chunks: list[bytes] = []
        if self.heading and self.with_filename and events and self.continued is None:
            chunks.append(self._heading(path, link))
        lead = _Lead(path if self.with_filename and not self.heading else None, link)
        has_context = self.has_context
        spread = False
        if self.renders_bare and not result.multiline:
            if events:
                lines: list[int | bytes] = (
                    [*chain.from_iterable((e.line_number, e.lines) for e in events)]
                    if self.line_number else [e.lines for e in events])
                chunks.append(self._bare_lines(lead.path, lines, self.line_number))
        elif whole_lines := self._whole_lines(lead, result.multiline):
            if has_context:
                for i, event in enumerate(events):
                    if self._breaks_before(event, i, last_line, result):
                        chunks.append(self.context_break)
                    last_line = event.line_number
                    chunks.append(whole_lines(event))
            else:  # (the usual -n output: one format per line)
                chunks += map(whole_lines, events)
            if events:
                chunks[-1] = self._ended(chunks[-1])  # only a file's last line may lack one
        else:  # (the one way to print a line more than once: a big output stays in pieces)
            spread = True
            for i, event in enumerate(events):
                if has_context:
                    if self._breaks_before(event, i, last_line, result):
                        chunks.append(self.context_break)
                    last_line = event.last_line_number(self.opts.eol)
                # (rg prints a -U search's context lines as a line-by-line search's: an
                # inverted one's empty matches too, with -o)
                chunks.extend(self._event(self._replaced(event), lead,
                                          result.multiline and event.is_match))
        at_cut = result.events[cut] if cut is not None and cut < len(result.events) else None
        if has_context and last_line and (
                result.quit_break or (at_cut and at_cut.line_number > last_line + 1)):
            chunks.append(self.context_break)
        if binary_note:
            linked = path if link is None else link.at(1, 1) + path + hyperlink.END
            chunks.append(self._binary_note(result, linked))
        # The body is empty when -o found only empty matches (-U prints none): rg still puts
        # a break before them, if anything was printed before.
        body = joined_output(chunks) if spread else b"".join(chunks)
        return Rendered(body, has_match, bool(events))

    @property
    def renders_bare(self) -> bool:
        """Matches without context or spans, each one line ending in a newline (but perhaps
        the file's last): the lines need only the path and perhaps the number before each
        (most searches), if that path is not a link."""
        opts = self.opts
        return not (self.has_context or self.needs_spans or opts.byte_offset
                    or opts.trim or opts.max_columns or opts.passthru
                    or (opts.hyperlinks is not None and self.color and self.with_filename))

    bare_has_lines = True

    @property
    def bare_numbered(self) -> bool:
        return self.line_number

    def bare_output(self, display_path: str, lines: list[int | bytes],
                    numbered: bool = False, continued: bool = False) -> bytes:
        spec, heading_end, with_lead = self._bare_parts
        path = _paint(shown_path(display_path, self.opts.path_separator), spec)
        body = self._bare_lines(path if with_lead else None, lines, numbered)
        return body if heading_end is None or continued else path + heading_end + body

    @cached_property
    def _bare_parts(self) -> tuple[bytes | None, bytes | None, bool]:
        """(the path's colour (None: none), what ends its heading (None: no heading), whether
        each line follows the path) of every `bare_output`: looked up for each file (as
        `_painted_path` and `_heading` do), they cost 5,300 instructions a file (a worker's
        part of 'static inline' -g '*.h' on the Linux tree, 6,622 files rendered: 6 % of
        its instructions)."""
        spec = self._spec(self.opts.palette.path)
        heads = self.heading and self.with_filename and self.continued is None
        heading_end = self._heading_end if heads else None
        return spec or None, heading_end, self.with_filename and not self.heading

    @property
    def paints_bare(self) -> bool:
        """Matches painted, each line printed whole after its path and number: what render()
        prints with `_whole_lines`' painting formats, without context, links (around a
        heading or a path before each line) or a field per match (a terminal's output)."""
        opts = self.opts
        return self.paints_matches and self._prints_lines_whole and not (
            self.has_context or opts.only_matching or opts.column or opts.stats
            or (opts.hyperlinks is not None and self.with_filename))

    def painted_output(self, display_path: str, numbers: list[int], lines: list[bytes],
                       spans: list[list[tuple[int, int]]]) -> bytes:
        """render()'s output of these lines' events, without the events (nor a result and
        checks a file): one %-format for all the lines, as `_bare_lines`. A terminal's
        searches of the Linux tree through a daemon, against one making events: 'static
        inline' -g '*.h' 0.72-0.78x the time, -w kmalloc_array 0.71-0.79x."""
        spec, heading_end, with_lead = self._bare_parts
        path = _paint(shown_path(display_path, self.opts.path_separator), spec)
        line_format = self._line_fields[self.opts.field_match_separator, False]
        if with_lead:
            line_format = _escaped(path + self._bare_formats[0]) + line_format
        painted = map(self._match_painter(), lines, spans)
        fields = (tuple(chain.from_iterable(zip(numbers, painted, strict=True)))
                  if self.line_number else tuple(painted))
        body = self._ended((line_format * len(lines)) % fields)
        return body if heading_end is None else path + heading_end + body

    def _painted_path(self, display_path: str) -> tuple[bytes, hyperlink.Link | None]:
        """The file's path as its lines show it, and its link (None: none)."""
        path = _paint(self.opts.shown_path(display_path), self._spec(self.opts.palette.path))
        return path, self._link(display_path)

    def _heading(self, path: bytes, link: hyperlink.Link | None) -> bytes:
        linked = path if link is None else link.at(1, 1) + path + hyperlink.END
        return linked + self._heading_end

    @cached_property
    def _heading_end(self) -> bytes:
        return b"\0" if self.opts.null else self.term

    def _bare_lines(self, lead: bytes | None, lines: list[int | bytes],
                    numbered: bool = False) -> bytes:
        """Lines printed whole after the path `lead` (None: none), each after its number
        in `lines` if `numbered` (see `renders_bare`)."""
        lead_end, numbered_format = self._bare_formats
        if numbered:
            # One %-format for all the lines: a format per line (as `_whole_lines`) took 1.7
            # times as long.
            line_format = (numbered_format if lead is None
                           else _escaped(lead + lead_end) + numbered_format)
            return self._ended((line_format * (len(lines) >> 1)) % tuple(lines))
        if lead is None:
            return self._ended(b"".join(lines))
        before = lead + lead_end
        return self._ended(before.join([b"", *lines]))  # (one copy of the lines, not two)

    @cached_property
    def _bare_formats(self) -> tuple[bytes, bytes]:
        """(what follows the path on a bare line, the %-format of a numbered bare line after
        its path): the same for every file of a search, made once (as `_template` made it for
        each file, it was half of what a file printing a line or two cost a worker)."""
        sep = self.opts.field_match_separator
        return self._path_end(sep), self._template(
            None, sep, self._number_field(self.opts.palette.line))

    @property
    def _prints_lines_whole(self) -> bool:
        """Whether the options print each line whole, after its path and numbers (see
        `_whole_lines`): no line per match, nor a line cut, replaced or passed through."""
        opts = self.opts
        return not (opts.vimgrep or (opts.column and opts.only_matching) or opts.byte_offset
                    or opts.trim or opts.max_columns or opts.replace is not None
                    or opts.passthru)

    @staticmethod
    def _breaks_before(event: LineEvent, index: int, last_line: int | None,
                       result: FileResult) -> bool:
        """rg breaks before a line past a gap (but the one `unbroken`); a -U search can go
        back a line (see searcher._MultiLine), which is never a break."""
        return (last_line is not None and event.line_number > last_line + 1
                and index != result.unbroken)

    def _whole_lines(self, lead: _Lead, across_lines: bool
                     ) -> Callable[[LineEvent], bytes] | None:
        """How each event is printed when every one is a single line printed whole after its
        path and number (painted or not, its matches painted or not), the terminator left to
        the caller; None when that is not so. One %-format per line: `_event`'s general
        assembly (for -o, -o --column, -b, --trim, --max-columns, -r, links) costs 2 µs more a
        line, most of a worker's time in searches that print many lines."""
        opts = self.opts
        if across_lines or lead.link is not None or not self._prints_lines_whole:
            return None
        fields, path = self._line_fields, lead.path

        def template(sep: bytes, with_column: bool = False) -> bytes:
            head = b"" if path is None else _escaped(path + self._path_end(sep))
            return head + fields[sep, with_column]

        context_sep, match_sep = opts.field_context_separator, opts.field_match_separator
        formats = (template(context_sep), template(match_sep))
        numbered = self.line_number
        if opts.only_matching:
            return partial(self._matches_alone, formats, numbered)
        if opts.column:
            return partial(self._with_column, formats,
                           (template(context_sep, True), template(match_sep, True)), numbered)
        if self.paints_matches:
            paint = self._match_painter()
            if numbered:
                return lambda e: (formats[e.is_match]
                                  % (e.line_number, paint(e.lines, e.submatches)))
            return lambda e: formats[e.is_match] % paint(e.lines, e.submatches)
        if numbered:
            return lambda e: formats[e.is_match] % (e.line_number, e.lines)
        return lambda e: formats[e.is_match] % e.lines

    @cached_property
    def _line_fields(self) -> dict[tuple[bytes, bool], bytes]:
        """The %-formats of what follows the path on a whole line (see `_whole_lines`), by
        its separator and whether it has a column: the same for every file, made once (made
        for each file, they were 4 % of a worker's instructions in --color always
        kmalloc_array on the Linux tree, 8,600 a file)."""
        opts = self.opts
        number = self._number_field(opts.palette.line) if self.line_number else b""
        column = self._number_field(opts.palette.column) if opts.column else b""
        return {(sep, with_column): self._template(None, sep, number, column if with_column
                                                   else b"")
                for sep in (opts.field_context_separator, opts.field_match_separator)
                for with_column in (False, True)}

    def _template(self, path: bytes | None, sep: bytes, *fields: bytes) -> bytes:
        """The %-format of a line printed whole after `path` (None: none) and the numbers
        whose formats are `fields` (empty ones left out), each followed by `sep`."""
        head = b"" if path is None else path + self._path_end(sep)
        return _escaped(head) + b"".join(f + _escaped(sep) for f in fields if f) + b"%s"

    def _number_field(self, spec: bytes | None) -> bytes:
        """The format of a number before a line (line, column), painted with `spec`."""
        spec = self._spec(spec)
        return _escaped(spec) + b"%d" + RESET if spec else b"%d"

    def _with_column(self, formats: tuple[bytes, bytes], columned: tuple[bytes, bytes],
                     numbered: bool, event: LineEvent) -> bytes:
        """--column (see `_whole_lines`): the first match's column, on a line with one."""
        body = self._painted(event) if self.paints_matches else event.lines
        number = (event.line_number,) if numbered else ()
        if not event.submatches:
            return formats[event.is_match] % (*number, body)
        return columned[event.is_match] % (*number, event.submatches[0][0] + 1, body)

    def _matches_alone(self, formats: tuple[bytes, bytes], numbered: bool, event: LineEvent
                       ) -> bytes:
        """-o (see `_whole_lines`): each match on its own line, painted; an event without
        any (-v) is its whole line."""
        line_format = formats[event.is_match]
        lines, spec = event.lines, self._spec(self.opts.palette.match)
        pieces = [lines[start:end] for start, end in event.submatches] or [lines]
        if spec is not None and event.submatches:
            pieces = [spec + piece + RESET if piece else piece for piece in pieces]
        pieces = [self._ended(piece) for piece in pieces]
        if numbered:
            return b"".join([line_format % (event.line_number, piece) for piece in pieces])
        return b"".join([line_format % piece for piece in pieces])

    def _painted(self, event: LineEvent) -> bytes:
        lines = event.lines
        return self._paint_line(lines, 0, event.submatches) if event.submatches else lines

    def _match_painter(self) -> Callable[[bytes, list[tuple[int, int]]], bytes]:
        """How a file's lines are painted whole (`_painted`'s work): a line of one match
        (most lines a terminal shows) in one join, the style and the line's end looked up
        once (`_paint_line` took half of a worker's time for the 57,000 lines of 'static
        inline' -g '*.h' in a terminal on the Linux tree). Made for each file, not kept: a
        format goes to the workers pickled, which a function of its own would forbid."""
        spec, eol, paint_line = self.opts.palette.match, self.opts.eol, self._paint_line
        if spec is None or self.opts.crlf:
            return lambda line, spans: paint_line(line, 0, spans) if spans else line

        def paint(line: bytes, spans: list[tuple[int, int]]) -> bytes:
            if len(spans) != 1:
                return paint_line(line, 0, spans) if spans else line
            (start, end), = spans
            end = min(end, len(line) - line.endswith(eol))  # (the terminator is not painted)
            if end <= start:
                return line
            return b"".join((line[:start], spec, line[start:end], RESET, line[end:]))

        return paint

    def continued_output(self, display_path: str, result: FileResult, after_line: int,
                         matched: bool) -> Rendered | None:
        """The output of more lines of a file whose lines rendered so far ended at line
        `after_line`, a match among them if `matched` (a file searched window by window, see
        trigrep.stream): no heading again, a context break before a gap, and once a NUL is
        met, rg's note that the file matches even if the matches came before it."""
        return LineFormat(self.opts, self.with_filename, self.heading, self.line_number,
                          self.color, continued=(after_line, matched)).render(display_path, result)

    def _replaced(self, event: LineEvent) -> LineEvent:
        """-r: the event as rg prints it, each match replaced (context lines with -v hold
        matches too); its breaks were decided from the original."""
        if self.opts.replace is None or not event.submatches:
            return event
        lines, spans = self.opts.replace.replaced(event.lines, event.submatches)
        return LineEvent(event.is_match, event.line_number, event.offset, lines, spans)

    def _binary_note(self, result: FileResult, path: bytes) -> bytes:
        what = (
            b"WARNING: stopped searching binary file after match"
            if result.binary_mode.quits
            else b"binary file matches"
        )
        note = what + b' (found "\\0" byte around offset %d)\n' % result.binary_offset
        return path + b": " + note if self.with_filename else note

    def _path_end(self, sep: bytes) -> bytes:
        """What follows a path before the line: `sep`, or a NUL with --null."""
        return b"\0" if self.opts.null else sep

    def _prefix(
        self, lead: _Lead, number: int, sep: bytes, column: int | None, offset: int,
        at: int = 1,
    ) -> bytes:
        """What goes before a printed line: path, line number, column, byte offset (each as
        asked for), each followed by the separator of matching or of context lines. With a
        link, rg links them all but that last separator, to the line (if numbered) and the
        column `at`."""
        parts = b""
        if lead.path is not None:
            parts += lead.path + self._path_end(sep)
        if self.line_number:
            parts += _paint(b"%d" % number, self._spec(self.opts.palette.line)) + sep
        if column is not None:
            parts += _paint(b"%d" % column, self._spec(self.opts.palette.column)) + sep
        if self.opts.byte_offset:
            parts += _paint(b"%d" % offset, self._spec(self.opts.palette.column)) + sep
        if lead.link is None or (lead.path is None and not lead.link.has_line):
            return parts
        numbered = self.line_number or column is not None or self.opts.byte_offset
        tail = len(sep if numbered else self._path_end(sep) if lead.path is not None else b"")
        start = lead.link.at(number if self.line_number else 1, at)
        return start + parts[: len(parts) - tail] + hyperlink.END + parts[len(parts) - tail :]

    def _trimmed(self, text: bytes) -> int:
        """How many bytes --trim takes off the front of `text` (ASCII spaces, not the line
        terminator's)."""
        if not self.opts.trim:
            return 0
        spaces = (_TRIMMED_NUL if self.opts.null_data else _TRIMMED_CRLF if self.opts.crlf
                  else _TRIMMED)
        return len(text) - len(text.lstrip(spaces))

    def _event(self, event: LineEvent, lead: _Lead, across_lines: bool) -> list[bytes]:
        opts = self.opts
        sep = opts.field_match_separator if event.is_match else opts.field_context_separator
        lines = event.lines
        if not event.submatches:
            body = lines[self._trimmed(lines) :]
            if self._too_long(body):
                body = self._cut(event, body, 0, len(body), [])
            return [self._prefix(lead, event.line_number, sep, None, event.offset)
                    + self._ended(body)]
        if opts.only_matching:
            return [
                self._prefix(lead, number, sep, column, event.offset + start, start + 1)
                + self._ended(piece)
                for number, piece, column, start in self._split_match(event, across_lines)
            ]
        if opts.vimgrep:
            return self._vimgrep_lines(event, lead, sep, across_lines)
        # --column: the first match's, on each line of the event (also the lines after the
        # first of a -U match).
        first = event.submatches[0][0] + 1
        return self._colored_lines(event, lead, sep, first if opts.column else None, first,
                                   across_lines)

    def _split_match(
        self, event: LineEvent, across_lines: bool
    ) -> list[tuple[int, bytes, int | None, int]]:
        """-o: each submatch, one output line per line it covers (-U), with the column (if
        --column) on each: where the submatch starts, counted from the event's start as rg
        does (so a -U match on the second line of an event has a column past that line's);
        and that start, from which -b counts the offset of every piece of the submatch."""
        pieces = []
        lines, eol = event.lines, self.opts.eol
        for start, end in event.submatches:
            # (searched line by line, an event is one line, whatever -r puts in it)
            number = event.line_number + (lines.count(eol, 0, start) if across_lines else 0)
            column = start + 1 if self.opts.column else None
            parts = lines[start:end].split(eol) if across_lines else [lines[start:end]]
            ended = len(parts) - 1  # the pieces a `\n` follows
            if len(parts) > 1 and parts[-1] == b"":
                parts.pop()
            part_start = start
            for index, whole in enumerate(parts):
                # --crlf: a `\r` before the `\n` (in the match or after it) is the rest of
                # the line's terminator
                part = whole[:-1] if (self.opts.crlf and whole.endswith(b"\r") and (
                    index < ended or lines.startswith(eol, part_start + len(whole)))) else whole
                # --trim: rg trims line by line any match; across lines, each line's leading
                # spaces, which a piece starting in them loses (all of them: no piece).
                trimmed = 0
                if not across_lines or index or start == 0 or lines[start - 1] == eol[0]:
                    trimmed = self._trimmed(part)
                elif self.opts.trim:
                    line_start = lines.rfind(eol, 0, start) + 1
                    trimmed = max(0, self._trimmed(lines[line_start : start + len(part)])
                                  - (start - line_start))
                shown = part[trimmed:]
                # -U searching across lines: rg prints no empty piece (an empty match, or a
                # line's bare terminator); line by line it prints empty matches.
                if shown or not across_lines:
                    pieces.append((number + index, self._piece(event, part, part_start, trimmed,
                                                               across_lines), column, start))
                part_start += len(whole) + 1
        return pieces

    def _piece(self, event: LineEvent, part: bytes, part_start: int, trimmed: int,
               across_lines: bool) -> bytes:
        """One -o piece as printed: painted, or cut by --max-columns as rg cuts it (each of
        its three ways of printing a piece measures, and counts matches, its own way)."""
        shown = part[trimmed:]
        if across_lines:
            if self._too_long(shown):
                start = part_start + trimmed
                return self._cut(event, event.lines, start, start + len(shown), event.submatches)
        elif self.color:
            if self._too_long(part):
                return self._cut(event, part, trimmed, len(part), [(0, len(part))])
        elif self._too_long(shown):
            return self._cut(event, shown, 0, len(shown), event.submatches)
        if across_lines and self.color and self.opts.palette.match is None and shown:
            return _paint(shown, RESET)  # (rg paints a -U match with match:none's empty style)
        return _paint(shown, self._match_spec(shown))

    def _too_long(self, text: bytes) -> bool:
        """Past --max-columns (bytes, as rg measures them)."""
        limit = self.opts.max_columns
        return limit is not None and len(text) > limit

    def _cut(self, event: LineEvent, data: bytes, start: int, end: int,
             matches: Sequence[tuple[int, int]]) -> bytes:
        """What rg prints instead of data[start:end], a line (or -o piece) past --max-columns:
        a note, or with --max-columns-preview its first columns (graphemes), painted, and how
        many of `matches` start after them (or that the line goes on, when none is known).
        Ends with a newline. Matches are known only when the printer looks for them (to
        paint or replace them, for -o, --column, --vimgrep, or to count them for --stats), as
        rg's does."""
        opts = self.opts
        granular = self.needs_spans or opts.vimgrep
        if not granular:
            matches = ()
        if opts.max_columns_preview:
            assert opts.max_columns is not None
            if opts.crlf and data.endswith(b"\r\n", start, end):
                end -= 2  # (the preview of the line without its terminator)
            cut = start + _graphemes_end(data[start:end], opts.max_columns)
            shown = data[start:cut].removesuffix(opts.eol)
            if self.color and matches:
                shown = self._paint_line(shown, start, list(matches), empty_style=True)
            if not matches:
                return shown + b" [... omitted end of long line]" + self.term
            remaining = sum(1 for m_start, _ in matches if cut <= m_start < end)
            return shown + b" [... %d more %s]" % (
                remaining, b"match" if remaining == 1 else b"matches") + self.term
        if not (granular and event.submatches) or opts.only_matching:
            note = b"matching" if event.is_match else b"context"
            return b"[Omitted long %s line]" % note + self.term
        return b"[Omitted long line with %d matches]" % len(event.submatches) + self.term

    def _vimgrep_lines(self, event: LineEvent, lead: _Lead, sep: bytes,
                       across_lines: bool) -> list[bytes]:
        """--vimgrep: each submatch on its own output line: the line where it starts, with
        that line's number and the submatch's column in it, and only it painted; -b gives the
        submatch's offset (the line's when searching across lines, as rg does)."""
        if across_lines:
            return [line for span in event.submatches
                    for line in self._vimgrep_across(event, lead, sep, span)]
        out = []
        lines = event.lines
        # uncoloured, each is the same line: one object, not a copy per match (see Rendered)
        plain = None if self.color else self._ended(self._line_body(event, 0, len(lines), []))
        for start, end in event.submatches:  # one line (whatever -r puts in it)
            body = plain if plain is not None else self._ended(
                self._line_body(event, 0, len(lines), [(start, end)]))
            column = start + 1 if self.opts.column else None  # (--no-column: none)
            out += (self._prefix(lead, event.line_number, sep, column, event.offset + start,
                                 start + 1), body)
        return out

    def _line_body(self, event: LineEvent, start: int, stop: int,
                   spans: list[tuple[int, int]]) -> bytes:
        """Line lines[start:stop] of an event searched line by line, as rg prints it: trimmed
        (--trim) and painted with `spans`, or cut by --max-columns, which measures a painted
        line untrimmed and a plain one trimmed (its matches then stay where they were before
        the trim), both with the terminator."""
        lines = event.lines
        trimmed = start + self._trimmed(lines[start:stop])
        body = lines[trimmed:stop]
        if self.color:
            if self._too_long(lines[start:stop]):
                return self._cut(event, lines, trimmed, stop, spans)
            return self._paint_line(body, trimmed, spans)
        if self._too_long(body):
            return self._cut(event, body, 0, len(body), event.submatches)
        return body

    def _vimgrep_across(self, event: LineEvent, lead: _Lead, sep: bytes,
                        span: tuple[int, int]) -> Iterator[bytes]:
        """-U --vimgrep: the line where the submatch starts; when --max-columns cuts it, rg
        goes on with the submatch's next line (column 1), until one is printed whole. As
        rg's, it prints nothing for an empty submatch at a line's start, nor for one at the
        end of lines left without their last terminator (`-r ''` replaced it: rg's loop over
        the lines ends before it)."""
        lines, eol = event.lines, self.opts.eol
        start, end = span
        if start >= len(lines):
            return
        line_start = lines.rfind(eol, 0, start) + 1
        number = event.line_number + lines.count(eol, 0, line_start)
        while line_start < len(lines) and line_start < end:
            line_end = lines.find(eol, line_start)
            line_end = len(lines) if line_end < 0 else line_end + 1
            content_end = line_end - (lines[line_end - 1] == eol[0])
            trimmed = line_start + self._trimmed(lines[line_start:content_end])
            column = max(start - line_start, 0) + 1
            prefix = self._prefix(lead, number, sep, column if self.opts.column else None,
                                  event.offset + line_start, column)
            if self._too_long(lines[trimmed:content_end]):
                yield prefix + self._cut(event, lines, trimmed, content_end, [span])
            else:
                body = lines[trimmed:line_end]
                if self.color:
                    body = self._paint_line(body, trimmed, [span], empty_style=True)
                yield prefix + self._ended(self._reterminated(body))
                return
            line_start, number = line_end, number + 1

    def _match_spec(self, text: bytes) -> bytes | None:
        return self._spec(self.opts.palette.match) if text else None

    def _colored_lines(
        self, event: LineEvent, lead: _Lead, sep: bytes, column: int | None, first: int,
        across_lines: bool,
    ) -> list[bytes]:
        """Each line of the event with its submatches painted (line by line for -U), or cut
        by --max-columns (measured as rg's printer for that case measures it). rg prints a
        context event whole (one line, but with -U -v -r its replacement may hold a newline)."""
        out = []
        lines = event.lines
        start = 0
        across_lines = across_lines and event.is_match
        if across_lines and not lines:
            return []  # -r replaced it all with nothing: rg prints each line of that, so none
        # (searched line by line, an event is one line, whatever -r puts in it)
        last = event.last_line_number(self.opts.eol) if across_lines else event.line_number
        for number in range(event.line_number, last + 1):
            stop = lines.find(self.opts.eol, start) if across_lines else -1
            stop = len(lines) if stop < 0 else stop + 1
            if across_lines:  # measured trimmed, with its terminator
                trimmed = start + self._trimmed(lines[start:stop])
                body = lines[trimmed:stop]
                # rg prints the lines of a -U match as they are unless it needs the matches
                by_match = (column is not None or self.opts.replace is not None
                            or self.opts.stats or self.paints_matches)
                if self._too_long(body):
                    body = self._cut(event, lines, trimmed, stop, event.submatches)
                elif by_match and self.color:
                    body = self._paint_line(body, trimmed, event.submatches, empty_style=True)
                elif by_match:
                    body = self._reterminated(body)
            else:
                body = self._line_body(event, start, stop, event.submatches)
            out.append(self._prefix(lead, number, sep, column, event.offset + start, first)
                       + self._ended(body))
            start = stop
        return out

    def _paint_line(self, body: bytes, base: int, spans: list[tuple[int, int]],
                    empty_style: bool = False) -> bytes:
        """`body` with its matches painted. With `match:none` rg prints a line as it is, but
        paints with the empty style (`empty_style`) a -U match's lines and a preview."""
        spec = self.opts.palette.match
        if spec is None:
            if not empty_style:
                return body
            spec = RESET
        content_end = len(body) - 1 if body.endswith(self.opts.eol) else len(body)
        # --crlf: rg prints a painted line without its terminator (`\r\n` or `\n`), then `\r\n`
        term = body[content_end:]
        if term and self.opts.crlf:
            content_end -= body.endswith(b"\r\n")
            term = self.term
        pieces = []
        pos = 0
        for start, end in _merge_adjacent(spans):
            start, end = max(start - base, 0), min(end - base, content_end)
            if end <= start or start < pos:
                continue
            pieces += [body[pos:start], spec, body[start:end], RESET]
            pos = end
        pieces += [body[pos:content_end], term]
        return b"".join(pieces)


class StandardPrinter:
    """rg's default line output: optional heading, line numbers, colours, context breaks."""

    def __init__(
        self,
        out: BinaryIO,
        opts: OutputOptions,
        *,
        with_filename: bool,
        is_tty: bool,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.out = out
        self.file_format = LineFormat(
            opts, with_filename,
            heading=is_tty if opts.heading is None else opts.heading,
            line_number=(is_tty or opts.column or opts.vimgrep) if opts.line_number is None
            else opts.line_number,
            color=use_color(opts.color, is_tty, env),
        )
        self.printed_any = False
        self.matched = False
        self.bytes_printed = 0

    def file(self, display_path: str, result: FileResult) -> None:
        rendered = self.file_format.output(display_path, result)
        if rendered is None:
            return
        self.matched = self.matched or rendered.has_match
        if self.printed_any and rendered.has_lines:
            self.out.write(self.file_format.file_break)
            self.bytes_printed += len(self.file_format.file_break)
        self._write(rendered.body)
        self.printed_any = self.printed_any or bool(rendered.body)

    def more(self, display_path: str, result: FileResult, after_line: int,
             matched: bool) -> None:
        """More lines of the file printed last (standard input as it arrives), whose lines
        printed so far ended at line `after_line`, a match among them if `matched`."""
        rendered = self.file_format.continued_output(display_path, result, after_line, matched)
        if rendered is None:
            return
        self.matched = self.matched or rendered.has_match
        self._write(rendered.body)

    def _write(self, body: bytes | Iterable[bytes]) -> None:
        """Write a rendered body (pieces: perhaps searched as they are written, see
        stream.streamed) and count it. Only --stats reports the bytes printed: with colours,
        counting them is a regex over the whole output (a quarter of a second for 250,000
        painted lines)."""
        pieces = [body] if isinstance(body, bytes) else body
        if not self.file_format.opts.stats:
            self.out.writelines(pieces)
            return
        color = self.file_format.color
        for piece in pieces:
            self.out.write(piece)
            self.bytes_printed += _printed_length(piece, color)

    def finish(self) -> None:
        """Nothing is buffered across files."""


class SummaryFormat(FileFormat):
    """How rg reports one file in a summary mode: a line for -c, --count-matches, -l and
    --files-without-match, nothing for -q (which only sets the exit code)."""

    renders_without_events = True

    def __init__(self, opts: OutputOptions, with_filename: bool, color: bool) -> None:
        self.opts = opts
        self.with_filename = with_filename
        self.color = color

    def render(self, display_path: str, result: FileResult) -> Rendered | None:
        mode = self.opts.mode
        if result.cut_short:
            return None  # the search failed before the count was final: rg prints nothing
        if result.quit_at_nul:
            # Its match count is then 0, which --files-without-match takes as success (exit 0)
            # although it prints nothing.
            if mode == "files_without_match" and result.error is None:
                return Rendered(b"", True, False)
            return None
        # Whether the file matched is a count of lines (-U: of matches) even for
        # --count-matches, which may then print 0 (`$` at the end of a file without a final
        # newline is a matching line, but not a match rg's printer shows).
        matched = result.summary_count() > 0
        count = result.summary_count(mode == "count_matches")
        if matched == (mode == "files_without_match") and not self.opts.counts_zero:
            return None
        if mode in ("files_with_matches", "files_without_match"):
            line = self._line(display_path, None)
        elif mode in ("count", "count_matches"):
            line = self._line(display_path if self.with_filename else None, count)
        else:
            line = b""  # -q
        # A file printed by --files-without-match is a success, a 0 of --include-zero is not.
        success = matched or mode == "files_without_match"
        return Rendered(line, result.error is None and success, False)

    @property
    def renders_bare(self) -> bool:
        """-l and -c print a file's count of matching lines (-l: whether it is 0),
        --count-matches its count of matches, unless --include-zero prints its zeros."""
        return self.opts.mode in ("files_with_matches", "count", "count_matches") and (
            not self.opts.counts_zero)

    counts_bare = True

    def bare_count_output(self, display_path: str, count: int) -> bytes:
        term = self._plain_term
        if term is None:
            if self.opts.mode != "files_with_matches":
                return self._line(display_path if self.with_filename else None, count)
            return self._line(display_path, None)
        if self.opts.mode == "files_with_matches":
            return self.opts.shown_path(display_path) + term
        if self.with_filename:
            return b"%s:%d%s" % (self.opts.shown_path(display_path), count, term)
        return b"%d%s" % (count, term)

    @cached_property
    def _plain_term(self) -> bytes | None:
        """What ends a bare line when it is only the path and the count (no colour, --null
        nor --path-separator): then `bare_count_output` makes it in one step, where `_line`
        took 2.3 µs a file for -l and 5.7 for -c, a fifth of a worker's time per file."""
        opts = self.opts
        if self.color or opts.null or opts.path_separator is not None:
            return None
        return opts.line_term

    def path_line(self, display_path: str) -> bytes:
        """A path alone, as -l prints it (and --files)."""
        return self._line(display_path, None)

    def _line(self, display_path: str | None, count: int | None) -> bytes:
        term = self.opts.line_term
        line = b""
        if display_path is not None:
            path = self.opts.shown_path(display_path)
            line = self.opts.palette.path + path + RESET if self.color else path
            link = self.opts.hyperlinks.start(os.fsdecode(path)) if (
                self.color and self.opts.hyperlinks) else None
            if link is not None:
                line = link.at(1, 1) + line + hyperlink.END
            if self.opts.null:  # the NUL ends the path: no ':' and, for a path alone, no newline
                return line + b"\0" + (b"" if count is None else b"%d" % count + term)
        if count is not None:
            line += (b":" if line else b"") + b"%d" % count
        return line + term


class SummaryPrinter:
    """-c, --count-matches, -l, --files-without-match and -q: one line (or none) per file."""

    bytes_printed = 0  # (rg's summary printer counts none)

    def __init__(
        self, out: BinaryIO, opts: OutputOptions, *, with_filename: bool, color: bool
    ) -> None:
        self.out = out
        self.file_format = SummaryFormat(opts, with_filename, color)
        self.matched = False

    def file(self, display_path: str, result: FileResult) -> None:
        rendered = self.file_format.output(display_path, result)
        if rendered is not None:
            self.matched = self.matched or rendered.has_match
            self.out.write(rendered.body)

    def finish(self) -> None:
        """Nothing is buffered across files."""


class SearchStats:
    """--stats: rg's totals over the files searched, printed after the output (--json's
    summary message has them already)."""

    def __init__(self, summary: bool) -> None:
        # A summary printer (-c, -l...) tells a file with a match by its count, which with -U
        # is of the regex's matches: inverted lines hold none.
        self.summary = summary
        self.matches = 0
        self.matched_lines = 0
        self.searches_with_match = 0
        self.searches = 0
        self.bytes_searched = 0

    def add(self, result: FileResult) -> None:
        if result.error is not None:
            return  # a failed search counts for nothing
        self.searches += 1
        self.searches_with_match += (
            result.summary_count() > 0 if self.summary else result.has_match)
        self.matched_lines += result.matched_lines
        self.matches += result.matches
        self.bytes_searched += result.bytes_searched

    def render(self, bytes_printed: int, elapsed_ns: int) -> bytes:
        """rg's block; its two timings (spent searching, and in all) are both `elapsed_ns`."""
        seconds = f"{elapsed_ns / 1e9:.6f}"
        return (
            f"\n{self.matches} matches\n{self.matched_lines} matched lines\n"
            f"{self.searches_with_match} files contained matches\n{self.searches} files searched\n"
            f"{bytes_printed} bytes printed\n{self.bytes_searched} bytes searched\n"
            f"{seconds} seconds spent searching\n{seconds} seconds\n"
        ).encode()


def _data(raw: bytes) -> dict[str, str]:
    """rg's JSON for arbitrary bytes: text when valid UTF-8, otherwise base64."""
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        import base64

        return {"bytes": base64.b64encode(raw).decode("ascii")}


def _dumps(message: dict[str, object], *, sort_keys: bool = False) -> bytes:
    """One JSON line as serde_json writes it: compact, non-ASCII kept as UTF-8."""
    import json  # (loaded for --json only)

    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return text.encode() + b"\n"


def _elapsed(nanos: int) -> dict[str, object]:
    return {"secs": nanos // 10**9, "nanos": nanos % 10**9, "human": f"{nanos / 1e9:.6f}s"}


class JsonFormat(FileFormat):
    """--json's messages for one file's lines (its `begin`, `match` and `context`), which
    worker processes render and end (`ended`); the printer ends the files searched in its
    own process, and writes the summary."""

    renders_in_windows = True  # (a big file's messages: see trigrep.stream)

    def __init__(self, opts: OutputOptions) -> None:
        self.opts = opts

    @property
    def ends_files(self) -> bool:
        """(-q prints no file, and counts those without a match in the summary.)"""
        return self.opts.mode != "quiet"

    def ended(self, display_path: str, rendered: Rendered, result: FileResult,
              elapsed_ns: int) -> Rendered:
        """The file's `rendered` messages (bytes, or a list of pieces), then its `end`, for a
        search of it that took `elapsed_ns`, with what it adds to the summary as their
        `totals` (its JSON_STATS, then that time): a worker's run of files then reaches the
        printer as one output, not as a result a file to end (a third of the daemon's time
        for --json -t c copy_from_user on the Linux tree, 1,195 files)."""
        printed = _printed_bytes(rendered.body)
        stats = _file_stats(result, printed)
        end = _end_message(display_path, result.binary_offset, elapsed_ns, stats)
        body = rendered.body
        ended: bytes | list[bytes] = (body + end if isinstance(body, bytes)
                                      else [*body, end])  # type: ignore[misc]
        return Rendered(ended, rendered.has_match, True, (*stats, elapsed_ns))

    def joined(self, first: Rendered, rest: list[Rendered]) -> Rendered:
        """(Files `ended`: with the sums of their totals.)"""
        joined = super().joined(first, rest)
        if first.totals is None:
            return joined
        return joined._replace(totals=tuple(map(sum, zip(
            first.totals, *[rendered.totals for rendered in rest], strict=True))))

    @property
    def needs_spans(self) -> bool:
        return True

    def render(self, display_path: str, result: FileResult) -> Rendered | None:
        """None for -q, which prints no line."""
        if self.opts.mode == "quiet":
            return None
        path = _json_data(os.fsencode(display_path))
        body = b"".join([b'{"type":"begin","data":{"path":%s}}\n' % path,
                         *self.messages(path, result.events)])
        return Rendered(body, result.has_match, True)

    def continued_output(self, display_path: str, result: FileResult, after_line: int,
                         matched: bool) -> Rendered | None:
        """The messages of more lines: no `begin` again."""
        if not result.events or self.opts.mode == "quiet":
            return None
        path = _json_data(os.fsencode(display_path))
        return Rendered(b"".join(self.messages(path, result.events)), result.has_match, True)

    def messages(self, path: bytes, events: Sequence[LineEvent]) -> list[bytes]:
        """The `match` and `context` messages of `events`, with the JSON of their path: filled
        in a template, not dumped from a dict (8 µs a line, most of a --json search's time)."""
        numbered = self.opts.line_number is not False  # -N: null
        return [
            b'{"type":"%s","data":{"path":%s,"lines":%s,"line_number":%s,"absolute_offset":%d,'
            b'"submatches":[%s]}}\n' % (
                b"match" if event.is_match else b"context", path, _json_data(event.lines),
                b"%d" % event.line_number if numbered else b"null", event.offset,
                b",".join([b'{"match":%s,"start":%d,"end":%d}' % (
                    _json_data(event.lines[start:end]), start, end)
                    for start, end in event.submatches]))
            for event in events
        ]


def _json_data(raw: bytes) -> bytes:
    """rg's JSON for arbitrary bytes (see `_data`), as `_dumps` writes it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return b'{"bytes":"%s"}' % _data(raw)["bytes"].encode()
    return b'{"text":%s}' % _json_string(text).encode()


def _json_string(text: str) -> str:
    """A JSON string, as json's C encoder writes it; json is loaded on the first call (for
    --json only), which replaces this function with that encoder."""
    global _json_string
    from json.encoder import encode_basestring

    _json_string = encode_basestring
    return encode_basestring(text)


# A file's `end` message, as serde_json writes it: filled in, not dumped from a dict (8 µs
# a file, a tenth of the daemon's time for the 880 files of --json -w kmalloc_array).
_END_MESSAGE = (b'{"type":"end","data":{"path":%s,"binary_offset":%s,"stats":{"elapsed":'
                b'{"secs":%d,"nanos":%d,"human":"%ss"},"searches":%d,"searches_with_match":%d,'
                b'"bytes_searched":%d,"bytes_printed":%d,"matched_lines":%d,"matches":%d}}}\n')
# The stats an `end` message holds, in its order, which the summary adds up; a run of files
# ended by a worker carries their sums and their searches' time after them (Rendered.totals).
JSON_STATS = ("searches", "searches_with_match", "bytes_searched", "bytes_printed",
              "matched_lines", "matches")


def _file_stats(result: FileResult, printed: int) -> tuple[int, ...]:
    """One file's JSON_STATS, `printed` the bytes of its messages before its `end`."""
    return (1, int(result.has_match), result.bytes_searched, printed, result.matched_lines,
            result.matches)


def _end_message(display_path: str, binary_offset: int | None, elapsed: int,
                 stats: tuple[int, ...]) -> bytes:
    return _END_MESSAGE % (
        _json_data(os.fsencode(display_path)),
        b"null" if binary_offset is None else b"%d" % binary_offset,
        elapsed // 10**9, elapsed % 10**9, b"%.6f" % (elapsed / 1e9), *stats)


def _printed_bytes(body: bytes | list[bytes]) -> int:
    return len(body) if isinstance(body, bytes) else sum(map(len, body))


class JsonPrinter:
    """--json: rg's JSON Lines messages (begin, match, context, end, summary)."""

    bytes_printed = 0  # (its own summary reports them; --stats prints nothing more)

    def __init__(self, out: BinaryIO, opts: OutputOptions) -> None:
        self.out = out
        self.opts = opts
        self.matched = False
        self.file_format = JsonFormat(opts)
        self.started = time.perf_counter_ns()
        self.last_file_done = self.started
        self.total = dict.fromkeys(JSON_STATS, 0)
        self.total_elapsed = 0
        self.streamed: int | None = None  # bytes printed of the file `more` prints

    def more(self, display_path: str, result: FileResult) -> None:
        """Messages of a file searched window by window (standard input as it arrives): its
        `begin` before the first, and the events of each window, before `file` gets the
        whole search's result (without events) and ends it."""
        if not result.events or self.opts.mode == "quiet":
            return
        fmt = self.file_format
        rendered = (fmt.render(display_path, result) if self.streamed is None
                    else fmt.continued_output(display_path, result, 0, False))
        assert rendered is not None and isinstance(rendered.body, bytes)
        self.streamed = (self.streamed or 0) + len(rendered.body)
        self.out.write(rendered.body)

    def file(self, display_path: str, result: FileResult) -> None:
        ended = result.rendered
        if ended is not None and ended.totals is not None:
            self._ended(ended, ended.totals)
            return
        streamed, self.streamed = self.streamed, None
        printed = streamed or 0
        self.matched = self.matched or (result.has_match and result.error is None)
        if self.opts.mode != "quiet":
            # (a worker rendered the messages, or they are rendered now, or a big file's
            # are searched as they are written: its counts are final after them)
            rendered = None if streamed is not None else self.file_format.output(
                display_path, result)
            if rendered is None and streamed is None:
                # rg prints nothing for the file and leaves it out of the summary
                self.last_file_done = time.perf_counter_ns()
                return
            if rendered is not None:
                body = rendered.body
                for piece in [body] if isinstance(body, bytes) else body:
                    self.out.write(piece)
                    printed += len(piece)
        now = time.perf_counter_ns()
        elapsed, self.last_file_done = now - self.last_file_done, now
        stats = _file_stats(result, printed)
        if self.opts.mode != "quiet" and not result.cut_short:
            self.out.write(_end_message(display_path, result.binary_offset, elapsed, stats))
        if result.error is None:  # (a failed search adds nothing to the summary)
            self._add(stats, elapsed)

    def _ended(self, ended: Rendered, totals: tuple[int, ...]) -> None:
        """Write the output of files a worker ended (see JsonFormat.ended), adding `totals`."""
        self.matched = self.matched or ended.has_match
        body = ended.body
        for piece in [body] if isinstance(body, bytes) else body:
            self.out.write(piece)
        *stats, elapsed = totals
        self._add(stats, elapsed)
        self.last_file_done = time.perf_counter_ns()

    def _add(self, stats: Sequence[int], elapsed: int) -> None:
        """Add one file's (or a run's) JSON_STATS and search time to the summary's."""
        self.total_elapsed += elapsed
        total = self.total
        for key, value in zip(JSON_STATS, stats, strict=True):
            total[key] += value

    def finish(self) -> None:
        """The closing `summary` message (serde_json sorts its keys)."""
        total_ns = time.perf_counter_ns() - self.started
        stats = {**self.total, "elapsed": _elapsed(self.total_elapsed)}
        data = {"elapsed_total": _elapsed(total_ns), "stats": stats}
        self.out.write(_dumps({"data": data, "type": "summary"}, sort_keys=True))
