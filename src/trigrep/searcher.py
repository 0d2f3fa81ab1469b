"""Per-file search: one file's bytes plus a compiled `Query` become rg's line events.

This mirrors ripgrep's grep-searcher: lines are found with the regex run over the whole
buffer, submatches are re-found per line (terminator trimmed) the way grep-printer does,
and NUL bytes are handled by the binary mode rg would use for that file, including the
64 KiB read-buffer boundaries that decide how much of a binary file rg searched.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from enum import Enum
from functools import partial
from itertools import chain, islice, repeat
from typing import NamedTuple, Protocol

import rurex

from trigrep.errors import PatternError
from trigrep.extract import STDERR_EMPTY
from trigrep.options import OutputOptions
from trigrep.query import Query, rest_of_line_regex

# grep-searcher's DEFAULT_BUFFER_CAPACITY: size of a read and of the up-front binary check.
BUFFER_CAPACITY = 64 * 1024
# rg's first read of a stream returns just the bytes its BOM sniffer peeked at (3), so the
# lines those bytes complete are searched before a NUL later in the first 64 KiB is seen.
BOM_PEEK = 3
# When rg's search stops early (-l, -q, -m), it closes a -z program's output and reports the
# program's failure only if the program failed on its own rather than of the closed pipe:
# sure when it wrote no more than this (gzip's write size), a race above, taken as "no".
PROGRAM_DONE_SIZE = 32 * 1024
# Newlines in spans this long are counted with numpy (~9 GB/s here) rather than bytes.count
# (~1.2 GB/s), when numpy is loaded already: importing it would cost more than it saves.
VECTOR_COUNT_MIN = 8 * 1024
# A LineIndexed's newlines are counted per block of this many bytes: spans longer than one go
# to its counts (a count of a block's bytes: 1.2 us). At most 2040 (see `_block_newlines`).
NEWLINE_BLOCK = 1024
# A process finds the lines of a search's regex with its `rest_of_line_regex` once it found
# this many (see bare_lines): compiling that regex costs 0.1-0.4 ms (11 ms for
# `\w{5}\s+\w{5}...`), which a search printing fewer lines would not win back. The counts
# (then the regexes) of this many searches are kept.
DENSE_LINES = 2048
REST_OF_LINE_KEPT = 32
# Matches, and matching lines without a limit, are counted this many bytes of lines at a
# time (see `counted_matches`, `counted_lines`): the lists of the matches found stay small.
COUNT_CHUNK = 256 << 10
# (source, eol) of a search -> the lines found so far, or then its rest_of_line_regex
_rest_of_line: dict[tuple[str, bytes], int | rurex.Pattern] = {}
# -U: the bytes a re-run of the regex copies at first (see `_MultiLine._restarted`)
RESTART_WINDOW = 256
EVERY_LINE = sys.maxsize  # a count of context lines: as many as there are (--passthru)


class BinaryMode(Enum):
    """How NUL bytes are treated, which depends on how rg would open the file.

    QUIT: files found by walking a directory. rg reads them in 64 KiB chunks and stops at
      the chunk holding the first NUL; matches from earlier chunks are kept (text output
      ends with a "WARNING: stopped searching binary file after match" line). So (-U too)
      the first BUFFER_CAPACITY bytes, or more, decide the search when they hold a NUL.
    CONVERT: files named on the command line and read as a stream (stdin, or when more than
      10 paths or any directory is given): every NUL becomes a line terminator, so line
      numbers shift; text output stops at the first match after the NUL was read and says
      "binary file matches".
    CONVERT_MMAP: files named on the command line that rg memory-maps (at most 10 paths,
      all regular files): NULs are only detected (in the first 64 KiB, then in every
      printed line), never converted.
    TEXT: -a: a NUL is a byte like any other; nothing is detected.
    TEXT_MMAP: -a on a file rg memory-maps: as TEXT, but searched as one slice, which shows
      in the bytes searched that --stats and --json report when -m stops the search.
    QUIT_MMAP: a walked file that rg memory-maps (--mmap): a NUL in the first 64 KiB ends
      the search before it starts; past them, one in a printed line ends it there.
    """

    QUIT = "quit"
    QUIT_MMAP = "quit_mmap"
    CONVERT = "convert"
    CONVERT_MMAP = "convert_mmap"
    TEXT = "text"
    TEXT_MMAP = "text_mmap"

    @property
    def quits(self) -> bool:
        """A NUL ends the search (rg's BinaryDetection::quit)."""
        return self is BinaryMode.QUIT or self is BinaryMode.QUIT_MMAP

    @property
    def mapped(self) -> bool:
        """rg searches the file as one slice (memory-mapped)."""
        return self in _MAPPED

    def streamed(self) -> BinaryMode:
        """The mode of the same file read as a stream (rg reads a file to transcode that
        way, even when told to map it)."""
        return _STREAMED.get(self, self)


_STREAMED = {BinaryMode.QUIT_MMAP: BinaryMode.QUIT, BinaryMode.CONVERT_MMAP: BinaryMode.CONVERT,
             BinaryMode.TEXT_MMAP: BinaryMode.TEXT}
_MAPPED = frozenset(_STREAMED)


class LineEvent:
    """One printed unit: a matching line (or lines, with -U) or a context line."""

    __slots__ = ("is_match", "line_number", "lines", "offset", "submatches")

    def __init__(self, is_match: bool, line_number: int, offset: int, lines: bytes,
                 submatches: list[tuple[int, int]]) -> None:
        self.is_match = is_match
        self.line_number = line_number  # 1-based number of the first line
        self.offset = offset  # absolute byte offset of the first line
        self.lines = lines  # the whole line(s), terminator included when the file has one
        self.submatches = submatches  # match spans relative to `lines`

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LineEvent) and self.__reduce__() == other.__reduce__()

    __hash__ = None  # type: ignore[assignment]  # (mutable)

    def last_line_number(self, eol: bytes = b"\n") -> int:
        """Number of the last line covered (differs from line_number only for -U), lines
        ending in `eol`."""
        return self.line_number + self.lines.count(eol, 0, len(self.lines) - 1)

    def __reduce__(self) -> tuple[type[LineEvent], tuple[object, ...]]:
        """Pickled as its constructor's arguments: workers ship events by the thousand, and
        pickle's way with slots (a state dict per event, set attribute by attribute) took
        twice as long to write and three times as long to read."""
        return LineEvent, (self.is_match, self.line_number, self.offset, self.lines,
                           self.submatches)


# A file's match events as columns: their line numbers, offsets, lines and spans (see
# FileResult.columns).
MatchColumns = tuple[list[int], list[int], list[bytes], list[tuple[tuple[int, int], ...]]]
# ...as `span_columns` finds them, each line's spans a list
SpanColumns = tuple[list[int], list[int], list[bytes], list[list[tuple[int, int]]]]

# A rendered output this big stays in pieces rather than joined (see Rendered).
SPREAD_OUTPUT_MIN = 1 << 24


class Rendered(NamedTuple):
    """One file's standard output, minus what depends on the files before it.

    `body` is bytes, or a list of pieces when it is at least SPREAD_OUTPUT_MIN bytes: pieces
    may be one object repeated (--vimgrep prints a line once per match: 'x*' on an 80 KB
    line is 6.4 GB, which joined, shipped and written whole took 12 GB of memory), which a
    list holds, and pickle ships, once (see `joined_output`); or an iterator of pieces, a
    big file's output searched as the printer writes it (see stream.streamed), which only the
    process that searched the file can print."""

    body: bytes | list[bytes] | Iterator[bytes]
    has_match: bool  # rg exits 0 because of this file
    # it has lines to print (perhaps as nothing: empty -o matches): a break (`--` or a blank
    # line) goes before it when something was printed before
    has_lines: bool
    # --json: the output of files whose `end` messages it holds too, a run of files a worker
    # joined, with what they add to the summary (see JsonFormat.ended); None: not ended
    totals: tuple[int, ...] | None = None


class FileResult:
    """Everything the printers need about one searched file.

    `matched_lines` and `matches` are rg's stats (lines of match events; submatches, which
    inverted lines hold none of); `binary_offset` is where rg reports the first NUL, when it
    saw one. The text printer stops before the event at index `text_cut` (CONVERT modes after
    a NUL was seen), counting the event there only if it is a match. `unbroken`: the index of
    an after-context event rg prints without a break before it although lines were skipped
    before it (see searcher._Core._after_line). `quit_break`: a QUIT search met its NUL in a
    before-context line past a gap, and rg printed the context break before it (its Core
    sinks the break, then finds the NUL and stops). `bytes_searched`: rg's stats; only
    --json and --stats report it, so only then computed. `multiline`: -U, events may span
    lines and -c counts matches. `error`: rg reports this error for the file (a -z program
    failed); its search then counts for neither the summary stats nor the exit code;
    `cut_short`: the failure interrupted the search, so rg printed the events but no count,
    `end` message or path line; otherwise rg met it when closing the program after a search
    that stopped early. `rendered` is set (and `events` emptied) when a worker process
    rendered the output already; `columns` (and `events` emptied) when it searched for the
    Python API's Matches, and the events were all matches (see FileSearch.columnar).
    `events` may be an iterator in the process that searched the file: a big file's, for
    the Python API, searched as they are taken (see stream.streamed_events).
    """

    def __init__(
        self, events: list[LineEvent] | Iterator[LineEvent] | None = None,
        matched_lines: int = 0, matches: int = 0,
        binary_mode: BinaryMode = BinaryMode.QUIT, binary_offset: int | None = None,
        text_cut: int | None = None, unbroken: int | None = None, quit_break: bool = False,
        bytes_searched: int = 0, multiline: bool = False, error: str | None = None,
        cut_short: bool = False, rendered: Rendered | None = None,
        columns: MatchColumns | None = None,
    ) -> None:
        self.events: list[LineEvent] | Iterator[LineEvent] = [] if events is None else events
        self.matched_lines = matched_lines
        self.matches = matches
        self.binary_mode = binary_mode
        self.binary_offset = binary_offset
        self.text_cut = text_cut
        self.unbroken = unbroken
        self.quit_break = quit_break
        self.bytes_searched = bytes_searched
        self.multiline = multiline
        self.error = error
        self.cut_short = cut_short
        self.rendered = rendered
        self.columns = columns

    def __reduce__(self) -> tuple[type[FileResult], tuple[object, ...]]:
        """Pickled as its constructor's arguments, as LineEvent is: a daemon's search takes
        a result per run of files a worker rendered, thousands of them, and loading each
        from a state dict took 2.4x as long (1.5 against 0.6 µs)."""
        return FileResult, (self.events, self.matched_lines, self.matches, self.binary_mode,
                            self.binary_offset, self.text_cut, self.unbroken, self.quit_break,
                            self.bytes_searched, self.multiline, self.error, self.cut_short,
                            self.rendered, self.columns)

    @property
    def has_match(self) -> bool:
        return self.matched_lines > 0

    @property
    def quit_at_nul(self) -> bool:
        """A walked file in which rg met a NUL: its summaries (-c, --count-matches) then
        drop the file rather than report a partial count."""
        return self.binary_mode.quits and self.binary_offset is not None

    def summary_count(self, count_matches: bool = False) -> int:
        """The count rg's summaries take (-c, or --count-matches with `count_matches`; -l,
        -q and --files-without-match ask whether it is 0). With -U they count regex matches,
        not groups of lines, so inverted lines (which hold none) count for nothing."""
        if self.multiline or count_matches:
            return self.matches
        return self.matched_lines  # one per match event: events hold one line each


def joined_output(pieces: list[bytes | list[bytes]]) -> bytes | list[bytes]:
    """Rendered bodies (or any pieces) as one body: joined, unless that is big."""
    flat: list[bytes] = []
    for piece in pieces:
        if isinstance(piece, list):
            flat += piece
        else:
            flat.append(piece)
    return b"".join(flat) if sum(map(len, flat)) < SPREAD_OUTPUT_MIN else flat


def find_iter(regex: rurex.Pattern, data: bytes, start: int, end: int) -> Iterator[rurex.Match]:
    """Matches in data[:end] from `start`, skipping an empty match that touches the previous
    match, as grep-matcher's find_iter does (Python's finditer would keep it)."""
    pos = start
    last_end = -1
    while pos <= end:
        m = regex.search(data, pos, end)
        if m is None:
            return
        m_start, m_end = m.span()
        if m_start == m_end:
            pos = m_end + 1
            if m_end == last_end:
                continue
        else:
            pos = m_end
        last_end = m_end
        yield m


# Every helper that finds lines takes their terminator, `eol`: `\n`, or NUL (--null-data).


def _line_start(data: bytes, pos: int, eol: bytes = b"\n") -> int:
    return data.rfind(eol, 0, pos) + 1


def _line_end(data: bytes, pos: int, end: int, eol: bytes = b"\n") -> int:
    """End (after the terminator) of the line holding `pos`."""
    nl = data.find(eol, pos, end)
    return end if nl < 0 else nl + 1


def _trimmed_end(
    data: bytes, line_end: int, line_start: int, crlf: bool, eol: bytes = b"\n"
) -> int:
    """Where the line's terminator starts (`eol`; with `crlf`, `\r\n` if it ends so)."""
    if line_end <= line_start or data[line_end - 1] != eol[0]:
        return line_end
    if crlf and line_end - 1 > line_start and data[line_end - 2] == 0x0D:
        return line_end - 2
    return line_end - 1


# Where the fills of rg's transcoder end in the file being searched (see
# trigrep.extract.transcoder_fills), for the reads below; set by BufferSearch for one search.
_TRANSCODER_FILLS: ContextVar[Sequence[int]] = ContextVar("transcoder_fills", default=())


def _stream_reads(
    data: bytes, context: int, visited: Sequence[tuple[int, int]] = (), eol: bytes = b"\n"
) -> Iterator[tuple[int, int, int]]:
    """rg's buffered reads of `data`: (the offset the buffer starts at, i.e. the bytes rg
    has consumed before this read; the end of the bytes read; the end of the lines complete
    after it, which rg searches next).

    Emulates grep-searcher's LineBuffer: a 64 KiB buffer, refilled after the complete lines
    are searched, keeping the partial last line and, with context, the last `context` + 1
    complete lines (lines::preceding counts back from the last line) unless rg visited them
    already (printed them while searching that buffer: `visited`, see `_visits`); the buffer
    grows to three times its size when a line does not fit (its default allocation adds
    twice the length: 64 KiB, 192, 576...). The first read returns only BOM_PEEK bytes; an
    unterminated last line is searched after one more, empty, read. A transcoded file's read
    ends no later than the transcoder's fill it starts in (its first with any text).
    """
    fills = _TRANSCODER_FILLS.get()
    capacity = BUFFER_CAPACITY
    searched_end = read_end = consumed = 0
    while searched_end < len(data):
        free = capacity - (read_end - consumed)
        if free <= 0:
            capacity *= 3
            continue
        if read_end == len(data):
            searched_end = read_end
        elif fills:
            fill = bisect_right(fills, read_end)
            read_end = min(len(data), read_end + free,
                           fills[fill] if fill < len(fills) else len(data))
            searched_end = max(searched_end, data.rfind(eol, 0, read_end) + 1)
        else:
            read_end = min(len(data), read_end + free if read_end else BOM_PEEK)
            searched_end = max(searched_end, data.rfind(eol, 0, read_end) + 1)
        yield consumed, read_end, searched_end
        kept = searched_end
        for _ in range(context + 1 if context else 0):  # the last line and `context` more
            if kept == 0:
                break
            kept = _line_start(data, kept - 1, eol)
        last_visited = bisect_left(visited, (searched_end,))
        consumed = max(kept, visited[last_visited - 1][1] if last_visited else 0)


def _stream_searched_end(
    data: bytes, nul: int, context: int, visited: Sequence[tuple[int, int]] = ()
) -> int:
    """Offset up to which rg's buffered reader searched before the read that met `nul`
    (`visited`: see _stream_reads; the lines rg printed leave room for more in a read)."""
    searched_before = 0
    for _, read_end, searched_end in _stream_reads(data, context, visited):
        if nul < read_end:
            break
        searched_before = searched_end
    return searched_before


def _consumed_by_read_of(
    data: bytes, nul: int, context: int, visited: Sequence[tuple[int, int]]
) -> int:
    """What rg's buffer had consumed when the read that met `nul` ended its search (QUIT):
    its `bytes_searched`."""
    for consumed, read_end, _ in _stream_reads(data, context, visited):
        if nul < read_end:
            return consumed
    return len(data)


def _bytes_searched(
    data: bytes,
    collector: _Collector,
    visited: Sequence[tuple[int, int]],
    end: int,
    stopped_at: int | None,
    context: int,
    slice_mode: bool,
    eol: bytes,
) -> int:
    """rg's `bytes_searched`: `end` unless the search stopped early (-m, -l,
    --stop-on-nonmatch) at `stopped_at`, before the lines after it.

    A slice (memory map) counts up to there, and no further than a NUL that ended the search;
    a read search counts what its buffer had consumed when it stopped: the offset of the
    buffer in which the line ending at `stopped_at` was searched.
    """
    if slice_mode:
        binary_offset = collector.result.binary_offset
        searched = end if stopped_at is None else stopped_at
        return searched if binary_offset is None else min(binary_offset, searched)
    if stopped_at is None:
        return end
    return _consumed_at(data, context, visited, stopped_at, end, eol)


def _slice_stopped_at(
    data: bytes, query: Query, match_end: int, end: int, binary_offset: int | None
) -> int:
    """rg's `bytes_searched` of a slice searched line by line that stopped after the line
    ending at `match_end` (with -v: after the regex's match that ended that run of lines),
    no further than a NUL that ended the search."""
    searched = match_end
    if query.invert:
        following = (stop for start, stop in _matching_lines(query, data, end)
                     if start >= searched)
        searched = next(following, end)
    return searched if binary_offset is None else min(binary_offset, searched)


def _consumed_at(
    data: bytes, context: int, visited: Sequence[tuple[int, int]], position: int, end: int,
    eol: bytes = b"\n",
) -> int:
    """What rg's buffer had consumed when it searched the line ending at `position`."""
    for consumed, _, searched_end in _stream_reads(data, context, visited, eol):
        if position <= searched_end:
            return consumed
    return end


def _standard_stats_at_cut(
    result: FileResult, data: bytes, query: Query, context: int,
    visited: Sequence[tuple[int, int]], slice_mode: bool,
) -> None:
    """--stats of rg's standard printer, which ends the search at `text_cut` (a match after
    a NUL in CONVERT modes): only what it was given before counts, and a slice searched line
    by line counts its bytes up to the last match it gave (a multi-line search and a read
    count theirs as --json does: up to where the search was, and what the buffer held)."""
    events, cut = result.events, result.text_cut
    assert cut is not None
    counted = [e for e in events[: cut + 1 if events[cut].is_match else cut] if e.is_match]
    result.matched_lines = sum(
        e.last_line_number() - e.line_number + 1 if result.multiline else 1 for e in counted)
    result.matches = sum(len(e.submatches) for e in counted)
    if result.multiline:
        return
    if slice_mode:
        last = counted[-1].offset + len(counted[-1].lines) if counted else 0
        result.bytes_searched = _slice_stopped_at(
            data, query, last, len(data), result.binary_offset)
    else:
        stop = events[cut].offset + len(events[cut].lines)
        result.bytes_searched = _consumed_at(data, context, visited[: cut + 1], stop, stop)


def _matching_lines(
    query: Query, data: bytes, end: int, pos: int = 0
) -> Iterator[tuple[int, int]]:
    """Line ranges (start, end) holding a match, from the line start `pos` on, searched line
    by line as grep-searcher does (-U across lines: see _MultiLine)."""
    regex, eol = query.line_regex, query.eol
    while pos < end:
        m = regex.search(data, pos, end)
        if m is None:
            return
        m_start = m.start()
        start = data.rfind(eol, 0, m_start) + 1  # _line_start and _line_end, inlined
        if start == end:  # an empty match after the final terminator is not a line
            return
        nl = data.find(eol, m_start, end)
        pos = end if nl < 0 else nl + 1
        yield start, pos


def _spans_unbounded(query: Query) -> bool:
    """Whether a line's submatches are the matches the regex finds in the whole buffer
    within that line, so the search for the lines finds their spans too: no match can hold
    a `\n` ending lines, a search bounded at a line's end sees there what the buffer shows
    (`$` and word boundaries see a `\n` as a text end), and nothing but that `\n` is
    trimmed off a line (not so with --crlf)."""
    return not (query.multiline or query.crlf or query.slow_lines or query.eol != b"\n"
                or query.line_regex is not query.regex)


def _span_events(
    regex: rurex.Pattern, data: bytes, events: list[LineEvent], numbered: bool,
    limit: int | None,
) -> tuple[int, int]:
    """The events of the lines holding a match, with their spans (see `span_columns`), up
    to `limit` lines; returns (lines, matches)."""
    matches, (numbers, offsets, lines, spans) = span_columns(regex, data, numbered, limit)
    events += map(LineEvent, repeat(True), numbers, offsets, lines, spans)
    return len(numbers), matches


def span_columns(regex: rurex.Pattern, data: bytes, numbered: bool, limit: int | None
                 ) -> tuple[int, SpanColumns]:
    """The lines holding a match, with their spans, up to `limit` lines, from one run over
    the buffer of a regex that cannot match empty (see _spans_unbounded) rather than a
    search for each line and one more for its spans (-n with colour, the API's Matches);
    numbered (if `numbered`, else 0) in the same loop: (how many matches, the lines'
    numbers, offsets, bytes and spans).

    A line is taken at its first match, its spans list growing while the matches after stay
    on it: one loop and no generator, which cost as much as the search (see _bare_events).
    The `limit`-th line's other matches are looked for in that line alone, not by a search
    running on to the next line's first match (the API's files_with_matches: the rest of a
    file, for a match found once in it)."""
    find, rfind, count = data.find, data.rfind, data.count
    far = _far(data)
    numbers: list[int] = []
    offsets: list[int] = []
    lines: list[bytes] = []
    spans_of: list[list[tuple[int, int]]] = []
    spans: list[tuple[int, int]] = []
    start = stop = counted = matches = 0
    number = 1 if numbered else 0
    for m in regex.finditer(data):
        m_start, m_end = m.span()
        if m_start >= stop:
            start = rfind(b"\n", 0, m_start) + 1
            stop = find(b"\n", m_end) + 1 or len(data)
            if numbered:  # (_Lines.at, inlined)
                number += (count(b"\n", counted, start) if start - counted < far
                           else _newlines(data, counted, start, b"\n"))
                counted = start
            spans = []
            numbers.append(number)
            offsets.append(start)
            lines.append(data[start:stop])
            spans_of.append(spans)
            if len(numbers) == limit:
                break
        spans.append((m_start - start, m_end - start))
        matches += 1
    else:
        return matches, (numbers, offsets, lines, spans_of)
    spans.append((m_start - start, m_end - start))
    # (a window ending at the line's end sees there what the buffer shows: its `\n`)
    for m in regex.finditer(data, m_end, stop):
        spans.append((m.start() - start, m.end() - start))
    return matches + len(spans), (numbers, offsets, lines, spans_of)


def _bare_events(
    query: Query, data: bytes, events: list[LineEvent], numbered: bool, limit: int | None
) -> int:
    """The events of the lines holding a match, without spans (the standard printer without
    colour), up to `limit` lines, numbered (if `numbered`, else 0); returns how many. One
    loop (_matching_lines and _Lines.at, inlined): the generator, the tuples it yields and a
    method call to number each line took a third of the time of -n searches printing
    millions of lines."""
    regex, eol, end = query.line_regex, query.eol, len(data)
    search, find, rfind, count, append = (
        regex.search, data.find, data.rfind, data.count, events.append)
    far = _far(data)
    pos = counted = lines = 0
    number = 1 if numbered else 0
    while pos < end and lines != limit:
        m = search(data, pos, end)
        if m is None:
            break
        m_start = m.start()
        start = rfind(eol, 0, m_start) + 1
        if start == end:  # an empty match after the final terminator is not a line
            break
        pos = find(eol, m_start, end) + 1 or end
        if numbered:
            number += (count(eol, counted, start) if start - counted < far
                       else _newlines(data, counted, start, eol))
            counted = start
        append(LineEvent(True, number, start, data[start:pos], []))
        lines += 1
    return lines


def bare_lines(query: Query, data: bytes, limit: int | None, numbered: bool = False
               ) -> list[int | bytes]:
    """The lines of a text file holding a match, each with its terminator (the last one
    perhaps without), up to `limit`, each after its line number if `numbered` (-n): what a
    printer of bare lines formats, in its format's order (see BufferSearch.bare; one of
    their count needs only `counted_lines`). _bare_events' loop without events, whose
    making and reading back cost a search printing thousands of lines a third of its time
    (and -n half).

    Once this process found DENSE_LINES lines for the regex, the lines come from a run of
    `rest_of_line_regex` over the buffer: a match per line, which also ends the line, where
    a search from each line's end finds a line and a `find` its end (a worker of -n return:
    12 % less time in this function)."""
    if query.line_regex is not query.regex:  # (its lines are not its regex's matches)
        return _searched_lines(query, data, limit, numbered)
    rest = _dense_rest_of_line(query)
    if rest is None:
        lines = _searched_lines(query, data, limit, numbered)
        _note_lines_found(query, len(lines) >> numbered)
        return lines
    eol, end = query.eol, len(data)
    lines = []
    rfind, count, append = data.rfind, data.count, lines.append
    far = _far(data)
    pos = number = 0
    matches = rest.finditer(data)
    for m in matches if limit is None else islice(matches, limit):
        m_start, stop = m.span()
        start = rfind(eol, 0, m_start) + 1
        # An empty match after the final terminator, or at the end of a last line printed
        # already (which ends without one), is not a line.
        if start == end or start < pos:
            break
        if numbered:  # (the line before, if any, ends at `pos`: only the gap is counted)
            number += 1 + (count(eol, pos, start) if start - pos < far
                           else _newlines(data, pos, start, eol))
            append(number)
        pos = stop
        append(data[start:stop])
    return lines


def _searched_lines(query: Query, data: bytes, limit: int | None, numbered: bool
                    ) -> list[int | bytes]:
    """`bare_lines` by a search of the line regex from each line's end."""
    regex, eol, end = query.line_regex, query.eol, len(data)
    lines: list[int | bytes] = []
    search, find, rfind, count, append = (
        regex.search, data.find, data.rfind, data.count, lines.append)
    far = _far(data)
    pos = number = found = 0
    while pos < end and found != limit:
        m = search(data, pos, end)
        if m is None:
            break
        m_start = m.start()
        start = rfind(eol, 0, m_start) + 1
        if start == end:  # an empty match after the final terminator is not a line
            break
        if numbered:  # (as in bare_lines)
            number += 1 + (count(eol, pos, start) if start - pos < far
                           else _newlines(data, pos, start, eol))
            append(number)
        pos = find(eol, m_start, end) + 1 or end
        append(data[start:pos])
        found += 1
    return lines


def _dense_rest_of_line(query: Query) -> rurex.Pattern | None:
    """The `rest_of_line_regex` of a search whose line regex is its regex, once this process
    found DENSE_LINES lines for it (see `_note_lines_found`); None before."""
    rest = _rest_of_line.get((query.source, query.eol))
    return None if rest is None or isinstance(rest, int) else rest


def _note_lines_found(query: Query, found: int) -> None:
    """Count `found` more lines of `query` (one whose line regex is its regex), compiling its
    rest-of-line regex when the count reaches DENSE_LINES."""
    key = (query.source, query.eol)
    rest = _rest_of_line.get(key, 0)
    if not isinstance(rest, int):
        return
    if len(_rest_of_line) > REST_OF_LINE_KEPT:
        _rest_of_line.clear()
    rest += found
    if rest >= DENSE_LINES:
        try:
            _rest_of_line[key] = rest_of_line_regex(query)
        except PatternError:  # (the suffix took it past the engine's size limit)
            _rest_of_line[key] = -sys.maxsize  # never again: searched from each line
    else:
        _rest_of_line[key] = rest


def counted_lines(query: Query, data: bytes, pos: int, limit: int | None) -> int:
    """How many lines from the line start `pos` on hold a match (as _matching_lines finds
    them), up to `limit`: -c's count (and -l's, and -v's), without a generator nor each
    line's start and bytes. Without a limit, a search whose line regex is its regex and
    which cannot match empty counts COUNT_CHUNK bytes of lines at a time (as
    `counted_matches`), by the length of its rest-of-line regex's `findall` once the search
    is dense (see `_note_lines_found`): one match a line and no Python step per match (-c
    spin_lock_irqsave over its 3,722 candidates in the Linux tree: 34 ms, where a search
    from each line took 48). A big file turns dense within its first chunks (-c on a 21 MB
    log of 1.9 million matching lines: 0.96 -> 0.33 s, rg 0.1)."""
    end = len(data)
    if limit is not None or query.line_regex is not query.regex or query.matches_empty:
        return _searched_count(query, data, pos, end, limit)
    found = 0
    for start, stop in line_runs(data, COUNT_CHUNK, query.eol, pos):
        rest = _dense_rest_of_line(query)
        if rest is None:
            lines = _searched_count(query, data, start, stop, None)
            _note_lines_found(query, lines)
        else:
            lines = len(rest.findall(data, start, stop))
        found += lines
    return found


def _searched_count(query: Query, data: bytes, pos: int, end: int, limit: int | None) -> int:
    """`counted_lines` up to `end` (a line start, or the buffer's end) by a search of the line
    regex from each line's start."""
    regex, eol = query.line_regex, query.eol
    search, find = regex.search, data.find
    lines = 0
    while pos < end and lines != limit:
        m = search(data, pos, end)
        if m is None:
            break
        m_start = m.start()
        if m_start == end and data[end - 1] == eol[0]:  # after the final terminator: no line
            break
        lines += 1
        pos = find(eol, m_start, end) + 1 or end
    return lines


def counted_matches(regex: rurex.Pattern, data: bytes) -> int:
    """How many matches a regex that cannot match empty finds in a text buffer (see
    _spans_unbounded): the length of its `findall`, one Rust loop without a Python step a
    match (the files of the Linux tree's kernel/, mm/ and two more holding `static`: 2.9 ms,
    where a `finditer` loop took 11.8; `e`: 45 against 426 ms). Run over
    COUNT_CHUNK bytes of lines at a time, each from a line's start, which a search from
    there sees as one over the whole buffer does, to just after a terminator, which no
    match ends in."""
    findall = regex.findall
    return sum(len(findall(data, start, stop)) for start, stop in line_runs(data, COUNT_CHUNK))


class Lines(Protocol):
    """What `line_runs` needs of a buffer: bytes, or a big file's stream.FileView."""

    def __len__(self) -> int: ...

    def find(self, byte: bytes, start: int) -> int: ...


def line_runs(data: Lines, size: int, eol: bytes = b"\n", pos: int = 0
              ) -> Iterator[tuple[int, int]]:
    """(start, stop) of the successive runs of whole lines of `data` from the line start
    `pos`, each at least `size` bytes (but the last) and ending just after a terminator:
    the pieces a search takes one at a time (see COUNT_CHUNK, stream.FILE_WINDOW)."""
    end = len(data)
    while pos < end:
        stop = data.find(eol, pos + size) + 1 or end
        yield pos, stop
        pos = stop


def _lines_with_first_span(
    regex: rurex.Pattern, data: bytes
) -> Iterator[tuple[tuple[int, int], list[tuple[int, int]]]]:
    """((start, end), [its first span]) of each line holding a match (see _spans_unbounded):
    the match that found the line is its first, as each search starts at a line start
    (--column without colour, where every line may match: `[a-z]*`). As _matching_lines,
    an empty match after the final terminator is no line, and one at the end of an
    unterminated last line no span."""
    pos, end = 0, len(data)
    while pos < end:
        m = regex.search(data, pos)
        if m is None:
            return
        m_start, m_end = m.span()
        start = data.rfind(b"\n", 0, m_start) + 1
        if start == end:
            return
        pos = data.find(b"\n", m_start) + 1 or end
        yield (start, pos), [(m_start - start, m_end - start)] if m_start < pos else []


def _inverted(
    data: bytes, matched: Iterator[tuple[int, int]], end: int, eol: bytes
) -> Iterator[tuple[int, int]]:
    """Every line not in `matched` (-v)."""
    pos = 0
    for start, stop in [*matched, (end, end)]:
        while pos < start:
            line_end = _line_end(data, pos, start, eol)
            yield pos, line_end
            pos = line_end
        pos = max(pos, stop)


def _submatches(query: Query, data: bytes, start: int, stop: int, first_only: bool = False
                ) -> list[tuple[int, int]]:
    """Spans relative to `start`: per line without its terminator, or the whole group (-U).
    `first_only` (line by line): just the first, all that --column prints without colour
    (an empty-matching regex matches at every other byte: finding them all cost 30 times
    rg's time)."""
    if query.multiline:
        spans = []
        for m in find_iter(query.regex, data, start, len(data)):
            if m.start() >= stop:
                break
            spans.append((m.start() - start, m.end() - start))
        return spans
    # rg drops a match starting at the end of an unterminated last line (an empty one).
    end = _trimmed_end(data, stop, start, query.crlf, query.eol)
    if first_only:
        first = query.regex.search(data, start, end)
        found: Iterable[rurex.Match] = () if first is None else (first,)
    elif query.matches_empty:
        found = find_iter(query.regex, data, start, end)
    else:  # (the regex's own finditer finds the same matches, in one call: most lines hold one)
        found = query.regex.finditer(data, start, end)
    return [(m.start() - start, m.end() - start) for m in found if m.start() < stop]


def _line_spans(query: Query, data: bytes, start: int, stop: int, first_only: bool = False
                ) -> list[tuple[int, int]]:
    """-v with -U or --null-data: the matches rg shows on a context line, found in that line
    alone (its terminator included only with -U), as its printers do (`first_only`: as in
    _submatches). With -U, as rg, not an empty match at the end of the line (after its
    terminator): the next line's."""
    end = stop - start
    if not query.multiline:
        stop = _trimmed_end(data, stop, start, query.crlf, query.eol)
    found = find_iter(query.regex, data[start:stop], 0, stop - start)
    spans = [m.span() for m in (islice(found, 1) if first_only else found)]
    if spans and spans[-1][0] >= end:
        spans.pop()
    return spans


def _locate(data: bytes, start: int, end: int, eol: bytes) -> tuple[int, int]:
    """The whole lines holding the match data[start:end] (grep-searcher's lines::locate): empty
    for an empty match after the final terminator."""
    line_start = _line_start(data, start, eol)
    if end > line_start and data[end - 1] == eol[0]:
        return line_start, end
    return line_start, _line_end(data, end, len(data), eol)


class _Lines:
    """Line numbers for increasing offsets, counting newlines only once."""

    def __init__(self, data: bytes, eol: bytes) -> None:
        self.data = data
        self.eol = eol
        self.far = _far(data)
        self.pos = 0
        self.number = 1

    def at(self, offset: int) -> int:
        pos = self.pos
        if pos <= offset < pos + self.far:  # (most: _newlines inlined)
            self.number += self.data.count(self.eol, pos, offset)
        elif offset >= pos:
            self.number += _newlines(self.data, pos, offset, self.eol)
        else:  # -U prints a context line twice in one rare case
            self.number -= _newlines(self.data, offset, self.pos, self.eol)
        self.pos = offset
        return self.number


def _newlines(data: bytes, start: int, end: int, eol: bytes) -> int:
    """data.count(eol, start, end), vectorised for long spans (line numbers of matches far
    into big files), or from the counts a LineIndexed keeps."""
    if type(data) is LineIndexed and eol == b"\n":
        return data.newlines_before(end) - data.newlines_before(start)
    np = sys.modules.get("numpy") if end - start >= VECTOR_COUNT_MIN else None
    if np is None:
        return data.count(eol, start, end)
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, end - start, start) == eol[0]))


def _far(data: bytes) -> int:
    """How long a span must be for its newlines to go to `_newlines` rather than a count."""
    return NEWLINE_BLOCK if type(data) is LineIndexed else VECTOR_COUNT_MIN


class LineIndexed(bytes):
    """The bytes of a file kept for the searches to come (a search worker's cache of files),
    which keep how many `\n`s come before each NEWLINE_BLOCK-byte block, counted the first
    time a search asks for the number of a line far into them. Without them, each search
    numbering the file's lines (the Python API's Matches, -n, a terminal's output) counted
    the newlines from its start to its last match: as many bytes as the regex scans, at a
    tenth of its speed (-w kmalloc_array through the API: a seventh of its workers' time)."""

    blocks: array | None = None  # blocks[i]: the newlines before byte i * NEWLINE_BLOCK

    def newlines_before(self, offset: int) -> int:
        blocks = self.blocks
        if blocks is None:
            blocks = self.blocks = _block_newlines(self)
        return blocks[offset // NEWLINE_BLOCK] + self.count(
            b"\n", offset - offset % NEWLINE_BLOCK, offset)


def _block_newlines(data: bytes) -> array:
    """The newlines before each NEWLINE_BLOCK-byte block of `data` (the first 0), counted in
    one pass: each block's flags, a byte each, are summed as 64-bit words, whose bytes hold
    each lane's count (NEWLINE_BLOCK / 8 at most, under 256) and are summed after. (Only the
    search workers keep files, and they load numpy when they start.)"""
    import numpy as np

    blocks = len(data) // NEWLINE_BLOCK
    flags = np.frombuffer(data, np.uint8, blocks * NEWLINE_BLOCK) == 10
    lanes = flags.view(np.uint64).reshape(blocks, NEWLINE_BLOCK // 8).sum(axis=1)
    counts = np.zeros(blocks + 1, np.int64)
    np.cumsum(lanes.view(np.uint8).reshape(blocks, 8).sum(axis=1), out=counts[1:])
    return array("q", counts.tobytes())


class _Collector:
    """Turns matching line ranges into events with context, -m and binary detection."""

    def __init__(
        self, data: bytes, result: FileResult, nul: int, slice_mode: bool, eol: bytes,
        match_spans: Callable[[int, int], list[tuple[int, int]]],
    ) -> None:
        self.data = data
        self.result = result
        self.nul = nul
        self.slice_mode = slice_mode
        self.eol = eol
        self.lines = _Lines(data, eol)
        self.emitted_end = 0  # end of the last line emitted (or passed over for context)
        self.printed_end = 0  # end of the last line emitted
        self.match_end = 0  # end of the last matching line emitted
        self.detect_at: int | None = None  # offset from which the NUL is known (CONVERT)
        self.quit = False  # QUIT mode met a NUL in a printed line (-U, --mmap)
        self.quit_in_context = False  # ... in a context line
        self.match_events = 0
        self.before_lines: set[int] = set()  # indices of before-context events
        self.match_spans = match_spans  # of a matching line (see _submatches)
        # -v: context lines are the regex's matching lines; rg reports their matches (-o,
        # colour, JSON submatches).
        self.context_spans: Callable[[int, int], list[tuple[int, int]]] | None = None

    def emit(self, is_match: bool, start: int, stop: int, spans: list[tuple[int, int]]) -> bool:
        """Append an event, checking it for a NUL the way rg's slice searcher does; False
        (nothing appended) once a NUL ended the search (QUIT mode)."""
        if self.quit:
            return False
        if self.slice_mode and self.result.binary_offset is None and self.nul >= 0:
            nul = self.data.find(b"\0", start, stop)
            if nul >= 0:
                self.result.binary_offset = nul
                if self.result.binary_mode.quits:
                    self.quit, self.quit_in_context = True, not is_match
                    # (a gap comes only before a before-context line)
                    self.result.quit_break = not is_match and start > self.printed_end > 0
                    return False
                self.detect_at = start
        event = LineEvent(is_match, self.lines.at(start), start, self.data[start:stop], spans)
        self.result.events.append(event)
        self.emitted_end = self.printed_end = stop
        if is_match:
            self.match_end = stop
            self.match_events += 1
            self.result.matched_lines += (
                event.last_line_number(self.eol) - event.line_number + 1
                if self.result.multiline else 1
            )
            self.result.matches += len(spans)
        return True

    def context_upto(self, stop: int, count: int) -> int:
        """Emit up to `count` context lines from the last emitted line to `stop`."""
        if self.context_spans is None and not (
                self.slice_mode and self.result.binary_offset is None and self.nul >= 0):
            return self._bare_context(stop, count)
        while count and self.emitted_end < stop and not self.quit:
            line_end = _line_end(self.data, self.emitted_end, stop, self.eol)
            spans = self.context_spans(self.emitted_end, line_end) if self.context_spans else []
            self.emit(False, self.emitted_end, line_end, spans)
            count -= 1
        return count

    def _bare_context(self, stop: int, count: int) -> int:
        """context_upto's lines when they need neither spans nor a NUL check (see emit): in
        one loop, each numbered one past the last, rather than a call of emit and a count of
        newlines for each (-C2 makes four context lines a match, --passthru one a line)."""
        pos = self.emitted_end
        if not count or pos >= stop or self.quit:
            return count
        data, eol, events = self.data, self.eol, self.result.events
        number = self.lines.at(pos)
        while True:
            line_end = data.find(eol, pos, stop) + 1 or stop
            events.append(LineEvent(False, number, pos, data[pos:line_end], []))
            count -= 1
            if not count or line_end == stop:
                break
            pos, number = line_end, number + 1
        self.lines.pos, self.lines.number = pos, number
        self.emitted_end = self.printed_end = line_end
        return count

    def before_context(self, start: int, count: int) -> None:
        context_start = start
        for _ in range(count):
            if context_start <= self.emitted_end:
                break
            context_start = _line_start(self.data, context_start - 1, self.eol)
        self.emitted_end = max(self.emitted_end, context_start)
        first = len(self.result.events)
        self.context_upto(start, count)
        self.before_lines.update(range(first, len(self.result.events)))


class _Quota:
    """The printer's verdict on each line rg's searcher hands it: go on, or stop (-m, -l).

    The lines and JSON printers count events and, past the limit, go on while after-context
    is owed (a match met then counts as context); the summary printers (-c, -l, ...) count
    lines, or with -U the regex's matches in what they get (`matched`'s `matches`), and -l,
    -q stop at once.
    """

    def __init__(self, opts: OutputOptions, limit: int | None, after: int, stop_at_first: bool):
        self.limit = limit
        self.after = after
        self.summary = not (opts.mode == "lines" or (opts.mode == "quiet" and opts.json))
        self.stop_at_first = stop_at_first
        self.count = 0
        self.after_left = 0

    def matched(self, matches: int) -> bool:
        if self.summary:
            self.count += matches
            return not self.stop_at_first and not self._limit_reached()
        self.count += 1
        if self.limit is not None and self.count > self.limit:
            self.after_left = max(0, self.after_left - 1)
        else:
            self.after_left = self.after
        return not self._done()

    def context(self, is_after: bool) -> bool:
        if is_after:
            self.after_left = max(0, self.after_left - 1)
        return self.summary or not self._done()

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def _done(self) -> bool:
        return self._limit_reached() and self.after_left == 0


class _Core:
    """What grep-searcher's Core does with the lines its searchers find: it hands them to the
    printer as matches or context, stopping on the printer's verdict (`_Quota`).

    `pos`, `last_visited` and `after_left` are Core's: where the search is, the end of the
    last line the printer took, and the after-context lines owed.
    """

    def __init__(
        self, data: bytes, query: Query, collector: _Collector, quota: _Quota, before: int,
        after: int, passthru: bool,
    ) -> None:
        self.data = data
        self.passthru = passthru
        self.query = query
        self.collector = collector
        self.quota = quota
        self.before = before
        self.after = after
        self.pos = 0
        self.last_visited = 0
        self.after_left = 0

    def _sink_context(self, upto: int, at_end: bool = False) -> bool:
        """The context lines before `upto`: with --passthru every line not printed yet, else
        the after-context owed and (unless `at_end`) the before-context."""
        if self.passthru:
            return self._lines_upto(self.last_visited, upto)
        if at_end:
            return self._after_context(upto)
        return self._after_context(upto) and self._before_context(upto)

    def _after_context(self, upto: int) -> bool:
        start = self.last_visited
        while self.after_left and start < upto:
            stop = _line_end(self.data, start, upto, self.query.eol)
            if not self._after_line(start, stop):
                return False
            start = stop
        return True

    def _after_line(self, start: int, stop: int) -> bool:
        """One after-context line. rg puts no break before it, even past lines it skipped
        (which only --stop-on-nonmatch -v does: see `_UntilNonmatch`)."""
        if start > self.last_visited:
            self.collector.result.unbroken = len(self.collector.result.events)
        if not self._context(start, stop, is_after=True):
            return False
        self.after_left -= 1
        return True

    def _before_context(self, upto: int) -> bool:
        start = upto
        for _ in range(self.before):
            if start <= self.last_visited:
                break
            start = _line_start(self.data, start - 1, self.query.eol)
        return self._lines_upto(start, upto, before=True)

    def _lines_upto(self, start: int, upto: int, *, before: bool = False) -> bool:
        """Context lines (not after-context) from `start` to `upto`; `before`: a match's
        before-context."""
        while start < upto:
            stop = _line_end(self.data, start, upto, self.query.eol)
            if before:
                self.collector.before_lines.add(len(self.collector.result.events))
            if not self._context(start, stop, is_after=False):
                return False
            start = stop
        return True

    def _context(self, start: int, stop: int, is_after: bool) -> bool:
        collector = self.collector
        spans = collector.context_spans(start, stop) if collector.context_spans else []
        if not collector.emit(False, start, stop, spans) or not self.quota.context(is_after):
            return False
        self.last_visited = stop
        return True

    def _matched(self, start: int, stop: int) -> bool:
        if start == stop:  # a match after the final terminator is no line
            return False
        spans = ([] if self.query.inverted_lines_bare
                 else self.collector.match_spans(start, stop))
        counted = len(spans) if self.query.multiline else 1  # (see _Quota)
        if not self.collector.emit(True, start, stop, spans) or not self.quota.matched(counted):
            return False
        self.last_visited = stop
        self.after_left = self.after
        return True

    def _matched_lines(self, start: int, stop: int) -> bool:
        """Each line from `start` to `stop` as a match."""
        while start < stop:
            line_end = _line_end(self.data, start, stop, self.query.eol)
            if not self._matched(start, line_end):
                return False
            start = line_end
        return True


class _MultiLine(_Core):
    """rg 14.1's multi-line searcher (grep-searcher's MultiLine over its Core), step by step.

    Its output differs from a line-by-line search in ways only a faithful copy reproduces:
    - the regex is re-run on the rest of the buffer from where the last match ended, so `\\A`,
      `^` and word boundaries see a text start there (`Query.restart_sensitive`);
    - matches on touching lines go to the printer as one group, each group only once the
      next match that does not touch it is found; with -v the lines between the lines of
      consecutive matches are the matches, and a match starting on the last line of the
      previous one is never seen;
    - the printer's verdict (`_Quota`) stops the search, except on the last group, where rg
      ignores it and still prints the after-context owed: a context line can come twice, or
      after a match past -m; an empty last group (a match after the final terminator) gets
      its context lines printed but no match.
    """

    def run(self) -> int:
        """Search, emitting events; returns where the search stopped (rg's bytes_searched)."""
        end = len(self.data)
        keepgoing = True
        if self.query.invert:
            while keepgoing and self.pos < end:
                keepgoing = self._sink_inverted()
        else:
            group: tuple[int, int] | None = None
            while keepgoing and self.pos < end:
                found = self._find()
                if found is None:
                    self.pos = end
                    break
                line = _locate(self.data, *found, self.query.eol)
                if group is None:
                    group = line
                elif group[1] >= line[0]:
                    group = (group[0], line[1])
                else:
                    keepgoing = self._sink_context(group[0]) and self._matched(*group)
                    group = line
            if keepgoing and group is not None and self._sink_context(group[0]):
                self._matched(*group)  # its verdict is ignored
        if keepgoing:
            self._sink_context(end, at_end=True)
        return self.pos

    def _find(self) -> tuple[int, int] | None:
        """The next match from `pos`, which then moves past it."""
        data, pos = self.data, self.pos
        sensitive = self.query.restart_sensitive
        if pos and (sensitive == "anywhere" or (sensitive and data[pos - 1] != 0x0A)):
            found = self._restarted(pos)
        else:
            m = self.query.regex.search(data, pos, len(data))
            found = None if m is None else m.span()
        if found is not None:
            start, end = found
            self.pos = end + 1 if start == end and end < len(data) else end
        return found

    def _restarted(self, pos: int) -> tuple[int, int] | None:
        """The first match of the regex run on data[pos:] as a text of its own (as rg re-runs
        it). Copying all the rest for each match would be quadratic (`-U '^'` matches at
        every line): a regex whose matches hold no newline is run on whole lines from `pos`,
        as many as it takes (a match starting before the last line end is the one the rest
        holds: it cannot reach past that line end)."""
        data, regex = self.data, self.query.regex
        size = RESTART_WINDOW if self.query.line_bounded else len(data)
        while True:
            end = data.find(b"\n", pos + size) + 1 or len(data)
            m = regex.search(data[pos:end])
            if end == len(data) or (m is not None and m.start() < end - pos):
                return None if m is None else (pos + m.start(), pos + m.end())
            size *= 2

    def _sink_inverted(self) -> bool:
        """-v: the lines from `pos` to the first line of the next match are the matches;
        the search goes on after that match's last line."""
        run_start, end = self.pos, len(self.data)
        found = self._find()
        if found is None:
            run_end = self.pos = end
        else:
            run_end, self.pos = _locate(self.data, *found, self.query.eol)
        if run_start == run_end:
            return True
        return self._sink_context(run_start) and self._matched_lines(run_start, run_end)


class _UntilNonmatch(_Core):
    """rg 14.1's line-by-line search with --stop-on-nonmatch (its Core's match_by_line).

    Without --passthru, Core's fast path finds the first match; with -v, that is the first
    run of lines the regex does not match within one read buffer, and the regex's line that
    ends it is passed over unseen (not as after-context, unless it ends the buffer;
    before-context may bring it back). Its slow path then goes on line by line from there,
    and stops after the first line that is no match, printed only as after-context if some
    is owed. With --passthru the slow path does it all, the lines before the first match
    being context.
    """

    has_matched = False  # Core's: a line matched (then the first that does not stops it)

    def run(self, buffer_ends: Iterable[int], end: int) -> int | None:
        """Search up to `end`, emitting events; returns where the search stopped early (rg's
        `pos`), or None. `buffer_ends`: where rg's read buffers end, the last at `end` or
        past it (one buffer for a slice): only the fast path of -v sees them."""
        keepgoing = self.passthru or self._fast(buffer_ends, end)
        return None if keepgoing and self._slow(end) else self.pos

    def _fast(self, buffer_ends: Iterable[int], end: int) -> bool:
        """Core's fast path, up to and including its first match."""
        if not self.query.invert:
            line = next(_matching_lines(self.query, self.data, end), None)
            if line is None:
                self.pos = end
                return True
            self.has_matched = True
            if not self._sink_context(line[0]):
                return False
            self.pos = line[1]
            return self._matched(*line)
        for buffer_end in buffer_ends:
            buffer_end = min(buffer_end, end)
            hits = _matching_lines(self.query, self.data, buffer_end, self.pos)
            for hit_start, hit_end in chain(hits, [(buffer_end, buffer_end)]):
                run_start, self.pos = self.pos, hit_end
                if run_start < hit_start:
                    self.has_matched = True
                    # (a run that ends at the buffer's end gets the after-context owed there:
                    # the regex's line, when it ends the buffer)
                    return (self._sink_context(run_start)
                            and self._matched_lines(run_start, hit_start)
                            and (self.pos < buffer_end or self._after_context(buffer_end)))
            if buffer_end == end:
                break
        return True

    def _slow(self, end: int) -> bool:
        """Core's slow path from `pos`: False once it stopped (see the class)."""
        data = self.data
        while self.pos < end:
            start = self.pos
            self.pos = _line_end(data, start, end, self.query.eol)
            success = _line_matches(self.query, data, start, self.pos)
            if success:
                self.has_matched = True
                keepgoing = self._before_context(start) and self._matched(start, self.pos)
            elif self.after_left:
                keepgoing = self._after_line(start, self.pos)
            elif self.passthru:
                keepgoing = self._context(start, self.pos, is_after=False)
            else:
                keepgoing = True
            if not keepgoing or (not success and self.has_matched):
                return False
        return True


def nonmatch_end(query: Query, data: bytes, start: int, matched: bool) -> int | None:
    """--stop-on-nonmatch without -v: the end of the line rg's search of `data` from the line
    start `start` stops at (the first after a matching line that is no match), or None;
    `matched`: a line before `start` matched."""
    if not matched:
        first = next(_matching_lines(query, data, len(data), start), None)
        if first is None:
            return None
        start = first[1]
    while start < len(data):
        stop = _line_end(data, start, len(data), query.eol)
        if not _line_matches(query, data, start, stop):
            return stop
        start = stop
    return None


def _line_matches(query: Query, data: bytes, start: int, stop: int) -> bool:
    """Whether the line data[start:stop] is a match (-v: the regex misses it) as rg's slow
    path tells, searching it alone without its terminator (lines::without_terminator): with
    --crlf only a `\r\n` is one, so `^$` matches after a lone `\n`."""
    terminator = b"\r\n" if query.crlf else query.eol
    if data.endswith(terminator, start, stop):
        stop -= len(terminator)
    return (query.line_regex.search(data, start, stop) is None) == query.invert


def _text_cut(events: list[LineEvent], before_lines: set[int], detect_at: int) -> int | None:
    """Index of the first event rg's printer gets after it learnt of the NUL (CONVERT modes).

    It stops there, counting that event only if it is a match. rg hands a match's
    before-context lines (`before_lines`, empty when the NUL is met line by line) to the
    printer together with the match, so they are cut when the match is.
    """
    sunk_at = _sunk_at(events, before_lines)
    return next((i for i, offset in enumerate(sunk_at) if offset >= detect_at), None)


def _sunk_at(events: list[LineEvent], before_lines: set[int]) -> list[int]:
    """Where rg's search was when it handed each event to the printer: at its line, or for a
    match's before-context (`before_lines`), at the match."""
    sunk_at = [e.offset for e in events]
    next_match = None
    for i in reversed(range(len(events))):
        if events[i].is_match:
            next_match = events[i].offset
        elif i in before_lines and next_match is not None:
            sunk_at[i] = next_match
    return sunk_at


def _visits(events: list[LineEvent], before_lines: set[int]) -> list[tuple[int, int]]:
    """(where rg was searching, the end of the line it visited) for each event, in order: a
    read buffer keeps the lines after those visited while searching it (see _stream_reads)."""
    sunk_at = _sunk_at(events, before_lines)
    return [(at, e.offset + len(e.lines)) for at, e in zip(sunk_at, events, strict=True)]


def _search_by_line(
    data: bytes,
    query: Query,
    collector: _Collector,
    end: int,
    limit: int | None,
    before: int,
    after: int,
    need_submatches: bool,
    passthru: bool,
    first_spans: bool,
    summary: bool,
) -> tuple[bool, bool]:
    """Emit the events of a line-by-line search. Returns whether -m `stopped` it early, and
    whether after-context was still owed at `end` when -m was reached (rg then reads on).
    With `passthru` every line up to where the search stopped is an event; `first_spans`:
    the first matching line needs its spans even without `need_submatches`; `summary`: a
    summary printer's limit (-m, -l) stops the search at once, owing no after-context."""
    found = _matching_lines(query, data, end)
    if query.invert:
        found = _inverted(data, found, end, query.eol)
    after_left = 0
    stopped = limit == 0
    for counted, (start, stop) in enumerate([] if stopped else found):
        if summary and limit is not None and counted >= limit:
            stopped = True
            break
        after_left = collector.context_upto(start, after_left)
        if limit is not None and counted >= limit:
            if not after_left or collector.emitted_end < start:
                stopped = True
                break
            after_left -= 1
        else:
            after_left = after
            if passthru:
                collector.context_upto(start, EVERY_LINE)
            elif before:
                collector.before_context(start, before)
        match_spans = (need_submatches or (first_spans and not collector.match_events)) and (
            not query.inverted_lines_bare)
        spans = collector.match_spans(start, stop) if match_spans else []
        if not collector.emit(True, start, stop, spans):
            break
    after_pending = False
    if not stopped:
        stopped = limit is not None and collector.match_events >= limit
        if not (summary and stopped):
            after_pending = collector.context_upto(end, after_left) > 0
        if passthru and not stopped:
            collector.context_upto(end, EVERY_LINE)
    return stopped, after_pending


def spans_in_one_run(query: Query, kept_lines: int | None, need_submatches: bool,
                     first_only: bool) -> bool:
    """Whether `_search_plain` takes a file's matching lines, all kept with their spans, from
    one run of the regex (see `span_columns`)."""
    return (kept_lines is None and need_submatches and not first_only
            and _spans_unbounded(query) and not query.matches_empty)


def _search_plain(
    data: bytes,
    query: Query,
    result: FileResult,
    limit: int | None,
    need_submatches: bool,
    kept_lines: int | None,
    line_numbers: bool,
    first_only: bool,
) -> None:
    """The matching lines of a text file, without the collector's bookkeeping (context,
    NUL checks, where -m stopped): most files are searched this way. The first `kept_lines`
    become events (None: all, as `need_submatches` says with or without spans; else with
    them); the others are only counted. -l and -q stop at the first line (`limit` 1).
    Without `line_numbers`, events say line 0; `first_only`: see _submatches."""
    events = result.events
    if limit == 0:
        return
    one_run = need_submatches and _spans_unbounded(query) and not query.matches_empty
    if spans_in_one_run(query, kept_lines, need_submatches, first_only):
        result.matched_lines, result.matches = _span_events(
            query.regex, data, events, line_numbers, limit)
        return
    if kept_lines is None and not need_submatches:
        result.matched_lines = _bare_events(query, data, events, line_numbers, limit)
        return
    if one_run and kept_lines == 0 and limit is None:  # (a line holds a match or more)
        result.matches = matches = counted_matches(query.regex, data)
        result.matched_lines = counted_lines(query, data, 0, None) if matches > 1 else matches
        return
    lines = _Lines(data, query.eol) if line_numbers else None
    if not need_submatches:  # a summary's count (-c, -l, -q): `kept_lines` events, then a count
        assert kept_lines is not None
        pos = 0
        kept = kept_lines if limit is None else min(kept_lines, limit)
        for start, stop in islice(_matching_lines(query, data, len(data)), kept):
            spans = _submatches(query, data, start, stop, first_only)
            number = 0 if lines is None else lines.at(start)
            events.append(LineEvent(True, number, start, data[start:stop], spans))
            pos = stop
        left = None if limit is None else limit - len(events)
        result.matched_lines = len(events) + (
            0 if left == 0 else counted_lines(query, data, pos, left))
        return
    # The lines with their spans, each found by a search of its own: --column's first (where
    # every line may match), a regex that may match empty, --crlf...; a summary that counts
    # matches up to -m.
    matched_lines = matches = 0
    found: Iterator[tuple[tuple[int, int], list[tuple[int, int]] | None]]
    if first_only and _spans_unbounded(query):
        found = _lines_with_first_span(query.regex, data)
    else:
        found = zip(_matching_lines(query, data, len(data)), repeat(None))
    for (start, stop), spans in found:
        if spans is None:
            spans = _submatches(query, data, start, stop, first_only)
        matches += len(spans)
        if kept_lines is None or matched_lines < kept_lines:
            number = 0 if lines is None else lines.at(start)
            events.append(LineEvent(True, number, start, data[start:stop], spans))
        matched_lines += 1
        if matched_lines == limit:
            break
    result.matched_lines = matched_lines
    result.matches = matches


def _count_inverted(data: bytes, query: Query, result: FileResult, limit: int | None) -> None:
    """-v in a summary mode (-c, -l, -q, --files-without-match) on a text file: the lines
    without a match are counted between the matching lines, up to `limit`, not made events
    (which cost -c -v 20 times rg's time); without a limit, all lines less those that match,
    which `counted_lines` counts (on a 21 MB log of 1.9 million matching lines: 1.16 -> 0.36
    s, rg 0.05)."""
    eol, end = query.eol, len(data)
    if limit is None:
        lines = _newlines(data, 0, end, eol) + (bool(data) and data[-1] != eol[0])
        result.matched_lines = lines - counted_lines(query, data, 0, None)
        return
    inverted = pos = 0
    for start, stop in chain(_matching_lines(query, data, end), [(end, end)]):
        if limit is not None and inverted >= limit:
            break
        if pos < start:  # whole lines, but perhaps an unterminated last one
            inverted += _newlines(data, pos, start, eol) + (data[start - 1] != eol[0])
        pos = stop
    result.matched_lines = inverted if limit is None else min(inverted, limit)


def search_buffer(
    data: bytes,
    query: Query,
    opts: OutputOptions,
    *,
    binary: BinaryMode,
    read_error: str | None = None,
    spans: bool = True,
    line_numbers: bool = True,
    first_span: bool = False,
) -> FileResult:
    """Search one file's bytes as rg would (see BufferSearch)."""
    return BufferSearch(query, opts, spans, line_numbers, first_span)(data, binary, read_error)


class _Run(NamedTuple):
    """A line-by-line search's outcome, past its events (see BufferSearch._by_line)."""

    collector: _Collector
    stopped: bool  # early, by -m, -l... (see _search_by_line)
    after_pending: bool
    searched: int  # where the search ended
    stopped_at: int | None  # where it stopped early, for bytes_searched


def _output_before_failure(data: bytes, binary: BinaryMode, eol: bytes) -> tuple[bytes, int | None]:
    """What rg searches line by line of what a failed program (-z, --pre) wrote, and the
    offset of its first NUL (None: not looked for). rg never saw the last, unterminated
    piece as a line, but its reads took it: a NUL there stops a walked file's search, and
    in a named file it is a line terminator, which ends that piece's line."""
    if binary is BinaryMode.TEXT or binary is BinaryMode.TEXT_MMAP:
        return data[: data.rfind(eol) + 1], None
    nul = data.find(b"\0")
    if nul >= 0 and binary.quits:
        return data, nul  # (the search ends at the NUL, before the unterminated piece)
    if nul >= 0:
        data = data.replace(b"\0", b"\n")
    return data[: data.rfind(eol) + 1], nul


class BufferSearch:
    """How to search a file's bytes as rg would, gathering events for the printers: what
    depends only on the query and the options is decided once, for all the files of a
    search (most of them small, each searched in a few microseconds).

    `spans`: False when the standard printer needs no submatch spans (no colour, no -o), so
    line events come without them (and `matches` is not counted). `line_numbers`: False when
    nothing needs the line numbers of matching lines (no -n, no context), so a search that
    finds only matching lines need not count the newlines before each. `first_span`: the
    printer needs only the first span of each line (see _submatches).
    """

    __slots__ = ("after", "bare", "before", "counts_inverted", "counts_matches",
                 "counts_past_first_line", "drops_at_nul", "first_span", "kept_lines",
                 "limit", "line_numbers", "need_submatches", "opts", "passthru", "plain",
                 "query", "spans", "spans_in_one_run", "stop_at_first")

    def __init__(self, query: Query, opts: OutputOptions, spans: bool = True,
                 line_numbers: bool = True, first_span: bool = False) -> None:
        self.query = query
        self.opts = opts
        self.spans = spans
        self.line_numbers = line_numbers
        # (what counts matches needs them all: -U, --json, --stats, --count-matches)
        self.first_span = first_span and opts.mode == "lines" and not (
            query.multiline or opts.json or opts.stats)
        # rg's summary printers stop at a file's first match, unless they count for --stats.
        # (--files-without-match reads on: a NUL met later drops the file's count to 0)
        self.stop_at_first = stop_at_first = not opts.stats and (
            opts.mode == "files_with_matches" or (opts.mode == "quiet" and not opts.json))
        self.limit = 1 if stop_at_first else opts.max_count  # -m, or 1 for the first match
        self.need_submatches = (  # (-U: every summary mode counts matches)
            opts.json or opts.stats or opts.mode == "count_matches"
            or (opts.mode == "lines" and spans) or query.multiline)
        # context lines (in the lines mode only)
        self.before, self.after = before, after = (
            (opts.before_context, opts.after_context) if opts.mode == "lines" else (0, 0))
        self.passthru = opts.passthru and opts.mode == "lines"
        # A text file (no NUL, no read error) goes to _search_plain, keeping `kept_lines`
        # events (None: all), when its search is just its matching lines: no -v, -U, context,
        # --passthru or --stop-on-nonmatch, and nothing that reports `bytes_searched` but a
        # JSON printer of all the lines (which reports the whole file: it stops nowhere).
        self.plain = not (query.invert or query.multiline or before or after or opts.passthru
                          or opts.stop_on_nonmatch or opts.stats
                          or (opts.json and (opts.mode == "quiet" or self.limit is not None)))
        self.kept_lines = None if opts.mode == "lines" else int(opts.first_line)
        # (a text file's lines are then `span_columns`' in whole)
        self.spans_in_one_run = self.plain and spans_in_one_run(
            query, self.kept_lines, self.need_submatches, self.first_span)
        # A count keeping a text file's first matching line (the Python API's count=True):
        # that line and its spans as `span_columns` takes them, the lines after it counted
        # (see `counted_lines`), when those are the lines _search_plain finds.
        self.counts_past_first_line = self.plain and opts.mode == "count" and (
            self.kept_lines == 1 and _spans_unbounded(query) and not query.matches_empty)
        # --count-matches, when _search_plain would count a text file's matches in one run
        # (counted_matches) and keep no event: the count is all it needs.
        self.counts_matches = (self.plain and opts.mode == "count_matches" and not (
            self.kept_lines or self.limit is not None or query.matches_empty)
            and _spans_unbounded(query))
        # Of a text file such a search needs only its matching lines (up to `limit`), as
        # bytes (see `bare_lines`), perhaps their numbers, or their count, or that of its
        # matches (see `bare_count`): no spans, and no events kept.
        self.bare = self.counts_matches or (
            self.plain and not self.need_submatches and self.kept_lines in (None, 0))
        # A text file's inverted lines go to _count_inverted when only their count matters
        # (they hold no match rg would count: see Query.inverted_lines_bare).
        self.counts_inverted = query.invert and query.inverted_lines_bare and not (
            query.multiline or opts.mode == "lines" or opts.json or opts.stats
            or opts.stop_on_nonmatch or opts.first_line)
        # A walked file's summary that rg drops once it meets a NUL (see
        # FileResult.quit_at_nul), which a search without -m always reaches: nothing of
        # the file before it need be searched (a 24 MB log ending in a NUL, 3 million
        # matching lines: -c took 6 s, its events all dropped).
        self.drops_at_nul = opts.mode in ("count", "count_matches", "files_without_match") and (
            self.limit is None and not (query.multiline or opts.json or opts.stats
                                        or opts.stop_on_nonmatch))

    def bare_count(self, data: bytes) -> int:
        """What a `bare` summary prints of a text file: its count of matches
        (`counts_matches`), or of matching lines up to `limit` (-c, -l)."""
        query = self.query
        if self.counts_matches:
            return counted_matches(query.regex, data)
        return counted_lines(query, data, 0, self.limit)

    def __call__(
        self, data: bytes, binary: BinaryMode, read_error: str | None = None,
        fills: Callable[[], Sequence[int]] | None = None, nul: int | None = None,
    ) -> FileResult:
        """Search `data`. `read_error`: reading failed with this message after `data` (a -z
        decompression program failed: its last, unterminated line is left out); the result's
        `error` says whether and how rg would report it. `fills`: where a transcoded file's
        transcoder fills end (see `_TRANSCODER_FILLS`), asked for only when rg's reads matter
        (a NUL, or the bytes searched reported). `nul`: the offset of the first NUL in
        `data` (-1: none), if the caller knows it."""
        query = self.query
        if read_error is not None:
            if query.multiline:  # rg reads the whole output first: the failure leaves nothing
                return FileResult(binary_mode=binary, multiline=True, error=read_error,
                                  cut_short=True)
            data, nul = _output_before_failure(data, binary, query.eol)
        result = FileResult(binary_mode=binary, multiline=query.multiline)
        textual = binary is BinaryMode.TEXT or binary is BinaryMode.TEXT_MMAP
        if textual:
            nul = -1
        elif nul is None:
            nul = data.find(b"\0")
        if nul < 0 and read_error is None and self.plain:
            _search_plain(data, query, result, self.limit, self.need_submatches,
                          self.kept_lines, self.line_numbers, self.first_span)
            if self.opts.json:
                result.bytes_searched = len(data)
            return result
        if nul < 0 and read_error is None and self.counts_inverted:
            _count_inverted(data, query, result, self.limit)
            return result
        # (rg's reads decide where it met a NUL, and what it had consumed when it stopped
        # early, which only --json and --stats report)
        if fills is None or not (nul >= 0 or self.opts.json or self.opts.stats):
            return self._search(data, binary, read_error, result, nul)
        token = _TRANSCODER_FILLS.set(fills())
        try:
            return self._search(data, binary, read_error, result, nul)
        finally:
            _TRANSCODER_FILLS.reset(token)

    def _search(self, data: bytes, binary: BinaryMode, read_error: str | None,
                result: FileResult, nul: int) -> FileResult:
        """The search of a file that is not plain text searched for its matching lines."""
        query, opts = self.query, self.opts
        slice_mode = query.multiline or binary.mapped
        end = len(data)
        detect_at: int | None = None  # matches from here on come after rg saw the NUL
        stream_detect = end  # stream modes: where rg reads the chunk holding the NUL
        context = max(opts.before_context, opts.after_context)
        if nul >= 0:
            if slice_mode:
                if nul < BUFFER_CAPACITY:
                    result.binary_offset = nul
                    if binary.quits:
                        return result
                    detect_at = 0
            elif binary is BinaryMode.QUIT and self.drops_at_nul and read_error is None:
                result.binary_offset = nul
                return result
            elif binary is BinaryMode.QUIT:
                # Without context, where rg's reads met the NUL; with it, where they met it
                # depends on the lines rg printed (below: they keep fewer lines for the
                # next read, so reads go further or not as far), so at most its line.
                end = stream_detect = (data.rfind(query.eol, 0, nul) + 1 if context
                                       else _stream_searched_end(data, nul, 0))
            else:
                data = data.replace(b"\0", b"\n")
        before, after, passthru = self.before, self.after, self.passthru
        if nul >= BUFFER_CAPACITY and slice_mode and binary.quits and opts.mode != "lines":
            # rg's searcher visits context lines in the summary modes too (until they stop
            # it: at once for -l, at -m), and one holding the NUL ends the search: the file
            # is then dropped.
            before, after, passthru = opts.before_context, opts.after_context, opts.passthru
        run = self._by_line(data, result, nul, slice_mode, end, before, after, passthru)
        if nul >= 0 and not slice_mode:
            # The lines rg printed from a read need not be kept for context in the next one,
            # so what they are decides where the read that met the NUL began.
            visits = _visits(result.events, run.collector.before_lines) if context else ()
            stream_detect = _stream_searched_end(data, nul, context, visits)
            if binary is BinaryMode.QUIT and stream_detect < end:  # a QUIT search ends there
                end = stream_detect
                result = FileResult(binary_mode=binary, multiline=query.multiline)
                run = self._by_line(
                    data, result, nul, slice_mode, end, before, after, passthru)
        collector, stopped, after_pending, searched, stopped_at = run
        reported = opts.json or opts.stats  # (the only ones that report bytes_searched)
        before_lines = collector.before_lines
        visited = _visits(result.events, before_lines) if reported and not slice_mode else []
        if slice_mode:
            if detect_at is None:  # met line by line, past the up-front check
                detect_at, before_lines = collector.detect_at, set()
        elif nul >= 0 and (not stopped or searched > stream_detect or after_pending):
            result.binary_offset = nul
            if binary is BinaryMode.CONVERT:
                detect_at = stream_detect
        if detect_at is not None and not binary.quits:
            result.text_cut = _text_cut(result.events, before_lines, detect_at)
        if (opts.json or opts.stats) and query.multiline:  # (the only ones that report it)
            offset = result.binary_offset  # rg's multi-line searcher counts up to where it stopped
            result.bytes_searched = searched if offset is None else min(offset, searched)
        elif opts.json or opts.stats:
            searched_total = end  # of a search not stopped early
            if nul >= 0 and binary is BinaryMode.QUIT and not slice_mode:
                searched_total = _consumed_by_read_of(data, nul, context, visited)
            result.bytes_searched = _bytes_searched(
                data, collector, visited, searched_total, stopped_at, context, slice_mode,
                query.eol)
        if opts.stats and opts.mode == "lines" and not opts.json and result.text_cut is not None:
            _standard_stats_at_cut(result, data, query, context, visited, slice_mode)
        if read_error is not None:
            printer_stopped = result.text_cut is not None and opts.mode == "lines" and not (
                opts.json)  # (rg's text printer stops at a match after the NUL)
            if not (stopped or printer_stopped or (nul >= 0 and binary is BinaryMode.QUIT)):
                result.error, result.cut_short = read_error, True
            elif len(data) <= PROGRAM_DONE_SIZE and not read_error.endswith(STDERR_EMPTY):
                # rg stopped reading: closing the program, it takes its failure for the broken
                # pipe it made unless it said something on stderr, which it reports alone
                result.error = read_error[read_error.index("\n"):]
        return result

    def _by_line(
        self, data: bytes, result: FileResult, nul: int, slice_mode: bool, end: int,
        before: int, after: int, passthru: bool,
    ) -> _Run:
        """The events of `data` up to `end` into `result`, line by line (or -U's way), with
        `before` and `after` lines of context, or every line (`passthru`)."""
        query, opts = self.query, self.opts
        limit, stop_at_first, need_submatches = (
            self.limit, self.stop_at_first, self.need_submatches)
        reported = opts.json or opts.stats
        context = max(opts.before_context, opts.after_context)
        collector = _Collector(data, result, nul, slice_mode, query.eol,
                               partial(_submatches, query, data, first_only=self.first_span))
        if query.invert and need_submatches:
            collector.context_spans = partial(
                _line_spans if query.multiline or query.eol != b"\n" else _submatches, query,
                data, first_only=self.first_span
            )
        if query.multiline:
            quota = _Quota(opts, limit, after, stop_at_first)
            searcher = _MultiLine(data, query, collector, quota, before, after, passthru)
            searched = searcher.run() if limit != 0 else 0
            stopped = after_pending = False  # only the line-by-line bookkeeping needs these
            stopped_at = None
        elif opts.stop_on_nonmatch:
            quota = _Quota(opts, limit, after, stop_at_first)
            # (--passthru takes rg's slow path from the start, also for counts and -l)
            until = _UntilNonmatch(data, query, collector, quota, before, after, opts.passthru)
            # (-v's fast path reads before any visit)
            reads = _stream_reads(data, context, eol=query.eol)
            buffer_ends = [end] if slice_mode else (searched_end for _, _, searched_end in reads)
            stopped_at = until.run(buffer_ends, end) if limit != 0 else 0
            stopped, after_pending = stopped_at is not None, False
            searched = end if stopped_at is None else stopped_at
        else:
            stopped, after_pending = _search_by_line(
                data, query, collector, end, limit, before, after, need_submatches, passthru,
                opts.first_line, opts.mode != "lines",
            )
            searched = collector.emitted_end if stopped else end
            stopped_at = None  # where -m or -l stopped it: after the last line emitted
            if stopped and not after_pending and reported:
                # (rg's fast path stood at the last match; its slow path, line by line, stands
                # after the last line it printed)
                fast = slice_mode and not query.slow_lines
                stopped_at = (_slice_stopped_at(data, query, collector.match_end, end, None)
                              if fast else collector.emitted_end)
            elif collector.quit_in_context and not (passthru or query.invert):
                stopped_at = collector.match_end  # where rg's fast path stood (the last match)
        return _Run(collector, stopped, after_pending, searched, stopped_at)
