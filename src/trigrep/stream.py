"""rg's line-by-line search run window by window: over standard input as it arrives, and
over a big text file, whose matches would otherwise all be held at once.

Standard input is searched as rg searches a pipe: `tail -f log | trigrep x` prints each
matching line (--json: each message, --passthru: each line) once it is read, and `-m`, `-l`
and `-q` stop reading as soon as they have their answer (`tail -f log | trigrep -m1 -q ready
&& ...`); the counting modes (-c, --count-matches, --files-without-match), --stats and
--json's `end` add up the windows' counts, so memory follows the window, not the input. An
-E encoding (or UTF-16 with a BOM) is decoded as it arrives. A file bigger than
trigrep.parallel.BIG_FILE holding no NUL is searched FILE_WINDOW at a time, each window read
from the file (`FileView`) and its output rendered before the next is searched, and its
counts (-c, --count-matches, -l, -q, --files-without-match) summed over its windows: memory
follows the window and the output, not the file nor the number of matches. When the process
printing the output searches the file itself (a file named, or among a search's first), each
window is searched as the one before is printed (`streamed`), and so are the Python API's
matches (`streamed_events`): memory follows the window, and `| head` gets its lines at once.

Each window (`Windows`) is the lines not searched yet plus the `max(-A, -B)` lines before them
(the before-context of what follows, and the matches whose after-context is still open). What
it finds again of the lines already reported is dropped, and so are its counts; the rest gets
the window's line numbers and offsets. rg's line-by-line output only ever looks that far back,
so the lines are those of one search of the whole input.

Whatever cannot be followed this way is searched as one buffer: for standard input (once the
rest is read) -U (rg reads its input whole for it too), --stop-on-nonmatch with -v and a
regular file; for a big file, also --passthru, --null-data, and --json or --stats with -m
or a summary (see `windowed` and `counts_in_windows`), and a file holding a NUL, a BOM, or
read through -E, --pre or -z (see parallel.FileSearch._unread_big).
"""

from __future__ import annotations

import os
import select
import stat
from itertools import accumulate, chain, count, repeat
from operator import add
from typing import TYPE_CHECKING

from trigrep.errors import PatternError
from trigrep.extract import decoded, text_decoder, transcoder_fills, transcodes_text
from trigrep.printer import JsonPrinter, StandardPrinter
from trigrep.query import rest_of_line_regex
from trigrep.searcher import (
    BOM_PEEK,
    BUFFER_CAPACITY,
    BinaryMode,
    BufferSearch,
    FileResult,
    LineEvent,
    Rendered,
    bare_lines,
    joined_output,
    line_runs,
    nonmatch_end,
    search_buffer,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import BinaryIO

    import rurex

    from trigrep.options import OutputOptions
    from trigrep.printer import FileFormat, Printer
    from trigrep.query import Query

STDIN_PATH = "<stdin>"
# A read takes what the pipe holds, then whatever more arrives at once, up to WINDOW_BYTES,
# before it is searched: a fast producer is searched in big windows, a slow one line by line.
READ_SIZE = 64 << 10
WINDOW_BYTES = 4 << 20
FILE_WINDOW = 1 << 20  # (a window's events take many times its size)
# A big file's window holding a matching line every this many bytes or fewer has the
# windows after it printed from the `findall` of a regex matching whole lines (numbered by
# its `split`), not from `bare_lines`' loop over the lines: a window of a log holding one
# every 11 bytes, 13 ms against 60 (numbered: 41 against 79); that regex costs more than
# the loop where lines are sparse (the Linux tree's `.h` files, one 'static inline' line
# every 860 bytes: 1.4x).
DENSE_LINE_BYTES = 128
_SNIFFED = 6  # the bytes that tell the BOMs rg's decoder drops (see extract.text_decoder)
STDIN_BUFFER = 8 << 10  # Rust's buffer of standard input (std::io::stdio::STDIN_BUF_SIZE)


def windowed(query: Query, opts: OutputOptions) -> bool:
    """Whether a search of these options can run window by window (see the module's doc):
    --json's and --stats' only when they print lines and search the whole file (their bytes
    searched are then the file's size; where -m stopped it, rg's reads decide)."""
    return not (query.multiline or opts.passthru
                or opts.stop_on_nonmatch or opts.max_count == 0 or opts.null_data
                or opts.mode not in ("lines", "files_with_matches", "quiet")
                or ((opts.json or opts.stats)
                    and (opts.mode != "lines" or opts.max_count is not None)))


def counts_in_windows(query: Query, opts: OutputOptions) -> bool:
    """Whether a big file's summary (-c, --count-matches, -l, -q, --files-without-match) adds
    up window by window (see `counted_big_file`): a window's lines are searched as in the
    whole file (no -U, nor a text anchor, which would see the window's start as the text's),
    and nothing reports the bytes searched (--json, --stats) or stops at a line
    (--stop-on-nonmatch)."""
    return opts.mode != "lines" and not (
        query.multiline or query.slow_lines or opts.json or opts.stats
        or opts.stop_on_nonmatch or opts.null_data or opts.max_count == 0)


def counted_big_file(data: bytes | FileView, query: Query, opts: OutputOptions,
                     binary: BinaryMode) -> FileResult:
    """A big text file's summary (see `counts_in_windows`): the counts of its matching lines
    (or with -v, of the others) and of its matches, summed over FILE_WINDOW of lines at a
    time, up to -m's (or -l's) limit."""
    counted = FileResult(binary_mode=binary)
    limit = BufferSearch(query, opts).limit
    for start, stop in line_runs(data, FILE_WINDOW, query.eol):
        if counted.matched_lines == limit:
            break
        left = opts if limit is None else opts._replace(max_count=limit - counted.matched_lines)
        result = BufferSearch(query, left)(data[start:stop], binary, nul=-1)
        counted.matched_lines += result.matched_lines
        counted.matches += result.matches
    return counted


class Windows:
    """One search run window by window: `search` each window in turn, then drop the bytes it
    says from the front of the next."""

    def __init__(self, query: Query, opts: OutputOptions, binary: BinaryMode,
                 spans: bool = True, first_span: bool = False) -> None:
        self.query, self.opts, self.binary, self.spans = query, opts, binary, spans
        self.first_span = first_span  # (see searcher.BufferSearch)
        self.eol = query.eol  # (--null-data: lines end in a NUL)
        self.summary = opts.mode != "lines"  # (-c, -l...: no context, no overlap)
        self.kept_lines = 0 if self.summary else max(opts.before_context, opts.after_context)
        # -l and -q: the first match answers (unless --stats or --json count on)
        self.first_answers = BufferSearch(query, opts, spans).stop_at_first
        # rg's standard printer counts for --stats only the events up to its text cut
        self.counts_to_cut = opts.stats and not opts.json
        self.base_line = 1  # the number of the window's first line...
        self.base_offset = 0  # ...and its offset in the input
        self.carried = 0  # the bytes it holds of the window before
        self.matched_before = 0  # matches (-m's count) before the window
        self.reported_upto = 0  # the number of the last line in a result returned
        # a line matched (--stop-on-nonmatch: then the first that does not ends the search,
        # where a search of the next window alone would look for a first match again)
        self.matched = False

    def search(self, window: bytes, at_end: bool) -> tuple[FileResult, bool, int]:
        """Search `window` (whole lines, unless `at_end`: the input ends with it): its result
        with only the events not returned before and what they count, its offsets from the
        input's start, whether the search is over (-m, -l or -q have their answer), and how
        many bytes of `window` the next window leaves out."""
        opts = self.opts
        remaining = None if opts.max_count is None else opts.max_count - self.matched_before
        if remaining is not None and self.matched_before:
            opts = opts._replace(max_count=remaining)
        # --stop-on-nonmatch: the line that ends the search (a converted NUL ends a line),
        # where the window is cut once a line matched before it (a search of the window alone
        # would look for a first match again)
        stop_end = nonmatch_end(self.query, self._converted(window), self.carried,
                                self.matched) if opts.stop_on_nonmatch else None
        if self.matched and stop_end is not None:
            window = window[:stop_end]
        result = search_buffer(window, self.query, opts, binary=self.binary, spans=self.spans,
                               first_span=self.first_span)
        self.matched = self.matched or result.has_match
        line, offset = self.base_line - 1, self.base_offset
        events = [LineEvent(e.is_match, e.line_number + line, e.offset + offset, e.lines,
                            e.submatches) for e in result.events]
        if result.binary_offset is not None:
            result.binary_offset += offset
        result.bytes_searched += offset
        kept = self._kept(window)
        next_base = self.base_line + self._lines(window, kept)
        if self.summary:
            self.matched_before += result.matched_lines
            done = (self.first_answers and result.has_match) or (
                opts.max_count is not None and result.matched_lines >= opts.max_count)
        else:
            # (-m's count; matching lines in the after-context of its last are printed as
            # matches but count for nothing)
            matches = [e for e in events if e.is_match][:remaining]
            done = self._limited(window, matches)
            self.matched_before += sum(1 for e in matches if e.line_number < next_base)
        done = done or stop_end is not None
        self.base_line, self.base_offset = next_base, self.base_offset + kept
        self.carried = len(window) - kept
        new = [e for e in events if e.line_number > self.reported_upto]
        if new:
            self.reported_upto = new[-1].line_number
        dropped = len(events) - len(new)
        self._uncount(result, events[:dropped])
        result.events = new
        if result.text_cut is not None:
            result.text_cut = max(result.text_cut - dropped, 0)
        return result, done, kept

    def _uncount(self, result: FileResult, dropped: list[LineEvent]) -> None:
        """Take out of the result's counts the matches of the `dropped` events (counted with
        the window before), up to the text cut where that is where the count ends."""
        if self.counts_to_cut and result.text_cut is not None:
            dropped = dropped[:result.text_cut + 1]  # (the event at the cut counts if a match)
        for event in dropped:
            if event.is_match:
                result.matched_lines -= 1
                result.matches -= len(event.submatches)

    def _limited(self, window: bytes, matches: list[LineEvent]) -> bool:
        """-m's count is reached and the after-context of its last match is in `window`."""
        limit = self.opts.max_count
        if limit is None or self.matched_before + len(matches) < limit:
            return False
        last_line = self.base_line + self._lines(window, len(window)) - 1
        return last_line - matches[-1].line_number >= self.opts.after_context

    def _converted(self, window: bytes) -> bytes:
        """The window as its search sees it: standard input's NULs are line ends."""
        return window.replace(b"\0", b"\n") if self.binary is BinaryMode.CONVERT else window

    def _lines(self, window: bytes, end: int) -> int:
        """The line ends in window[:end]: with a NUL converted (standard input), a NUL is
        one too."""
        ends = window.count(self.eol, 0, end)
        return ends + window.count(b"\0", 0, end) if self.binary is BinaryMode.CONVERT else ends

    def _kept(self, window: bytes) -> int:
        """Where the window's last `kept_lines` lines start (a line may hold a NUL: kept
        whole, it may be more lines)."""
        start = len(window)
        for _ in range(self.kept_lines):
            if start == 0:
                break
            start = window.rfind(self.eol, 0, start - 1) + 1
        return start


class BinaryContent(Exception):
    """A FileView read a NUL, which the search of its file cannot take window by window."""


class FileView:
    """A big file's bytes as the searches window by window use them (its length, the `find` and
    `rfind` of a byte, slices), each read from the open file `fd` (closed by `close`) when
    asked for: a search then holds a window, not the file (a 1 GB log took 1 GB before its
    search began, and failed with a MemoryError where memory was short; rg maps or streams
    it), and one that stops early (-l, -q, -m) reads no further. A slice holding a NUL
    raises BinaryContent, unless `nuls` (the file is searched as text): the search, which
    has printed nothing yet, is then made over the whole file's bytes. Its length is the
    file's when it was opened: one cut shorter since reads as ending sooner, one grown as
    ending there."""

    CHUNK = 1 << 20  # (a `find` reads this much at a time)

    def __init__(self, fd: int, size: int, nuls: bool = False) -> None:
        self._fd = fd
        self._size = size
        self._nuls = nuls
        self._read_end = self._largest = 0  # of the slices read

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(self._size)
        data = os.pread(self._fd, stop - start, start) if start < stop else b""
        if not self._nuls and b"\0" in data:
            raise BinaryContent
        self._read_end, self._largest = max(self._read_end, stop), max(self._largest, len(data))
        return data

    def close(self) -> None:
        os.close(self._fd)

    def holds_nul(self) -> bool:
        """Whether the file holds a NUL its search stops at (none, read as text)."""
        return not self._nuls and self.find(b"\0") >= 0

    def nul_in_reach(self) -> bool:
        """Whether, past the slices read (a search that stopped early: -m, -l, -q), a NUL
        lies where rg's read of its last lines could have reached: rg stops at a read holding
        a NUL before searching any of its lines. Its buffer holds a line and the lines kept
        for context (at most two slices' worth) and grows to three times what did not fit."""
        if self._nuls or self._read_end >= self._size:
            return False
        start = self._read_end
        end = min(self._size, start + 6 * max(BUFFER_CAPACITY, self._largest))
        while start < end:
            chunk = os.pread(self._fd, min(self.CHUNK, end - start), start)
            if not chunk:
                break
            if b"\0" in chunk:
                return True
            start += len(chunk)
        return False

    def find(self, byte: bytes, start: int = 0) -> int:
        while start < self._size:
            chunk = os.pread(self._fd, min(self.CHUNK, self._size - start), start)
            if not chunk:
                break
            found = chunk.find(byte)
            if found >= 0:
                return start + found
            start += len(chunk)
        return -1

    def rfind(self, byte: bytes, start: int, end: int) -> int:
        end = min(end, self._size)
        while start < end:
            chunk_start = max(start, end - self.CHUNK)
            found = os.pread(self._fd, end - chunk_start, chunk_start).rfind(byte)
            if found >= 0:
                return chunk_start + found
            end = chunk_start
        return -1


def search_big_file(data: bytes | FileView, query: Query, opts: OutputOptions,
                    binary: BinaryMode, fmt: FileFormat, display_path: str, total: FileResult
                    ) -> Iterator[Rendered]:
    """A big text file's search, its output rendered window by window (see the module's
    doc): each window's output that is not None, its counts added to `total` (and its bytes
    searched: --json's `end` reports them)."""
    windows = Windows(query, opts, binary, spans=fmt.needs_spans,
                      first_span=fmt.needs_first_span_only)
    has_match = False
    last_line: int | None = None
    for result in _searched_windows(data, windows, total):
        rendered = fmt.output(display_path, result) if last_line is None else (
            fmt.continued_output(display_path, result, last_line, has_match))
        if rendered is not None:
            has_match = has_match or rendered.has_match
            yield rendered
        if result.events:
            last_line = result.events[-1].line_number


def big_file_events(data: bytes | FileView, query: Query, opts: OutputOptions,
                    binary: BinaryMode, total: FileResult) -> Iterator[LineEvent]:
    """A big text file's match events (and context events, where the options ask for them),
    searched window by window as they are taken (see the module's doc), counted in `total`:
    the Python API's, whose caller may stop early."""
    for result in _searched_windows(data, Windows(query, opts, binary), total):
        yield from result.events


def _searched_windows(data: bytes | FileView, windows: Windows, total: FileResult
                      ) -> Iterator[FileResult]:
    """Each window's result, searched by `windows` in turn, its counts (and bytes searched)
    added to `total`."""
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
        total.matched_lines += result.matched_lines
        total.matches += result.matches
        total.bytes_searched = result.bytes_searched
        yield result
        if done or at_end:
            break
        start += kept


def bare_big_file(data: bytes | FileView, query: Query, limit: int | None, fmt: FileFormat,
                  display_path: str, total: FileResult) -> Iterator[Rendered]:
    """A big text file's search that prints its matching lines whole (a `bare` search: see
    searcher.bare_lines), up to `limit`, FILE_WINDOW of lines at a time: the output of each
    window holding a matching line, made from its lines without the events and windows of
    `search_big_file`, and once they are dense, by a regex matching whole lines (see
    DENSE_LINE_BYTES), its matching lines counted in `total`. Printing the 1.9 million
    matching lines of a 21 MB log: 3.3 -> 0.46 s (rg 0.15; with -n 3.5 -> 1.1 s, rg 0.28)."""
    numbered, eol = fmt.bare_numbered, query.eol
    found = lines_before = 0
    whole_lines: rurex.Pattern | None = None
    for start, stop in _bare_windows(data, eol):
        if found == limit:
            break
        window = data[start:stop]
        left = None if limit is None else limit - found
        if whole_lines is not None:
            lines = _whole_lines(whole_lines, window, left, numbered, lines_before, eol)
        else:
            lines = bare_lines(query, window, left, numbered)
            if numbered and lines_before:  # (numbered from the window's first line)
                lines[::2] = [number + lines_before for number in lines[::2]]
            if (len(lines) >> numbered) * DENSE_LINE_BYTES >= len(window):
                whole_lines = _whole_line_regex(query)
        if lines:
            yield Rendered(fmt.bare_output(display_path, lines, numbered, bool(found)), True,
                           fmt.bare_has_lines)
            found += len(lines) >> numbered
            total.matched_lines = found
        if numbered:
            lines_before += window.count(eol)


def _bare_windows(data: bytes | FileView, eol: bytes) -> Iterator[tuple[int, int]]:
    """(start, stop) of `bare_big_file`'s windows: FILE_WINDOW of lines, but the first a
    sixteenth of that, whose density decides how the next are searched (the 21 MB log's
    first 1 MiB of lines, all matching, took 0.2 s of its 0.9 s with -n)."""
    first = next(line_runs(data, max(FILE_WINDOW >> 4, 1), eol), None)
    if first is not None:
        yield first
        yield from line_runs(data, FILE_WINDOW, eol, first[1])


def gathered(outputs: Iterable[Rendered], total: FileResult) -> FileResult:
    """`total`, the result of a file whose windows' outputs (`search_big_file`,
    `bare_big_file`) it counts, holding them as one."""
    bodies: list[bytes | list[bytes]] = []
    has_match = has_lines = False
    for rendered in outputs:
        bodies.append(rendered.body)  # (a window's: bytes or a list)
        has_match, has_lines = has_match or rendered.has_match, has_lines or rendered.has_lines
    total.rendered = Rendered(joined_output(bodies), has_match, has_lines) if bodies else None
    return total


def streamed(outputs: Iterator[Rendered], total: FileResult) -> FileResult:
    """`total`, the result of a file whose windows' outputs (`search_big_file`,
    `bare_big_file`) it counts, as the printer writes them: each window is read, searched
    and rendered once the one before is written (the counts are the whole file's once it
    is), so `| head` gets the first lines at once, and memory follows a window, not the
    output (a 1 GB log whose lines all match held 1.1 GB). What decides how the printer
    takes the file (whether it matches, prints lines, prints anything) is searched for
    first. Only the process that searched the file can print it so."""
    taken: list[Rendered] = []
    has_match = has_lines = printed = False
    for rendered in outputs:
        taken.append(rendered)
        has_match, has_lines = has_match or rendered.has_match, has_lines or rendered.has_lines
        printed = printed or bool(rendered.body)
        if has_match and has_lines and printed:
            break
    else:
        return gathered(taken, total)
    pieces = (piece for rendered in chain(taken, outputs) for piece in (
        [rendered.body] if isinstance(rendered.body, bytes) else rendered.body))
    total.rendered = Rendered(pieces, has_match, has_lines)
    return total


def streamed_events(events: Iterator[LineEvent], total: FileResult) -> FileResult:
    """`total`, the result of a file whose events (`big_file_events`) it counts, searched
    as they are taken, after the first, which tells whether the file matches (the Python
    API's -l asks)."""
    first = next(events, None)
    if first is not None:
        total.events = chain([first], events)
    return total


def _whole_lines(regex: rurex.Pattern, window: bytes, limit: int | None, numbered: bool,
                 lines_before: int, eol: bytes) -> list[int | bytes]:
    """The lines of `window` holding a match, found by `regex` (see `_whole_line_regex`), up
    to `limit`; if `numbered`, each after its number, counted on from `lines_before` by the
    terminators in the gaps between them, which the regex's `split` gives (a 1 MiB window
    of a log where every line matches: 41 ms, where `bare_lines` took 79), or in a row when
    the window has no other line (then 18 ms)."""
    lines: list[int | bytes] = regex.findall(window)
    found = len(lines)
    if limit is not None:
        del lines[limit:]
    if not numbered:
        return lines
    numbered_lines: list[int | bytes] = [0] * (2 * len(lines))
    if found == window.count(eol) + (not window.endswith(eol)):  # (every line matched)
        numbered_lines[::2] = range(lines_before + 1, lines_before + 1 + len(lines))
    else:
        gaps = regex.split(window)[:len(lines)]
        numbered_lines[::2] = list(map(add, accumulate(map(bytes.count, gaps, repeat(eol))),
                                       count(lines_before + 1)))
    numbered_lines[1::2] = lines
    return numbered_lines


def _whole_line_regex(query: Query) -> rurex.Pattern | None:
    """The regex whose matches are the lines holding a match of `query` (see
    `rest_of_line_regex`), if `bare_lines` finds its lines with the rest-of-line regex, and it
    compiles (None: not so)."""
    if query.line_regex is not query.regex or query.matches_empty:
        return None
    try:
        return rest_of_line_regex(query, whole_line=True)
    except PatternError:  # (past the engine's size limit)
        return None


def streams(query: Query, opts: OutputOptions) -> bool:
    """Whether standard input can be searched as it arrives under these options: in any
    mode but -U (whose search rg runs on its input whole) and --stop-on-nonmatch with -v
    (whose first run of lines rg looks for a read at a time)."""
    return not (query.multiline or (opts.stop_on_nonmatch and query.invert))


def search_stdin(
    fd: int, query: Query, opts: OutputOptions, codec: str, printer: Printer,
    flush: BinaryIO | None,
) -> FileResult:
    """Search standard input (`fd`) and print what rg prints for it; the result of the whole
    search, without its events (for --stats). `flush`: the output to flush after each
    window's output (line buffering: a terminal, or --line-buffered)."""
    binary = BinaryMode.TEXT if opts.binary == "text" else BinaryMode.CONVERT
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if regular or not streams(query, opts):
        raw = _read_rest(fd)
        data = decoded(raw, codec)
        fills = _stdin_fills(raw, codec, len(data))
        result = BufferSearch(query, opts)(data, binary, fills=lambda: fills)
        printer.file(STDIN_PATH, result)
        return result
    return _Stream(fd, Windows(query, opts, binary), codec, printer, flush).run()


class _Stream:
    """One streaming search of standard input (see the module's doc)."""

    def __init__(self, fd: int, windows: Windows, codec: str, printer: Printer,
                 flush: BinaryIO | None) -> None:
        self.fd, self.windows, self.codec = fd, windows, codec
        self.printer, self.flush = printer, flush
        self.decode: Callable[[bytes, bool], bytes]  # -E's (see extract.text_decoder)
        self.pending = b""  # the window: the kept lines, then what is not searched yet
        self.printed_upto: int | None = None  # the last line printed (then, a heading)
        self.printed_match = False  # a match among them (then, a NUL gets rg's note)
        # the search so far: what the summaries, --stats and --json's `end` report
        self.total = FileResult(binary_mode=windows.binary)
        opts = windows.opts
        # rg's standard printer stops at the first line it gets after the read that held a
        # NUL (see `_cut_after_nul`)
        self.stops_at_nul = (windows.binary is not BinaryMode.TEXT and opts.mode == "lines"
                             and not opts.json)
        self.nul_met = False

    def run(self) -> FileResult:
        raw = self._sniffed(self._read())
        self.decode, skipped = text_decoder(raw, self.codec)
        chunk, at_end = raw[skipped:], not raw
        while True:
            self.pending += self.decode(chunk, at_end)
            end = len(self.pending) if at_end else self.pending.rfind(self.windows.eol) + 1
            if end or at_end:
                result, done, kept = self.windows.search(self.pending[:end], at_end)
                done = self._cut_after_nul(result) or done
                self._report(result, done or at_end)
                if done or at_end:
                    return self.total
                self.pending = self.pending[kept:]
            chunk = self._read()
            at_end = not chunk

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

    def _sniffed(self, chunk: bytes) -> bytes:
        """The first chunk, read on until rg's decoder can tell its BOMs: 3 bytes, as rg's
        BOM sniffer, or 6 when it transcodes (a BOM can follow a UTF-8 one)."""
        while 0 < len(chunk) < _SNIFFED and (
                len(chunk) < BOM_PEEK or transcodes_text(chunk, self.codec)) and (
                more := os.read(self.fd, READ_SIZE)):
            chunk += more
        return chunk

    def _cut_after_nul(self, result: FileResult) -> bool:
        """Whether rg's line output ends with this window: at the first line the printer
        gets after the read that held a NUL (which counts for --stats only if a match). The
        search of the window that met the NUL finds that line if it holds it; past that
        window, it is the first line found."""
        if not self.stops_at_nul:
            return False
        if not self.nul_met:
            self.nul_met = result.binary_offset is not None
            return result.text_cut is not None
        if not result.events:
            return False
        result.text_cut = 0
        if self.windows.counts_to_cut:
            first = result.events[0]
            result.matched_lines = int(first.is_match)
            result.matches = len(first.submatches) if first.is_match else 0
        return True

    def _report(self, result: FileResult, last: bool) -> None:
        """Add a window's result to the total and print it: its new lines (or JSON
        messages), or in a summary mode (-c, -l...) the total once it is `last`."""
        total, printer = self.total, self.printer
        total.matched_lines += result.matched_lines
        total.matches += result.matches
        total.bytes_searched = result.bytes_searched
        if total.binary_offset is None:
            total.binary_offset = result.binary_offset
        if isinstance(printer, JsonPrinter):
            printer.more(STDIN_PATH, result)
            if last:
                printer.file(STDIN_PATH, total)
        elif self.windows.opts.mode != "lines":
            if last:
                printer.file(STDIN_PATH, total)
        elif result.events or result.binary_offset is not None:
            if self.printed_upto is not None and isinstance(printer, StandardPrinter):
                printer.more(STDIN_PATH, result, self.printed_upto, self.printed_match)
            else:
                printer.file(STDIN_PATH, result)
            if result.events:
                self.printed_upto = result.events[-1].line_number
            self.printed_match = self.printed_match or result.has_match
        if self.flush is not None:
            self.flush.flush()


def _stdin_fills(raw: bytes, codec: str, size: int) -> tuple[int, ...]:
    """Where rg's reads of standard input whole in `raw` end at the latest, as offsets in
    its `size` bytes of text (see searcher._TRANSCODER_FILLS): Rust's stdin reads through
    an 8 KiB buffer, which rg's BOM sniffer fills to peek at 3 bytes, so the read after
    those 3 (none, after a UTF-8 BOM it drops) returns only the rest of that buffer; later
    reads bypass it (transcoded input: see extract.transcoder_fills)."""
    if transcodes_text(raw, codec):
        return transcoder_fills(raw, codec, stdin=True)
    dropped = len(raw) - size  # a UTF-8 BOM
    ends = (STDIN_BUFFER - dropped,) if dropped else (BOM_PEEK, STDIN_BUFFER)
    return (*(end for end in ends if end < size), size)


def _read_rest(fd: int) -> bytes:
    """Everything standard input holds until its end."""
    pieces = []
    while chunk := os.read(fd, 1 << 20):
        pieces.append(chunk)
    return b"".join(pieces)
