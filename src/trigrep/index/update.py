"""Incremental updates and merges: the log-structured side of the index (see "Segments and
updates" in `trigrep.index.format`).

`update_index` compares the walk with the index's records and writes one small segment of
what changed, tombstoning the records it supersedes; then `merge_segments` keeps the segment
count bounded by combining the posting lists of a run of small segments, without re-reading
any file. Everything happens under the index lock, with the build's atomic write discipline.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np

from trigrep.errors import IndexCorruptError, IndexFormatError
from trigrep.index.build import (
    SegmentWriter,
    encode_postings,
    prepare_index_dir,
    publish,
    rebuild_locked,
    remove_leftovers,
    segment_name,
    sort_entries,
    write_segment,
)
from trigrep.index.format import (
    DICT_BLOCK_ENTRIES,
    FLAG_UNINDEXED,
    RACY_WINDOW_NS,
    BuildProgress,
    IndexEntry,
    IndexStats,
    Manifest,
    SegmentRef,
    bitmap_bytes,
    header_crc,
)
from trigrep.index.lock import IndexLock
from trigrep.index.reader import IndexReader, Segment, leb128_values

MERGE_FANIN = 4  # merge as soon as this many segments at the end lie within one tier or below
TIER_BITS = 3  # size tiers of live files: [1, 8), [8, 64), [64, 512), ...
MAX_DOMINANT_SHARE = 0.5  # no merge of a run where one segment holds more of its files
REBUILD_TOMBSTONE_SHARE = 0.25  # of the first segment's files: rebuild in full beyond
SMALL_UPDATE_FILES = 2000  # an update this small indexes in this process, without a pool
SMALL_UPDATE_BYTES = 32 << 20
MERGE_SLICE_IDS = 1 << 21  # decoded (trigram, file) pairs held at once by a merge, about

# What `update_index` did: a full build, an update (one new segment), or nothing.
UpdateKind = Literal["full", "update", "unchanged"]


def update_index(
    root: str,
    entries: Iterable[IndexEntry],
    progress: Callable[[BuildProgress], None] | None = None,
    *,
    full: bool = False,
    workers: int | None = None,
    wait: bool = True,
) -> UpdateKind:
    """Bring the index of `root` up to date with `entries` (the walk of the files under it).

    A missing, damaged or other-version index (or `full`) is rebuilt in full, as is one whose
    first segment would have tombstoned more than REBUILD_TOMBSTONE_SHARE of its files.
    Otherwise the new and changed files go into one new segment, then runs of small segments
    are merged. `workers` (default: the CPUs) is used only by big updates and full builds.
    Without `wait`, IndexBusy when another writer is at work.
    """
    index_dir = prepare_index_dir(root)
    with IndexLock(index_dir, wait=wait):
        reader = None if full else _open_verified(root)
        if reader is not None:
            files = sort_entries(entries)
            updated = _update_locked(root, index_dir, reader, files, progress, workers)
            if updated is not None:
                return updated
            entries = files
        # (PathOrdered entries are indexed as they come)
        rebuild_locked(index_dir, entries, progress, workers)
        return "full"


def _update_locked(
    root: str,
    index_dir: str,
    reader: IndexReader,
    files: list[IndexEntry],
    progress: Callable[[BuildProgress], None] | None,
    workers: int | None,
) -> UpdateKind | None:
    """The update of the verified index `reader` to `files` (lock held): a new segment and
    merges; None when it must be rebuilt in full instead (too many tombstones in its first
    segment, or damage found since it was verified)."""
    started = time.time()
    started_ns = time.time_ns()  # before any content is read: the racy threshold
    changed, dead = _changes(reader, files, started_ns)
    first = reader.segments[0]
    first_dead = len(first.tombstones) + sum(1 for i in dead if i < first.n_files)
    if first_dead > REBUILD_TOMBSTONE_SHARE * first.n_files:
        return None
    kind: UpdateKind = "unchanged"
    try:
        if changed or dead:
            kind = "update"
            small = (
                len(changed) <= SMALL_UPDATE_FILES
                and sum(e.size for e in changed) <= SMALL_UPDATE_BYTES
            )
            pool = 1 if small else workers or os.cpu_count() or 1
            _append_segment(index_dir, reader, changed, dead, pool, progress, started,
                            started_ns)
        merge_segments(root)
    except IndexCorruptError:  # damaged since it was verified (a merge verifies again)
        return None
    return kind


def _open_verified(root: str) -> IndexReader | None:
    """The index of `root` with every checksum verified, or None if it must be rebuilt: an
    update must not carry damage into a segment with fresh checksums, and `trigrep index` is
    what the error message of a damaged index tells the user to run."""
    try:
        reader = IndexReader.open(root)
        reader.verify()
        reader.records()
    except IndexFormatError:
        return None
    return reader


def _changes(
    reader: IndexReader, files: list[IndexEntry], started_ns: int
) -> tuple[list[IndexEntry], list[int]]:
    """The walked files to index now, and the global ids of the records to tombstone.

    A file is indexed when it has no record, its size, mtime, ctime or inode differ, or its
    record is racily clean and would no longer be once indexed by a build starting at `started_ns`
    (re-indexing one still inside the window would only produce another racy record)."""
    records = reader.records()
    settled_before = started_ns - RACY_WINDOW_NS
    changed = []
    dead = []
    for entry in files:
        record = records.get(entry.relpath)
        if record is None:
            changed.append(entry)
        elif record.stamp != entry.stamp or (
            record.racily_clean and entry.mtime_ns < settled_before
        ):
            changed.append(entry)
            dead.append(record.file_id)
    walked = {entry.relpath for entry in files}
    dead += [record.file_id for path, record in records.items() if path not in walked]
    return changed, sorted(dead)


def _append_segment(
    index_dir: str,
    reader: IndexReader,
    changed: list[IndexEntry],
    dead: list[int],
    workers: int,
    progress: Callable[[BuildProgress], None] | None,
    started: float,
    started_ns: int,
) -> None:
    """Write the segment of `changed` (if any), then the manifest that appends it and
    tombstones `dead` (global ids) in their segments."""
    manifest = reader.manifest
    generation = manifest.generation + 1
    refs = list(manifest.segments)
    seg_stats = {"bytes": 0, "trigrams": 0, "postings": 0, "unindexed_files": 0}
    if changed:  # else only tombstones: no empty segment
        ref, seg_stats = write_segment(
            index_dir, generation, changed, workers, progress, started_ns
        )
        refs.append(ref)
    dead_bytes = dead_unindexed = 0
    new_tombstones: dict[int, list[int]] = {}  # segment number -> local ids
    for file_id in dead:
        number = reader.segment_number(file_id)
        segment = reader.segments[number]
        local = file_id - segment.base
        table = segment.files_sections()
        dead_bytes += table.sizes[local]
        dead_unindexed += bool(table.flags[local] & FLAG_UNINDEXED)
        new_tombstones.setdefault(number, []).append(local)
    for number, locals_ in new_tombstones.items():
        refs[number] = refs[number]._replace(
            tombstones=sorted([*refs[number].tombstones, *locals_]))
    # A later segment all of whose files are dead answers nothing: it leaves the manifest now
    # (its file goes with the merge step's leftovers) rather than wait for enough small
    # segments to be merged away. (10,000 files added, then deleted, left one in every
    # search's plan and 50 KB of tombstones in every manifest read.)
    emptied = {number for number, ref in enumerate(refs[1 : len(reader.segments)], 1)
               if len(ref.tombstones) >= ref.files}
    refs = [ref for number, ref in enumerate(refs) if number not in emptied]
    old = manifest.stats
    stats = old._replace(
        bytes=max(0, old.bytes - dead_bytes) + seg_stats["bytes"],
        trigrams=old.trigrams + seg_stats["trigrams"]
        - sum(reader.segments[number].header.n_trigrams for number in emptied),
        postings=old.postings + seg_stats["postings"]
        - sum(reader.segments[number].header.n_postings for number in emptied),
        unindexed_files=old.unindexed_files - dead_unindexed + seg_stats["unindexed_files"],
    )
    publish(index_dir, _manifest(generation, refs, stats, started))


def _manifest(
    generation: int, refs: list[SegmentRef], stats: IndexStats, started: float
) -> Manifest:
    """A manifest for `refs`, its stats' counts and times brought up to date."""
    now = time.time()
    return Manifest(generation, refs, stats._replace(
        files=sum(r.files - len(r.tombstones) for r in refs),
        index_bytes=sum(r.bytes for r in refs),
        build_seconds=round(now - started, 3),
        created=now,
        segments=len(refs),
        tombstones=sum(len(r.tombstones) for r in refs),
    ))


# ---------------------------------------------------------------------------------------------
# Merges


def merge_run(refs: list[SegmentRef]) -> tuple[int, int] | None:
    """The run [first, stop) of segments to merge next, if any: the shortest run at the end
    of MERGE_FANIN or more segments within one size tier or below it, unless one of them
    holds most of the run's files (merging would mostly rewrite that one, e.g. the first
    segment, for a few small ones: they wait for more of their size instead).

    Segments are appended as updates come, so the newest (smallest) are at the end, and a run
    there is merged into a segment that takes its place, keeping the manifest order by age."""
    sizes = [max(1, r.files - len(r.tombstones)) for r in refs]
    tiers = [(size.bit_length() - 1) // TIER_BITS for size in sizes]
    for limit in sorted(set(tiers)):
        first = len(tiers)
        while first > 0 and tiers[first - 1] <= limit:
            first -= 1
        run = sizes[first:]
        if len(run) >= MERGE_FANIN and max(run) <= MAX_DOMINANT_SHARE * sum(run):
            return first, len(tiers)
    return None


def merge_segments(root: str) -> None:
    """Merge runs of segments until `merge_run` finds none, then delete what a writer killed
    after publishing its manifest left (see `publish`): an update with nothing to change
    publishes nothing, and kept them. The caller holds the index lock."""
    while True:
        reader = IndexReader.open(root)
        run = merge_run(reader.manifest.segments)
        if run is None:
            remove_leftovers(reader.index_dir, {ref.name for ref in reader.manifest.segments})
            return
        _merge(reader, *run)


def _merge(reader: IndexReader, first: int, stop: int) -> None:
    """Replace segments [first, stop) by one holding their live files and posting lists."""
    started = time.time()
    manifest = reader.manifest
    sources = reader.segments[first:stop]
    for segment in sources:
        segment.verify()  # never carry damage into a segment with fresh checksums
    table = _LiveFiles(sources)
    generation = manifest.generation + 1
    name = segment_name(generation)
    path = os.path.join(reader.index_dir, name)
    with SegmentWriter(path) as writer:
        lists = [_PostingTable(segment) for segment in sources]
        for low, high in _slices(lists):
            keys = [
                table.keys(k, *lists[k].decode(low, high)) for k in range(len(sources))
            ]
            merged = np.concatenate(keys)
            if not len(merged):
                continue
            merged.sort()
            halves = merged.view(np.uint32)  # little-endian: (doc id, trigram) per key
            writer.add_postings(
                *encode_postings(halves[1::2], halves[0::2], table.n_docs), len(merged)
            )
        writer.finish(
            table.sizes, table.mtimes, table.ctimes, table.inodes, table.flags, table.byte_sets,
            table.doc_counts,
            table.paths,
        )
    ref = SegmentRef(
        name, os.path.getsize(path), header_crc(writer.header),
        table.n_files, table.started_ns(sources),
    )
    old = manifest.stats
    stats = old._replace(
        trigrams=old.trigrams - sum(s.header.n_trigrams for s in sources) + writer.n_trigrams,
        postings=old.postings - sum(s.header.n_postings for s in sources) + writer.n_postings,
    )
    refs = [*manifest.segments[:first], ref, *manifest.segments[stop:]]
    publish(reader.index_dir, _manifest(generation, refs, stats, started))


class _LiveFiles:
    """The live files of the merged segments in the new segment's path order, and the map
    from each source segment's local document ids to the new ones (-1: tombstoned)."""

    def __init__(self, sources: list[Segment]) -> None:
        order: list[tuple[bytes, int, int]] = []
        columns = []
        for k, segment in enumerate(sources):
            files = segment.files_sections()
            columns.append(files)
            paths = files.paths.split(b"\0") if files.paths else []
            order += [
                (path, k, local) for local, path in enumerate(paths)
                if local not in segment.tombstones
            ]
        order.sort()
        self.n_files = len(order)
        new_ids = [np.full(s.n_files, -1, np.int64) for s in sources]
        for new, (_, k, local) in enumerate(order):
            new_ids[k][local] = new
        counts = [s.doc_counts() for s in sources]
        self.doc_counts = np.array([counts[k][local] for _, k, local in order], np.int64)
        self.n_docs = int(self.doc_counts.sum())
        # each new file's first document id; the extra last entry is what dead files (-1) read
        new_first_docs = np.zeros(self.n_files + 1, np.int64)
        np.cumsum(self.doc_counts, out=new_first_docs[1:])
        self.new_doc_ids = []  # per source: its document ids -> the new ones (-1: dead)
        for k, segment in enumerate(sources):
            owners = segment.doc_files()
            within = np.arange(len(owners)) - (np.cumsum(counts[k]) - counts[k])[owners]
            new_file = new_ids[k][owners]
            self.new_doc_ids.append(
                np.where(new_file >= 0, new_first_docs[new_file] + within, -1)
            )
        self.sizes = np.array([columns[k].sizes[local] for _, k, local in order], np.uint64)
        self.mtimes = np.array([columns[k].mtimes[local] for _, k, local in order], np.int64)
        self.ctimes = np.array([columns[k].ctimes[local] for _, k, local in order], np.int64)
        self.inodes = np.array([columns[k].inodes[local] for _, k, local in order], np.uint64)
        self.flags = np.array([columns[k].flags[local] for _, k, local in order], np.uint8)
        first_rows = np.cumsum([0] + [s.n_files for s in sources])
        rows = np.array([first_rows[k] + local for _, k, local in order], np.int64)
        all_sets = np.concatenate([s.byte_sets() for s in sources])
        self.byte_sets = all_sets[rows].astype("<u8").view(np.uint8)  # FILE_BYTES rows
        self.paths = b"\0".join(path for path, _, _ in order)
        self._sources = [k for _, k, _ in order]

    def keys(self, k: int, trigrams: np.ndarray, local_ids: np.ndarray) -> np.ndarray:
        """(trigram << 32 | new id) of source k's live (trigram, local document id) pairs."""
        new = self.new_doc_ids[k][local_ids]
        live = new >= 0
        return (trigrams[live].astype(np.uint64) << np.uint64(32)) | new[live].astype(np.uint64)

    def started_ns(self, sources: list[Segment]) -> int:
        """The merged segment's build start: the latest that keeps racily clean every file
        that was racily clean in its own segment (see "Racily clean files" in format.py)."""
        latest = max(s.ref.started_ns for s in sources)
        racy = self.mtimes >= np.array(
            [sources[k].racy_after_ns for k in self._sources], np.int64
        )
        if racy.any():
            latest = min(latest, int(self.mtimes[racy].min()) + RACY_WINDOW_NS)
        return latest


class _PostingTable:
    """Where each posting list of a (verified) segment lies, and their bulk decoding."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        n = segment.header.n_trigrams
        self.trigrams = np.frombuffer(segment.section("DICT_TRIGRAMS"), "<u4", n).astype(np.int64)
        rel_ends = np.frombuffer(segment.section("DICT_ENDS"), "<u4", n).astype(np.int64)
        blocks = np.arange(n) // DICT_BLOCK_ENTRIES
        block_base = np.frombuffer(segment.section("DICT_BASE"), "<u8", segment.n_dict_blocks)
        base = block_base.astype(np.int64)[blocks]
        rel_starts = np.zeros(n, np.int64)
        rel_starts[1:] = rel_ends[:-1]
        rel_starts[::DICT_BLOCK_ENTRIES] = 0
        self.starts = base + rel_starts
        self.ends = base + rel_ends
        lengths = self.ends - self.starts
        # at most this many ids per list: one per varint byte, n_docs for a bitmap
        self.weights = np.where(lengths == bitmap_bytes(segment.n_docs), segment.n_docs, lengths)

    def decode(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """(trigram, local document id) of every posting of the trigrams in [low, high)."""
        i, j = np.searchsorted(self.trigrams, [low, high])
        if i == j:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        # the lists lie in trigram order: read theirs at once (a slice's, not the segment's)
        first = int(self.starts[i])
        postings = np.frombuffer(self.segment.posting_bytes(first, int(self.ends[j - 1])),
                                 np.uint8)
        lists, ids = _decode_lists(
            postings, self.starts[i:j] - first, self.ends[i:j] - first, self.segment
        )
        return self.trigrams[i:j][lists], ids


def _slices(tables: list[_PostingTable]) -> list[tuple[int, int]]:
    """Trigram ranges [low, high) covering every trigram, each holding about MERGE_SLICE_IDS
    postings over all `tables`, so a merge's memory is bounded whatever the segments' size."""
    trigrams = np.concatenate([t.trigrams for t in tables])
    weights = np.concatenate([t.weights for t in tables])
    order = np.argsort(trigrams, kind="stable")
    trigrams, cumulative = trigrams[order], np.cumsum(weights[order])
    total = int(cumulative[-1]) if len(cumulative) else 0
    marks = np.arange(MERGE_SLICE_IDS, total, MERGE_SLICE_IDS)
    cuts = np.unique(trigrams[np.searchsorted(cumulative, marks)]).tolist()
    bounds = [0, *(c for c in cuts if c > 0), 1 << 32]
    return list(itertools.pairwise(bounds))


def _decode_lists(
    postings: np.ndarray, starts: np.ndarray, ends: np.ndarray, segment: Segment
) -> tuple[np.ndarray, np.ndarray]:
    """(list number, local document id) of every id of the posting lists
    postings[starts[i]:ends[i]], decoded all at once (the format is in `trigrep.index.format`)."""
    n_docs = segment.n_docs
    lengths = ends - starts
    is_bitmap = lengths == bitmap_bytes(n_docs)
    list_parts: list[np.ndarray] = []
    id_parts: list[np.ndarray] = []
    varint = np.flatnonzero(~is_bitmap)
    if len(varint):
        sizes = lengths[varint]
        total = int(sizes.sum())
        list_offsets = np.cumsum(sizes) - sizes
        raw = postings[np.repeat(starts[varint] - list_offsets, sizes) + np.arange(total)]
        if (raw[list_offsets + sizes - 1] & 0x80).any():
            raise segment.corrupt("malformed posting list")
        values, value_starts = leb128_values(raw)
        owners = np.repeat(np.arange(len(varint)), sizes)[value_starts]
        steps = np.cumsum(values + 1)  # id = running sum of (gap + 1) - 1, restarted per list
        first = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
        before = np.concatenate(([0], steps[first[1:] - 1]))
        ids = steps - 1 - np.repeat(before, np.diff(np.append(first, len(values))))
        list_parts.append(varint[owners])
        id_parts.append(ids)
    bitmaps = np.flatnonzero(is_bitmap)
    rows_at_once = max(1, MERGE_SLICE_IDS // max(n_docs, 1))
    for at in range(0, len(bitmaps), rows_at_once):
        rows = bitmaps[at : at + rows_at_once]
        matrix = postings[starts[rows][:, None] + np.arange(bitmap_bytes(n_docs))]
        bits = np.unpackbits(matrix, axis=1, bitorder="little")[:, :n_docs]
        row, ids = np.nonzero(bits)
        list_parts.append(rows[row])
        id_parts.append(ids)
    if not id_parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    ids = np.concatenate(id_parts)
    if len(ids) and (ids.min() < 0 or ids.max() >= n_docs):
        raise segment.corrupt("posting list names a document that does not exist")
    return np.concatenate(list_parts), ids
