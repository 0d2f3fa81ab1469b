"""The on-disk trigram index: `build_index` writes it, `IndexReader` answers queries.

`build_index` lives in `trigrep.index.build` (it imports numpy at module level); this package
imports only the light reader side.
"""

from trigrep.index.format import BuildProgress, IndexEntry, IndexStats
from trigrep.index.reader import Candidates, FileRecord, IndexReader, find_index_root

__all__ = [
    "BuildProgress",
    "Candidates",
    "FileRecord",
    "IndexEntry",
    "IndexReader",
    "IndexStats",
    "find_index_root",
]
