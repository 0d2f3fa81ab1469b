"""rg's line-by-line search run window by window: over standard input as it arrives, and
over a big text file, whose matches would otherwise all be held at once.

Standard input is searched as rg searches a pipe: `tail -f log | trigrep x` prints each
matching line once it is read, and `-m`, `-l` and `-q` stop reading as soon as they have
their answer (`tail -f log | trigrep -m1 -q ready && ...`). A file bigger than
trigrep.parallel.BIG_FILE holding no NUL is searched FILE_WINDOW at a time, each window's
output rendered before the next is searched: memory follows the window and the output, not
the number of matches.

Each window (`Windows`) is the lines not searched yet plus the `max(-A, -B)` lines before them
(the before-context of what follows, and the matches whose after-context is still open). What
it finds again of the lines already reported is dropped; the rest gets the window's line
numbers and offsets. rg's line-by-line output only ever looks that far back, so the lines are
those of one search of the whole input.

Whatever cannot be followed this way is searched as one buffer (standard input once the rest
is read): -U, --json, --stats, --passthru, --stop-on-nonmatch, --null-data (lines end in a
NUL), the counting modes, and for standard input an encoding other than UTF-8 (UTF-16 with a
BOM too), a regular file, and what follows a NUL.
"""

from __future__ import annotations

import os
import select
import stat
from dataclasses import replace
from typing import TYPE_CHECKING

from trigrep.extract import decoded
from trigrep.printer import LineFormat, StandardPrinter
from trigrep.searcher import BinaryMode, FileResult, LineEvent, Rendered, search_buffer

if TYPE_CHECKING:
    from typing import BinaryIO

    from trigrep.options import OutputOptions
    from trigrep.printer import Printer
    from trigrep.query import Query

STDIN_PATH = "<stdin>"
# A read takes what the pipe holds, then whatever more arrives at once, up to WINDOW_BYTES,
# before it is searched: a fast producer is searched in big windows, a slow one line by line.
READ_SIZE = 64 << 10
WINDOW_BYTES = 4 << 20
FILE_WINDOW = 1 << 20  # (a window's events take many times its size)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def windowed(query: Query, opts: OutputOptions) -> bool:
    """Whether a search of these options can run window by window (see the module's doc)."""
    return not (query.multiline or opts.json or opts.stats or opts.passthru
                or opts.stop_on_nonmatch or opts.max_count == 0 or opts.null_data
                or opts.mode not in ("lines", "files_with_matches", "quiet"))


class Windows:
    """One search run window by window: `search` each window in turn, then drop the bytes it
    says from the front of the next."""

    def __init__(self, query: Query, opts: OutputOptions, binary: BinaryMode,
                 spans: bool = True) -> None:
        self.query, self.opts, self.binary, self.spans = query, opts, binary, spans
        self.kept_lines = (max(opts.before_context, opts.after_context)
                           if opts.mode == "lines" else 0)
        self.base_line = 1  # the number of the window's first line...
        self.base_offset = 0  # ...and its offset in the input
        self.matched_before = 0  # match events before the window (for -m)
        self.reported_upto = 0  # the number of the last line in a result returned

    def search(self, window: bytes, at_end: bool) -> tuple[FileResult, bool, int]:
        """Search `window` (whole lines, unless `at_end`: the input ends with it): its result
        with only the events not returned before, whether the search is over (-m, -l or -q
        have their answer), and how many bytes of `window` the next window leaves out."""
        opts = self.opts
        remaining = None if opts.max_count is None else opts.max_count - self.matched_before
        if remaining is not None and self.matched_before:
            opts = replace(opts, max_count=remaining)
        result = search_buffer(window, self.query, opts, binary=self.binary, spans=self.spans)
        line, offset = self.base_line - 1, self.base_offset
        events = [LineEvent(e.is_match, e.line_number + line, e.offset + offset, e.lines,
                            e.submatches) for e in result.events]
        if result.binary_offset is not None:
            result.binary_offset += offset
        # (-m's count; matching lines in the after-context of its last are printed as
        # matches but count for nothing)
        matches = [e for e in events if e.is_match][:remaining]
        done = result.has_match if opts.mode != "lines" else self._limited(window, matches)
        kept = self._kept(window)
        next_base = self.base_line + window.count(b"\n", 0, kept)
        self.matched_before += sum(1 for e in matches if e.line_number < next_base)
        self.base_line, self.base_offset = next_base, self.base_offset + kept
        new = [e for e in events if e.line_number > self.reported_upto]
        if new:
            self.reported_upto = new[-1].line_number
        cut = result.text_cut
        dropped = len(events) - len(new)
        return replace(result, events=new, text_cut=None if cut is None else max(
            cut - dropped, 0)), done, kept

    def _limited(self, window: bytes, matches: list[LineEvent]) -> bool:
        """-m's count is reached and the after-context of its last match is in `window`."""
        limit = self.opts.max_count
        if limit is None or self.matched_before + len(matches) < limit:
            return False
        last_line = self.base_line + window.count(b"\n") - 1
        return last_line - matches[-1].line_number >= self.opts.after_context

    def _kept(self, window: bytes) -> int:
        """Where the window's last `kept_lines` lines start."""
        start = len(window)
        for _ in range(self.kept_lines):
            if start == 0:
                break
            start = window.rfind(b"\n", 0, start - 1) + 1
        return start


def search_big_file(data: bytes, query: Query, opts: OutputOptions, binary: BinaryMode,
                    fmt: LineFormat, display_path: str) -> FileResult:
    """A big text file's search, its output rendered window by window (see the module's
    doc): the result holds no event, only the rendered output."""
    windows = Windows(query, opts, binary, spans=fmt.needs_spans)
    bodies: list[bytes] = []
    has_match = has_lines = False
    last_line: int | None = None
    start = end = 0
    while True:
        # the lines up to FILE_WINDOW past the kept lines, at least one more
        target = max(start + FILE_WINDOW, end + 1)
        if target >= len(data):
            end = len(data)
        else:
            end = (data.rfind(b"\n", end, target) + 1 or data.find(b"\n", target) + 1
                   or len(data))
        at_end = end == len(data)
        result, done, kept = windows.search(data[start:end], at_end)
        rendered = fmt.output(display_path, result) if last_line is None else (
            fmt.continued_output(display_path, result, last_line))
        if rendered is not None:
            bodies.append(rendered.body)
            has_match, has_lines = has_match or rendered.has_match, has_lines or rendered.has_lines
        if result.events:
            last_line = result.events[-1].line_number
        if done or at_end:
            break
        start += kept
    result.rendered = Rendered(b"".join(bodies), has_match, has_lines)
    result.events = []
    return result


def search_stdin(
    fd: int, query: Query, opts: OutputOptions, codec: str, printer: Printer,
    flush: BinaryIO | None,
) -> FileResult:
    """Search standard input (`fd`) and print what rg prints for it; the last search's result
    (for --stats, which searches it whole). `flush`: the output to flush after each window's
    lines (line buffering: a terminal, or --line-buffered)."""
    binary = BinaryMode.TEXT if opts.binary == "text" else BinaryMode.CONVERT
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if regular or not windowed(query, opts) or codec not in ("auto", "none"):
        result = search_buffer(decoded(_read_rest(fd, b""), codec), query, opts, binary=binary)
        printer.file(STDIN_PATH, result)
        return result
    return _Stream(fd, Windows(query, opts, binary), codec, printer, flush).run()


class _Stream:
    """One streaming search of standard input (see the module's doc)."""

    def __init__(self, fd: int, windows: Windows, codec: str, printer: Printer,
                 flush: BinaryIO | None) -> None:
        self.fd, self.windows, self.codec = fd, windows, codec
        self.printer, self.flush = printer, flush
        self.pending = b""  # the window: the kept lines, then what is not searched yet
        self.printed_upto: int | None = None  # the last line printed (then, a heading)

    def run(self) -> FileResult:
        first = True
        while True:
            chunk = self._read()
            at_end = not chunk
            if first:
                sniffed, first = self._sniffed(chunk), False
                if sniffed is None:  # UTF-16: transcoded, so searched whole
                    return self._rest(decoded(_read_rest(self.fd, chunk), self.codec))
                chunk = sniffed
            if self.windows.binary is not BinaryMode.TEXT and b"\0" in chunk:
                return self._rest(_read_rest(self.fd, self.pending + chunk))
            self.pending += chunk
            end = len(self.pending) if at_end else self.pending.rfind(b"\n") + 1
            if end == 0 and not at_end:
                continue
            result, done, kept = self.windows.search(self.pending[:end], at_end)
            self._report(result, done or at_end)
            if done or at_end:
                return result
            self.pending = self.pending[kept:]

    def _read(self) -> bytes:
        """What standard input holds now (waiting for something), b"" at its end."""
        chunk = os.read(self.fd, READ_SIZE)
        pieces = [chunk]
        size = len(chunk)
        while chunk and size < WINDOW_BYTES and select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, READ_SIZE)
            pieces.append(chunk)
            size += len(chunk)
        if len(pieces) > 1 and not pieces[-1]:
            pieces.pop()  # the end, seen again by the next read
        return b"".join(pieces)

    def _sniffed(self, chunk: bytes) -> bytes | None:
        """The first chunk as --encoding auto reads it (a UTF-8 BOM dropped), or None for
        UTF-16, which rg transcodes."""
        while 0 < len(chunk) < 3 and (more := os.read(self.fd, READ_SIZE)):
            chunk += more  # (a BOM split across reads)
        if self.codec != "none" and chunk[:2] in _UTF16_BOMS:
            return None
        return decoded(chunk, self.codec)

    def _rest(self, data: bytes) -> FileResult:
        """The rest (from the window on, as rg reads it) searched as one buffer: from a NUL
        on, rg's binary handling decides."""
        result = self.windows.search(data, True)[0]
        self._report(result, True)
        return result

    def _report(self, result: FileResult, last: bool) -> None:
        """Print a window's result: its new lines, or in a summary mode (-l, -q) the answer
        once there is one."""
        printer = self.printer
        if self.windows.opts.mode != "lines":
            if result.has_match or last:
                printer.file(STDIN_PATH, result)
            return
        if not result.events and result.binary_offset is None:
            return
        if self.printed_upto is not None and isinstance(printer, StandardPrinter):
            printer.more(STDIN_PATH, result, self.printed_upto)
        else:
            printer.file(STDIN_PATH, result)
        if result.events:
            self.printed_upto = result.events[-1].line_number
        if self.flush is not None:
            self.flush.flush()


def _read_rest(fd: int, head: bytes) -> bytes:
    """`head` and everything standard input holds until its end."""
    pieces = [head]
    while chunk := os.read(fd, 1 << 20):
        pieces.append(chunk)
    return b"".join(pieces)
