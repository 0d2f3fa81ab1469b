"""Build a trigram index: one segment plus a manifest (format in `trigrep.index.format`).

Two phases, each spread over a process pool (numpy releases no GIL for our small calls, so
processes, not threads):

1. Extract: workers read batches of files, cut files bigger than DOC_BYTES into documents
   (see "Documents" in format.py), and group documents into chunks of at most CHUNK_BYTES
   whose document ids span fewer than MAX_CHUNK_FILES (bigger documents are split into
   overlapping pieces). numpy reads the trigram at every byte position of a chunk, sorts
   each document's and keeps one of each, giving the chunk's distinct uint32 keys (trigram
   << 8 | document id minus the chunk's first). A worker collects its chunks' keys into
   blocks of about BLOCK_KEYS and writes each to its run file range-major (for each of 4096
   trigram ranges, every chunk's keys in it, sorted: each chunk's keys sorted, then
   scattered), with a table of where each piece starts. Sorting is numpy's SIMD sort (its
   AVX-512 code, or AVX2 on AMD Zen 4: see `trigrep.cpu`), far faster than radix passes.
   Batches go to the workers as the files come: a walk in path order (PathOrdered) goes on
   meanwhile.
   Memory per worker is a few chunk-sized arrays and one block.
2. Merge: the 4096 ranges are grouped into slices of about SLICE_POSTINGS pairs; workers
   read a slice's keys from every block (a pread of its table, one of its keys: consecutive
   ranges are contiguous), map them to (trigram, document id) pairs (uint32 when the slice
   is narrow enough for the tree's document ids), sort, and encode the posting lists. The
   parent streams the encoded slices, in order, into the segment file.

Peak memory is bounded by the chunk, block and slice sizes, not by the tree.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import multiprocessing
import os
import stat
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple, TypeVar

import numpy as np

from trigrep.errors import IndexFormatError
from trigrep.extract import read_searchable
from trigrep.index.format import (
    DICT_BLOCK_ENTRIES,
    FLAG_IRREGULAR,
    FLAG_UNINDEXED,
    HEADER_SIZE,
    LOCK_NAME,
    MANIFEST_NAME,
    POST_BLOCK_SIZE,
    SEGMENT_PREFIX,
    SEGMENT_SUFFIX,
    TMP_PREFIX,
    BuildProgress,
    IndexEntry,
    IndexStats,
    Manifest,
    Section,
    SegmentHeader,
    SegmentRef,
    bitmap_bytes,
    fsync_dir,
    header_crc,
    padded,
    parse_manifest,
    read_all,
    regular_file,
    temporary,
    write_atomically,
)
from trigrep.index.lock import IndexLock
from trigrep.index.reader import distinct_sorted
from trigrep.roots import INDEX_DIR_NAME
from trigrep.spawn import die_with_parent

MAX_INDEXED_FILE_BYTES = 256 << 20  # larger files are flagged unindexed, searched directly
DOC_BYTES = 64 << 10  # bigger files are indexed as documents of about this size
CHUNK_BYTES = 1 << 20
MAX_CHUNK_FILES = 256  # a chunk's document ids span less: a local id is a key's low byte
BLOCK_KEYS = 2 << 20  # a phase-1 worker writes its keys to the run file in blocks this big
TASK_BYTES = 16 << 20
TASK_FILES = 4096
SLICE_POSTINGS = 1 << 20
RANGE_BITS = 12  # phase-1 runs record where each of 2**RANGE_BITS trigram ranges starts
PROGRESS_INTERVAL = 0.25

_T = TypeVar("_T")
_R = TypeVar("_R")
_N_RANGES = 1 << RANGE_BITS


def build_index(
    root: str,
    entries: Iterable[IndexEntry],
    progress: Callable[[BuildProgress], None] | None = None,
    workers: int | None = None,
) -> IndexStats:
    """Index `entries` (files under `root`) into `root/.trigrep/`, replacing any previous index.

    Holds the index lock for the whole build, so concurrent builds run one after the other.
    `workers` defaults to the number of CPUs.
    """
    index_dir = prepare_index_dir(root)
    with IndexLock(index_dir):
        return rebuild_locked(index_dir, entries, progress, workers)


def prepare_index_dir(root: str) -> str:
    """Create `root/.trigrep/` if needed, with the ignore files that mark it as trigrep's;
    return its path."""
    index_dir = os.path.join(root, INDEX_DIR_NAME)
    os.makedirs(index_dir, exist_ok=True)
    # An empty directory in the place of the lock or the manifest (trigrep makes none) would
    # stop every build: removed. (Anything else there fails where the file is used.)
    for name in (LOCK_NAME, MANIFEST_NAME):
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(index_dir, name))
    # `.gitignore` hides the index from git (and rg inside repositories), `.ignore` from rg
    # everywhere else. Written without the lock (a daemon marks its directory too): every
    # writer writes the same two bytes, and a file a crash left empty is written again. What
    # is not a regular file is replaced: writing would block on a FIFO, go elsewhere by a
    # symlink.
    for name in (".gitignore", ".ignore"):
        path = os.path.join(index_dir, name)
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_size:
                continue
            if not stat.S_ISREG(st.st_mode):
                os.unlink(path)  # (a directory: IsADirectoryError, no index is written)
        except FileNotFoundError:
            pass
        with open(path, "wb") as f:
            f.write(b"*\n")
    return index_dir


def rebuild_locked(
    index_dir: str,
    entries: Iterable[IndexEntry],
    progress: Callable[[BuildProgress], None] | None = None,
    workers: int | None = None,
) -> IndexStats:
    """`build_index` with the lock already held: one segment of every file, a new manifest.
    `entries` in PathOrdered are indexed as they come (as a walk yields them), others sorted
    first."""
    started = time.time()
    started_ns = time.time_ns()  # before any file is read (or, if PathOrdered, stat'ed)
    files = in_path_order(entries)
    remove_leftovers(index_dir, segments_in_use=None)
    generation = previous_generation(index_dir) + 1
    ref, seg_stats = write_segment(
        index_dir, generation, files, workers or os.cpu_count() or 1, progress, started_ns
    )
    stats = IndexStats(
        **seg_stats,
        index_bytes=ref.bytes,
        build_seconds=round(time.time() - started, 3),
        created=time.time(),
        segments=1,
    )
    publish(index_dir, Manifest(generation, [ref], stats))
    return stats


def sort_entries(entries: Iterable[IndexEntry]) -> list[IndexEntry]:
    """Entries in a segment's path order (os.fsencode bytes)."""
    return sorted(entries, key=lambda e: os.fsencode(e.relpath))


class PathOrdered:
    """Entries that come in a segment's path order already: a walk in path order, which a
    build then indexes as it goes (the walk and its stats, 1.6 s of the Linux tree's build,
    would otherwise leave the other cores idle). Iterating checks the order."""

    def __init__(self, entries: Iterable[IndexEntry]) -> None:
        self._entries = entries

    def __iter__(self) -> Iterator[IndexEntry]:
        last: bytes | None = None
        for entry in self._entries:
            key = os.fsencode(entry.relpath)
            if last is not None and key <= last:
                raise ValueError(f"{entry.relpath!r} comes after {os.fsdecode(last)!r}")
            last = key
            yield entry


def in_path_order(entries: Iterable[IndexEntry]) -> Iterable[IndexEntry]:
    """`entries` in a segment's path order: as they come if PathOrdered, else sorted."""
    return entries if isinstance(entries, PathOrdered) else sort_entries(entries)


def segment_name(generation: int) -> str:
    """The file name of the segment written by the build, update or merge of `generation`."""
    return f"{SEGMENT_PREFIX}{generation:08d}-0{SEGMENT_SUFFIX}"


def write_segment(
    index_dir: str,
    generation: int,
    files: Iterable[IndexEntry],
    workers: int,
    progress: Callable[[BuildProgress], None] | None,
    started_ns: int,
) -> tuple[SegmentRef, dict[str, int]]:
    """Index `files` (in `sort_entries` order) into a new segment; its manifest record and
    stats (files, bytes, trigrams, postings, unindexed_files)."""
    name = segment_name(generation)
    path = os.path.join(index_dir, name)
    header, seg_stats = _SegmentBuilder(index_dir, files, workers, progress).write(path)
    ref = SegmentRef(
        name, os.path.getsize(path), header_crc(header), seg_stats["files"], started_ns
    )
    return ref, seg_stats


def publish(index_dir: str, manifest: Manifest) -> None:
    """Make `manifest` the current index, then delete the segments it no longer names."""
    write_atomically(os.path.join(index_dir, MANIFEST_NAME), manifest.dumps())
    remove_leftovers(index_dir, segments_in_use={ref.name for ref in manifest.segments})


def previous_generation(index_dir: str) -> int:
    """The generation of the current manifest; 0 if there is none or it is unreadable
    (a damaged index is simply replaced)."""
    try:
        with regular_file(os.path.join(index_dir, MANIFEST_NAME)) as fd:
            return 0 if fd is None else parse_manifest(read_all(fd), index_dir).generation
    except (OSError, IndexFormatError):
        return 0


def remove_leftovers(index_dir: str, segments_in_use: set[str] | None) -> None:
    """Delete temp files of crashed writers and, unless `segments_in_use` is None, the
    segments not in it. Only called with the lock held, so no other writer is writing."""
    for name in os.listdir(index_dir):
        unused = (
            segments_in_use is not None
            and name.startswith(SEGMENT_PREFIX)
            and name not in segments_in_use
        )
        if name.startswith(TMP_PREFIX) or unused:
            path = os.path.join(index_dir, name)
            if os.path.isdir(path):
                _remove_work_dir(path)
            else:
                os.unlink(path)


def _remove_work_dir(path: str) -> None:
    """Delete a build's work directory (tmp-<pid>-work: the run files, no subdirectory)."""
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


def _init_worker() -> None:
    """Keep freed chunk-sized arrays in the malloc heap: by default glibc returns them to the
    OS and the next chunk pays a page fault per 4 KiB again, which doubled the build time."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    except (OSError, AttributeError):  # not glibc: only slower
        pass


def _start_worker(
    parent: int, initializer: Callable[..., None], initargs: tuple[object, ...]
) -> None:
    die_with_parent(parent)
    initializer(*initargs)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


# ---------------------------------------------------------------------------------------------
# Phase 1: extraction


def documents_of(size: int) -> int:
    """How many documents a file of `size` bytes (the walker's stat) is indexed as; its
    content, which may differ in length (UTF-16), is cut as format.py's "Documents" says."""
    if size <= DOC_BYTES or size > MAX_INDEXED_FILE_BYTES:
        return 1
    return -(-size // DOC_BYTES)


def document_bounds(content: bytes, n_docs: int) -> Iterator[tuple[int, int, int]]:
    """(document number within the file, begin, end) of each document of `content` that is
    not empty: content[begin:end] is what its trigrams are taken from, a piece that starts at
    a line start and reaches two bytes back, so that every trigram, and every line with the
    newlines around it, lies in one piece."""
    start = 0
    for number in range(n_docs):
        at = (number + 1) * DOC_BYTES
        end = len(content)
        if number + 1 < n_docs and at <= len(content):
            end = content.find(b"\n", at - 1) + 1 or len(content)
        if end > start:
            yield number, max(0, start - 2), end
            start = end


@dataclass(frozen=True)
class _Block:
    """One block of a run file, at `offset` bytes: its `n_keys` keys (trigram << 8 | document
    id minus the chunk's base) range-major, that is for each trigram range the keys of each
    chunk in it, chunk after chunk; then a table of uint32 where each (range, chunk) piece
    starts, range-major, and the number of keys. Range-major, a merge slice of consecutive
    ranges is one read per block, however many chunks the block holds."""

    path: str
    offset: int
    n_keys: int
    bases: np.ndarray  # the first document id of each chunk (uint32)

    def table_offset(self) -> int:
        return self.offset + 4 * self.n_keys


@dataclass(frozen=True)
class _TaskResult:
    blocks: list[_Block]
    range_counts: np.ndarray  # keys per trigram range, summed over the task's blocks
    unindexed: list[int]  # file ids whose content could not be read
    irregular: list[int]  # file ids whose content has a NUL or is not the file's bytes
    byte_sets: np.ndarray  # (files, 32) uint8: the FILE_BYTES rows of the task's files
    split_documents: bool  # whether a document was cut into pieces (see _chunks)
    bytes_read: int
    files: int


def _chunk_keys(local_ids: list[int], buffers: list[bytes]) -> np.ndarray:
    """Distinct keys (trigram << 8 | local id) of a chunk, document after document (each
    document's in no useful order): document contents (each of 3 bytes or more) with their
    ids relative to the chunk's first (each below MAX_CHUNK_FILES). Raw bytes, not case
    folded: a case-sensitive query then reads only the files with its exact bytes.

    The joined contents read as little-endian uint32 at every byte (a strided view, no
    copy) give each position's trigram, bytes reversed, under its document's id: each
    document's values are sorted in place, repeats dropped in one pass over the chunk, and
    the distinct values' bytes reversed into keys. numpy's AVX-512 sort makes that a sixth
    faster than a linear-time pass through a 64 MiB table of trigrams, whose random
    accesses miss the caches (on the Linux tree's files); and these passes over the whole
    chunk take a sixth less time than a dozen numpy calls a document, trigrams built by
    shifts and sorted in order."""
    lengths = np.array([len(content) for content in buffers], np.intp)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    joined = b"".join(buffers) + b"\0"  # the word at the last trigram reads one byte more
    n = len(joined) - 3  # the positions that start a trigram, but for the documents' joins
    words = np.ndarray((n,), "<u4", joined, strides=(1,))
    values = words & np.uint32(0xFFFFFF)  # (third byte << 16 | second << 8 | first)
    values |= np.repeat(np.array(local_ids, np.uint32) << np.uint32(24), lengths)[:n]
    # The last two positions of each document but the last start trigrams that run into the
    # next one: given the value of the document's first trigram, they are repeats.
    runs_over = np.repeat(ends[:-1], 2)
    runs_over[0::2] -= 2
    runs_over[1::2] -= 1
    values[runs_over] = values[np.repeat(starts[:-1], 2)]
    for start, end in zip(starts.tolist(), [*ends[:-1].tolist(), n], strict=True):
        values[start:end].sort()
    return distinct_sorted(values).byteswap()


def _mark_leading_bytes(present: np.ndarray, first_row: int, keys: np.ndarray) -> None:
    """Set present[first_row + local id, b] for the first byte b of each chunk key. With a
    file's last two bytes these are all its documents' bytes, read off the distinct keys (far
    fewer than the content's bytes) rather than by a second pass over the content."""
    key_bytes = keys.astype("<u4", copy=False).view(np.uint8).reshape(-1, 4)
    flat = key_bytes[:, 0].astype(np.intp) << 8  # local id: the key's low byte
    flat |= key_bytes[:, 3]  # the trigram's first byte: the key's high byte
    present[first_row : first_row + 256].reshape(-1)[flat] = True


def _cut(size: int) -> bool:
    """Whether `_chunks` cuts a document of `size` bytes into pieces, which can share
    trigrams: the merge then drops the repeats."""
    return size > CHUNK_BYTES


def _chunks(
    docs: Iterator[tuple[int, bytes]],
) -> Iterator[tuple[int, list[int], list[bytes]]]:
    """Group document contents into chunks (first document id, ids relative to it, contents)
    whose ids span fewer than MAX_CHUNK_FILES; split contents bigger than a chunk into pieces
    that overlap by two bytes so every trigram lies in some piece."""
    base = 0
    local_ids: list[int] = []
    bufs: list[bytes] = []
    size = 0
    for doc_id, content in docs:
        if len(content) < 3:
            continue
        if _cut(len(content)):
            if bufs:  # the documents before it come first: the merge needs document order
                yield base, local_ids, bufs
                local_ids, bufs, size = [], [], 0
            for start in range(0, len(content) - 2, CHUNK_BYTES):
                yield doc_id, [0], [content[start : start + CHUNK_BYTES + 2]]
            continue
        if bufs and (size + len(content) > CHUNK_BYTES or doc_id - base >= MAX_CHUNK_FILES):
            yield base, local_ids, bufs
            local_ids, bufs, size = [], [], 0
        if not bufs:
            base = doc_id
        local_ids.append(doc_id - base)
        bufs.append(content)
        size += len(content)
    if bufs:
        yield base, local_ids, bufs


class _RunWriter:
    """Collects a phase-1 task's chunk keys and writes them to its run file as
    blocks of about BLOCK_KEYS keys (memory stays bounded however big the task's files)."""

    def __init__(self, path: str, out: BinaryIO) -> None:
        self.path = path
        self.blocks: list[_Block] = []
        self.range_counts = np.zeros(_N_RANGES, np.int64)
        self._out = out
        self._offset = 0
        self._keys: list[np.ndarray] = []
        self._bases: list[int] = []
        self._pending = 0

    def add(self, base: int, keys: np.ndarray) -> None:
        """The distinct keys of the chunk whose first document id is `base` (sorted in place
        when its block is written)."""
        self._keys.append(keys)
        self._bases.append(base)
        self._pending += len(keys)
        if self._pending >= BLOCK_KEYS:
            self.flush()

    def flush(self) -> None:
        """Write the keys added since the last block as a block."""
        if not self._keys:
            return
        keys, table, range_counts = _range_major(self._keys)
        self._out.write(keys.tobytes())
        self._out.write(table.tobytes())
        self.blocks.append(
            _Block(self.path, self._offset, len(keys), np.array(self._bases, np.uint32))
        )
        self.range_counts += range_counts
        self._offset += 4 * (len(keys) + len(table))
        self._keys, self._bases, self._pending = [], [], 0


def _range_major(
    chunk_keys: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The keys of a block's chunks reordered range-major (for each trigram range, every
    chunk's keys in it, each chunk's in key order, so in document order for any trigram),
    the uint32 table of where each (range, chunk) piece starts (then the total), and the
    number of keys per range. Sorts each of `chunk_keys` in place.

    Each chunk's keys are sorted as they are, uint32 (which groups them by range), then
    scattered to their pieces: a quarter of the time of one sort of 64-bit (range, chunk,
    rest of the key) values, whose sort alone took twice as long as these."""
    n_chunks = len(chunk_keys)
    boundaries = np.arange(1, _N_RANGES, dtype=np.uint32) << np.uint32(32 - RANGE_BITS)
    starts = np.empty((n_chunks, _N_RANGES + 1), np.int64)  # where each range's keys start
    starts[:, 0] = 0
    for chunk, keys in enumerate(chunk_keys):
        keys.sort()
        starts[chunk, 1:-1] = np.searchsorted(keys, boundaries)
        starts[chunk, -1] = len(keys)
    counts = np.diff(starts, axis=1)  # (chunk, range)
    table = np.zeros(_N_RANGES * n_chunks + 1, np.int64)
    np.cumsum(counts.T, out=table[1:])
    piece_starts = table[:-1].reshape(_N_RANGES, n_chunks)
    reordered = np.empty(int(table[-1]), np.uint32)
    for chunk, keys in enumerate(chunk_keys):
        destinations = np.repeat(piece_starts[:, chunk] - starts[chunk, :-1], counts[chunk])
        destinations += np.arange(len(keys))
        reordered[destinations] = keys
    return reordered, table.astype(np.uint32), counts.sum(axis=0)


class _Task(NamedTuple):
    """A phase-1 batch: its run file and its files (file id, first document id, documents,
    absolute path, size)."""

    run_path: str
    files: list[tuple[int, int, int, str, int]]


def _extract_task(task: _Task) -> _TaskResult:
    """Phase-1 worker: index a batch of files into one run file."""
    unindexed: list[int] = []
    irregular: list[int] = []
    bytes_read = 0
    split_documents = False
    first_id, first_doc = (task.files[0][0], task.files[0][1]) if task.files else (0, 0)
    doc_rows = [doc - first_doc for _, doc, _, _, _ in task.files]  # each file's first row
    n_rows = sum(n_docs for _, _, n_docs, _, _ in task.files)
    present = np.zeros((n_rows, 256), bool)  # which byte values each document holds
    tails = bytearray()  # the last two bytes of each file, which start no trigram
    tail_rows: list[int] = []

    def contents() -> Iterator[tuple[int, bytes]]:
        nonlocal bytes_read, split_documents
        for file_id, doc_id, n_docs, path, size in task.files:
            if size > MAX_INDEXED_FILE_BYTES:
                unindexed.append(file_id)
                continue
            try:
                content = read_searchable(path)
            except OSError:
                unindexed.append(file_id)
                continue
            bytes_read += len(content)
            if len(content) != size or b"\0" in content:
                irregular.append(file_id)
            tail = content[-2:]
            tails.extend(tail)
            tail_rows.extend([doc_id - first_doc] * len(tail))
            for number, begin, end in document_bounds(content, n_docs):
                split_documents |= _cut(end - begin)
                yield doc_id + number, content if n_docs == 1 else content[begin:end]

    with open(task.run_path, "wb") as out:
        run = _RunWriter(task.run_path, out)
        for base, local_ids, bufs in _chunks(contents()):
            keys = _chunk_keys(local_ids, bufs)
            _mark_leading_bytes(present, base - first_doc, keys)
            run.add(base, keys)
        run.flush()
    present[tail_rows, np.frombuffer(tails, np.uint8)] = True
    if n_rows > len(doc_rows):  # a file's bytes are those of its documents
        present = np.logical_or.reduceat(present, doc_rows, axis=0)
    present[[i - first_id for i in unindexed]] = True  # unknown content: any byte may occur
    byte_sets = np.packbits(present, axis=1, bitorder="little")
    return _TaskResult(
        run.blocks, run.range_counts, unindexed, irregular, byte_sets, split_documents,
        bytes_read, len(task.files),
    )


# ---------------------------------------------------------------------------------------------
# Phase 2: merge and encode

_blocks: list[_Block] = []  # set in the merge workers (or here) by _init_merge
_run_fds: dict[str, int] = {}


def _init_merge(blocks: list[_Block]) -> None:
    """Tell a merge worker (or this process, for a small build) which blocks to read."""
    global _blocks
    _blocks = blocks
    for fd in _run_fds.values():
        os.close(fd)
    _run_fds.clear()


def _init_merge_worker(blocks: list[_Block]) -> None:
    """A merge worker's initializer: freed memory kept as in an extract worker (without it,
    page faults on the slices' fresh arrays took 1.0 s of system time in the Linux tree's
    merge, 0.25 s with it), then the blocks."""
    _init_worker()
    _init_merge(blocks)


def _read_words(path: str, offset: int, count: int) -> np.ndarray:
    """`count` uint32 words of a run file from byte `offset`. pread, not mmap: a mapped page
    counts in the RSS of every worker that touched it, and ext4's large folios map a whole
    folio (up to megabytes) per touched byte."""
    fd = _run_fds.get(path)
    if fd is None:
        fd = _run_fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    data = os.pread(fd, 4 * count, offset)
    if len(data) != 4 * count:
        raise OSError(f"{path}: run file truncated")
    return np.frombuffer(data, np.uint32)


@dataclass(frozen=True)
class _Slice:
    """A merge task: trigram ranges [first, stop), narrowed to chunk keys in [low, high)
    when a single range holds too many pairs for one task. `repeats`: whether a trigram of
    a document may come twice (from two pieces of a document bigger than a chunk)."""

    first: int
    stop: int
    low: int
    high: int
    n_docs: int
    repeats: bool


def _packed_trigrams(n_docs: int) -> int:
    """How many trigrams a merge slice may span for its (trigram minus the slice's first,
    document id) pairs to fit in uint32, whose sort takes half the time of uint64's."""
    return (1 << 32) >> (n_docs - 1).bit_length()


def _pair_layout(n_docs: int, trigrams: int) -> tuple[type[np.unsignedinteger], int]:
    """The dtype of the pairs of a merge slice spanning `trigrams` trigrams, and the bits of
    the document id in it."""
    if trigrams <= _packed_trigrams(n_docs):
        return np.uint32, (n_docs - 1).bit_length()
    return np.uint64, 32


def _merge_slice(task: _Slice) -> tuple[np.ndarray, np.ndarray, bytes, int]:
    """Phase-2 worker: the trigrams of a slice, their posting lists' lengths and bytes."""
    shift = 32 - RANGE_BITS
    narrowed = (task.low, task.high) != (task.first << shift, task.stop << shift)
    first_trigram = np.uint32(task.low >> 8)
    dtype, id_bits = _pair_layout(task.n_docs, (task.high - task.low) >> 8)
    parts = []
    for block in _blocks:
        n_chunks = len(block.bases)
        table = _read_words(
            block.path,
            block.table_offset() + 4 * task.first * n_chunks,
            (task.stop - task.first) * n_chunks + 1,
        )
        start, end = int(table[0]), int(table[-1])
        if start == end:
            continue
        keys = _read_words(block.path, block.offset + 4 * start, end - start)
        bases = np.repeat(np.tile(block.bases, task.stop - task.first), np.diff(table))
        if narrowed:  # one range: its keys lie anywhere in each chunk's piece
            # keys - low wraps below low: one comparison, and no uint32 for the last range's
            # high, 2**32
            inside = keys - np.uint32(task.low) < np.uint32(task.high - task.low)
            keys, bases = np.compress(inside, keys), np.compress(inside, bases)
        bases += keys & np.uint32(0xFF)
        trigrams = keys >> np.uint32(8)
        trigrams -= first_trigram
        pairs = trigrams.astype(dtype, copy=False) << dtype(id_bits)
        pairs |= bases
        parts.append(pairs)
    pairs = np.concatenate(parts) if parts else np.empty(0, dtype)
    del parts
    if len(pairs) == 0:  # also a narrowed slice of a range whose keys all lie elsewhere
        return np.empty(0, np.uint32), np.empty(0, np.uint32), b"", 0
    pairs.sort()  # (numpy's AVX-512 sort: 5x faster here than two stable radix passes)
    if task.repeats:
        pairs = distinct_sorted(pairs)
    trigrams = (pairs >> dtype(id_bits)).astype(np.uint32, copy=False)
    trigrams += first_trigram
    doc_ids = (pairs & dtype((1 << id_bits) - 1)).astype(np.uint32, copy=False)
    dict_trigrams, lengths, data = encode_postings(trigrams, doc_ids, task.n_docs)
    return dict_trigrams, lengths, data, len(pairs)


def encode_postings(
    trigrams: np.ndarray, doc_ids: np.ndarray, n_docs: int
) -> tuple[np.ndarray, np.ndarray, bytes]:
    """Encode (trigram, document id) pairs sorted by both into concatenated posting lists.

    Returns the distinct trigrams, the byte length of each list, and the bytes. A list of
    bitmap_bytes(n_docs) pairs or more is a bitmap whatever its gaps (a varint takes a byte
    at least): its pairs skip the varint work (43 % of the Linux tree's pairs).
    """
    n = len(trigrams)
    list_start = np.empty(n, bool)
    list_start[0] = True
    np.not_equal(trigrams[1:], trigrams[:-1], out=list_start[1:])
    starts = np.flatnonzero(list_start)
    counts = np.diff(np.append(starts, n))
    bitmap_length = bitmap_bytes(n_docs)
    sparse = counts < bitmap_length  # the lists that may be varints
    ids, sparse_counts = doc_ids, counts
    if not sparse.all():
        ids, sparse_counts = np.compress(np.repeat(sparse, counts), doc_ids), counts[sparse]
    sparse_starts = np.cumsum(sparse_counts) - sparse_counts
    gaps = np.empty(len(ids), np.uint32)
    np.subtract(ids[1:], ids[:-1], out=gaps[1:])
    gaps -= np.uint32(1)
    gaps[sparse_starts] = ids[sparse_starts]
    widths = np.ones(len(ids), np.uint8)
    for bits in range(7, int(gaps.max(initial=0)).bit_length(), 7):
        widths += gaps >= np.uint32(1 << bits)
    lengths = np.full(len(starts), bitmap_length, np.int64)
    if len(ids):
        varint_lengths = np.add.reduceat(widths, sparse_starts, dtype=np.int64)
        lengths[sparse] = np.minimum(varint_lengths, bitmap_length)
        long_lists = varint_lengths >= bitmap_length  # as long as a bitmap: a bitmap
        if long_lists.any():
            in_varint_list = np.repeat(~long_lists, sparse_counts)
            gaps, widths = np.compress(in_varint_list, gaps), np.compress(in_varint_list, widths)
    is_bitmap = lengths == bitmap_length
    stream = _varints(gaps, widths)
    pieces = []
    done = 0  # bytes of `stream` already placed
    varint_ends = np.cumsum(np.where(is_bitmap, 0, lengths))
    for i in np.flatnonzero(is_bitmap).tolist():
        members = np.zeros(bitmap_length * 8, bool)
        members[doc_ids[starts[i] : starts[i] + counts[i]]] = True
        pieces += [stream[done : varint_ends[i]], np.packbits(members, bitorder="little")]
        done = int(varint_ends[i])
    pieces.append(stream[done:])
    return trigrams[starts], lengths.astype(np.uint32), b"".join(p.tobytes() for p in pieces)


def _varints(values: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """LEB128 encoding of `values` whose encoded `widths` are given, concatenated. Most take
    one byte (93 % of the Linux tree's gaps): every first byte is laid out by one np.repeat,
    then the longer values' next bytes are written over the copies."""
    first = values.astype(np.uint8)
    top = int(widths.max(initial=1))
    if top == 1:
        return first
    longer = widths > 1
    first &= np.uint8(0x7F)
    first |= longer.view(np.uint8) << np.uint8(7)
    out = np.repeat(first, widths)
    index = np.flatnonzero(longer)
    values, widths = values[index], widths[index]
    extra = widths.astype(np.int64) - 1
    positions = np.cumsum(extra)  # where each longer value's encoding starts in `out`
    positions += index
    positions -= extra
    for byte in range(1, top):
        if byte > 1:
            more = widths > byte
            positions, values, widths = positions[more], values[more], widths[more]
        low = (values >> np.uint32(7 * byte)).astype(np.uint8) & np.uint8(0x7F)
        low |= (widths > byte + 1).view(np.uint8) << np.uint8(7)
        out[positions + byte] = low
    return out


# ---------------------------------------------------------------------------------------------
# The segment file


class _SegmentBuilder:
    """Runs both phases and writes one segment file."""

    def __init__(
        self,
        index_dir: str,
        files: Iterable[IndexEntry],
        workers: int,
        progress: Callable[[BuildProgress], None] | None,
    ) -> None:
        self.index_dir = index_dir
        self._entries = files
        self.files: list[IndexEntry] = []  # as the extract phase takes them from `_entries`
        self.doc_counts: list[int] = []
        self.total_bytes = 0
        self.workers = workers
        self.progress = progress

    def write(self, path: str) -> tuple[bytes, dict[str, int]]:
        """Write the segment to `path` (atomically); return its header and its stats."""
        work_dir = temporary(self.index_dir, "work")
        os.mkdir(work_dir)
        try:
            results = self._extract(work_dir)
            with SegmentWriter(path) as writer:
                stats = self._merge_into(writer, results)
            return writer.header, stats
        finally:
            _remove_work_dir(work_dir)

    def _map(
        self,
        function: Callable[[_T], _R],
        tasks: Iterable[_T],
        initializer: Callable[..., None],
        initargs: tuple[object, ...] = (),
    ) -> Iterator[_R]:
        """`function` over `tasks` in order: in a process pool (each task sent as soon as
        `tasks` yields it), or here for a small job where starting processes would cost more
        than it saves."""
        tasks = iter(tasks)
        first = list(itertools.islice(tasks, 2))
        if self.workers <= 1 or len(first) <= 1:
            initializer(*initargs)
            yield from map(function, itertools.chain(first, tasks))
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_start_worker,
            initargs=(os.getpid(), initializer, initargs),
        ) as pool:
            yield from pool.map(function, itertools.chain(first, tasks))

    def _tasks(self, work_dir: str) -> Iterator[_Task]:
        """The extract phase's batches, as the entries come (noting them in `files`)."""
        batch: list[tuple[int, int, int, str, int]] = []
        size = 0
        first_doc = 0
        n_tasks = 0
        for file_id, entry in enumerate(self._entries):
            n_docs = documents_of(entry.size)
            self.files.append(entry)
            self.doc_counts.append(n_docs)
            self.total_bytes += entry.size
            batch.append((file_id, first_doc, n_docs, entry.abspath, entry.size))
            first_doc += n_docs
            size += min(entry.size, MAX_INDEXED_FILE_BYTES)
            if size >= TASK_BYTES or len(batch) >= TASK_FILES:
                yield _Task(os.path.join(work_dir, f"run-{n_tasks}"), batch)
                batch, size, n_tasks = [], 0, n_tasks + 1
        if batch:
            yield _Task(os.path.join(work_dir, f"run-{n_tasks}"), batch)

    def _extract(self, work_dir: str) -> list[_TaskResult]:
        results = []
        files_done = bytes_done = 0
        last_report = 0.0
        # A pool takes every task (so the totals are known) before the first result comes.
        for result in self._map(_extract_task, self._tasks(work_dir), _init_worker):
            results.append(result)
            files_done += result.files
            bytes_done += result.bytes_read
            now = time.monotonic()
            if self.progress and now - last_report >= PROGRESS_INTERVAL:
                last_report = now
                self._report(files_done, bytes_done)
        if self.progress:
            self._report(files_done, bytes_done)
        return results

    def _report(self, files_done: int, bytes_done: int) -> None:
        assert self.progress is not None
        self.progress(BuildProgress(files_done, len(self.files), bytes_done, self.total_bytes))

    def _merge_into(self, writer: SegmentWriter, results: list[_TaskResult]) -> dict[str, int]:
        n_files = len(self.files)
        range_counts = sum((r.range_counts for r in results), np.zeros(_N_RANGES, np.int64))
        repeats = any(r.split_documents for r in results)
        slices = _plan_slices(range_counts, sum(self.doc_counts), repeats)
        blocks = [block for r in results for block in r.blocks]
        merged = self._map(_merge_slice, slices, _init_merge_worker, (blocks,))
        for trigrams, lengths, data, pairs in merged:
            writer.add_postings(trigrams, lengths, data, pairs)
        _init_merge([])  # closes the run files of an in-process merge
        unindexed = [i for r in results for i in r.unindexed]
        flags = np.zeros(n_files, np.uint8)
        flags[unindexed] = FLAG_UNINDEXED
        flags[[i for r in results for i in r.irregular]] |= FLAG_IRREGULAR
        byte_sets = [r.byte_sets for r in results]
        writer.finish(
            np.array([e.size for e in self.files], np.uint64),
            np.array([e.mtime_ns for e in self.files], np.int64),
            np.array([e.ctime_ns for e in self.files], np.int64),
            np.array([e.inode for e in self.files], np.uint64),
            flags,
            np.concatenate(byte_sets) if byte_sets else np.empty((0, 32), np.uint8),
            np.array(self.doc_counts, np.uint32),
            b"\0".join(os.fsencode(e.relpath) for e in self.files),
        )
        return {
            "files": n_files,
            "bytes": sum(r.bytes_read for r in results),
            "trigrams": writer.n_trigrams,
            "postings": writer.n_postings,
            "unindexed_files": len(unindexed),
        }


class SegmentWriter:
    """Writes one segment file atomically: posting lists in trigram order (`add_postings`),
    then the dictionary and the file table (`finish`). A context manager: the file appears
    under its name only if the block ends without an exception."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.tmp = temporary(os.path.dirname(path), os.path.basename(path))
        self.header = b""
        self.n_trigrams = 0
        self.n_postings = 0
        self._trigram_parts: list[np.ndarray] = []
        self._length_parts: list[np.ndarray] = []

    def __enter__(self) -> SegmentWriter:
        self._out = open(self.tmp, "wb")  # closed by __exit__
        self._postings = _BlockWriter(self._out, HEADER_SIZE)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._out.close()
        if exc_type is not None:
            os.unlink(self.tmp)
            return
        os.replace(self.tmp, self.path)
        fsync_dir(os.path.dirname(self.path))

    def add_postings(
        self, trigrams: np.ndarray, lengths: np.ndarray, data: bytes, pairs: int
    ) -> None:
        """The next posting lists (trigrams ascending, after every earlier one)."""
        self._trigram_parts.append(trigrams)
        self._length_parts.append(lengths)
        self._postings.write(data)
        self.n_postings += pairs

    def finish(
        self,
        sizes: np.ndarray,
        mtimes: np.ndarray,
        ctimes: np.ndarray,
        inodes: np.ndarray,
        flags: np.ndarray,
        byte_sets: np.ndarray,
        doc_counts: np.ndarray,
        paths: bytes,
    ) -> None:
        """Write the remaining sections for the files (in path order) and the header;
        `byte_sets` holds each file's FILE_BYTES row ((files, 32) uint8), `doc_counts` its
        number of documents."""
        out = self._out
        sections: dict[str, Section] = {"POSTINGS": self._postings.finish()}
        post_crcs = np.array(self._postings.block_crcs, np.uint32)
        parts, length_parts = self._trigram_parts, self._length_parts
        trigrams = np.concatenate(parts) if parts else np.empty(0, np.uint32)
        lengths = np.concatenate(length_parts) if length_parts else np.empty(0, np.uint32)
        plain = {
            "POST_CRCS": post_crcs.tobytes(),
            **_dictionary(trigrams, lengths),
            "FILE_SIZES": sizes.astype("<u8").tobytes(),
            "FILE_MTIMES": mtimes.astype("<i8").tobytes(),
            "FILE_CTIMES": ctimes.astype("<i8").tobytes(),
            "FILE_INODES": inodes.astype("<u8").tobytes(),
            "FILE_FLAGS": flags.astype(np.uint8).tobytes(),
            "FILE_BYTES": np.ascontiguousarray(byte_sets, np.uint8).tobytes(),
            "FILE_DOCS": doc_counts.astype("<u4").tobytes(),
            "FILE_PATHS": paths,
        }
        offset = sections["POSTINGS"].offset + sections["POSTINGS"].length
        for name, raw in plain.items():
            body = raw.ljust(padded(len(raw)), b"\0")
            block_checked = name in ("DICT_TRIGRAMS", "DICT_ENDS")
            sections[name] = Section(offset, len(body), 0 if block_checked else zlib.crc32(body))
            out.write(body)
            offset += len(body)
        self.n_trigrams = len(trigrams)
        self.header = SegmentHeader(
            len(flags), len(trigrams), self.n_postings, POST_BLOCK_SIZE, DICT_BLOCK_ENTRIES,
            int(doc_counts.sum()), sections,
        ).pack()
        out.seek(0)
        out.write(self.header)
        out.flush()
        os.fsync(out.fileno())


def _plan_slices(range_counts: np.ndarray, n_docs: int, repeats: bool) -> list[_Slice]:
    """Group consecutive trigram ranges into merge tasks of about SLICE_POSTINGS pairs,
    splitting a range with more pairs into equal parts of its key span; `repeats` if a
    document was cut into pieces. A task of half that many pairs also ends where one more
    range would make its pairs too wide for uint32 (`_pair_layout`)."""
    shift = 32 - RANGE_BITS
    packed_ranges = _packed_trigrams(n_docs) >> (shift - 8)
    slices = []
    first = 0
    running = 0

    def whole(first: int, stop: int) -> _Slice:
        return _Slice(first, stop, first << shift, stop << shift, n_docs, repeats)

    for i, count in enumerate(range_counts.tolist()):
        big = count > SLICE_POSTINGS
        wide = i - first == packed_ranges and 2 * running >= SLICE_POSTINGS
        if first < i and (big or wide):
            slices.append(whole(first, i))
            first, running = i, 0
        if big:
            parts = 1 << min(shift - 8, (count // SLICE_POSTINGS).bit_length())
            step = 1 << (shift - parts.bit_length() + 1)  # a multiple of 256: whole trigrams
            slices.extend(
                _Slice(
                    i, i + 1, (i << shift) + p * step, (i << shift) + (p + 1) * step, n_docs,
                    repeats,
                )
                for p in range(parts)
            )
            first = i + 1
            continue
        running += count
        if running >= SLICE_POSTINGS:
            slices.append(whole(first, i + 1))
            first, running = i + 1, 0
    if first < _N_RANGES:
        slices.append(whole(first, _N_RANGES))
    return slices


def _dictionary(trigrams: np.ndarray, lengths: np.ndarray) -> dict[str, bytes]:
    """The DICT_* sections for the lists of `trigrams` with byte `lengths`, in order."""
    ends = np.cumsum(lengths, dtype=np.uint64)
    block_starts = np.arange(0, len(trigrams), DICT_BLOCK_ENTRIES)
    base = (ends - lengths)[block_starts] if len(trigrams) else np.empty(0, np.uint64)
    relative = ends - np.repeat(base, np.diff(np.append(block_starts, len(trigrams))))
    if len(relative) and relative.max() > 0xFFFFFFFF:
        raise OverflowError("a dictionary block's posting lists exceed 4 GiB")
    tri_bytes = trigrams.astype("<u4").tobytes().ljust(padded(4 * len(trigrams)), b"\0")
    end_bytes = relative.astype("<u4").tobytes().ljust(padded(4 * len(trigrams)), b"\0")
    crcs = []
    step = 4 * DICT_BLOCK_ENTRIES
    for start in range(0, len(trigrams), DICT_BLOCK_ENTRIES):
        last = start + DICT_BLOCK_ENTRIES >= len(trigrams)
        lo, hi = 4 * start, (len(tri_bytes) if last else 4 * start + step)
        crcs.append(zlib.crc32(end_bytes[lo:hi], zlib.crc32(tri_bytes[lo:hi])))
    return {
        "DICT_TRIGRAMS": tri_bytes,
        "DICT_ENDS": end_bytes,
        "DICT_FIRST": trigrams[block_starts].astype("<u4").tobytes(),
        "DICT_BASE": base.astype("<u8").tobytes(),
        "DICT_CRCS": np.array(crcs, "<u4").tobytes(),
    }


class _BlockWriter:
    """Streams bytes to a file while computing the crc32 of each POST_BLOCK_SIZE block."""

    def __init__(self, out: BinaryIO, offset: int) -> None:
        self.out = out
        self.offset = offset
        self.length = 0
        self.pending = bytearray()
        self.block_crcs: list[int] = []
        out.seek(offset)

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.length += len(data)
        self.pending += data
        full = len(self.pending) - len(self.pending) % POST_BLOCK_SIZE
        view = memoryview(self.pending)
        for start in range(0, full, POST_BLOCK_SIZE):
            self.block_crcs.append(zlib.crc32(view[start : start + POST_BLOCK_SIZE]))
        view.release()
        del self.pending[:full]

    def finish(self) -> Section:
        """Pad to the section alignment and checksum the last, short block."""
        self.write(b"\0" * (padded(self.length) - self.length))
        if self.pending:
            self.block_crcs.append(zlib.crc32(self.pending))
        return Section(self.offset, self.length, 0)
