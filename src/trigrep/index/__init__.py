"""The on-disk trigram index: `update_index` keeps it current (rebuilding it in full with
`build_index`'s work when needed), `IndexReader` answers queries.

The writers live in `trigrep.index.update` and `trigrep.index.build` (they import numpy at
module level); this package imports only the light reader side.
"""

from trigrep.index.format import BuildProgress, IndexEntry, IndexStats
from trigrep.index.reader import Candidates, FileRecord, IndexReader
from trigrep.roots import find_index_root

__all__ = [
    "BuildProgress",
    "Candidates",
    "FileRecord",
    "IndexEntry",
    "IndexReader",
    "IndexStats",
    "find_index_root",
]
