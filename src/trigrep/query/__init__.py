"""Turn rg's pattern flags (MatchOptions) into one compiled regex plus a trigram plan.

The regex runs over a whole file buffer and finds exactly the matches rg finds line by line:
`^`/`$` (and `\\A`/`\\z`) are line anchors and nothing matches `\\n` unless -U (multiline).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal as Choice

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

__all__ = ["ALL", "NONE", "Query", "Replacer", "TrigramQuery", "compile_query", "compile_replacer"]

_META = frozenset("\\.+*?()|[]{}^$#&-~")


@dataclass(frozen=True)
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
    (--crlf): a line's terminator is its `\r\n`, if it has one.
    """

    regex: rurex.Pattern
    plan: TrigramQuery
    invert: bool
    multiline: bool
    matches_empty: bool = False
    literal: bytes | None = None
    restart_sensitive: Choice["", "mid_line", "anywhere"] = ""
    line_bounded: bool = False
    source: str = ""
    required_bytes: tuple[ByteSet, ...] = ()
    crlf: bool = False


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


_ANCHORS = frozenset({"line_start", "line_end", "text_start", "text_end"})
_NEWLINE = 0x0A


def can_match_newline(node: Node, anchors: bool = True) -> bool:
    r"""Whether -U really searches across lines, decided as rg does: only if some part of the
    regex can match `\n`. Like rg's grep-regex, any `^`/`$`/`\A`/`\z` counts as matching it
    (unless `anchors` is False: then whether a match can hold a `\n` byte), and `x{0}` counts
    as nothing (regex-syntax drops it)."""
    match node:
        case Literal(cp=cp):
            return cp == _NEWLINE
        case Dot(dot_all=dot_all):
            return dot_all
        case Look(kind=kind):
            return anchors and kind in _ANCHORS
        case Class():
            ranges = class_ranges(node)
            if ranges is None:  # Unicode tables we lack: ask the regex engine
                return _compile(emit(node, True)).search(b"\n") is not None
            return any(lo <= _NEWLINE <= hi for lo, hi in ranges)
        case Repeat(child=child, max=max_count):
            return max_count != 0 and can_match_newline(child, anchors)
        case Group(child=child):
            return can_match_newline(child, anchors)
        case Concat(items=items) | Alt(items=items):
            return any(can_match_newline(item, anchors) for item in items)
    return False


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
    if opts.case == "smart":
        insensitive = smart_case_insensitive(parse(text, flags, opts.multiline))
    parsed = parse(text, dataclasses.replace(flags, case_insensitive=insensitive), opts.multiline)
    if not opts.text:
        check_nul_ban(parsed)
    return _wrap(parsed, opts)


def compile_query(opts: MatchOptions) -> Query:
    """Compile `opts` into a Query; raises PatternError with rg's wording for bad patterns."""
    node = _pattern(opts)
    source = emit(node, opts.multiline, crlf=opts.crlf)
    regex = _compile(source)
    plan, matches_empty = plan_regex(node)
    required = () if opts.invert_match else required_bytes(node)
    if opts.invert_match:
        plan = ALL
    literal = _plain_literal(node) if len(set(opts.patterns)) == 1 else None
    multiline = opts.multiline and can_match_newline(node)
    restart_sensitive = _restart_sensitive(node) if multiline else ""
    return Query(
        regex, plan, opts.invert_match, multiline, matches_empty, literal, restart_sensitive,
        multiline and not can_match_newline(node, anchors=False), source, required, opts.crlf,
    )


def compile_replacer(opts: MatchOptions, template: bytes) -> Replacer:
    """-r: what each match of `opts` prints as (PatternError as `compile_query`)."""
    node = _pattern(opts)
    capturing = _compile(emit(node, opts.multiline, captures=True, crlf=opts.crlf))
    return Replacer(capturing, capture_names(node), template,
                    opts.multiline and can_match_newline(node), opts.crlf)
