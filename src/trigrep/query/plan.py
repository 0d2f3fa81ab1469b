"""STUB (to be replaced by the planner): the boolean trigram query type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class TrigramQuery:
    """A boolean query over trigrams of ASCII-case-folded file content.

    A trigram is the int (b0 << 16) | (b1 << 8) | b2 of three consecutive content bytes after
    mapping A-Z to a-z (no other byte changes). `all` matches every file, `none` no file;
    `and`/`or` combine `trigrams` (each must / any may occur) with `subs`.
    """

    op: Literal["all", "none", "and", "or"]
    trigrams: frozenset[int] = field(default_factory=frozenset)
    subs: tuple[TrigramQuery, ...] = ()


ALL = TrigramQuery("all")
NONE = TrigramQuery("none")
