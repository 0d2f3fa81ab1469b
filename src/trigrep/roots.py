"""Where a tree keeps trigrep's state (`.trigrep/`, at the tree's root), and the walk up from a
path to the nearest directory holding something: how the index finds its tree's root (or
where a first search builds one), and the CLI the daemon serving it.

A module of its own because the CLI loads it on every search a daemon answers: it imports
`os` only (no typing, no `from __future__`), unlike `index.format` where the other names of
the index's layout live.
"""

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

INDEX_DIR_NAME = ".trigrep"
MANIFEST_NAME = "manifest"  # in INDEX_DIR_NAME: the current index (see `trigrep.index.format`)


def nearest(start: str, probe: "Callable[[str], T | None]") -> "tuple[str, T] | None":
    """(directory, what `probe` found there) for the nearest directory at or above `start`
    (made absolute) where `probe(directory)` is not None."""
    path = os.path.abspath(start)
    while True:
        found = probe(path)
        if found is not None:
            return path, found
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def nearest_holding(start: str, name: str, test: "Callable[[str], bool]") -> str | None:
    """The nearest directory at or above `start` (made absolute) whose `name` passes `test`."""
    found = nearest(start, lambda path: test(os.path.join(path, name)) or None)
    return None if found is None else found[0]


def find_index_root(start: str) -> "str | None":
    """The nearest directory at or above `start` that holds a `.trigrep/` index directory."""
    return nearest_holding(start, os.path.join(INDEX_DIR_NAME, MANIFEST_NAME), os.path.isfile)


def default_root(start: str) -> str:
    """Where a first search builds the index: the git work tree holding `start`, else `start`."""
    return nearest_holding(start, ".git", os.path.exists) or os.path.abspath(start)


def tree_root(path: str) -> str:
    """The root of the tree holding the directory `path`: its index's, or where a first search
    (or `trigrep index`) would build one."""
    return find_index_root(path) or default_root(path)
