"""A parser for the regex syntax ripgrep 14.1 accepts (Rust's regex-syntax 0.8) into a small AST.

We parse ourselves, rather than hand the pattern to rurex as is, because (a) the trigram planner
needs the structure, (b) rg changes the meaning of some constructs (no match may contain `\\n`
unless -U, `\\A`/`\\z` act per line) and (c) rurex's front end rejects some things Rust's
parser accepts (mid-pattern `(?i)`, `a**`), so we re-emit a canonical pattern from the AST.
Error messages are regex-syntax's wording so users see what rg would tell them.
"""

from __future__ import annotations

import sys

from trigrep.errors import PatternError

MAX_CODEPOINT = 0x10FFFF
MAX_REPEAT = 0xFFFFFFFF  # regex-syntax parses counts as u32

NEWLINE_BANNED = (
    'the literal "\\n" is not allowed in a regex (consider enabling multiline mode '
    "with --multiline or -U)"
)
NUL_BANNED = (
    'pattern contains "\\0" but it is impossible to match (binary detection stops at a NUL; '
    "consider enabling text mode with --text or -a)"
)


class _Value:
    """Equal to another of its class whose fields are equal, and hashed so (the newline ban
    compares parsed nodes). The flags and nodes are plain classes, not dataclasses: making
    these 18 dataclasses (each one's generated methods compiled at import) took a tenth of
    a small tree's search."""

    __slots__ = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._fields()))


class Flags(_Value):
    """The inline flags in effect at a point of the pattern (`(?imsUuxR)`)."""

    __slots__ = ("case_insensitive", "crlf", "dot_all", "ignore_whitespace", "multi_line",
                 "swap_greed", "unicode")

    def __init__(self, case_insensitive: bool = False, multi_line: bool = True,
                 dot_all: bool = False, swap_greed: bool = False, unicode: bool = True,
                 ignore_whitespace: bool = False, crlf: bool = False) -> None:
        self.case_insensitive = case_insensitive
        self.multi_line = multi_line  # rg always turns multi-line on; `(?-m)` can turn it off
        self.dot_all = dot_all
        self.swap_greed = swap_greed
        self.unicode = unicode
        self.ignore_whitespace = ignore_whitespace
        self.crlf = crlf

    def changed(self, name: str, value: bool) -> Flags:
        """These flags with the one named `name` set to `value`."""
        flags = Flags(**{field: getattr(self, field) for field in self.__slots__})
        setattr(flags, name, value)
        return flags


_FLAG_FIELDS = {
    "i": "case_insensitive",
    "m": "multi_line",
    "s": "dot_all",
    "U": "swap_greed",
    "u": "unicode",
    "x": "ignore_whitespace",
    "R": "crlf",
}


# ---- AST: regex nodes -------------------------------------------------------------------------


class Empty(_Value):
    """Matches the empty string."""

    __slots__ = ()


class Literal(_Value):
    """One character (a code point), or one raw byte when `is_byte` (a `\\xFF` under `(?-u)`)."""

    __slots__ = ("cp", "fold", "is_byte", "unicode")

    def __init__(self, cp: int, is_byte: bool = False, fold: bool = False,
                 unicode: bool = True) -> None:
        self.cp = cp
        self.is_byte = is_byte
        self.fold = fold  # (?i) in effect
        self.unicode = unicode


class Dot(_Value):
    """`.`: any character (or byte without Unicode) except `\\n`, unless `dot_all`."""

    __slots__ = ("crlf", "dot_all", "unicode")

    def __init__(self, dot_all: bool, unicode: bool, crlf: bool) -> None:
        self.dot_all = dot_all
        self.unicode = unicode
        self.crlf = crlf


LOOK_KINDS = (
    "line_start",
    "line_end",
    "text_start",
    "text_end",
    "word",
    "not_word",
    "word_start",
    "word_end",
    "word_start_half",
    "word_end_half",
)


class Look(_Value):
    """A zero-width assertion; `kind` is one of LOOK_KINDS."""

    __slots__ = ("crlf", "kind", "unicode")

    def __init__(self, kind: str, unicode: bool = True, crlf: bool = False) -> None:
        self.kind = kind
        self.unicode = unicode
        self.crlf = crlf


class Class(_Value):
    """A character class (bracketed, Perl `\\d`, Unicode `\\pL`) and the flags it was built in."""

    __slots__ = ("body", "bracketed", "fold", "negated", "unicode")

    def __init__(self, body: ClassSet, negated: bool = False, fold: bool = False,
                 unicode: bool = True, bracketed: bool = True) -> None:
        self.body = body
        self.negated = negated
        self.fold = fold
        self.unicode = unicode
        self.bracketed = bracketed  # `[...]`, not `\d` or `\pL` (not compared)

    def _fields(self) -> tuple[object, ...]:
        return self.body, self.negated, self.fold, self.unicode


class Repeat(_Value):
    """`child{min,max}`; `max` None is unbounded. `greedy` already accounts for `(?U)`."""

    __slots__ = ("child", "greedy", "max", "min")

    def __init__(self, child: Node, min: int, max: int | None, greedy: bool = True) -> None:
        self.child = child
        self.min = min
        self.max = max
        self.greedy = greedy


class Group(_Value):
    """Parentheses. Captures do not matter to a search, but rg's newline ban sees them: a
    capture keeps its alternation branch from merging into a class (`(\\n)|a` is banned)."""

    __slots__ = ("capturing", "child", "name")

    def __init__(self, child: Node, capturing: bool = False, name: str | None = None) -> None:
        self.child = child
        self.capturing = capturing
        self.name = name  # (?P<name>..) or (?<name>..)


class Concat(_Value):
    __slots__ = ("items",)

    def __init__(self, items: tuple[Node, ...]) -> None:
        self.items = items


class Alt(_Value):
    __slots__ = ("items",)

    def __init__(self, items: tuple[Node, ...]) -> None:
        self.items = items


Node = Empty | Literal | Dot | Look | Class | Repeat | Group | Concat | Alt


# ---- AST: class set items ---------------------------------------------------------------------


class ClassLiteral(_Value):
    __slots__ = ("cp", "is_byte")

    def __init__(self, cp: int, is_byte: bool = False) -> None:
        self.cp = cp
        self.is_byte = is_byte


class ClassRange(_Value):
    __slots__ = ("hi", "lo")

    def __init__(self, lo: ClassLiteral, hi: ClassLiteral) -> None:
        self.lo = lo
        self.hi = hi


class AsciiClass(_Value):
    """`[:name:]` or `[:^name:]`."""

    __slots__ = ("name", "negated")

    def __init__(self, name: str, negated: bool) -> None:
        self.name = name
        self.negated = negated


class PerlClass(_Value):
    """`\\d`, `\\s`, `\\w` (kind "d", "s", "w"), negated for the upper-case forms."""

    __slots__ = ("kind", "negated")

    def __init__(self, kind: str, negated: bool) -> None:
        self.kind = kind
        self.negated = negated


class UnicodeClass(_Value):
    """`\\pL`, `\\p{Greek}`, `\\P{..}`: kept as source text (we have no Unicode tables)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Bracket(_Value):
    """A nested `[...]` inside a class."""

    __slots__ = ("body", "negated")

    def __init__(self, body: ClassSet, negated: bool) -> None:
        self.body = body
        self.negated = negated


class ClassUnion(_Value):
    __slots__ = ("items",)

    def __init__(self, items: tuple[ClassItem, ...]) -> None:
        self.items = items


class ClassOp(_Value):
    """`lhs && rhs` (intersection), `lhs -- rhs` (difference), `lhs ~~ rhs` (symmetric diff)."""

    __slots__ = ("lhs", "op", "rhs")

    def __init__(self, op: str, lhs: ClassSet, rhs: ClassSet) -> None:
        self.op = op
        self.lhs = lhs
        self.rhs = rhs


ClassItem = ClassLiteral | ClassRange | AsciiClass | PerlClass | UnicodeClass | Bracket
ClassSet = ClassUnion | ClassOp

ASCII_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x00, 0x7F),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),),
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),),
    "word": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}
PERL_ASCII = {"d": "digit", "s": "space", "w": "word"}
_SIMPLE_ESCAPES = {"a": 0x07, "f": 0x0C, "t": 0x09, "n": 0x0A, "r": 0x0D, "v": 0x0B}
_SPECIAL_WORD = {
    "start": "word_start",
    "end": "word_end",
    "start-half": "word_start_half",
    "end-half": "word_end_half",
}


def _is_whitespace(ch: str) -> bool:
    """Rust's `char::is_whitespace` (Unicode's White_Space), which `(?x)` and counted
    repetitions skip: Python's `str.isspace` also takes U+001C to U+001F."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def _is_alphabetic(ch: str) -> bool:
    """Rust's `char::is_alphabetic` (Unicode's Alphabetic), which a capture group name may
    start with: letters (Python's `str.isalpha`), letter numbers (Ⅻ) and the marks and
    symbols of Other_Alphabetic (Ⓐ, the vowel sign ा), which Python has no test for."""
    if ch.isalpha() or ch.isascii():
        return ch.isalpha()
    import rurex  # (Python has no table of the property: the regex engine has)

    return rurex.compile(r"\A\p{Alphabetic}\z").search(ch) is not None


def _error(message: str) -> PatternError:
    return PatternError(f"regex parse error: {message}")


# rg's nest limit (regex-syntax's default): a pattern whose groups, classes, repetitions,
# alternations and concatenations nest deeper is an error. The parser and the passes over its
# tree recurse, a few frames a level: they get the frames for that (and the parser stops at
# NEST_GUARD open groups and classes, far beyond the limit, whatever else the pattern holds).
NEST_LIMIT = 250
NEST_GUARD = 1000
RECURSION_LIMIT = 20_000
_NEST_ERROR = f"exceed the maximum number of nested parentheses/brackets ({NEST_LIMIT})"


# ---- class evaluation (exact ranges where we can compute them) --------------------------------

Ranges = tuple[tuple[int, int], ...]


def _normalize(ranges: list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _negate(ranges: Ranges, top: int) -> Ranges:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= top:
        out.append((nxt, top))
    return tuple(out)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    return _normalize(
        [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if max(x0, y0) <= min(x1, y1)]
    )


def _intersects(body: ClassSet) -> bool:
    """Whether a class set holds an intersection (`&&`), at any depth."""
    if isinstance(body, ClassOp):
        return body.op == "&&" or _intersects(body.lhs) or _intersects(body.rhs)
    return any(isinstance(item, Bracket) and _intersects(item.body) for item in body.items)


def class_ranges(cls: Class) -> Ranges | None:
    """The set of code points (bytes without Unicode) of a class *before* case folding, or
    None when it needs Unicode tables we do not have (`\\pL`, Unicode `\\w`...).

    Folding it after gives what the regex matches, or more: rg folds each operand of a set
    operation and a negated class before applying it, which only an intersection can make
    larger (`(?i)[a-f&&A-F]` is `[a-fA-F]`, not empty), so a folded class with one is None."""
    if cls.fold and _intersects(cls.body):
        return None
    top = MAX_CODEPOINT if cls.unicode else 0xFF

    def of_item(item: ClassItem) -> Ranges | None:
        match item:
            case ClassLiteral(cp=cp):
                return ((cp, cp),)
            case ClassRange(lo=lo, hi=hi):
                return ((lo.cp, hi.cp),)
            case AsciiClass(name=name, negated=neg):
                ranges = ASCII_CLASSES[name]
                return _negate(ranges, top) if neg else ranges
            case PerlClass(kind=kind, negated=neg):
                if cls.unicode:
                    return None
                ranges = ASCII_CLASSES[PERL_ASCII[kind]]
                return _negate(ranges, top) if neg else ranges
            case UnicodeClass():
                return None
            case Bracket(body=body, negated=neg):
                inner = of_set(body)
                if inner is None:
                    return None
                return _negate(inner, top) if neg else inner
        raise AssertionError(item)

    def of_set(body: ClassSet) -> Ranges | None:
        if isinstance(body, ClassUnion):
            parts = [of_item(item) for item in body.items]
            if any(p is None for p in parts):
                return None
            return _normalize([r for p in parts for r in p])  # type: ignore[union-attr]
        lhs, rhs = of_set(body.lhs), of_set(body.rhs)
        if lhs is None or rhs is None:
            return None
        if body.op == "&&":
            return _intersect(lhs, rhs)
        if body.op == "--":
            return _intersect(lhs, _negate(rhs, top))
        union = _normalize([*lhs, *rhs])
        return _intersect(union, _negate(_intersect(lhs, rhs), top))

    ranges = of_set(cls.body)
    if ranges is None:
        return None
    return _negate(ranges, top) if cls.negated else ranges


# ---- the parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the pattern text; flags are threaded through like regex-syntax."""

    def __init__(self, pattern: str, flags: Flags) -> None:
        self.src = pattern
        self.pos = 0
        self.flags = flags
        self.group_names: set[str] = set()
        self.open = 0  # groups and classes open at the cursor (see NEST_GUARD)
        # Nodes standing for a concatenation regex-syntax keeps and this tree does not: of
        # one node (or none) and bare `(?flags)`, which are items of regex-syntax's
        # concatenations (see `nest_depth`).
        self.flag_concats: set[int] = set()

    def enter(self) -> None:
        self.open += 1
        if self.open > NEST_GUARD:
            raise _error(_NEST_ERROR)

    # -- low-level helpers
    def peek(self, offset: int = 0) -> str | None:
        i = self.pos + offset
        return self.src[i] if i < len(self.src) else None

    def eof(self) -> bool:
        return self.pos >= len(self.src)

    def startswith(self, text: str) -> bool:
        return self.src.startswith(text, self.pos)

    def skip_space(self) -> None:
        """In `(?x)` mode skip whitespace and `#` comments (which run to the end of the line)."""
        if not self.flags.ignore_whitespace:
            return
        while not self.eof():
            ch = self.src[self.pos]
            if _is_whitespace(ch):
                self.pos += 1
            elif ch == "#":
                end = self.src.find("\n", self.pos)
                self.pos = len(self.src) if end < 0 else end + 1
            else:
                return

    def peek_past_space(self) -> str | None:
        """The character after the cursor's, past whitespace in `(?x)` mode, as regex-syntax's
        `peek_space` finds it: a first `#` is skipped but starts no comment (the character
        after it counts), and when only whitespace follows, the next character is returned."""
        if self.flags.ignore_whitespace:
            hash_seen = False
            for ch in self.src[self.pos + 1 :]:
                if _is_whitespace(ch):
                    continue
                if ch == "#" and not hash_seen:
                    hash_seen = True
                    continue
                return ch
        return self.peek(1)

    def literal(self, cp: int, is_byte: bool = False) -> Literal:
        return Literal(cp, is_byte, self.flags.case_insensitive, self.flags.unicode)

    # -- structure
    def parse(self) -> Node:
        node = self.parse_alternation()
        if not self.eof():  # only a stray ')' stops the top-level alternation early
            raise _error("unopened group")
        return node

    def parse_alternation(self) -> Node:
        """Parse up to an unmatched `)` or the end; flags set by `(?i)` last to the group's end."""
        saved = self.flags
        branches = [self.parse_concat()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.parse_concat())
        self.flags = saved
        return branches[0] if len(branches) == 1 else Alt(tuple(branches))

    def parse_concat(self) -> Node:
        items: list[Node] = []
        flag_items = 0  # bare `(?flags)`
        after_flags = False  # regex-syntax repeats no `(?flags)`: `a(?i)*` is an error
        while True:
            self.skip_space()
            ch = self.peek()
            if ch is None or ch in "|)":
                break
            if ch in "*+?{":
                if not items or after_flags:
                    raise _error("repetition operator missing expression")
                items[-1] = self.parse_repetition(items[-1])
                continue
            atom = self.parse_atom()
            after_flags = atom is None
            if atom is not None:
                items.append(atom)
            else:
                flag_items += 1
        node = Empty() if not items else items[0] if len(items) == 1 else Concat(tuple(items))
        if len(items) < 2 <= len(items) + flag_items:
            self.flag_concats.add(id(node))
        return node

    def parse_repetition(self, child: Node) -> Repeat:
        ch = self.src[self.pos]
        self.pos += 1
        if ch == "*":
            lo, hi = 0, None
        elif ch == "+":
            lo, hi = 1, None
        elif ch == "?":
            lo, hi = 0, 1
        else:
            lo, hi = self.parse_counts()
        greedy = True
        if self.peek() == "?":
            self.pos += 1
            greedy = False
        return Repeat(child, lo, hi, greedy != self.flags.swap_greed)

    def parse_decimal(self) -> int:
        while self.peek() is not None and _is_whitespace(self.peek()):  # type: ignore[arg-type]
            self.pos += 1
        start = self.pos
        while self.peek() is not None and self.peek() in "0123456789":
            self.pos += 1
        digits = self.src[start : self.pos]
        while self.peek() is not None and _is_whitespace(self.peek()):  # type: ignore[arg-type]
            self.pos += 1
        if not digits:
            if self.eof():
                raise _error("unclosed counted repetition")
            raise _error("repetition quantifier expects a valid decimal")
        value = int(digits)
        if value > MAX_REPEAT:
            raise _error("decimal literal invalid")
        return value

    def parse_counts(self) -> tuple[int, int | None]:
        if self.eof():
            raise _error("repetition quantifier expects a valid decimal")
        lo = self.parse_decimal()
        hi: int | None = lo
        if self.peek() == ",":
            self.pos += 1
            hi = None if self.peek() == "}" else self.parse_decimal()
        if self.peek() != "}":
            raise _error("unclosed counted repetition")
        self.pos += 1
        if hi is not None and lo > hi:
            raise _error("invalid repetition count range, the start must be <= the end")
        return lo, hi

    def parse_atom(self) -> Node | None:
        """One atom; None for a bare `(?flags)` which only changes the flags."""
        ch = self.src[self.pos]
        if ch == "(":
            return self.parse_group()
        if ch == "[":
            return self.parse_class()
        self.pos += 1
        if ch == ".":
            return Dot(self.flags.dot_all, self.flags.unicode, self.flags.crlf)
        if ch == "^":
            kind = "line_start" if self.flags.multi_line else "text_start"
            return Look(kind, self.flags.unicode, self.flags.crlf)
        if ch == "$":
            kind = "line_end" if self.flags.multi_line else "text_end"
            return Look(kind, self.flags.unicode, self.flags.crlf)
        if ch == "\\":
            return self.parse_escape()
        return self.literal(ord(ch))

    def parse_group(self) -> Node | None:
        self.pos += 1  # '('
        if not self.startswith("?"):
            return self.finish_group(capturing=True)
        if (
            self.startswith("?=")
            or self.startswith("?!")
            or self.startswith("?<=")
            or (self.startswith("?<!"))
        ):
            raise _error("look-around, including look-ahead and look-behind, is not supported")
        if self.startswith("?P<") or self.startswith("?<"):
            self.pos += 3 if self.startswith("?P<") else 2
            name = self.parse_group_name()
            return self.finish_group(capturing=True, name=name)
        self.pos += 1  # '?'
        if self.peek() == ")":
            raise _error("repetition operator missing expression")
        flags = self.parse_flags()
        if self.peek() == ")":
            self.pos += 1
            self.flags = flags  # lasts until the end of the enclosing group
            return None
        self.pos += 1  # ':'
        outer = self.flags
        self.flags = flags
        node = self.finish_group()
        self.flags = outer
        return node

    def finish_group(self, capturing: bool = False, name: str | None = None) -> Group:
        self.enter()
        child = self.parse_alternation()
        if self.peek() != ")":
            raise _error("unclosed group")
        self.pos += 1
        self.open -= 1
        return Group(child, capturing, name)

    def parse_group_name(self) -> str:
        start = self.pos
        while True:
            ch = self.peek()
            if ch is None:
                raise _error("unclosed capture group name")
            if ch == ">":
                break
            first = self.pos == start
            if not (ch == "_" or _is_alphabetic(ch) or (not first and (ch.isnumeric()
                                                                  or ch in ".[]"))):
                raise _error("invalid capture group character")
            self.pos += 1
        name = self.src[start : self.pos]
        self.pos += 1
        if not name:
            raise _error("empty capture group name")
        if name in self.group_names:
            raise _error("duplicate capture group name")
        self.group_names.add(name)
        return name

    def parse_flags(self) -> Flags:
        flags = self.flags
        seen: set[str] = set()
        negate = False
        last_was_negation = False
        while True:
            ch = self.peek()
            if ch is None:
                raise _error("expected flag but got end of regex")
            if ch in ":)":
                if last_was_negation:
                    raise _error("dangling flag negation operator")
                return flags
            self.pos += 1
            if ch == "-":
                if negate:
                    raise _error("flag negation operator repeated")
                negate = last_was_negation = True
                continue
            if ch not in _FLAG_FIELDS:
                raise _error("unrecognized flag")
            if ch in seen:
                raise _error("duplicate flag")
            seen.add(ch)
            last_was_negation = False
            flags = flags.changed(_FLAG_FIELDS[ch], not negate)

    # -- escapes
    def parse_hex(self, kind: str) -> int:
        """After `\\x`, `\\u` or `\\U`: fixed-width hex digits or a braced `{...}` form."""
        if self.peek() == "{":
            end = self.src.find("}", self.pos)
            self.pos += 1
            digits = self.src[self.pos : end if end >= 0 else len(self.src)]
            if end < 0:
                bad = next((d for d in digits if d not in "0123456789abcdefABCDEF"), None)
                if bad is None:
                    raise _error("incomplete escape sequence, reached end of pattern prematurely")
                raise _error("invalid hexadecimal digit")
            if not digits:
                raise _error("hexadecimal literal empty")
            if any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise _error("invalid hexadecimal digit")
            self.pos = end + 1
        else:
            width = {"x": 2, "u": 4, "U": 8}[kind]
            digits = self.src[self.pos : self.pos + width]
            for d in digits:
                if d not in "0123456789abcdefABCDEF":
                    raise _error("invalid hexadecimal digit")
            if len(digits) < width:
                raise _error("incomplete escape sequence, reached end of pattern prematurely")
            self.pos += width
        value = int(digits, 16)
        if value > MAX_CODEPOINT or 0xD800 <= value <= 0xDFFF:
            raise _error("hexadecimal literal is not a Unicode scalar value")
        return value

    def parse_unicode_class(self, letter: str) -> UnicodeClass:
        start = self.pos - 2
        if self.peek() is None:
            raise _error("incomplete escape sequence, reached end of pattern prematurely")
        if self.peek() == "{":
            end = self.src.find("}", self.pos)
            if end < 0:
                raise _error("incomplete escape sequence, reached end of pattern prematurely")
            self.pos = end + 1
        else:
            self.pos += 1
        text = self.src[start : self.pos]
        return UnicodeClass(text)

    def parse_escape_char(self, in_class: bool) -> ClassItem | Node:
        """Escapes shared by classes and atoms: literals, Perl and Unicode classes.

        Returns a ClassLiteral/PerlClass/UnicodeClass, or a Look outside classes."""
        ch = self.peek()
        if ch is None:
            raise _error("incomplete escape sequence, reached end of pattern prematurely")
        self.pos += 1
        if ch in "xuU":
            braced = self.peek() == "{"
            value = self.parse_hex(ch)
            # Under (?-u) only `\xHH` is a byte: `\x{HH}` is a code point, as `\uHHHH` is.
            is_byte = not self.flags.unicode and ch == "x" and not braced and value > 0x7F
            return ClassLiteral(value, is_byte)
        if ch in _SIMPLE_ESCAPES:
            return ClassLiteral(_SIMPLE_ESCAPES[ch])
        if ch in "dswDSW":
            return PerlClass(ch.lower(), ch.isupper())
        if ch in "pP":
            return self.parse_unicode_class(ch)
        if ch in "0123456789":
            raise _error("backreferences are not supported")
        if ch.isascii() and not ch.isalnum() and ch not in "<>":
            return ClassLiteral(ord(ch))
        if ch in "bBAz<>":
            if in_class:
                raise _error("invalid escape sequence found in character class")
            return self.parse_assertion(ch)
        raise _error("unrecognized escape sequence")

    def parse_assertion(self, ch: str) -> Look:
        uni, crlf = self.flags.unicode, self.flags.crlf
        if (
            ch == "b"
            and self.peek() == "{"
            and (
                self.peek(1) is not None and (self.peek(1).isalpha() or self.peek(1) == "-")  # type: ignore[union-attr]
            )
        ):
            end = self.pos + 1
            while end < len(self.src) and (self.src[end].isalpha() or self.src[end] == "-"):
                end += 1
            if end >= len(self.src) or self.src[end] != "}":
                raise _error(
                    "special word boundary assertion is either unclosed or contains an "
                    "invalid character"
                )
            name = self.src[self.pos + 1 : end]
            if name not in _SPECIAL_WORD:
                raise _error(
                    "unrecognized special word boundary assertion, valid choices are: "
                    "start, end, start-half or end-half"
                )
            self.pos = end + 1
            return Look(_SPECIAL_WORD[name], uni, crlf)
        kind = {
            "b": "word",
            "B": "not_word",
            "A": "text_start",
            "z": "text_end",
            "<": "word_start",
            ">": "word_end",
        }[ch]
        return Look(kind, uni, crlf)

    def parse_escape(self) -> Node:
        item = self.parse_escape_char(in_class=False)
        if isinstance(item, ClassLiteral):
            return self.literal(item.cp, item.is_byte)
        if isinstance(item, PerlClass | UnicodeClass):
            return self.make_class(ClassUnion((item,)), negated=False, bracketed=False)
        assert isinstance(item, Look)
        return item

    # -- classes
    def make_class(self, body: ClassSet, negated: bool, bracketed: bool = True) -> Class:
        return Class(body, negated, self.flags.case_insensitive, self.flags.unicode, bracketed)

    def parse_class(self) -> Class:
        body, negated = self.parse_bracket()
        return self.make_class(body, negated)

    def parse_bracket(self) -> tuple[ClassSet, bool]:
        """Parse `[...]` (the cursor is on `[`) into its set and whether it is negated."""
        self.enter()
        self.pos += 1
        self.skip_space()
        negated = False
        if self.peek() == "^":
            negated = True
            self.pos += 1
            self.skip_space()
        items: list[ClassItem] = []
        if self.peek() == "]":  # a leading ']' is a literal
            self.pos += 1
            items.append(ClassLiteral(ord("]")))
        while self.peek() == "-":  # leading '-' are literals
            self.pos += 1
            items.append(ClassLiteral(ord("-")))
            self.skip_space()
        current: ClassSet | None = None  # left operand of a pending set operation
        pending_op: str | None = None
        while True:
            self.skip_space()
            ch = self.peek()
            if ch is None:
                raise _error("unclosed character class")
            if ch == "]":
                self.pos += 1
                self.open -= 1
                union = ClassUnion(tuple(items))
                if pending_op is None:
                    return union, negated
                assert current is not None
                return ClassOp(pending_op, current, union), negated
            op = self.src[self.pos : self.pos + 2]
            if op in ("&&", "--", "~~"):
                self.pos += 2
                union = ClassUnion(tuple(items))
                if pending_op is None:
                    current = union
                else:
                    assert current is not None
                    current = ClassOp(pending_op, current, union)
                pending_op, items = op, []
                continue
            items.append(self.parse_class_range())

    def parse_class_item(self) -> ClassItem:
        item = self._class_item()
        if (isinstance(item, ClassLiteral) and item.cp > 0x7F and not item.is_byte
                and not self.flags.unicode):
            raise _error("Unicode not allowed here")  # a byte class holds no code point
        return item

    def _class_item(self) -> ClassItem:
        ch = self.src[self.pos]
        if ch == "[":
            ascii_class = self.maybe_ascii_class()
            if ascii_class is not None:
                return ascii_class
            body, negated = self.parse_bracket()
            return Bracket(body, negated)
        if ch == "\\":
            self.pos += 1
            item = self.parse_escape_char(in_class=True)
            assert not isinstance(item, Look)
            return item  # type: ignore[return-value]
        self.pos += 1
        return ClassLiteral(ord(ch))

    def maybe_ascii_class(self) -> AsciiClass | None:
        if not self.startswith("[:"):
            return None
        end = self.src.find(":]", self.pos + 2)
        if end < 0:
            return None
        name = self.src[self.pos + 2 : end]
        negated = name.startswith("^")
        if negated:
            name = name[1:]
        if name not in ASCII_CLASSES:
            return None
        self.pos = end + 2
        return AsciiClass(name, negated)

    def parse_class_range(self) -> ClassItem:
        first = self.parse_class_item()
        if isinstance(first, AsciiClass | Bracket):
            return first  # (regex-syntax reads them apart: `[[:alpha:]-z]` is no range)
        self.skip_space()
        if self.peek() != "-" or self.peek_past_space() in ("]", "-", None):
            return first
        self.pos += 1
        self.skip_space()
        if self.eof():
            raise _error("unclosed character class")
        if self.src[self.pos] == "[":  # a '[' ending a range is a plain character
            self.pos += 1
            last: ClassItem = ClassLiteral(ord("["))
        else:
            last = self.parse_class_item()
        if not isinstance(first, ClassLiteral) or not isinstance(last, ClassLiteral):
            raise _error("invalid range boundary, must be a literal")
        if first.cp > last.cp:
            raise _error("invalid character class range, the start must be <= the end")
        return ClassRange(first, last)


def parse(pattern: str, flags: Flags, multiline: bool) -> Node:
    """Parse `pattern` (rg's joined pattern text) under the initial `flags`.

    Without `multiline`, a literal newline (or a class of only `\\n`) is an error, as in rg,
    unless it merged into a class (see `check_newline_ban`); with `flags.crlf` (--crlf), a
    `\\r` too."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    parser = _Parser(pattern, flags)
    node = parser.parse()
    if nest_depth(node, parser.flag_concats) > NEST_LIMIT:
        raise _error(_NEST_ERROR)
    if not multiline:
        check_newline_ban(node, flags.crlf)
    return node


def nest_depth(node: Node, flag_concats: set[int] | frozenset[int] = frozenset()) -> int:
    """How deep regex-syntax's nest limiter counts `node`: one a level for each group,
    bracketed class (and each class in it, union of several items or set operation),
    repetition, alternation and concatenation (`flag_concats`: see _Parser). Without
    recursion: a run of repetitions (`a****`) nests as deep as it is long."""
    deepest = 0
    stack: list[tuple[Node | ClassSet | Bracket, int]] = [(node, 0)]
    while stack:
        item, depth = stack.pop()
        depth += id(item) in flag_concats
        children: tuple[Node | ClassSet | Bracket, ...] = ()
        match item:
            case Group(child=child) | Repeat(child=child):
                depth, children = depth + 1, (child,)
            case Concat(items=items) | Alt(items=items):
                depth, children = depth + 1, items
            case Class(body=body, bracketed=True) | Bracket(body=body):
                depth, children = depth + 1, (body,)
            case ClassOp(lhs=lhs, rhs=rhs):
                depth, children = depth + 1, (lhs, rhs)
            case ClassUnion(items=items):  # (a union of one item is that item)
                depth += len(items) > 1
                children = tuple(i for i in items if isinstance(i, Bracket))
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest


# ---- rg's newline ban --------------------------------------------------------------------------
#
# rg bans `\n` on regex-syntax's HIR, whose smart constructors simplify as they build: non-capturing
# groups vanish, `x{1}` is `x` and `x{0}` empty, a concatenation drops empties and fuses adjacent
# literals, a class of one character is a literal, and an alternation is flattened, then merged
# into one class when its branches are all one-character literals (or all classes), else its
# branches' common leading items are factored out. rg rejects a surviving literal holding `\n`;
# a `\n` merged into a class is allowed and later dropped from the class (so `\n|a` is `a`).
# The shapes below mirror just enough of that HIR: ("empty",), ("lit", utf8_bytes),
# ("class", key), ("look",), ("rep", min, max, greedy, sub), ("cap", index, sub),
# ("concat", items), ("alt", items).

_Hir = tuple
_EMPTY: _Hir = ("empty",)


def _has_case_variants(cp: int, unicode: bool) -> bool:
    ch = chr(cp)
    if not unicode:
        return ch.isascii() and ch.isalpha()
    if ch == "ß":  # its partner ẞ maps to it, it to no single character ("SS", "ss")
        return True
    # A partner in rg's simple case folding (Unicode 15.0) folds as `ch` does: not `ı`'s `I`
    # (a Turkic mapping), but `ᾀ`'s titlecase `ᾈ` (its uppercase is two characters).
    return any(len(v) == 1 and v != ch and v.casefold() == ch.casefold()
               for v in (ch.lower(), ch.upper(), ch.title()))


def _literal_hir(cp: int, is_byte: bool, fold: bool, unicode: bool, key: object) -> _Hir:
    if fold and not is_byte and _has_case_variants(cp, unicode):
        return ("class", key)
    return ("lit", bytes([cp]) if is_byte else chr(cp).encode())


def _zero_width(hir: _Hir) -> bool:
    match hir[0]:
        case "empty" | "look":
            return True
        case "rep" | "cap":
            return _zero_width(hir[-1])
        case "concat" | "alt":
            return all(_zero_width(h) for h in hir[1])
    return False


def _concat_hir(parts: list[_Hir]) -> _Hir:
    items: list[_Hir] = []
    run: list[bytes] = []  # consecutive literals, joined once (a long literal is many)
    for part in parts:
        for item in part[1] if part[0] == "concat" else (part,):
            if item == _EMPTY:
                continue
            if item[0] == "lit":
                run.append(item[1])
                continue
            if run:
                items.append(("lit", b"".join(run)))
                run = []
            items.append(item)
    if run:
        items.append(("lit", b"".join(run)))
    if not items:
        return _EMPTY
    return items[0] if len(items) == 1 else ("concat", tuple(items))


def _single_char(hir: _Hir) -> str | None:
    if hir[0] != "lit":
        return None
    try:
        text = hir[1].decode()
    except UnicodeDecodeError:
        return None
    return text if len(text) == 1 else None


def _alt_hir(parts: list[_Hir]) -> _Hir:
    items = [item for part in parts for item in (part[1] if part[0] == "alt" else (part,))]
    if len(items) == 1:
        return items[0]
    chars = [_single_char(item) for item in items]
    if all(chars):
        return _class_of_units({ch.encode() for ch in chars})  # type: ignore[union-attr]
    if all(item[0] == "lit" and len(item[1]) == 1 for item in items):
        return _class_of_units({item[1] for item in items})
    if all(item[0] == "class" for item in items):
        return ("class", tuple(items))
    if all(item[0] == "concat" for item in items):
        prefix = 0
        first = items[0][1]
        while prefix < len(first) and all(
            prefix < len(item[1]) and item[1][prefix] == first[prefix] for item in items
        ):
            prefix += 1
        if prefix:
            suffix = _alt_hir([_concat_hir(list(item[1][prefix:])) for item in items])
            return _concat_hir([*first[:prefix], suffix])
    return ("alt", tuple(items))


def _class_of_units(units: set[bytes]) -> _Hir:
    """A merged class; one of a single character is a literal again (`\n|\n` stays banned)."""
    return ("lit", units.pop()) if len(units) == 1 else ("class", frozenset(units))


def _hir(node: Node, captures: list[int]) -> _Hir:
    match node:
        case Empty():
            return _EMPTY
        case Literal(cp=cp, is_byte=is_byte, fold=fold, unicode=unicode):
            return _literal_hir(cp, is_byte, fold, unicode, node)
        case Class(fold=fold, unicode=unicode):
            ranges = class_ranges(node)
            if ranges is not None and len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
                cp = ranges[0][0]
                return _literal_hir(cp, not unicode and cp >= 0x80, fold, unicode, node)
            return ("class", node)
        case Dot():
            return ("class", node)
        case Look():
            return ("look",)
        case Repeat(child=child, min=lo, max=hi, greedy=greedy):
            sub = _hir(child, captures)
            if _zero_width(sub):
                lo, hi = min(lo, 1), min(1 if hi is None else hi, 1)
            if (lo, hi) == (0, 0):
                return _EMPTY
            return sub if (lo, hi) == (1, 1) else ("rep", lo, hi, greedy, sub)
        case Group(child=child, capturing=capturing):
            sub = _hir(child, captures)
            if not capturing:
                return sub
            captures.append(len(captures))
            return ("cap", len(captures), sub)
        case Concat(items=items):
            return _concat_hir([_hir(item, captures) for item in items])
        case Alt(items=items):
            return _alt_hir([_hir(item, captures) for item in items])
    raise AssertionError(node)


def _banned(hir: _Hir, byte: bytes) -> bool:
    match hir[0]:
        case "lit":
            return byte in hir[1]
        case "rep" | "cap":
            return _banned(hir[-1], byte)
        case "concat" | "alt":
            return any(_banned(h, byte) for h in hir[1])
    return False


def check_newline_ban(node: Node, crlf: bool = False) -> None:
    """Raise rg's error if `node` keeps a literal `\n` once simplified as regex-syntax does.

    A `\n` that passes (merged into a class) can never match without -U: the emitter drops it.
    With `crlf` rg first strips `\r` from the pattern (a literal `\r` is an error, a class
    loses it and may become a literal: `[\r\n]` is `\n`), then bans `\n` in what is left."""
    hir = _hir(node, [])
    if crlf:
        hir = _without_cr(hir)
    if _banned(hir, b"\n"):
        raise PatternError(NEWLINE_BANNED)


def _without_cr(hir: _Hir) -> _Hir:
    """`hir` with `\r` stripped as grep-regex strips it, simplified again."""
    match hir[0]:
        case "lit":
            if b"\r" in hir[1]:
                raise PatternError(NEWLINE_BANNED.replace("\\n", "\\r", 1))
        case "class":
            rest = _class_units(hir[1])
            if rest is not None and b"\r" in rest and len(rest) == 2:
                (unit,) = rest - {b"\r"}
                return ("lit", unit)
        case "rep" | "cap":
            return (*hir[:-1], _without_cr(hir[-1]))
        case "concat":
            return _concat_hir([_without_cr(h) for h in hir[1]])
        case "alt":
            return _alt_hir([_without_cr(h) for h in hir[1]])
    return hir


def _class_units(key: object) -> set[bytes] | None:
    """The characters of a class's HIR key as units (a character's UTF-8, or a byte of a
    `(?-u)` class) when there are at most two (else None)."""
    if isinstance(key, frozenset):  # merged one-character literals (or bytes)
        units = set(key)
    elif isinstance(key, tuple):  # merged classes
        units = set()
        for item in key:
            sub = _class_units(item[1])
            if sub is None:
                return None
            units |= sub
    elif isinstance(key, Class):
        ranges = class_ranges(key)
        if ranges is None or sum(hi - lo + 1 for lo, hi in ranges) > 2:
            return None
        units = {chr(cp).encode() if key.unicode or cp < 0x80 else bytes([cp])
                 for lo, hi in ranges for cp in range(lo, hi + 1)}
    else:
        return None  # a dot, a folded letter
    return units if len(units) <= 2 else None


def check_nul_ban(node: Node, terminator: bool = False) -> None:
    """Raise rg's error if `node` keeps a literal NUL (as the newline ban simplifies it): with
    binary detection on (no -a), no match can hold one; nor with NUL as the line terminator
    (`terminator`: --null-data without -U), which rg bans as it bans `\n`."""
    if _banned(_hir(node, []), b"\0"):
        raise PatternError(
            NEWLINE_BANNED.replace("\\n", "\\0", 1) if terminator else NUL_BANNED)


def _class_literals(body: ClassSet) -> list[int]:
    if isinstance(body, ClassOp):
        return _class_literals(body.lhs) + _class_literals(body.rhs)
    out: list[int] = []
    for item in body.items:
        if isinstance(item, ClassLiteral):
            out.append(item.cp)
        elif isinstance(item, ClassRange):
            out += [item.lo.cp, item.hi.cp]
        elif isinstance(item, Bracket):
            out += _class_literals(item.body)
    return out


def literal_chars(node: Node) -> list[int]:
    """Every literal code point written in the pattern, classes included (rg's smart case
    looks at these only: `\\p{Lu}` or `\\W` are neither literal nor upper case)."""
    match node:
        case Literal(cp=cp):
            return [cp]
        case Class(body=body):
            return _class_literals(body)
        case Repeat(child=child) | Group(child=child):
            return literal_chars(child)
        case Concat(items=items) | Alt(items=items):
            return [cp for item in items for cp in literal_chars(item)]
    return []


def smart_case_insensitive(node: Node) -> bool:
    """rg's -S rule: case-insensitive iff there is a literal and none is upper case."""
    chars = literal_chars(node)
    return bool(chars) and not any(chr(cp).isupper() for cp in chars)
