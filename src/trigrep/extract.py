"""The bytes rg searches for a file: what both the indexer and the searcher must agree on.

STUB: the searcher work refines this (BOM handling details, -z decompression).
"""

from __future__ import annotations

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}


def searchable_bytes(data: bytes) -> bytes:
    """Drop a UTF-8 BOM and transcode UTF-16 with a BOM to UTF-8, as rg's `--encoding auto`."""
    if data.startswith(_UTF8_BOM):
        return data[len(_UTF8_BOM):]
    codec = _UTF16_BOMS.get(data[:2])
    if codec is None:
        return data
    return data[2:].decode(codec, errors="replace").encode("utf-8")


def read_searchable(path: str) -> bytes:
    """Read a file and return the bytes rg would search (raises OSError on failure)."""
    with open(path, "rb") as f:
        return searchable_bytes(f.read())
