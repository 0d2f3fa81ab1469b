"""Read an index written by `trigrep.index.build` (format in `trigrep.index.format`).

Opening opens the segments (read with pread, see `Segment`) and verifies only their headers
and small directory sections, so it costs well under a millisecond per segment. The path
table is decoded on first `lookup`; numpy is imported only when posting lists are decoded, so
a query that needs none (an `ALL` plan) stays light.
"""

from __future__ import annotations

import bisect
import os
import sys
import weakref
import zlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, NamedTuple

from trigrep.index.format import (
    FLAG_IRREGULAR,
    FLAG_UNINDEXED,
    HEADER_SIZE,
    MANIFEST_NAME,
    RACY_WINDOW_NS,
    IndexStats,
    Manifest,
    Section,
    SegmentRef,
    Stamp,
    bitmap_bytes,
    corrupt,
    open_regular,
    parse_manifest,
    read_all,
    regular_file,
    unpack_header,
    unreadable,
)
from trigrep.roots import INDEX_DIR_NAME

if TYPE_CHECKING:
    import numpy as np

    from trigrep.query.plan import TrigramQuery


class FileTable(NamedTuple):
    """A segment's file table: columns per local file id (unpadded views of the FILE_*
    sections) and the paths blob (NUL-separated, empty for no files)."""

    sizes: memoryview
    mtimes: memoryview
    ctimes: memoryview
    inodes: memoryview
    flags: memoryview
    paths: bytes


class FileRecord(NamedTuple):
    """What the index knows of a file: its global id, the stat it was indexed with, whether
    its content is irregular (see FLAG_IRREGULAR in format.py), and from which mtime on its
    segment cannot vouch for it (its segment's start minus RACY_WINDOW_NS)."""

    file_id: int
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    irregular: bool
    racy_after_ns: int

    @property
    def stamp(self) -> Stamp:
        """The stat the file was indexed with (see format.stat_stamp)."""
        return self.size, self.mtime_ns, self.ctime_ns, self.inode

    @property
    def racily_clean(self) -> bool:
        """Modified so close to its indexing that a same-tick edit could hide: never trusted."""
        return self.mtime_ns >= self.racy_after_ns


class Candidates:
    """The files a query may match: `file_id in candidates`, `len()`, iteration, `.ids`.

    `ids` is a sorted numpy array of global file ids; `None` inside means every live file.
    """

    def __init__(self, reader: IndexReader, ids: np.ndarray | None) -> None:
        self._reader = reader
        self._ids = ids
        self._set: frozenset[int] | None = None

    @property
    def ids(self) -> np.ndarray:
        """Sorted global file ids (materialised on demand for an `ALL` result)."""
        if self._ids is None:
            import numpy as np

            self._ids = np.fromiter(self._reader.live_ids(), np.int64)
        return self._ids

    def __contains__(self, file_id: object) -> bool:
        if self._ids is None:
            return isinstance(file_id, int) and self._reader.is_live(file_id)
        if self._set is None:
            self._set = frozenset(self._ids.tolist())
        return file_id in self._set

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())


class Segment:
    """One open segment file; `base` is the global id of its local file 0.

    Read with os.pread, never through a memory map: a segment truncated by something else
    while it is open would kill the process with SIGBUS on the first touch of a page past
    its new end (Python cannot catch it), where a short read is damage like any other."""

    def __init__(self, index_dir: str, ref: SegmentRef, number: int, base: int) -> None:
        self.where = index_dir
        self.label = f"segment {number}"
        self.ref = ref
        self.path = path = os.path.join(index_dir, ref.name)
        # Not through a symlink: the file it names may be one an update deletes (a seg-* name
        # that no manifest names), which broke the index the update had just written.
        try:
            fd = open_regular(path, follow=False)
            if fd is None:
                raise self.corrupt("not a regular file")
            self._fd = fd
            weakref.finalize(self, os.close, fd)  # closed with the segment
            st = os.fstat(fd)
        except FileNotFoundError:
            raise  # the caller re-reads the manifest
        except OSError as e:  # (this user may not read it, a disk error)
            raise unreadable(index_dir, self.label, e) from None
        self.size = size = st.st_size
        self.opened_as = (st.st_ino, st.st_mtime_ns, size)  # see written_since_open
        if size != ref.bytes:
            raise self.corrupt(f"size {size}, manifest says {ref.bytes}")
        self.header = unpack_header(self.read(0, HEADER_SIZE), f"{index_dir} ({self.label})")
        if int.from_bytes(self.read(HEADER_SIZE - 4, 4), "little") != ref.header_crc:
            raise self.corrupt("header does not match the manifest")
        for section in self.header.sections.values():
            if section.offset + section.length > size:
                raise self.corrupt("section beyond the end of the file")
        self.base = base
        self.n_files = self.header.n_files
        self.n_docs = self.header.n_docs
        if self.n_docs < self.n_files:
            raise self.corrupt("fewer documents than files")
        self.tombstones = frozenset(ref.tombstones)
        self.racy_after_ns = ref.started_ns - RACY_WINDOW_NS
        self.n_dict_blocks = -(-self.header.n_trigrams // self.header.dict_block_entries)
        n_post_blocks = -(-self.header.sections["POSTINGS"].length // self.header.post_block_size)
        # sections are zero-padded to 8 bytes: cut the arrays to their real lengths
        self.dict_first = self.checked("DICT_FIRST")[: 4 * self.n_dict_blocks].cast("I")
        self.dict_base = self.checked("DICT_BASE")[: 8 * self.n_dict_blocks].cast("Q")
        self.dict_crcs = self.checked("DICT_CRCS")[: 4 * self.n_dict_blocks].cast("I")
        self.post_crcs = self.checked("POST_CRCS")[: 4 * n_post_blocks].cast("I")
        if len(self.post_crcs) != n_post_blocks or len(self.dict_crcs) != self.n_dict_blocks:
            raise self.corrupt("checksum table too short")
        self._dict_blocks: dict[int, tuple[memoryview, memoryview]] = {}
        self.post_verified = bytearray(len(self.post_crcs))
        self._files: FileTable | None = None
        self._flags: memoryview | None = None
        self._byte_sets: np.ndarray | None = None
        self._doc_files: np.ndarray | None = None

    def corrupt(self, what: str) -> Exception:
        return corrupt(self.where, f"{self.label}: {what}")

    def read(self, offset: int, length: int) -> bytes:
        """`length` bytes of the file at `offset`; damage if the file no longer holds them."""
        try:
            data = os.pread(self._fd, length, offset)
            if len(data) != length:
                size = os.fstat(self._fd).st_size
                raise self.corrupt(f"truncated to {size} bytes since it was opened")
        except OSError as e:
            raise unreadable(self.where, self.label, e) from None
        return data

    def section(self, name: str, start: int = 0, stop: int | None = None) -> memoryview:
        """Bytes [start, stop) of section `name` (default: all of it), unverified."""
        section: Section = self.header.sections[name]
        stop = section.length if stop is None else min(stop, section.length)
        return memoryview(self.read(section.offset + start, max(stop - start, 0)))

    def checked(self, name: str) -> memoryview:
        """A whole-section-checksummed section, verified now."""
        view = self.section(name)
        if zlib.crc32(view) != self.header.sections[name].crc:
            raise self.corrupt(f"{name} checksum mismatch")
        return view

    def files_sections(self) -> FileTable:
        """The file table, verified once."""
        if self._files is None:
            n = self.n_files
            sizes, mtimes, ctimes, inodes, paths = (self.checked(name) for name in (
                "FILE_SIZES", "FILE_MTIMES", "FILE_CTIMES", "FILE_INODES", "FILE_PATHS"))
            blob = bytes(paths).rstrip(b"\0")
            if (blob.count(b"\0") + 1 if blob else 0) != n:
                raise self.corrupt("path table does not match the file count")
            self._files = FileTable(
                sizes[: 8 * n].cast("Q"), mtimes[: 8 * n].cast("q"), ctimes[: 8 * n].cast("q"),
                inodes[: 8 * n].cast("Q"), self.file_flags(), blob,
            )
        return self._files

    def file_flags(self) -> memoryview:
        """The FILE_FLAGS section, a byte per file, verified once: all a query needs of the
        file table (which is ten times its size)."""
        if self._flags is None:
            flags = self.checked("FILE_FLAGS")[: self.n_files]
            if len(flags) != self.n_files:
                raise self.corrupt("FILE_FLAGS does not match the file count")
            self._flags = flags
        return self._flags

    def byte_sets(self) -> np.ndarray:
        """The FILE_BYTES section as an (n_files, 4) uint64 array (bit b % 64 of word b // 64
        set when byte value b occurs), verified once."""
        if self._byte_sets is None:
            import numpy as np

            raw = self.checked("FILE_BYTES")[: 32 * self.n_files]
            if len(raw) != 32 * self.n_files:
                raise self.corrupt("FILE_BYTES does not match the file count")
            self._byte_sets = np.frombuffer(raw, "<u8").reshape(self.n_files, 4)
        return self._byte_sets

    def doc_counts(self) -> np.ndarray:
        """The FILE_DOCS section: how many documents each file has (int64), verified."""
        import numpy as np

        raw = self.checked("FILE_DOCS")[: 4 * self.n_files]
        counts = np.frombuffer(raw, "<u4").astype(np.int64)
        if len(counts) != self.n_files or counts.sum() != self.n_docs or (counts < 1).any():
            raise self.corrupt("FILE_DOCS does not match the file and document counts")
        return counts

    def doc_files(self) -> np.ndarray:
        """The local file id owning each document (int64), worked out once."""
        if self._doc_files is None:
            import numpy as np

            self._doc_files = np.repeat(np.arange(self.n_files), self.doc_counts())
        return self._doc_files

    def files_of(self, docs: np.ndarray) -> np.ndarray:
        """The sorted distinct local file ids owning the sorted document ids `docs`."""
        if self.n_docs == self.n_files:  # one document a file: the ids are the same
            return docs
        return distinct_sorted(self.doc_files()[docs])

    def is_bitmap(self, encoded: memoryview) -> bool:
        """Whether a posting list is encoded as a bitmap (see format.py)."""
        return len(encoded) == bitmap_bytes(self.n_docs)

    def in_bitmap(self, encoded: memoryview, docs: np.ndarray) -> np.ndarray:
        """Which of the document ids `docs` the bitmap posting list `encoded` holds (a mask)."""
        import numpy as np

        raw = np.frombuffer(encoded, np.uint8)
        return (raw[docs >> 3] >> (docs & 7).astype(np.uint8)) & 1 == 1

    def postings(self, trigram: int) -> memoryview | None:
        """The encoded posting list of `trigram`, verified; None if no file has it."""
        block = bisect.bisect_right(self.dict_first, trigram) - 1
        if block < 0:
            return None
        block_trigrams, block_ends = self._dict_block(block)
        i = bisect.bisect_left(block_trigrams, trigram)
        if i == len(block_trigrams) or block_trigrams[i] != trigram:
            return None
        begin = self.dict_base[block] + (block_ends[i - 1] if i else 0)
        end = self.dict_base[block] + block_ends[i]
        if not begin <= end <= self.header.sections["POSTINGS"].length:
            raise self.corrupt(f"dictionary block {block} points outside the postings")
        return self.posting_bytes(begin, end)

    def _dict_block(self, block: int) -> tuple[memoryview, memoryview]:
        """The trigrams and list ends (u32) of dictionary block `block`, verified, kept: the
        case variants of a `-i` pattern look up the same blocks again and again, as do a
        daemon's queries (all kept, they weigh what DICT_TRIGRAMS and DICT_ENDS do)."""
        cached = self._dict_blocks.get(block)
        if cached is None:
            start = block * self.header.dict_block_entries
            stop = min(start + self.header.dict_block_entries, self.header.n_trigrams)
            # the last block is checksummed with its section's padding
            hi = None if stop == self.header.n_trigrams else 4 * stop
            trigrams = self.section("DICT_TRIGRAMS", 4 * start, hi)
            ends = self.section("DICT_ENDS", 4 * start, hi)
            if zlib.crc32(ends, zlib.crc32(trigrams)) != self.dict_crcs[block]:
                raise self.corrupt(f"dictionary block {block} checksum mismatch")
            n = 4 * (stop - start)
            cached = self._dict_blocks[block] = (trigrams[:n].cast("I"), ends[:n].cast("I"))
        return cached

    def posting_bytes(self, begin: int, end: int) -> memoryview:
        """Bytes [begin, end) of POSTINGS, their blocks verified (each once): the range alone
        when they were already, else the blocks covering it."""
        size = self.header.post_block_size
        first, last = begin // size, (max(end, begin + 1) - 1) // size
        verified = self.post_verified
        if all(verified[first : last + 1]):
            return self.section("POSTINGS", begin, end)
        data = self.section("POSTINGS", first * size, (last + 1) * size)
        for block in range(first, min(last + 1, len(verified))):
            if not verified[block]:
                at = (block - first) * size
                if zlib.crc32(data[at : at + size]) != self.post_crcs[block]:
                    raise self.corrupt(f"postings block {block} checksum mismatch")
                verified[block] = 1
        return data[begin - first * size : end - first * size]

    def verify(self) -> None:
        """Check every checksum of the segment (what a query would check lazily)."""
        self.files_sections()
        self.byte_sets()
        self.doc_counts()
        for block in range(self.n_dict_blocks):
            first = self.dict_first[block]
            if self.postings(first) is None:
                raise self.corrupt(f"dictionary block {block} does not start with its key")
        length = self.header.sections["POSTINGS"].length
        step = 64 * self.header.post_block_size  # (a bounded read at a time)
        for begin in range(0, length, step):
            self.posting_bytes(begin, min(begin + step, length))

    def decode(self, encoded: memoryview) -> np.ndarray:
        """Local document ids of an encoded posting list, sorted (int64)."""
        import numpy as np

        raw = np.frombuffer(encoded, np.uint8)
        if self.is_bitmap(encoded):
            bits = np.unpackbits(raw, bitorder="little")[: self.n_docs]
            return np.flatnonzero(bits)
        if len(raw) == 0 or raw[-1] & 0x80:
            raise self.corrupt("malformed posting list")
        gaps = leb128_values(raw)[0]
        ids = np.cumsum(gaps + 1) - 1
        if ids[-1] >= self.n_docs:
            raise self.corrupt("posting list names a document that does not exist")
        return ids


class IndexReader:
    """Query access to the index under a root: file lookups and trigram candidates."""

    def __init__(
        self, root: str, index_dir: str, manifest: Manifest, segments: list[Segment]
    ) -> None:
        self.root = root
        self.index_dir = index_dir
        self.manifest = manifest
        self._segments = segments
        self._records: dict[str, FileRecord] | None = None

    @classmethod
    def open(cls, root: str) -> IndexReader:
        """Open the index of `root`; IndexFormatError if it is missing, damaged or foreign."""
        index_dir = os.path.join(os.path.abspath(root), INDEX_DIR_NAME)
        for _attempt in range(5):
            try:
                with regular_file(os.path.join(index_dir, MANIFEST_NAME)) as fd:
                    if fd is None:
                        raise corrupt(index_dir, "the manifest is not a regular file")
                    raw = read_all(fd)
            except FileNotFoundError:
                raise corrupt(index_dir, "no manifest") from None
            except OSError as e:
                raise unreadable(index_dir, "manifest", e) from None
            manifest = parse_manifest(raw, index_dir)
            try:
                segments = cls._open_segments(index_dir, manifest)
            except FileNotFoundError:
                continue  # a builder replaced the index meanwhile: read its new manifest
            return cls(os.path.abspath(root), index_dir, manifest, segments)
        raise corrupt(index_dir, "a segment named by the manifest is missing")

    @staticmethod
    def _open_segments(index_dir: str, manifest: Manifest) -> list[Segment]:
        segments = []
        base = 0
        for number, ref in enumerate(manifest.segments):
            segment = Segment(index_dir, ref, number, base)
            if segment.n_files != ref.files:
                raise segment.corrupt("file count does not match the manifest")
            segments.append(segment)
            base += segment.n_files
        return segments

    @property
    def segments(self) -> list[Segment]:
        """The open segments, in manifest order (for updates and merges)."""
        return self._segments

    def stats(self) -> IndexStats:
        """The manifest's stats, with the segments' current total size and their counts."""
        return self.manifest.stats._replace(
            index_bytes=sum(s.size for s in self._segments),
            segments=len(self._segments),
            tombstones=sum(len(s.tombstones) for s in self._segments),
        )

    def written_since_open(self, *, or_deleted: bool = False) -> bool:
        """Whether a segment file was written in place since it was opened (or, with
        `or_deleted`, deleted: damage when the manifest naming it is still the one read).
        trigrep never does that (it writes new files); a stray write may have damaged what
        was checked already, so the index must be opened (and checked) again. A few stats."""
        for segment in self._segments:
            try:
                st = os.stat(segment.path)
            except OSError:
                if or_deleted:
                    return True
                continue  # replaced by a newer index: this one stays readable by its descriptor
            ino, mtime, size = segment.opened_as
            if st.st_ino == ino and (st.st_mtime_ns, st.st_size) != (mtime, size):
                return True
        return False

    def verify(self) -> None:
        """Check every checksum of the index (queries check what they read, lazily)."""
        for segment in self._segments:
            segment.verify()

    # --- files ---------------------------------------------------------------------------

    def segment_number(self, file_id: int) -> int:
        """Which of `segments` holds the global file id `file_id`; KeyError if none does."""
        for number in range(len(self._segments) - 1, -1, -1):
            segment = self._segments[number]
            if file_id >= segment.base:
                if file_id - segment.base >= segment.n_files:
                    break
                return number
        raise KeyError(file_id)

    def _segment_of(self, file_id: int) -> Segment:
        return self._segments[self.segment_number(file_id)]

    def is_live(self, file_id: int) -> bool:
        """True if `file_id` names a file of the index that no later segment superseded."""
        try:
            segment = self._segment_of(file_id)
        except KeyError:
            return False
        return file_id - segment.base not in segment.tombstones

    def live_ids(self) -> Iterator[int]:
        """Every live global file id, ascending."""
        for segment in self._segments:
            for local in range(segment.n_files):
                if local not in segment.tombstones:
                    yield segment.base + local

    def records(self) -> dict[str, FileRecord]:
        """Live files: root-relative path -> record (built once per open index; by `map`
        rather than a generator unpacking each file's fields: 83 ms instead of 114 for the
        Linux tree)."""
        if self._records is None:
            records: dict[str, FileRecord] = {}
            for segment in self._segments:
                _add_records(records, segment)
            self._records = records
        return self._records

    def records_since(self, earlier: IndexReader) -> set[str] | None:
        """Make this index's `records` from those of `earlier`, an index of the same tree
        opened before it, when it made them: its segments this index still has (the same
        files, tombstones added at most) are taken as they were, those an update added or a
        merge wrote are read. Returns the paths whose record may differ from `earlier`'s;
        None when the records were made in full. A daemon makes them after each update of the
        index, holding the interpreter: 80-150 ms for the Linux tree, where an update or a
        merge adds a few segments of a few files."""
        before = earlier._records
        if before is None or self._records is not None:
            self.records()
            return None
        kept = 0
        for old, new in zip(earlier._segments, self._segments, strict=False):
            if not _same_file(old, new):
                break
            kept += 1
        records = dict(before)
        changed: set[str] = set()
        for old, new in zip(earlier._segments[:kept], self._segments[:kept], strict=True):
            if new.tombstones != old.tombstones:
                _drop_records(records, old, new.tombstones - old.tombstones, changed)
        for old in earlier._segments[kept:]:  # (merged away)
            _drop_records(records, old, range(old.n_files), changed)
        for new in self._segments[kept:]:
            _add_records(records, new, changed)
        self._records = records
        return changed

    def lookup(self, relpath: str) -> FileRecord | None:
        """The index's record of a live file, to compare with its current size and mtime."""
        return self.records().get(relpath)

    def path_of(self, file_id: int) -> str:
        """The root-relative path of a file id."""
        segment = self._segment_of(file_id)
        paths = segment.files_sections().paths.split(b"\0")
        return os.fsdecode(paths[file_id - segment.base])

    # --- candidates ----------------------------------------------------------------------

    def candidates(
        self,
        plan: TrigramQuery,
        required_bytes: Sequence[int] = (),
        *,
        within_lines: bool = False,
    ) -> Candidates:
        """Live files that may match: a superset of the files whose trigrams satisfy `plan`
        and which hold at least one byte of each of the `required_bytes` sets (256-bit ints,
        bit b for byte value b; see `trigrep.query.plan.required_bytes`), plus the files
        whose content was not indexed (unless the plan is NONE). `within_lines`: every match
        lies within one line, so `plan` must hold in one document of a file (see "Documents"
        in format.py), not just somewhere in it."""
        if plan.op == "all" and not required_bytes:
            return Candidates(self, None)
        import numpy as np

        parts = []
        for segment in self._segments:
            local = _Evaluation(segment, per_file=not within_lines).ids(plan)
            if within_lines and local is not None:
                local = segment.files_of(local)
            if required_bytes and plan.op != "none":
                local = _holding_bytes(segment, local, required_bytes)
            if local is None:
                local = np.arange(segment.n_files)
            if plan.op != "none":
                flags = np.frombuffer(segment.file_flags(), np.uint8)
                unindexed = np.flatnonzero(flags & FLAG_UNINDEXED)
                if len(unindexed):
                    local = np.union1d(local, unindexed)
            if segment.tombstones:
                dead = np.fromiter(segment.tombstones, np.int64)
                local = local[~np.isin(local, dead)]
            parts.append(local + segment.base)
        ids = np.concatenate(parts) if parts else np.empty(0, np.int64)
        return Candidates(self, ids.astype(np.int64))


def _same_file(old: Segment, new: Segment) -> bool:
    """Whether `new` is the segment file `old` was, at the same place, its tombstones at
    least `old`'s (an update adds to them; a segment file is never written again)."""
    return (old.ref.name == new.ref.name and old.opened_as == new.opened_as
            and old.ref.header_crc == new.ref.header_crc and old.base == new.base
            and old.tombstones <= new.tombstones)


def _paths(segment: Segment) -> list[str]:
    blob = segment.files_sections().paths
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    return blob.decode(encoding, errors).split("\0") if blob else []


def _add_records(records: dict[str, FileRecord], segment: Segment,
                 changed: set[str] | None = None) -> None:
    """`segment`'s records over those of the segments before it, but its tombstoned ones
    (the paths added to `changed`)."""
    sizes, mtimes, ctimes, inodes, flags, _ = segment.files_sections()
    paths = _paths(segment)
    ids = range(segment.base, segment.base + segment.n_files)
    irregular = [bool(f & FLAG_IRREGULAR) for f in flags]
    records.update(zip(paths, map(
        FileRecord, ids, sizes.tolist(), mtimes.tolist(), ctimes.tolist(),
        inodes.tolist(), irregular, repeat(segment.racy_after_ns),
    ), strict=True))
    if changed is not None:
        changed.update(paths)
    _drop_records(records, segment, segment.tombstones, None, paths)


def _drop_records(records: dict[str, FileRecord], segment: Segment, locals_: Iterable[int],
                  changed: set[str] | None, paths: list[str] | None = None) -> None:
    """Drop the records of `segment`'s files `locals_` (local ids) that `records` holds,
    their paths added to `changed`."""
    if paths is None:
        paths = _paths(segment)
    for local in locals_:
        path = paths[local]
        record = records.get(path)
        if record is not None and record.file_id == segment.base + local:
            del records[path]
            if changed is not None:
                changed.add(path)


def _words(byte_set: int) -> list[int]:
    """A 256-bit set as the four uint64 words of a FILE_BYTES row."""
    return [(byte_set >> (64 * i)) & 0xFFFF_FFFF_FFFF_FFFF for i in range(4)]


def _holding_bytes(
    segment: Segment, local: np.ndarray | None, required_bytes: Sequence[int]
) -> np.ndarray:
    """The sorted local ids among `local` (None: every file) whose FILE_BYTES row meets each
    of `required_bytes`: one vectorised pass per set, the single bytes checked all at once."""
    import numpy as np

    rows = segment.byte_sets()
    if local is not None:
        rows = rows[local]
    singles = 0
    keep = np.ones(len(rows), bool)
    for byte_set in required_bytes:
        if byte_set and byte_set & (byte_set - 1) == 0:  # one byte value
            singles |= byte_set
        else:
            keep &= (rows & np.array(_words(byte_set), np.uint64)).any(axis=1)
    if singles:
        all_of = np.array(_words(singles), np.uint64)
        keep &= ((rows & all_of) == all_of).all(axis=1)
    return np.flatnonzero(keep) if local is None else local[keep]


class _Evaluation:
    """One plan's evaluation in one segment: `ids(plan)` are the sorted local ids satisfying
    `plan`; None stands for every one. The ids are of files when `per_file` (each posting
    list is mapped to its files first), else of documents.

    Posting lists are looked up and decoded once per evaluation: a case-insensitive plan is
    an OR over case variants whose ANDs share most trigrams (`-i EXPORT_SYMBOL_GPL` looked
    up 622 lists, 70 of them distinct). An AND tests the few ids left against the bitmaps of
    common trigrams instead of decoding them (most of a plan's time went to listing the
    members of bitmaps), and evaluates its subqueries among the ids left by what came before:
    `-i PM_RESUME` is an AND of ORs of 112 ANDs, whose lists, restricted to the first OR's
    ids, are intersected and merged as a few hundred ids instead of thousands."""

    def __init__(self, segment: Segment, per_file: bool) -> None:
        self.segment = segment
        self.per_file = per_file
        self.by_document = not per_file or segment.n_docs == segment.n_files
        self._encoded: dict[int, memoryview | None] = {}
        self._decoded: dict[int, np.ndarray] = {}

    def ids(self, plan: TrigramQuery, within: np.ndarray | None = None) -> np.ndarray | None:
        """The ids satisfying `plan` among `within` (sorted; None: all)."""
        import numpy as np

        if plan.op == "all":
            return within
        if plan.op == "none" or (within is not None and len(within) == 0):
            return np.empty(0, np.int64)
        lists = []
        for trigram in plan.trigrams:
            encoded = self._encoding(trigram)
            if encoded is None:
                if plan.op == "and":
                    return np.empty(0, np.int64)
                continue
            lists.append((trigram, encoded))
        lists.sort(key=lambda item: len(item[1]))  # shortest encoding first: the rarest
        if plan.op == "and":
            result = within
            for trigram, encoded in lists:
                result = self._among(result, trigram, encoded)
                if len(result) == 0:
                    return result
            for sub in plan.subs:
                result = self.ids(sub, result)
                if result is not None and len(result) == 0:
                    return result
            return result
        alternatives = [self._among(within, trigram, encoded) for trigram, encoded in lists]
        for sub in plan.subs:
            ids = self.ids(sub, within)
            if ids is None:
                return None
            alternatives.append(ids)
        if not alternatives:
            return np.empty(0, np.int64)
        merged = np.concatenate(alternatives)
        merged.sort()
        return distinct_sorted(merged)

    def _encoding(self, trigram: int) -> memoryview | None:
        if trigram not in self._encoded:
            self._encoded[trigram] = self.segment.postings(trigram)
        return self._encoded[trigram]

    def _among(self, ids: np.ndarray | None, trigram: int, encoded: memoryview) -> np.ndarray:
        """The ids among `ids` (None: all) whose document or file holds `trigram`."""
        segment = self.segment
        if ids is not None and self.by_document and segment.is_bitmap(encoded):
            return ids[segment.in_bitmap(encoded, ids)]
        listed = self._decoded.get(trigram)
        if listed is None:
            listed = segment.decode(encoded)
            if self.per_file:
                listed = segment.files_of(listed)
            self._decoded[trigram] = listed
        return listed if ids is None else _intersect(ids, listed)


def leb128_values(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The LEB128 varints concatenated in `raw` (uint8, not empty, its last byte below 0x80):
    their values (int64), and where in `raw` each starts. Posting lists of one segment
    (`Segment.decode`) or of many at once (a merge's) are decoded with it. Most gaps of a
    posting list take one byte: the values' first bytes are read at once, then the next
    bytes of the values that have more, a pass per byte (a third faster than shifting every
    byte into place and summing each value's, on lists of the Linux tree)."""
    import numpy as np

    value_ends = np.flatnonzero(raw < 0x80)  # each value's last byte
    if len(value_ends) == len(raw):  # (one byte each: a dense list's usual case)
        return raw.astype(np.int64), value_ends
    value_starts = np.empty(len(value_ends), np.int64)
    value_starts[0] = 0
    value_starts[1:] = value_ends[:-1] + 1
    values = (raw[value_starts] & 0x7F).astype(np.int64)
    more = value_ends - value_starts  # the bytes after each value's first
    longer = np.flatnonzero(more)
    byte = 1
    while len(longer):
        values[longer] |= (raw[value_starts[longer] + byte] & 0x7F).astype(np.int64) << (
            7 * byte)
        byte += 1
        longer = longer[more[longer] >= byte]
    return values, value_starts


def distinct_sorted(sorted_values: np.ndarray) -> np.ndarray:
    """Drop repeats from a sorted array (np.unique is far slower; np.compress beats a[mask])."""
    import numpy as np

    if len(sorted_values) == 0:
        return sorted_values
    distinct = np.empty(len(sorted_values), bool)
    distinct[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=distinct[1:])
    return np.compress(distinct, sorted_values)


def _intersect(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """Sorted intersection of two sorted id arrays, by binary search of the smaller."""
    import numpy as np

    if len(small) > len(large):
        small, large = large, small
    if len(large) == 0:
        return large
    at = np.searchsorted(large, small)
    at[at == len(large)] = 0
    return small[large[at] == small]
