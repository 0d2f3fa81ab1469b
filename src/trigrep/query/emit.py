"""Print the AST back as a canonical Rust pattern that rurex compiles, with rg's line semantics.

Every flag-dependent leaf carries its own scoped flags (`(?i:..)`, `(?-u:..)`), so the output
never needs rurex-unsupported mid-pattern flags, every repetition operand is a group (rurex
rejects `a**`), captures become `(?:..)` (unless -r asks for them), and, unless multiline,
nothing can match `\\n` and `\\A`/`\\z`/`(?-m)^` act at line boundaries (the whole file buffer
is searched at once; with --crlf or --null-data they stay, see `_look`).
"""

from __future__ import annotations

from trigrep.query.syntax import (
    Alt,
    AsciiClass,
    Bracket,
    Class,
    ClassLiteral,
    ClassRange,
    ClassSet,
    ClassUnion,
    Concat,
    Dot,
    Empty,
    Group,
    Literal,
    Look,
    Node,
    PerlClass,
    Repeat,
    UnicodeClass,
    class_ranges,
)

_LOOK_TEXT = {
    "word": r"\b",
    "not_word": r"\B",
    "word_start": r"\b{start}",
    "word_end": r"\b{end}",
    "word_start_half": r"\b{start-half}",
    "word_end_half": r"\b{end-half}",
}


def _scoped(text: str, fold: bool, unicode: bool) -> str:
    flags = ("i" if fold else "") + ("" if unicode else "-u")
    return f"(?{flags}:{text})" if flags else text


def _char(cp: int, is_byte: bool) -> str:
    if is_byte:
        return f"\\x{cp:02X}"  # the braced form is not a byte under (?-u) in rurex
    if cp < 0x80:
        return chr(cp) if chr(cp).isalnum() else f"\\x{cp:02X}"
    return f"\\x{{{cp:X}}}"


_NEVER = r"[\n&&[^\n]]"


def _literal(lit: Literal, ends: str) -> str:
    """A literal outside classes: without Unicode, a non-ASCII character is its UTF-8 bytes.

    A line terminator (`ends`) that got past rg's ban was merged into a class (`\\n|a`), and
    rg drops line terminators from classes, so it matches nothing."""
    if lit.cp < 0x80 and chr(lit.cp) in ends:
        return _NEVER
    if lit.unicode or lit.is_byte or lit.cp < 0x80:
        return _char(lit.cp, lit.is_byte)
    return "".join(_char(b, True) for b in chr(lit.cp).encode())


def _class_item(item: object, unicode: bool) -> str:
    match item:
        case ClassLiteral(cp=cp, is_byte=is_byte):
            return _char(cp, is_byte)
        case ClassRange(lo=lo, hi=hi):
            return f"{_char(lo.cp, lo.is_byte)}-{_char(hi.cp, hi.is_byte)}"
        case AsciiClass(name=name, negated=negated):
            return f"[:{'^' if negated else ''}{name}:]"
        case PerlClass(kind=kind, negated=negated):
            return "\\" + (kind.upper() if negated else kind)
        case UnicodeClass(text=text):
            return text
        case Bracket(body=body, negated=negated):
            return f"[{'^' if negated else ''}{_class_set(body, unicode)}]"
    raise AssertionError(item)


def _class_set(body: ClassSet, unicode: bool) -> str:
    if isinstance(body, ClassUnion):
        return "".join(_class_item(item, unicode) for item in body.items)
    return f"{_operand(body.lhs, unicode)}{body.op}{_operand(body.rhs, unicode)}"


def _operand(body: ClassSet, unicode: bool) -> str:
    """A set-operation operand, bracketed so precedence and empty operands are unambiguous."""
    if isinstance(body, ClassUnion) and not body.items:
        return r"[^\x{0}-\x{10FFFF}]" if unicode else r"[^\x00-\xFF]"
    return f"[{_class_set(body, unicode)}]"


def _class(cls: Class, ends: str) -> str:
    text = f"[{'^' if cls.negated else ''}{_class_set(cls.body, cls.unicode)}]"
    if ends:
        ranges = class_ranges(cls)
        if ranges is None or any(lo <= ord(c) <= hi for lo, hi in ranges for c in ends):
            text = f"[{text}&&[^{''.join(_char(ord(c), False) for c in ends)}]]"
    return _scoped(text, cls.fold, cls.unicode)


def _dot(dot: Dot, ends: str) -> str:
    if not ends and dot.dot_all:
        text = r"(?s:.)"
    elif (dot.crlf and not dot.dot_all) or "\r" in ends:  # (--crlf strips `\r`, (?-R) or not)
        text = r"[^\r\n]"
    elif "\0" in ends:  # --null-data strips its terminator (`.` takes a `\n` only in (?s))
        text = r"[^\x00]" if dot.dot_all else r"[^\n\x00]"
    else:
        text = r"[^\n]"
    return _scoped(text, False, dot.unicode)


def _look(look: Look, ends: str) -> str:
    kind = look.kind
    if kind in ("text_start", "text_end"):
        # rg runs the regex on one line at a time, without its `\n`: text edges are the
        # edges of `\n` lines, whatever `(?R)` says. A line that ends in NUL or, with
        # --crlf, in `\r\n` or a lone `\n` is searched alone (see query.LineVerified): its
        # text anchors stay.
        if ends == "\n":
            return "(?m:^)" if kind == "text_start" else "(?m:$)"
        return r"\A" if kind == "text_start" else r"\z"
    if kind in ("line_start", "line_end"):
        anchor = "^" if kind == "line_start" else "$"
        return f"(?m{'R' if look.crlf else ''}:{anchor})"
    return _scoped(_LOOK_TEXT[kind], False, look.unicode)


def _repeat(rep: Repeat, ends: str, captures: bool) -> str:
    if (rep.min, rep.max) == (0, None):
        op = "*"
    elif (rep.min, rep.max) == (1, None):
        op = "+"
    elif (rep.min, rep.max) == (0, 1):
        op = "?"
    elif rep.max is None:
        op = f"{{{rep.min},}}"
    elif rep.min == rep.max:
        op = f"{{{rep.min}}}"
    else:
        op = f"{{{rep.min},{rep.max}}}"
    return f"(?:{_emit(rep.child, ends, captures)}){op}{'' if rep.greedy else '?'}"


def _concat(items: tuple[Node, ...], ends: str, captures: bool) -> str:
    """Concatenate, sharing one flag scope per run of literals with the same flags."""
    out: list[str] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Literal):
            key = (item.fold, item.unicode)
            run: list[str] = []
            while i < len(items) and isinstance(items[i], Literal):
                lit = items[i]
                assert isinstance(lit, Literal)
                if (lit.fold, lit.unicode) != key:
                    break
                run.append(_literal(lit, ends))
                i += 1
            out.append(_scoped("".join(run), *key))
            continue
        out.append(_emit(item, ends, captures))
        i += 1
    return "".join(out)


def emit(node: Node, multiline: bool, captures: bool = False, crlf: bool = False,
         null_data: bool = False) -> str:
    """The Rust regex text for `node`, to be compiled as bytes after a leading `(?u)`;
    with `captures`, the pattern's capturing groups capture (unnamed, numbered as the
    pattern's: see `capture_names`). Without `multiline` no match holds a line terminator:
    `\\n`, and with `crlf` (--crlf) `\\r` too, as rg strips them from classes; with
    `null_data` (--null-data) the terminator is NUL (`.` still takes no `\\n`)."""
    ends = "" if multiline else "\0" if null_data else "\r\n" if crlf else "\n"
    return _emit(node, ends, captures)


def _emit(node: Node, ends: str, captures: bool) -> str:
    match node:
        case Empty():
            return ""
        case Literal():
            return _concat((node,), ends, captures)
        case Dot():
            return _dot(node, ends)
        case Look():
            return _look(node, ends)
        case Class():
            return _class(node, ends)
        case Repeat():
            return _repeat(node, ends, captures)
        case Group(child=child, capturing=capturing):
            opening = "(" if captures and capturing else "(?:"
            return f"{opening}{_emit(child, ends, captures)})"
        case Concat(items=items):
            return _concat(items, ends, captures)
        case Alt(items=items):
            return "|".join(_emit(item, ends, captures) for item in items)
    raise AssertionError(node)


def capture_names(node: Node) -> dict[str, int]:
    """The index of each named capturing group, as `emit(..., captures=True)` numbers them
    (in the order their parentheses open, from 1)."""
    names: dict[str, int] = {}
    count = 0

    def visit(node: Node) -> None:
        nonlocal count
        match node:
            case Group(child=child, capturing=capturing, name=name):
                if capturing:
                    count += 1
                    if name is not None:
                        names[name] = count
                visit(child)
            case Repeat(child=child):
                visit(child)
            case Concat(items=items) | Alt(items=items):
                for item in items:
                    visit(item)

    visit(node)
    return names
