"""Turn rg's pattern flags (MatchOptions) into one compiled regex plus a trigram plan.

The regex runs over a whole file buffer and finds exactly the matches rg finds line by line:
`^`/`$` (and `\\A`/`\\z`: see `LineVerified`) are line anchors and nothing matches `\\n` unless -U
(multiline).
"""

from __future__ import annotations

import functools
from typing import Literal as Choice
from typing import NamedTuple

import rurex

from trigrep.errors import PatternError
from trigrep.options import MatchOptions
from trigrep.query.emit import capture_names, emit
from trigrep.query.plan import ALL, NONE, ByteSet, TrigramQuery, plan_regex, required_bytes
from trigrep.query.replace import Replacer
from trigrep.query.syntax import (
    Alt,
    Class,
    Concat,
    Dot,
    Empty,
    Flags,
    Group,
    Literal,
    Look,
    Node,
    Repeat,
    check_nul_ban,
    class_ranges,
    parse,
    smart_case_insensitive,
)

__all__ = ["ALL", "NONE", "Query", "Replacer", "TrigramQuery", "compile_query", "compile_replacer",
           "rest_of_line_regex"]

_META = frozenset("\\.+*?()|[]{}^$#&-~")


class Query:
    """A compiled search.

    `regex` runs over whole-file bytes with rg's line semantics (`^`/`$` at line ends; no match
    spans a newline unless `multiline`: -U given and the regex can match `\\n`, since rg
    searches line by line otherwise). `plan` selects candidate files from the trigram index
    (ALL when it cannot narrow: -v, or no usable trigram); so does `required_bytes`, byte sets
    every match meets (see `trigrep.query.plan.required_bytes`; none with -v). `invert` is -v.
    `matches_empty`: the regex can match the empty string (so zero-width matches occur).
    `literal` is set when the search is one case-sensitive literal string (no -w/-x), for a
    substring fast path.
    `restart_sensitive` (multiline only): where rg's multi-line searcher, which re-runs the
    regex on the rest of the buffer, sees a text start that the whole buffer would not show
    the regex: "anywhere" (`\\A`), "mid_line" (`^`, word boundaries: they look at the previous
    character, and a `\\n` there looks like a text start) or "" (nothing looks behind).
    `line_bounded` (multiline only): no match can hold a `\\n` (the regex counts as
    multi-line for its anchors alone), so a search can stop at any line end.
    `source` is the emitted Rust pattern (for debugging and error messages). `crlf`
    (--crlf): a line's terminator is its `\r\n`, if it has one. `eol` ends lines: `\n`, or
    NUL with --null-data, where (and with --crlf and a text anchor) `line_regex` finds the
    lines that match as rg finds them (see `LineVerified` and `FromPosition`; else it is
    `regex`).
    """

    __slots__ = ("crlf", "eol", "invert", "line_bounded", "line_regex", "literal",
                 "matches_empty", "multiline", "plan", "regex", "required_bytes",
                 "restart_sensitive", "slow_lines", "source")

    def __init__(
        self, regex: rurex.Pattern, plan: TrigramQuery, invert: bool, multiline: bool,
        matches_empty: bool, literal: bytes | None,
        restart_sensitive: Choice["", "mid_line", "anywhere"], line_bounded: bool, source: str,
        required_bytes: tuple[ByteSet, ...], crlf: bool, eol: bytes,
        line_regex: rurex.Pattern | LineVerified | FromPosition, slow_lines: bool,
    ) -> None:
        self.regex = regex
        self.plan = plan
        self.invert = invert
        self.multiline = multiline
        self.matches_empty = matches_empty
        self.literal = literal
        self.restart_sensitive = restart_sensitive
        self.line_bounded = line_bounded
        self.source = source
        self.required_bytes = required_bytes
        self.crlf = crlf
        self.eol = eol
        self.line_regex = line_regex
        # rg checks each line alone (its slow path; no -U): the regex has no line terminator
        # set (`\A`, `\z` unset it), or it has one and lines end in NUL
        self.slow_lines = slow_lines

    @property
    def inverted_lines_bare(self) -> bool:
        """No line found without a match (-v) holds one the printer shows; not so with
        --null-data -U searching line by line, where `$` before a NUL matched nothing in the
        rest of the buffer but does at the end of the line the printer searches, nor with
        --crlf and a text anchor, where the printer takes a lone `\n` off (`o\\z`)."""
        regex = self.line_regex
        return self.invert and not (
            isinstance(regex, FromPosition) or (isinstance(regex, LineVerified) and regex.crlf))


class LineVerified:
    r"""The first line matching from a line start on, as rg's slow path searches lines: one
    at a time, without its terminator, so `\A` and `\z` (with --null-data `^` and `$` too)
    hold at its ends (a search of the whole buffer would see the terminators around it).
    Lines end in NUL (--null-data), or in `\n` with `crlf` (--crlf), where only a `\r\n` is
    taken off (lines::without_terminator): a line ending in a lone `\n` is searched with it,
    so an empty match after it (`\z`, `^$`) is one of that line's. `prefilter`, the regex
    without those anchors, matches in every line the regex does (nothing else looks across
    a terminator, which `\b` sees as it sees a text's edge; with `crlf`, also at the `\n`
    of a lone-`\n` line when the regex matches after it) and finds the lines worth that
    check."""

    def __init__(self, exact: rurex.Pattern, prefilter: rurex.Pattern, crlf: bool = False
                 ) -> None:
        self.exact = exact
        self.prefilter = prefilter
        self.crlf = crlf
        self.eol = b"\n" if crlf else b"\0"

    def search(self, data: bytes, pos: int = 0, end: int | None = None) -> rurex.Match | None:
        """A match of the prefilter in the first line from `pos` (a line start) up to `end`
        that the regex matches (only its start is meant)."""
        end = len(data) if end is None else end
        while pos <= end:
            m = self.prefilter.search(data, pos, end)
            if m is None:
                return None
            line_start = data.rfind(self.eol, 0, m.start()) + 1
            line_end = data.find(self.eol, m.start(), end)
            line_end = end if line_end < 0 else line_end
            haystack = data[line_start : self._searched_end(data, line_start, line_end, end)]
            if self.exact.search(haystack) is not None:
                return m
            pos = line_end + 1
        return None

    def _searched_end(self, data: bytes, line_start: int, line_end: int, end: int) -> int:
        """Where rg's haystack for the line from `line_start` to its terminator at `line_end`
        (or to `end`, without one) ends: before the terminator, or with `crlf`, before a
        `\r\n` and after a lone `\n`."""
        if not self.crlf or line_end == end:
            return line_end
        if line_end > line_start and data[line_end - 1] == 0x0D:
            return line_end - 1
        return line_end + 1


class FromPosition:
    """--null-data -U with a regex that cannot match a NUL: rg searches line by line, running
    the regex on the rest of its buffer (it sets no line terminator to check lines with): from
    the line after the last match, whose start is a text start, up to the buffer's end. No
    match holds a NUL, so the rest is read in windows that end after one, doubling until the
    regex matches before the last."""

    def __init__(self, regex: rurex.Pattern) -> None:
        self.regex = regex

    def search(self, data: bytes, pos: int = 0, end: int | None = None) -> Position | None:
        """The regex's first match in data[pos:end], searched as a text of its own (only its
        start is meant)."""
        end = len(data) if end is None else end
        size = 256
        while True:
            stop = data.find(b"\0", min(pos + size, end), end) + 1 or end
            m = self.regex.search(data[pos:stop])
            if stop == end or (m is not None and m.start() < stop - pos):
                return None if m is None else Position(pos + m.start())
            size *= 2


class Position(NamedTuple):
    """Where a line search found its match."""

    offset: int

    def start(self) -> int:
        return self.offset


def escape(text: str) -> str:
    """Escape a -F string for Rust's regex syntax (only ASCII metacharacters need it)."""
    return "".join("\\" + ch if ch in _META else ch for ch in text)


def _joined(opts: MatchOptions) -> str:
    """All patterns as one alternation, joined as text the way rg 14 does it, once each (rg
    drops repeated patterns: `-e '(?P<n>x)' -e '(?P<n>x)'` is no duplicate group name)."""
    patterns = [escape(p) if opts.fixed_strings else p for p in dict.fromkeys(opts.patterns)]
    return "|".join(f"(?:{p})" for p in patterns)


def _wrap(node: Node, opts: MatchOptions) -> Node:
    """-x beats -w if both are set (rg keeps only the last one given; the CLI resolves that)."""
    if opts.line_regexp:
        return Concat((Look("line_start", crlf=opts.crlf), Group(node),
                       Look("line_end", crlf=opts.crlf)))
    if opts.word_regexp:
        return Concat((Look("word_start_half", opts.unicode), Group(node),
                       Look("word_end_half", opts.unicode)))
    return node


def _plain_literal(node: Node) -> bytes | None:
    """The bytes of a single case-sensitive, purely literal pattern (`(?:text)`), else None."""
    if not isinstance(node, Group):
        return None
    items = node.child.items if isinstance(node.child, Concat) else (node.child,)
    chars = [i for i in items if isinstance(i, Literal) and not i.fold]
    if not chars or len(chars) != len(items):
        return None
    return b"".join(bytes([c.cp]) if c.is_byte else chr(c.cp).encode() for c in chars)


_TEXT_ANCHORS = frozenset({"text_start", "text_end"})
_ANCHORS = frozenset({"line_start", "line_end"}) | _TEXT_ANCHORS
_NEWLINE = 0x0A


def can_match_newline(node: Node, anchors: bool = True, eol: int = _NEWLINE) -> bool:
    r"""Whether -U really searches across lines, decided as rg does: only if some part of the
    regex can match `\n` (the line terminator `eol`: a NUL with --null-data). Like rg's
    grep-regex, any `^`/`$`/`\A`/`\z` counts as matching a `\n` (unless `anchors` is False:
    then whether a match can hold a `\n` byte), never a NUL, and `x{0}` counts as nothing
    (regex-syntax drops it)."""
    match node:
        case Literal(cp=cp):
            return cp == eol
        case Dot(dot_all=dot_all):
            return dot_all or eol != _NEWLINE
        case Look(kind=kind):
            return anchors and kind in _ANCHORS and eol == _NEWLINE
        case Class():
            ranges = class_ranges(node)
            if ranges is None:  # Unicode tables we lack: ask the regex engine
                return _compile(emit(node, True)).search(bytes([eol])) is not None
            return any(lo <= eol <= hi for lo, hi in ranges)
        case Repeat(child=child, max=max_count):
            return max_count != 0 and can_match_newline(child, anchors, eol)
        case Group(child=child):
            return can_match_newline(child, anchors, eol)
        case Concat(items=items) | Alt(items=items):
            return any(can_match_newline(item, anchors, eol) for item in items)
    return False


def _across_lines(node: Node, opts: MatchOptions) -> bool:
    """-U searches across lines (see `can_match_newline`)."""
    return opts.multiline and can_match_newline(node, eol=opts.eol[0])


def _without_anchors(node: Node) -> Node:
    """`node` with its line and text anchors matching anywhere."""
    match node:
        case Look(kind=kind) if kind in _ANCHORS:
            return Empty()
        case Repeat(child=child, min=low, max=high, greedy=greedy):
            return Repeat(_without_anchors(child), low, high, greedy)
        case Group(child=child, capturing=capturing, name=name):
            return Group(_without_anchors(child), capturing, name)
        case Concat(items=items):
            return Concat(tuple(map(_without_anchors, items)))
        case Alt(items=items):
            return Alt(tuple(map(_without_anchors, items)))
    return node


def _crlf_prefilter(node: Node, regex: rurex.Pattern) -> str:
    r"""--crlf, a regex with text anchors: LineVerified's prefilter. When the regex matches
    after a lone `\n` ending a line (what follows it is the end of rg's haystack, whatever
    the line), the prefilter also matches that line's `\n` (and the char before it)."""
    relaxed = emit(_without_anchors(node), False, crlf=True)
    if regex.search(b"\n", 1) is None:
        return relaxed
    return f"{relaxed}|(?-u:[^\\r])\\n|(?m:^)\\n"


def _look_kinds(node: Node) -> set[str]:
    """The kinds of every assertion in the regex."""
    match node:
        case Look(kind=kind):
            return {kind}
        case Repeat(child=child) | Group(child=child):
            return _look_kinds(child)
        case Concat(items=items) | Alt(items=items):
            return set().union(*(_look_kinds(item) for item in items))
    return set()


_LOOKS_BEHIND = frozenset(
    {"line_start", "word", "not_word", "word_start", "word_end", "word_start_half",
     "word_end_half"}
)


def _restart_sensitive(node: Node) -> Choice["", "mid_line", "anywhere"]:
    kinds = _look_kinds(node)
    if "text_start" in kinds:
        return "anywhere"
    return "mid_line" if kinds & _LOOKS_BEHIND else ""


def _compile(source: str) -> rurex.Pattern:
    try:
        return rurex.compile(("(?u)" + source).encode())
    except rurex.error as e:
        message = str(e)
        if "size limit" in message:
            raise PatternError("compiled regex exceeds size limit of 10485760") from None
        if "\\p" in message or "\\P" in message:
            raise PatternError("regex parse error: Unicode property not found") from None
        raise PatternError(f"regex parse error: {message.split(' at position')[0]}") from None


def _pattern(opts: MatchOptions) -> Node:
    """The patterns of `opts` parsed into one tree, with -w/-x around them."""
    text = _joined(opts)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # an argument of non-UTF-8 bytes (surrogate escapes)
            raise PatternError("pattern given is not valid UTF-8") from None
    insensitive = opts.case == "insensitive"
    dot_all = opts.multiline and opts.multiline_dotall  # rg: no effect without -U
    flags = Flags(dot_all=dot_all, unicode=opts.unicode, crlf=opts.crlf)
    newline_free = opts.multiline or opts.null_data  # (a `\n` is only banned as a terminator)
    if opts.case == "smart":
        insensitive = smart_case_insensitive(parse(text, flags, newline_free))
    parsed = parse(text, flags.changed("case_insensitive", insensitive), newline_free)
    if opts.null_data and not opts.multiline:
        check_nul_ban(parsed, terminator=True)
    elif not (opts.text or opts.null_data):  # (--null-data implies -a)
        check_nul_ban(parsed)
    return _wrap(parsed, opts)


def compile_query(opts: MatchOptions) -> Query:
    """Compile `opts` into a Query; raises PatternError with rg's wording for bad patterns.

    A Query never changes, so the last few are kept: a daemon (or an API caller) running a
    search again does not parse, plan and compile its pattern again, most of what a search
    with few candidates costs it (0.65 ms for a literal of 24 letters)."""
    return _compiled(opts._replace(patterns=tuple(opts.patterns)))


@functools.lru_cache(maxsize=16)
def _compiled(opts: MatchOptions) -> Query:
    node = _pattern(opts)
    source = emit(node, opts.multiline, crlf=opts.crlf, null_data=opts.null_data)
    regex = _compile(source)
    plan, matches_empty = plan_regex(node)
    required = () if opts.invert_match else required_bytes(node)
    if opts.invert_match:
        plan = ALL
    literal = _plain_literal(node) if len(set(opts.patterns)) == 1 else None
    multiline = _across_lines(node, opts)
    restart_sensitive = _restart_sensitive(node) if multiline else ""
    line_regex: rurex.Pattern | LineVerified | FromPosition = regex
    kinds = _look_kinds(node)
    if opts.null_data and not multiline and kinds & _ANCHORS:
        if opts.multiline:
            line_regex = FromPosition(regex)
        else:
            relaxed = emit(_without_anchors(node), opts.multiline, null_data=True)
            line_regex = LineVerified(regex, _compile(relaxed))
    elif opts.crlf and not multiline and kinds & _TEXT_ANCHORS:
        line_regex = LineVerified(regex, _compile(_crlf_prefilter(node, regex)), crlf=True)
    return Query(
        regex, plan, opts.invert_match, multiline, matches_empty, literal, restart_sensitive,
        multiline and not can_match_newline(node, anchors=False), source, required, opts.crlf,
        opts.eol, line_regex,
        not opts.multiline and opts.null_data != bool(kinds & _TEXT_ANCHORS),
    )


def rest_of_line_regex(query: Query, whole_line: bool = False) -> rurex.Pattern:
    """`query.regex` followed by the rest of the line it matches in, terminator included: a
    match for each line holding one, from its first match to the next line's start, in a run
    over a buffer (nothing matches a line terminator without -U; see searcher.bare_lines).
    `whole_line`: from the line's start, too (the leftmost match starts there): the line
    itself (see stream.bare_big_file)."""
    eol = f"\\x{query.eol[0]:02X}"
    rest = f"(?-u:[^{eol}])*"
    return _compile(f"{rest if whole_line else ''}(?:{query.source}){rest}{eol}?")


def compile_replacer(opts: MatchOptions, template: bytes) -> Replacer:
    """-r: what each match of `opts` prints as (PatternError as `compile_query`)."""
    node = _pattern(opts)
    capturing = _compile(
        emit(node, opts.multiline, captures=True, crlf=opts.crlf, null_data=opts.null_data))
    return Replacer(capturing, capture_names(node), template, _across_lines(node, opts),
                    opts.crlf, opts.eol)
