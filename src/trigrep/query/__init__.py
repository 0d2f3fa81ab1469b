"""STUB (to be replaced): turns MatchOptions into a compiled regex plus a trigram plan."""

from __future__ import annotations

from dataclasses import dataclass

import rurex

from trigrep.errors import PatternError
from trigrep.options import MatchOptions
from trigrep.query.plan import ALL, TrigramQuery


@dataclass(frozen=True)
class Query:
    """A compiled search: `regex` runs over whole-file bytes with rg's line semantics
    (`^`/`$` at line ends; no match spans a newline unless `multiline`)."""

    regex: rurex.Pattern
    plan: TrigramQuery
    invert: bool
    multiline: bool


def compile_query(opts: MatchOptions) -> Query:
    pats = [rurex.escape(p) if opts.fixed_strings else p for p in opts.patterns]
    flags = "(?mu)" + ("(?i)" if opts.case == "insensitive" else "")
    src = flags + "|".join(f"(?:{p})" for p in pats)
    try:
        regex = rurex.compile(src.encode())
    except rurex.error as e:
        raise PatternError(f"regex parse error: {e}") from None
    return Query(regex, ALL, opts.invert_match, opts.multiline)
