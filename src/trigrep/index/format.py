"""On-disk format of the trigram index, shared by the builder and the reader.

Layout of ``<root>/.trigrep/``::

    .gitignore        "*": the index never shows up in git status (or rg in a repository)
    .ignore           "*": rg skips the index outside git repositories too
    lock              fcntl.flock'ed by a builder for its whole run; readers never lock
    manifest          the current index: which segments, their tombstones, build stats
    seg-<G>-<N>.tgs   immutable segments (G: generation of the build that wrote it)
    tmp-*             leftovers of a crashed build; the next builder (holding the lock) deletes them

Atomicity: every file is written under a temporary name, fsync'ed, then renamed. The
manifest is renamed last and the directory fsync'ed; only then are segments no longer named
by the manifest deleted. A reader that raced with a builder and finds a segment gone re-reads
the manifest. So a crash at any moment leaves the previous manifest and its segments intact.

Manifest (UTF-8 text, three lines)::

    trigrep-index-manifest v2
    {"generation": 3, "segments": [{"name": ..., "bytes": ..., "header_crc": ...,
      "files": ..., "tombstones": [local ids of files no longer live], "started_ns": ...}, ...],
     "stats": {...IndexStats fields...}}
    crc32=<8 hex digits of the crc32 of line 2>

Global file ids number the segments' files consecutively in manifest order: segment i's
local id L is global id (files in segments 0..i-1) + L. Tombstoned ids are not live. Writers
keep every path live in at most one segment; should two ever hold it, the later one wins.

Segments and updates (a log-structured merge tree): a full build (`trigrep index --full`, or
any index that is missing, damaged or of another version) writes one segment of every file.
`trigrep index` on a valid index writes ONE new segment of the files that are new, changed
(size, mtime, ctime or inode differ) or were racily clean (below) and no longer would be,
appends it, and tombstones the old records of those files and of the files no longer walked
(a later segment left with no live file is dropped from the manifest then, its successors'
ids renumbered); nothing changed, nothing written. Merges keep the segment count bounded:
whenever MERGE_FANIN segments at the end of the list lie within one size tier or below (tiers
of live files grow 8-fold), and no one of them holds most of their files, they are combined
into one by merging their posting lists (tombstoned files dropped, ids renumbered, no file
re-read), in the place of the run. When the first (full-build) segment has tombstoned over
REBUILD_TOMBSTONE_SHARE of its files, the next update rebuilds in full instead. Updates and
merges are atomic like a build: new segment, then new manifest, then the files no longer
named are deleted, all under the lock (constants in `trigrep.index.update`). Readers keep
their open segments until they see a new manifest.

Racily clean files (git's term): the walker's stat precedes the read of a file's content, and
an edit within the same mtime tick after the read would leave size and mtime unchanged. So a
segment records `started_ns`, the wall clock (ns) when its build started reading, before any
content was read; a file of that segment whose indexed mtime is at or after started_ns -
RACY_WINDOW_NS is never trusted (always searched directly) and is re-indexed by the next update
that starts more than RACY_WINDOW_NS after its mtime. A merged segment records the latest
start that keeps racily clean every file that was so in its own segment: the minimum of the
merged segments' latest start and, over those files, mtime + RACY_WINDOW_NS (too early only
searches more files directly; too late would trust a file whose content may be stale). A
manifest written before `started_ns` existed (one full-build segment) uses the build's start
from its stats (`created - build_seconds`).

Segment file (all integers little-endian, every section starts 8-byte aligned and its
length is padded with zeros to a multiple of 8)::

    header   HEADER_SIZE bytes: magic b"TRIGSEG\\0", version u32, n_files u32, n_trigrams u32,
             n_postings u64, post_block_size u32, dict_block_entries u32, n_docs u32, then for
             each of the
             SECTIONS (in that order) offset u64, length u64, crc32 u32; zero padding; the
             crc32 of all preceding header bytes in the last 4 bytes.
    POSTINGS       posting lists, concatenated in trigram order (see below)
    POST_CRCS      u32 crc32 of each post_block_size block of POSTINGS (the last block is short)
    DICT_TRIGRAMS  u32 sorted distinct trigrams
    DICT_ENDS      u32 per trigram: end of its posting list, relative to its block's base
    DICT_FIRST     u32 per dictionary block (dict_block_entries trigrams): its first trigram
    DICT_BASE      u64 per dictionary block: offset in POSTINGS where its first list starts
    DICT_CRCS      u32 per dictionary block: crc32 of its DICT_TRIGRAMS bytes then DICT_ENDS bytes
    FILE_SIZES     u64 per file: size from the walker's stat at build time
    FILE_MTIMES    i64 per file: st_mtime_ns from the same stat
    FILE_CTIMES    i64 per file: st_ctime_ns from the same stat. Tools that keep an edited
                   file's mtime (touch -r, cp -p, tar, rsync -t) cannot keep its ctime
    FILE_INODES    u64 per file: st_ino from the same stat. Renaming a directory changes no
                   ctime of the files in it, so two directories swapped (or one replaced by
                   a copy) could show files of the same size and times under each other's
                   paths. A file is current only while size, mtime, ctime and inode are all
                   unchanged
    FILE_FLAGS     u8 per file: FLAG_UNINDEXED = content not indexed (unreadable, vanished,
                   too big): the file is a candidate for every query except NONE;
                   FLAG_IRREGULAR = its searchable bytes hold a NUL or differ in length from
                   the file (BOM, UTF-16), so rg's report of it without a match (binary
                   handling, bytes searched) depends on the content, not just its size
    FILE_BYTES     32 bytes per file: the set of byte values occurring in its searchable bytes
                   (the bytes its trigrams are taken from), bit (b % 8) of byte (b // 8) set
                   for value b; all 256 set for an FLAG_UNINDEXED file. A query whose every
                   match must contain one of some bytes skips the files holding none of them
                   (`trigrep.query.plan.required_bytes`), which helps where trigrams cannot
    FILE_DOCS      u32 per file: how many documents (below) its posting ids cover (at least 1)
    FILE_PATHS     root-relative paths as os.fsencode bytes, sorted, joined by NUL

Every byte of a segment lies in exactly one checksummed region, so any corruption is detected
before it is used: the header by its own crc (also recorded in the manifest together with the
file's length, which catches truncation and swapped files); POST_CRCS and the DICT_FIRST, BASE,
CRCS sections by their section crc when the segment is opened; the FILE_* sections by their
section crc on first use; DICT_TRIGRAMS/DICT_ENDS per dictionary block and POSTINGS per block
when a query reads them. The lookup first bisects the verified DICT_FIRST, so a flipped
trigram in an unread block cannot misdirect it.

Documents: a posting list names documents, not files. A file of more than DOC_BYTES
(`trigrep.index.build`) is cut into pieces at line starts, each a document of its own, so a
query whose matches lie within one line (all but multiline ones) needs its trigrams together
in one piece: a 5 MB register header that holds `PM_`, `_RE` and `SUM` far apart is no
longer a candidate for `PM_RESUME`. Documents are numbered in file order, file f owning the
FILE_DOCS[f] ids after those of files 0..f-1 (n_docs in all). Document i of a file holds the
trigrams of its bytes [start_i - 2, start_{i+1}) (start_0 = 0; start_i, for i >= 1, is the
start of the first line that begins at or after i * DOC_BYTES, and the last document ends at
the file's end), so every trigram of the file lies in some document, and every line, with the
newline before it and its own, lies in one. A piece may be empty (no line starts in its
range: it holds no trigram). Multiline queries map each list to files before combining.

Posting list of a trigram: the sorted local ids of the documents containing it, in one of two
encodings told apart by length alone. Bitmap: exactly ceil(n_docs / 8) bytes, bit (id % 8) of
byte (id // 8) set. Otherwise (always shorter than the bitmap): LEB128 varints of the gaps,
the first value being the first id and each next one (id - previous id - 1). The builder
picks the bitmap whenever the varints would not be shorter.

Trigrams are of the raw searchable bytes (`trigrep.extract.read_searchable`, no case folding), as
ints (b0 << 16) | (b1 << 8) | b2 (see `trigrep.query.plan.TrigramQuery`). Version 1 indexes
stored them after ASCII case folding; version 2 made case-sensitive queries selective;
version 3 added FILE_BYTES (patterns without a trigram, like `\\p{Greek}` or `é`); version 4
documents (FILE_DOCS); version 5 FILE_CTIMES; version 6 FILE_INODES.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from trigrep.errors import (
    IndexCorruptError,
    IndexFormatError,
    IndexUnreadableError,
    IndexVersionError,
)
from trigrep.roots import MANIFEST_NAME as MANIFEST_NAME  # (which the root's lookup needs)

LOCK_NAME = "lock"
SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".tgs"
TMP_PREFIX = "tmp-"

FORMAT_VERSION = 6
MANIFEST_MAGIC = "trigrep-index-manifest"
SEGMENT_MAGIC = b"TRIGSEG\0"

FLAG_UNINDEXED = 1
FLAG_IRREGULAR = 2

# A file modified this close to (or after) its segment's build start may have changed within
# the same mtime tick after it was read: never trusted (see "Racily clean files" above).
RACY_WINDOW_NS = 2_000_000_000

HEADER_SIZE = 512
POST_BLOCK_SIZE = 16384
DICT_BLOCK_ENTRIES = 1024

SECTIONS = (
    "POSTINGS",
    "POST_CRCS",
    "DICT_TRIGRAMS",
    "DICT_ENDS",
    "DICT_FIRST",
    "DICT_BASE",
    "DICT_CRCS",
    "FILE_SIZES",
    "FILE_MTIMES",
    "FILE_CTIMES",
    "FILE_INODES",
    "FILE_FLAGS",
    "FILE_BYTES",
    "FILE_DOCS",
    "FILE_PATHS",
)
_HEADER_FIXED = struct.Struct("<8sIIIQIII")
_SECTION_ENTRY = struct.Struct("<QQI")


Stamp = tuple[int, int, int, int]


def stat_stamp(st: os.stat_result) -> Stamp:
    """What a file's record must still equal for its indexed content to be current: its size,
    mtime, ctime and inode (see FILE_CTIMES and FILE_INODES)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


# The records below are NamedTuples, not dataclasses: a search reads the manifest, and importing
# `dataclasses` cost a fifth of the CLI's import time. They cannot change once built.


class IndexEntry(NamedTuple):
    """One file to index: the walker's path relative to the root, its absolute path and stat."""

    relpath: str
    abspath: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, relpath: str, abspath: str, st: os.stat_result) -> IndexEntry:
        return cls(relpath, abspath, *stat_stamp(st))

    @property
    def stamp(self) -> Stamp:
        return self.size, self.mtime_ns, self.ctime_ns, self.inode


class BuildProgress(NamedTuple):
    """Reported by `build_index` a few times a second at most."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


class IndexStats(NamedTuple):
    """Summary of an index, kept in its manifest (`index_bytes` is measured on open)."""

    files: int = 0
    bytes: int = 0  # searchable bytes indexed
    trigrams: int = 0  # distinct trigrams, summed over segments
    postings: int = 0  # (trigram, file) pairs
    unindexed_files: int = 0  # files that are candidates for every query
    index_bytes: int = 0
    build_seconds: float = 0.0  # of the last full build, update or merge
    created: float = 0.0  # Unix time the last full build, update or merge finished
    segments: int = 0  # measured on open, like index_bytes
    tombstones: int = 0  # files of the segments that are no longer live (measured on open)

    @property
    def started_ns(self) -> int:
        """When the last write started: the racy threshold of manifests without `started_ns`."""
        return int((self.created - self.build_seconds) * 1e9)


class Section(NamedTuple):
    """Where a section lies in a segment file, and its crc32 (0 for block-checked sections)."""

    offset: int
    length: int
    crc: int


class SegmentHeader(NamedTuple):
    """The parsed header of a segment file."""

    n_files: int
    n_trigrams: int
    n_postings: int
    post_block_size: int
    dict_block_entries: int
    n_docs: int
    sections: dict[str, Section]

    def pack(self) -> bytes:
        """Serialise with the trailing crc; the inverse of `unpack_header`."""
        body = _HEADER_FIXED.pack(
            SEGMENT_MAGIC,
            FORMAT_VERSION,
            self.n_files,
            self.n_trigrams,
            self.n_postings,
            self.post_block_size,
            self.dict_block_entries,
            self.n_docs,
        ) + b"".join(
            _SECTION_ENTRY.pack(s.offset, s.length, s.crc)
            for s in (self.sections[name] for name in SECTIONS)
        )
        assert len(body) <= HEADER_SIZE - 4, "header sections outgrew HEADER_SIZE"
        body = body.ljust(HEADER_SIZE - 4, b"\0")
        return body + struct.pack("<I", zlib.crc32(body))


def unpack_header(raw: bytes, where: str) -> SegmentHeader:
    """Parse and verify a segment header; `where` names the segment in error messages."""
    if len(raw) < HEADER_SIZE:
        raise corrupt(where, "truncated header")
    magic, version, n_files, n_trigrams, n_postings, block_size, dict_entries, n_docs = (
        _HEADER_FIXED.unpack_from(raw)
    )
    if magic != SEGMENT_MAGIC:
        raise corrupt(where, "not a trigrep segment")
    if version != FORMAT_VERSION:
        raise version_error(where, version)
    (stored,) = struct.unpack_from("<I", raw, HEADER_SIZE - 4)
    if zlib.crc32(raw[: HEADER_SIZE - 4]) != stored:
        raise corrupt(where, "header checksum mismatch")
    sections = {}
    for i, name in enumerate(SECTIONS):
        offset, length, crc = _SECTION_ENTRY.unpack_from(
            raw, _HEADER_FIXED.size + i * _SECTION_ENTRY.size
        )
        sections[name] = Section(offset, length, crc)
    return SegmentHeader(
        n_files, n_trigrams, n_postings, block_size, dict_entries, n_docs, sections
    )


def header_crc(raw_header: bytes) -> int:
    """The crc a manifest records for a segment: the one stored at the end of its header."""
    return int.from_bytes(raw_header[HEADER_SIZE - 4 : HEADER_SIZE], "little")


class SegmentRef(NamedTuple):
    """A manifest's record of one segment."""

    name: str
    bytes: int
    header_crc: int
    files: int
    started_ns: int  # when its build started reading files (see "Racily clean files" above)
    tombstones: Sequence[int] = ()  # sorted


class Manifest(NamedTuple):
    """The current index: its segments in order, and the stats of the build that made it."""

    generation: int
    segments: list[SegmentRef]
    stats: IndexStats

    def dumps(self) -> bytes:
        """Serialise to the three-line text form documented above."""
        import json  # (loaded only with an index: a search of a small tree has none)

        body = json.dumps(
            {
                "generation": self.generation,
                "segments": [s._asdict() for s in self.segments],
                "stats": self.stats._asdict(),
            },
            separators=(",", ":"),
        ).encode()
        crc = zlib.crc32(body)
        return (
            f"{MANIFEST_MAGIC} v{FORMAT_VERSION}\n".encode()
            + body
            + f"\ncrc32={crc:08x}\n".encode()
        )


def parse_manifest(raw: bytes, where: str) -> Manifest:
    """Parse and verify a manifest; `where` is the index directory for error messages."""
    lines = raw.split(b"\n")
    if len(lines) != 4 or lines[3] != b"":
        raise corrupt(where, "manifest is malformed")
    magic, _, version = lines[0].decode("latin-1").partition(" v")
    if magic != MANIFEST_MAGIC:
        raise corrupt(where, "manifest is malformed")
    if version != str(FORMAT_VERSION):
        raise version_error(where, version)
    if lines[2] != f"crc32={zlib.crc32(lines[1]):08x}".encode():
        raise corrupt(where, "manifest checksum mismatch")
    import json

    try:
        doc = json.loads(lines[1])
        stats = IndexStats(**doc["stats"])
        return Manifest(
            generation=doc["generation"],
            segments=[SegmentRef(**{"started_ns": stats.started_ns, **s}) for s in doc["segments"]],
            stats=stats,
        )
    except (ValueError, KeyError, TypeError) as e:
        raise corrupt(where, f"manifest is malformed ({e})") from None


def corrupt(where: str, what: str) -> IndexCorruptError:
    """The one-line error for a damaged index, telling how to fix it."""
    return IndexCorruptError(f"index at {where} is corrupt ({what})")


def unreadable(where: str, what: str, error: OSError) -> IndexFormatError:
    """The error for an index file `what` that cannot be read: damage, unless this user may
    not read it (which no rebuild of theirs would mend)."""
    if isinstance(error, PermissionError):
        return IndexUnreadableError(f"cannot read the index at {where}: {what}: {error.strerror}")
    return corrupt(where, f"{what} unreadable: {error.strerror}")


def version_error(where: str, version: object) -> IndexVersionError:
    """The error for an index written by another format version."""
    return IndexVersionError(
        f"index at {where} has format version {version}, this trigrep reads version "
        f"{FORMAT_VERSION}; run 'trigrep index' to rebuild"
    )


def bitmap_bytes(n_docs: int) -> int:
    """The length of a posting list in a segment of `n_docs` documents when it is a bitmap:
    the length that tells the two encodings apart (see "Posting list" above)."""
    return (n_docs + 7) // 8


def padded(length: int) -> int:
    """`length` rounded up to the 8-byte section alignment."""
    return (length + 7) & ~7


def temporary(directory: str, name: str) -> str:
    """A path in `directory` for this process to write `name` under until it is complete (or
    for a work directory): a tmp-* leftover a crashed writer's successor deletes."""
    return os.path.join(directory, f"{TMP_PREFIX}{os.getpid()}-{name}")


def write_atomically(path: str, chunks: list[bytes] | bytes) -> None:
    """Write a file under a temporary name, fsync it, rename it over `path`, fsync the dir."""
    tmp = temporary(os.path.dirname(path), os.path.basename(path))
    with open(tmp, "wb") as f:
        f.write(chunks) if isinstance(chunks, bytes) else f.writelines(chunks)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def open_regular(path: str, *, follow: bool = True) -> int | None:
    """An open descriptor of `path` (the caller closes it), None if it is not a regular file
    (or, unless `follow`, is a symlink): a FIFO put in the index's place must not block a
    search or a build (opened without waiting for a writer), nor a directory fail it with
    another error than a damaged index's."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
                     | (0 if follow else os.O_NOFOLLOW))
    except OSError as e:
        if e.errno != errno.ELOOP or follow:
            raise
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


@contextlib.contextmanager
def regular_file(path: str) -> Iterator[int | None]:
    """`open_regular`, closed on leaving the block."""
    fd = open_regular(path)
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def fsync_dir(path: str) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
