"""The trigram planner: which files can possibly match, as a boolean query over trigrams.

Follows Russ Cox, "Regular Expression Matching with a Trigram Index": for each AST node we
compute whether it can match the empty string, its exact set of matching strings (when small),
sets of prefixes and suffixes of its matches, and a trigram query every match satisfies; sets
are capped and turned into trigram queries before information is thrown away. Everything works
on raw UTF-8 bytes, the form the index stores, so a case-sensitive literal plans its exact bytes
and a case-insensitive letter is the small set of its case variants, like a class. The one rule
that matters is soundness: a file containing a match must satisfy the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache, reduce
from typing import Literal as TypingLiteral
from typing import NamedTuple

import rurex

from trigrep.query.emit import emit
from trigrep.query.syntax import (
    Alt,
    Class,
    Concat,
    Dot,
    Empty,
    Group,
    Literal,
    Look,
    Node,
    Repeat,
    class_ranges,
)


class TrigramQuery(NamedTuple):
    """A boolean query over trigrams of raw file content (no case folding).

    A trigram is the int (b0 << 16) | (b1 << 8) | b2 of three consecutive content bytes.
    `all` matches every file, `none` no file; `and`/`or` combine `trigrams` (each must / any
    may occur) with `subs`.
    """

    op: TypingLiteral["all", "none", "and", "or"]
    trigrams: frozenset[int] = frozenset()
    subs: tuple[TrigramQuery, ...] = ()


ALL = TrigramQuery("all")
NONE = TrigramQuery("none")

MAX_EXACT = 16  # an exact set larger than this is turned into prefix/suffix sets
MAX_SET = 16  # a prefix/suffix set larger than this is trimmed to shorter strings
MAX_CLASS = 16  # a class expands to its strings only when it has at most this many
MAX_UNROLL = 3  # `x{n,m}` is planned as at most this many copies of x, then `x+`

# The only non-ASCII members of ASCII letters' simple case folding orbits (Unicode 15).
_ASCII_ORBIT_EXTRAS = {"k": "\u212a", "s": "\u017f"}
_EXTRA_TO_ASCII = {extra: letter for letter, extra in _ASCII_ORBIT_EXTRAS.items()}


def trigrams_of(data: bytes) -> set[int]:
    """The trigrams of a string, as the index stores those of file content (pure Python:
    for the planner's short literals, and the tests' reference)."""
    return {(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(len(data) - 2)}


def evaluate(plan: TrigramQuery, trigrams: set[int] | frozenset[int]) -> bool:
    """Whether a file whose trigram set is `trigrams` satisfies `plan`."""
    if plan.op == "all":
        return True
    if plan.op == "none":
        return False
    if plan.op == "and":
        return plan.trigrams <= trigrams and all(evaluate(s, trigrams) for s in plan.subs)
    return not plan.trigrams.isdisjoint(trigrams) or any(evaluate(s, trigrams) for s in plan.subs)


def and_(*queries: TrigramQuery) -> TrigramQuery:
    """Conjunction, flattened and simplified (ALL is the identity, NONE absorbs)."""
    trigrams: set[int] = set()
    subs: dict[TrigramQuery, None] = {}  # (ordered, once each: linear in a long -f list)
    for q in queries:
        if q.op == "none":
            return NONE
        if q.op == "and":
            trigrams |= q.trigrams
            subs.update(dict.fromkeys(q.subs))
        elif q.op == "or":
            subs[q] = None
    if not trigrams and not subs:
        return ALL
    if not trigrams and len(subs) == 1:
        return next(iter(subs))
    return TrigramQuery("and", frozenset(trigrams), tuple(subs))


def or_(*queries: TrigramQuery) -> TrigramQuery:
    """Disjunction, flattened and simplified (NONE is the identity, ALL absorbs)."""
    trigrams: set[int] = set()
    subs: dict[TrigramQuery, None] = {}
    for q in queries:
        if q.op == "all":
            return ALL
        if q.op == "or":
            trigrams |= q.trigrams
            subs.update(dict.fromkeys(q.subs))
        elif q.op == "and" and len(q.trigrams) == 1 and not q.subs:
            trigrams |= q.trigrams
        elif q.op == "and":
            subs[q] = None
    if not trigrams and not subs:
        return NONE
    if len(trigrams) == 1 and not subs:
        return TrigramQuery("and", frozenset(trigrams))
    if not trigrams and len(subs) == 1:
        return next(iter(subs))
    return TrigramQuery("or", frozenset(trigrams), tuple(subs))


def ascii_only(plan: TrigramQuery) -> TrigramQuery:
    """`plan` with every trigram holding a non-ASCII byte taken as present: what the raw
    bytes (which the index holds) of a file read in an encoding of
    `trigrep.whatwg.ASCII_FROM_ITSELF` satisfy when its text satisfies `plan`. Its text's
    ASCII trigrams are trigrams of its bytes; its others (`é` as UTF-8) need not be."""
    if plan.op in ("all", "none"):
        return plan
    kept = frozenset(t for t in plan.trigrams if not t & 0x808080)
    subs = [ascii_only(sub) for sub in plan.subs]
    if plan.op == "and":
        return and_(TrigramQuery("and", kept), *subs)
    if len(kept) < len(plan.trigrams):
        return ALL  # one of the trigrams it may hold is any file's
    return or_(TrigramQuery("or", kept), *subs)


def as_utf16(plan: TrigramQuery) -> TrigramQuery:
    """What the raw bytes of a file read as UTF-16 (without a BOM) satisfy when its text
    satisfies `plan`: each ASCII trigram `abc` of the text is the units `a\\0b\\0c\\0` (or
    `\\0a\\0b\\0c`), so the bytes hold `a\\0b`, `\\0b\\0` and `b\\0c`; other trigrams, as in
    `ascii_only`."""
    if plan.op in ("all", "none"):
        return plan
    if plan.op == "or" and any(t & 0x808080 for t in plan.trigrams):
        return ALL
    units = [_utf16_units(t) for t in plan.trigrams if not t & 0x808080]
    subs = [as_utf16(sub) for sub in plan.subs]
    return (and_ if plan.op == "and" else or_)(*units, *subs)


def _utf16_units(trigram: int) -> TrigramQuery:
    a, b, c = trigram >> 16, trigram >> 8 & 0xFF, trigram & 0xFF
    return TrigramQuery("and", frozenset({a << 16 | b, b << 8, b << 16 | c}))


def strings_query(strings: frozenset[bytes]) -> TrigramQuery:
    """A match is one of `strings`: OR over them of AND of their trigrams (ALL if one is
    shorter than a trigram, NONE for no strings at all)."""
    alternatives = []
    for s in strings:
        trigrams = trigrams_of(s)
        if not trigrams:
            return ALL
        alternatives.append(TrigramQuery("and", frozenset(trigrams)))
    return or_(*alternatives)


Strings = frozenset[bytes]
_EMPTY_STRING: Strings = frozenset({b""})


class _Info:
    """What the paper computes per node. With `exact` known, prefix == suffix == exact."""

    __slots__ = ("emptyable", "exact", "match", "prefix", "suffix")

    def __init__(self, emptyable: bool, exact: Strings | None, prefix: Strings, suffix: Strings,
                 match: TrigramQuery) -> None:
        self.emptyable = emptyable
        self.exact = exact
        self.prefix = prefix
        self.suffix = suffix
        self.match = match

    def query(self) -> TrigramQuery:
        """Everything known about a match, as one trigram query."""
        if self.exact is not None:
            return and_(self.match, strings_query(self.exact))
        return and_(self.match, strings_query(self.prefix), strings_query(self.suffix))


def _exact(strings: Strings, match: TrigramQuery = ALL) -> _Info:
    return _Info(b"" in strings, strings, strings, strings, match)


_ANY_CHAR = _Info(False, None, _EMPTY_STRING, _EMPTY_STRING, ALL)
_ANYTHING = _Info(True, None, _EMPTY_STRING, _EMPTY_STRING, ALL)  # x*, unknown, emptyable


def _cross(left: Strings, right: Strings) -> Strings:
    return frozenset(a + b for a in left for b in right)


def _trim(strings: Strings, keep_suffix: bool) -> tuple[Strings, TrigramQuery]:
    """Shrink a prefix (or suffix) set below MAX_SET by cutting its strings shorter; returns the
    new set and a query holding the information the cut drops."""
    if len(strings) <= MAX_SET:
        return strings, ALL
    lost = strings_query(strings)
    for n in (3, 2, 1):
        cut = frozenset(s[-n:] if keep_suffix else s[:n] for s in strings)
        if len(cut) <= MAX_SET:
            return cut, lost
    return _EMPTY_STRING, lost


def _inexact(emptyable: bool, prefix: Strings, suffix: Strings, match: TrigramQuery) -> _Info:
    prefix, lost_prefix = _trim(prefix, keep_suffix=False)
    suffix, lost_suffix = _trim(suffix, keep_suffix=True)
    return _Info(emptyable, None, prefix, suffix, and_(match, lost_prefix, lost_suffix))


def _concat(x: _Info, y: _Info) -> _Info:
    emptyable = x.emptyable and y.emptyable
    match = and_(x.match, y.match)
    if x.exact is not None and y.exact is not None and len(x.exact) * len(y.exact) <= MAX_EXACT:
        return _exact(_cross(x.exact, y.exact), match)
    if x.exact is not None:
        prefix = _cross(x.exact, y.prefix)
    else:
        prefix = x.prefix | y.prefix if x.emptyable else x.prefix
    if y.exact is not None:
        suffix = _cross(x.suffix, y.exact)
    else:
        suffix = x.suffix | y.suffix if y.emptyable else y.suffix
    # The strings spanning the x|y boundary: their trigrams are lost once sets are trimmed.
    if len(x.suffix) * len(y.prefix) <= MAX_SET * MAX_SET:
        boundary = strings_query(_cross(x.suffix, y.prefix))
    else:
        boundary = and_(strings_query(x.suffix), strings_query(y.prefix))
    return _inexact(emptyable, prefix, suffix, and_(match, boundary))


def _alternate(branches: list[_Info]) -> _Info:
    """All branches at once, so a long alternation gives one flat OR, not a deep tree."""
    emptyable = any(b.emptyable for b in branches)
    exacts = [b.exact for b in branches]
    if all(e is not None for e in exacts):
        union = frozenset().union(*exacts)  # type: ignore[arg-type]
        if len(union) <= MAX_EXACT:
            return _exact(union, or_(*(b.match for b in branches)))
    prefix = frozenset().union(*(b.prefix for b in branches))
    suffix = frozenset().union(*(b.suffix for b in branches))
    return _inexact(emptyable, prefix, suffix, or_(*(b.query() for b in branches)))


def _plus(x: _Info) -> _Info:
    """x+: at least one x, so x's prefix starts the match and x's suffix ends it."""
    return _inexact(x.emptyable, x.prefix, x.suffix, x.query())


def _repeat(rep: Repeat, x: _Info) -> _Info:
    if rep.max == 0:
        return _exact(_EMPTY_STRING)
    if rep.min == 0:
        if rep.max == 1:
            return _alternate([_exact(_EMPTY_STRING), x])
        return _ANYTHING
    if rep.max == rep.min and rep.min <= MAX_UNROLL:
        return reduce(_concat, [x] * rep.min)
    # x{n,m} is contained in x^(n-1) x+ (with n-1 capped: fewer copies only loosen it).
    copies = min(rep.min - 1, MAX_UNROLL)
    return reduce(_concat, [x] * copies + [_plus(x)])


def _caseless(ch: str) -> bool:
    """True when no case mapping touches `ch` (verified against rurex in the tests)."""
    return ch.lower() == ch and ch.upper() == ch and ch.casefold() == ch and ch.title() == ch


def _char_orbit(cp: int, folded: bool, unicode: bool) -> list[str] | None:
    """The characters `cp` can match, or None when case folding makes that unknown to us."""
    ch = chr(cp)
    if not folded or (cp < 0x80 and not ch.isalpha()):
        return [ch]
    if cp < 0x80:
        extra = _ASCII_ORBIT_EXTRAS.get(ch.lower()) if unicode else None
        return [ch.lower(), ch.upper()] + ([extra] if extra else [])
    if not unicode:
        return [ch]
    if ch in _EXTRA_TO_ASCII:
        return _char_orbit(ord(_EXTRA_TO_ASCII[ch]), folded, unicode)
    return [ch] if _caseless(ch) else None


def _literal(lit: Literal) -> _Info:
    if lit.is_byte:
        return _exact(frozenset({bytes([lit.cp])}))
    orbit = _char_orbit(lit.cp, lit.fold, lit.unicode)
    if orbit is None:
        return _ANY_CHAR
    return _exact(frozenset(ch.encode() for ch in orbit))


def _class(cls: Class) -> _Info:
    ranges = class_ranges(cls)
    if ranges is None or sum(hi - lo + 1 for lo, hi in ranges) > MAX_CLASS * 2:
        return _ANY_CHAR
    strings: set[bytes] = set()
    for lo, hi in ranges:
        for cp in range(lo, hi + 1):
            if not cls.unicode and cp > 0x7F:
                strings.add(bytes([cp]))
                continue
            if 0xD800 <= cp <= 0xDFFF:
                continue
            orbit = _char_orbit(cp, cls.fold, cls.unicode)
            if orbit is None:
                return _ANY_CHAR
            strings.update(ch.encode() for ch in orbit)
    if len(strings) > MAX_CLASS:
        return _ANY_CHAR
    return _exact(frozenset(strings))


def _info(node: Node) -> _Info:
    match node:
        case Empty() | Look():
            return _exact(_EMPTY_STRING)
        case Literal():
            return _literal(node)
        case Dot():
            return _ANY_CHAR
        case Class():
            return _class(node)
        case Group(child=child):
            return _info(child)
        case Repeat(child=child):
            return _repeat(node, _info(child))
        case Concat(items=items):
            return reduce(_concat, _literal_runs(_info(item) for item in items))
        case Alt(items=items):
            return _alternate([_info(item) for item in items])
    raise AssertionError(node)


def _literal_runs(infos: Iterable[_Info]) -> Iterator[_Info]:
    """`infos` with each run of single exact strings joined into one (what `_concat` makes
    of them, but each byte copied once: a long literal's chain of `_concat`s would copy its
    growing string at every step)."""
    run: list[bytes] = []
    for info in infos:
        if info.exact is not None and len(info.exact) == 1 and info.match.op == "all":
            run += info.exact
            continue
        if run:
            yield _exact(frozenset({b"".join(run)}))
            run = []
        yield info
    if run:
        yield _exact(frozenset({b"".join(run)}))


def plan_regex(node: Node) -> tuple[TrigramQuery, bool]:
    """A trigram query that every file containing a match of `node` satisfies, and whether
    `node` can match the empty string."""
    info = _info(node)
    return info.query(), info.emptyable


# ---------------------------------------------------------------------------------------------
# Required byte sets: the per-file byte filter (FILE_BYTES in `trigrep.index.format`)
#
# A byte set is an int with bit b set for byte value b. `required_bytes` returns a conjunction
# of sets, each holding at least one byte of every match: a file without any byte of one of
# them cannot match. This rules files out where trigrams cannot (`\p{Greek}`, `é`, `->`).

ByteSet = int
MAX_SET_BYTES = 128  # a set of more byte values rules out almost no file: not required
MAX_BYTE_SETS = 16  # an alternation's branches combine into at most this many sets
MAX_EXACT_CLASS = 64  # a class of at most this many characters is planned as its strings
_ASCII_TEXT = bytes(range(0x80))
_NON_ASCII: ByteSet = ((1 << 0x80) - 1) << 0x80
# First bytes of 4-byte characters: not probed (the probe text would take 4 MiB to build),
# so assumed present in every class the probe answers for.
_SUPPLEMENTARY_LEADS: ByteSet = sum(1 << lead for lead in range(0xF0, 0xF5))


def required_bytes(node: Node) -> tuple[ByteSet, ...]:
    """Byte sets each of which every match of `node` meets (an empty set: nothing matches)."""
    return tuple(_required(node))


def ascii_only_bytes(sets: Iterable[ByteSet]) -> tuple[ByteSet, ...]:
    """`sets` as the raw bytes of a file read in an encoding of
    `trigrep.whatwg.ASCII_FROM_ITSELF` meet them when its text does: each with a non-ASCII
    byte holds them all, since a text with a non-ASCII character comes from bytes with one
    (which one, is not known); ASCII bytes of the text are bytes of the file."""
    return tuple(s | _NON_ASCII if s >> 0x80 else s for s in sets)


def ascii_sets(sets: Iterable[ByteSet]) -> tuple[ByteSet, ...]:
    """Those of `sets` that hold ASCII bytes only: the ones the raw bytes of a file read as
    UTF-16 meet when its text does (its ASCII characters are bytes of its units, its
    others need not have a byte over 0x7F)."""
    return tuple(s for s in sets if not s >> 0x80)


def _required(node: Node) -> list[ByteSet]:
    match node:
        case Literal():
            return _literal_bytes(node)
        case Class():
            return _class_bytes(node)
        case Group(child=child):
            return _required(child)
        case Repeat(child=child, min=least):
            return _required(child) if least > 0 else []
        case Concat(items=items):
            return _pruned([s for item in items for s in _required(item)])
        case Alt(items=items):
            return _alternation_bytes([_required(item) for item in items])
    return []  # Empty, Look: no bytes; Dot: any byte but `\n`, which rules out nothing


def _pruned(sets: list[ByteSet]) -> list[ByteSet]:
    """Without duplicates, sets of over MAX_SET_BYTES and sets implied by a subset of them."""
    unique = sorted(
        (s for s in set(sets) if s.bit_count() <= MAX_SET_BYTES), key=lambda s: (s.bit_count(), s)
    )
    kept: list[ByteSet] = []
    for s in unique:
        if not any(k & s == k for k in kept):
            kept.append(s)
    return kept


def _rarity(byte_set: ByteSet) -> tuple[int, int]:
    """Sort key, most selective first: ASCII bytes are in nearly every file, others rarely."""
    return (byte_set & ((1 << 128) - 1)).bit_count(), byte_set.bit_count()


def _alternation_bytes(branches: list[list[ByteSet]]) -> list[ByteSet]:
    """A match meets one set of each branch's: each union of one set per branch is required.
    All such unions while they are few, else the union of each branch's most selective set."""
    combined: list[ByteSet] = [0]
    for sets in branches:
        if not sets:
            return []  # this branch requires nothing
        if len(combined) * len(sets) > MAX_BYTE_SETS:
            combined = [min(combined, key=_rarity)]
            sets = [min(sets, key=_rarity)]
        combined = _pruned([c | s for c in combined for s in sets])
    return combined


def _positional(strings: Iterable[bytes]) -> list[ByteSet]:
    """For a node matching exactly one of `strings`: the set of their i-th bytes, for each i
    within the shortest one."""
    strings = list(strings)
    shortest = min(map(len, strings))
    return _pruned([sum({1 << s[i] for s in strings}) for i in range(shortest)])


def _literal_bytes(lit: Literal) -> list[ByteSet]:
    if lit.is_byte:
        return [1 << lit.cp]
    orbit = _char_orbit(lit.cp, lit.fold, lit.unicode)
    if orbit is None:
        return _probed(lit)
    return _positional(ch.encode() for ch in orbit)


def _lead_byte(cp: int) -> int:
    """The first byte of the UTF-8 encoding of `cp`."""
    return chr(cp).encode("utf-8", "surrogatepass")[0]


@cache
def _bmp_probe_text() -> tuple[bytes, list[tuple[int, int, int]]]:
    """Every non-ASCII character below U+10000 (no surrogates) in UTF-8, and the window
    (first byte, start, end) of the characters encoded with each first byte."""
    parts: list[bytes] = []
    windows = []
    offset = 0
    for lead in range(0xC2, 0xF0):
        low, high = (lead & 0x1F) << 6, ((lead & 0x1F) << 6) + 0x40
        if lead >= 0xE0:
            low, high = max(0x800, (lead & 0x0F) << 12), ((lead & 0x0F) + 1) << 12
        if lead == 0xED:
            high = 0xD800
        part = "".join(map(chr, range(low, high))).encode()
        parts.append(part)
        windows.append((lead, offset, offset + len(part)))
        offset += len(part)
    return b"".join(parts), windows


def _probed(node: Literal | Class) -> list[ByteSet]:
    """The first bytes of the characters a Unicode-mode `node` matches, asked of the regex
    engine (it has the Unicode tables and case folding we lack). Nothing is required of a
    node that matches ASCII: nearly every file holds some, so the probe would be wasted."""
    if not node.unicode:
        return []
    regex = rurex.compile(("(?u)" + emit(node, True)).encode())
    if regex.search(_ASCII_TEXT) is not None:
        return []
    text, windows = _bmp_probe_text()
    leads = _SUPPLEMENTARY_LEADS
    for lead, start, end in windows:
        if regex.search(text, start, end) is not None:
            leads |= 1 << lead
    return [leads]


def _class_bytes(cls: Class) -> list[ByteSet]:
    ranges = class_ranges(cls)
    if ranges is None or (cls.fold and cls.unicode):
        return _probed(cls)
    if not cls.unicode:  # bytes; (?i-u) folds ASCII letters only
        members = {b for lo, hi in ranges for b in range(lo, hi + 1)}
        if cls.fold:
            members |= {ord(chr(b).swapcase()) for b in members if chr(b).isascii()}
        return _pruned([sum(1 << b for b in members)])
    if sum(hi - lo + 1 for lo, hi in ranges) <= MAX_EXACT_CLASS:
        strings = [
            chr(cp).encode() for lo, hi in ranges for cp in range(lo, hi + 1)
            if not 0xD800 <= cp <= 0xDFFF
        ]
        return _positional(strings) if strings else [0]
    # The first byte grows with the code point: a range starts every first byte in between.
    leads = 0
    for lo, hi in ranges:
        first, last = _lead_byte(lo), _lead_byte(hi)
        leads |= ((1 << (last + 1)) - 1) ^ ((1 << first) - 1)
    return _pruned([leads])
