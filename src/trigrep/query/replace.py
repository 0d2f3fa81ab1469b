"""-r/--replace: what rg prints for each match instead of its text.

The template's `$N`, `$name` and `${name}` stand for capturing groups (a number for the N-th
group, 0 the whole match; an unknown group for nothing), `$$` for a `$`; a name is the
longest run of ASCII letters, digits and `_` after the `$` (so `$1x` is the group named
`1x`), and a `$` that starts no reference stays as it is. The search's regex has no
capturing groups (they only slow it down), so each match is found again with a twin that
has them.
"""

from __future__ import annotations

from collections.abc import Sequence

import rurex

_NAME_BYTES = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


class Replacer:
    __slots__ = ("crlf", "eol", "multiline", "names", "regex", "template")

    def __init__(self, regex: rurex.Pattern, names: dict[str, int], template: bytes,
                 multiline: bool, crlf: bool, eol: bytes = b"\n") -> None:
        self.regex = regex  # the search's regex, its capturing groups capturing
        self.names = names  # group name -> number
        self.template = template
        self.multiline = multiline  # matches may span lines (-U): the haystack is the whole event
        self.crlf = crlf  # --crlf: a line's terminator is its `\r\n` (else its `\n`)
        self.eol = eol  # what ends a line: NUL with --null-data

    def replaced(self, lines: bytes, spans: list[tuple[int, int]]) -> tuple[
        bytes, list[tuple[int, int]]
    ]:
        """`lines` with each match (at `spans`) replaced, and where the replacements are.
        As rg's, the result of one line has no terminator (the printer ends the line; a
        --max-columns limit measures it without one)."""
        end = len(lines)
        if not self.multiline and lines.endswith(self.eol):
            end -= 2 if self.crlf and lines.endswith(b"\r\n") else 1
        out = bytearray()
        new_spans = []
        pos = 0
        for start, stop in spans:
            out += lines[pos:start]
            found = self.regex.search(lines, start, max(end, stop))
            if found is not None and found.span() == (start, stop):
                groups = [found.group(i) for i in range(self.regex.groups + 1)]
            else:  # (found otherwise in the file, with more before it: the match alone)
                groups = [lines[start:stop]]
            text = expand(self.template, groups, self.names)
            new_spans.append((len(out), len(out) + len(text)))
            out += text
            pos = stop
        out += lines[pos:end]
        return bytes(out), new_spans


def expand(template: bytes, groups: Sequence[bytes | None], names: dict[str, int]) -> bytes:
    """`template` with its references to `groups` (0: the match; a group that did not take
    part is None) replaced, as rg does."""
    out = bytearray()
    i = 0
    while (dollar := template.find(b"$", i)) >= 0:
        out += template[i:dollar]
        if template[dollar + 1 : dollar + 2] == b"$":
            out += b"$"
            i = dollar + 2
            continue
        reference = _reference(template, dollar)
        if reference is None:
            out += b"$"
            i = dollar + 1
            continue
        name, i = reference
        index = int(name) if name.isdigit() else names.get(name.decode())
        if index is not None and index < len(groups):
            out += groups[index] or b""
    out += template[i:]
    return bytes(out)


def _reference(template: bytes, dollar: int) -> tuple[bytes, int] | None:
    """(the group name, where the reference ends) of the reference at `dollar`, if any."""
    start = dollar + 1
    braced = template[start : start + 1] == b"{"
    start += braced
    end = start
    while end < len(template) and template[end] in _NAME_BYTES:
        end += 1
    if end == start:
        return None
    if braced:
        if template[end : end + 1] != b"}":
            return None
        return template[start:end], end + 1
    return template[start:end], end
