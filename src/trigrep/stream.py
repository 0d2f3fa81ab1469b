"""Standard input searched as it arrives, as rg searches a pipe: `tail -f log | trigrep x`
prints each matching line once it is read, and `-m`, `-l` and `-q` stop reading as soon as
they have their answer (`tail -f log | trigrep -m1 -q ready && ...`).

Each time more lines arrive, the searcher runs over a window: the lines not searched yet plus
the `max(-A, -B)` lines before them (the before-context of what follows, and the matches
whose after-context is still open). What it finds again of the lines already printed is
dropped; the rest gets the window's line numbers and offsets. rg's line-by-line output only
ever looks that far back, so the printed lines are those of one search of the whole input.

Whatever cannot be followed this way is searched once the rest is read, as one buffer: -U,
--json, --stats, --passthru, --stop-on-nonmatch, the counting modes, an encoding other than
UTF-8 (UTF-16 with a BOM too), standard input that is a regular file, and from a NUL on.
"""

from __future__ import annotations

import os
import select
import stat
from dataclasses import replace
from typing import TYPE_CHECKING

from trigrep.extract import decoded, searchable_bytes
from trigrep.printer import StandardPrinter
from trigrep.searcher import BinaryMode, FileResult, LineEvent, search_buffer

if TYPE_CHECKING:
    from typing import BinaryIO

    from trigrep.options import OutputOptions
    from trigrep.printer import Printer
    from trigrep.query import Query

STDIN_PATH = "<stdin>"
# A read takes what the pipe holds, then whatever more arrives at once, up to this much,
# before it is searched: a fast producer is searched in big windows, a slow one line by line.
READ_SIZE = 64 << 10
WINDOW_BYTES = 4 << 20
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def search_stdin(
    fd: int, query: Query, opts: OutputOptions, codec: str, printer: Printer,
    flush: BinaryIO | None,
) -> FileResult:
    """Search standard input (`fd`) and print what rg prints for it; the last search's result
    (for --stats, which searches it whole). `flush`: the output to flush after each window's
    lines (line buffering: a terminal, or --line-buffered)."""
    binary = BinaryMode.TEXT if opts.binary == "text" else BinaryMode.CONVERT
    if not _streams(fd, query, opts, codec):
        result = search_buffer(decoded(_read_rest(fd, b""), codec), query, opts, binary=binary)
        printer.file(STDIN_PATH, result)
        return result
    return _Stream(fd, query, opts, codec, printer, flush, binary).run()


def _streams(fd: int, query: Query, opts: OutputOptions, codec: str) -> bool:
    """Whether the search can follow the input window by window (see the module's doc)."""
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    return not (
        regular or query.multiline or opts.json or opts.stats or opts.passthru
        or opts.stop_on_nonmatch or opts.max_count == 0 or codec not in ("auto", "none")
        or opts.mode not in ("lines", "files_with_matches", "quiet"))


class _Stream:
    """One streaming search of standard input (see the module's doc)."""

    def __init__(self, fd: int, query: Query, opts: OutputOptions, codec: str,
                 printer: Printer, flush: BinaryIO | None, binary: BinaryMode) -> None:
        self.fd, self.query, self.opts, self.codec = fd, query, opts, codec
        self.printer, self.flush, self.binary = printer, flush, binary
        context = max(opts.before_context, opts.after_context)
        self.kept_lines = context if opts.mode == "lines" else 0
        self.pending = b""  # the window: the kept lines, then what is not searched yet
        self.base_line = 1  # the number of the window's first line...
        self.base_offset = 0  # ...and its offset in the input
        self.matched_before = 0  # match events before the window (for -m)
        self.printed_upto = 0  # the number of the last line printed
        self.printed = False  # lines of standard input were printed (a heading, if any)

    def run(self) -> FileResult:
        first = True
        while True:
            chunk = self._read()
            at_end = not chunk
            if first:
                sniffed, first = self._sniffed(chunk), False
                if sniffed is None:  # UTF-16: transcoded, so searched whole
                    return self._whole(decoded(_read_rest(self.fd, chunk), self.codec))
                chunk = sniffed
            if self.binary is not BinaryMode.TEXT and b"\0" in chunk:
                return self._whole(_read_rest(self.fd, self.pending + chunk))
            self.pending += chunk
            end = len(self.pending) if at_end else self.pending.rfind(b"\n") + 1
            if end == 0 and not at_end:
                continue
            result, done = self._search(end, at_end)
            if done or at_end:
                return result
            self._slide(result, end)

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
        if self.codec == "none":
            return chunk
        if chunk[:2] in _UTF16_BOMS:
            return None
        return searchable_bytes(chunk)

    def _whole(self, data: bytes) -> FileResult:
        """The rest (from the window on, as rg reads it) searched as one buffer: from a NUL
        on, rg's binary handling decides."""
        if self.base_line == 1 and not self.printed:
            result = search_buffer(data, self.query, self.opts, binary=self.binary)
            self.printer.file(STDIN_PATH, result)
            return result
        result = self._window_search(data)
        self._print(result)
        return result

    def _window_search(self, data: bytes) -> FileResult:
        """Search `data` (the window) as the rest of the input: -m counts what was before."""
        opts = self.opts
        if opts.max_count is not None and self.matched_before:
            opts = replace(opts, max_count=max(opts.max_count - self.matched_before, 0))
        result = search_buffer(data, self.query, opts, binary=self.binary)
        line, offset = self.base_line - 1, self.base_offset
        result.events = [
            LineEvent(e.is_match, e.line_number + line, e.offset + offset, e.lines, e.submatches)
            for e in result.events]
        if result.binary_offset is not None:
            result.binary_offset += offset
        return result

    def _search(self, end: int, at_end: bool) -> tuple[FileResult, bool]:
        """Search the window's complete lines (to `end`) and print what is new; whether the
        search is over (-l, -q or -m have their answer)."""
        result = self._window_search(self.pending[:end])
        if self.opts.mode != "lines":
            if result.has_match or at_end:
                self.printer.file(STDIN_PATH, result)
            return result, result.has_match
        matches = [e for e in result.events if e.is_match]
        self._print(result)
        limit = self.opts.max_count
        if limit is None or self.matched_before + len(matches) < limit:
            return result, False
        last_line = self.base_line + self.pending.count(b"\n", 0, end) - 1
        return result, last_line - matches[-1].line_number >= self.opts.after_context

    def _print(self, result: FileResult) -> None:
        """Print the result's events past the lines printed already."""
        new = [e for e in result.events if e.line_number > self.printed_upto]
        dropped = len(result.events) - len(new)
        cut = result.text_cut
        result = replace(result, events=new,
                         text_cut=None if cut is None else max(cut - dropped, 0))
        if not new and result.binary_offset is None:
            return
        printer = self.printer
        if self.printed and isinstance(printer, StandardPrinter):  # (lines mode: it is)
            printer.more(STDIN_PATH, result, self.printed_upto)
        else:
            printer.file(STDIN_PATH, result)
        if new:
            self.printed = True
            self.printed_upto = new[-1].line_number
        if self.flush is not None:
            self.flush.flush()

    def _slide(self, result: FileResult, end: int) -> None:
        """Drop the window's lines but the last `kept_lines` complete ones (and the part of
        a line not complete yet)."""
        start = end
        for _ in range(self.kept_lines):
            if start == 0:
                return
            start = self.pending.rfind(b"\n", 0, start - 1) + 1
        if start == 0:
            return
        dropped_lines = self.pending.count(b"\n", 0, start)
        next_base = self.base_line + dropped_lines
        self.matched_before += sum(
            1 for e in result.events if e.is_match and e.line_number < next_base)
        self.pending = self.pending[start:]
        self.base_line = next_base
        self.base_offset += start


def _read_rest(fd: int, head: bytes) -> bytes:
    """`head` and everything standard input holds until its end."""
    pieces = [head]
    while chunk := os.read(fd, 1 << 20):
        pieces.append(chunk)
    return b"".join(pieces)
