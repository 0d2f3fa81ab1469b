"""A served tree: what the daemon (and `trigrep.Index(watch=True)`) keeps warm of one tree
between searches, so that a search neither walks nor stats the whole tree.

Per tree it keeps the index reader open and the result of one `walk()` (the files with their
stats, and the hidden or ignored entries it left out, which `-g`/`-t` can bring back in:
searches with globs and types filter this cached walk with the walker's own `EntryFilter`), and
a watcher (`trigrep.server.watch`: inotify on each directory the walk entered) that marks what
changed: a content edit marks that file for a re-stat; an add, delete or rename marks its
directory to be listed again (new subdirectories are walked, known ones keep their cached
contents: a change inside one marks it), and an edited ignore file (or a new `.git`) the
directory it governs, for a re-walk of that subtree, as does a known directory removed or made
anew (a directory moved in brings files no event reported). Marks are applied lazily, before
the next search that uses the cached walk.

Never stale: before using the cache, a search waits until the watcher has handed over every
event the kernel had queued when the search arrived (`TreeWatcher.caught_up`: at once when
the queue is empty). The kernel queues an event before the change that caused it returns,
so by then every change made before the search arrived has been marked. If that takes too
long the whole tree is re-walked. What no watcher of the tree sees (rule files above it or
elsewhere, the index's own files) is checked with a few stats.

The index is kept up to date by an `IndexUpdater` (`trigrep.server.updater`): once the
watcher's changes have gone quiet (or a search found many stale files), it runs `trigrep
index ROOT` in a subprocess. Searches never wait for it: they keep the open reader until the
manifest changes.

A module of its own, apart from the socket server (`trigrep.server.daemon`), because the API
keeps a tree warm in its own process without one.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from trigrep.engine import freshness, say_rebuilding
from trigrep.errors import Error, IndexCorruptError, IndexFormatError, IndexVersionError
from trigrep.index import IndexReader
from trigrep.index.format import MANIFEST_NAME, Stamp, stat_stamp
from trigrep.options import WalkOptions
from trigrep.parallel import SearchPool, SharedSearchPool
from trigrep.roots import INDEX_DIR_NAME
from trigrep.server.protocol import Message
from trigrep.server.updater import IndexUpdater
from trigrep.server.watch import ADDED, ENTRIES_MASK, MODIFIED, Batch, TreeWatcher
from trigrep.walk import (
    EntryFilter,
    FileEntry,
    Ruling,
    Walker,
    collapses_as_text,
    rule_files_outside,
)

if TYPE_CHECKING:
    import numpy as np

SYNC_TIMEOUT = 2.0  # seconds to wait for the watcher before re-walking everything
IGNORE_FILES = frozenset((".gitignore", ".ignore", ".rgignore"))
GIT_INFO = ".git/info"
GIT_EXCLUDE = GIT_INFO + "/exclude"
MAX_VIEWS = 8  # lists of files kept (see `_views`), and sets of glob and type verdicts

Key = tuple[bytes, ...]  # a relative path's components: their order is the walk's
T = TypeVar("T")


def _key(rel: str) -> Key:
    return tuple(os.fsencode(rel).split(b"/")) if rel else ()


def _subtree_range(keys: list[Key], directory: Key) -> tuple[int, int]:
    """[lo, hi) of the sorted `keys` below `directory` (contiguous: the walk is depth first)."""
    if not directory:
        return 0, len(keys)
    lo = bisect.bisect_left(keys, directory)
    hi = bisect.bisect_left(keys, (*directory[:-1], directory[-1] + b"\0"))
    return lo, hi


class _Shown:
    """The cached files as a search from another directory than the root lists them (its
    path argument, or the API's root): copies of the cached entries whose display is `shown`
    joined to their path below the search's directory (`skip`: the length of that path's
    part naming the directory). Each copy is made once and kept while its cached entry is
    (a cached entry is replaced, never changed, when its file changes): every view of the
    tree made its 78,000 copies of the Linux tree's entries again after each edit, 170 ms
    of the API's next search (which searches from the root's absolute path)."""

    def __init__(self, shown: str, skip: int) -> None:
        self.base = os.path.join(shown, "")
        self.skip = skip
        self._copies: dict[FileEntry, FileEntry] = {}  # by cached entry (by identity)

    def display(self, rel: str) -> str:
        """How the search shows the cached path `rel` (as os.path.join(shown, rel[skip:]))."""
        return self.base + rel[self.skip :]

    def copies(self, cached: list[FileEntry], files: int) -> list[FileEntry]:
        """The copies of `cached`, some of the `files` cached files below the directory."""
        copies = self._copies
        if len(copies) > 2 * files + 1024:  # (mostly of files replaced since)
            copies.clear()
        found = []
        for entry in cached:
            copy = copies.get(entry)
            if copy is None:
                copy = copies[entry] = FileEntry(
                    self.base + entry.display[self.skip :], entry.path, False, entry.stat())
            found.append(copy)
        return found


def _seen_as_cached(shown: str, rel: str) -> bool:
    """Whether git's global excludes see the files of a search shown from `shown` as the
    cache's walk saw those of `rel` (from the root): rg matches them against the shown path
    minus a leading `./`, twice, and a leading `/`, as walk.Walker does."""
    seen = os.path.join(shown, "").removeprefix("./").removeprefix("./").removeprefix("/")
    return seen == os.path.join(rel, "").removeprefix("/")


def _is_below(rel: str, directory: str) -> bool:
    return not directory or rel == directory or rel.startswith(directory + "/")


def _merged(fresh: list[T], fresh_keys: list[Key], cached: list[T], cached_keys: list[Key],
            kept: list[tuple[int, int]]) -> tuple[list[T], list[Key]]:
    """`fresh` (sorted by `fresh_keys`) with the slices `kept` of `cached` (each the subtree
    of a kept directory, so no fresh key falls inside one) put in their places, and the keys."""
    items, keys = [], []
    done = 0
    for klo, khi in sorted(kept):
        if klo == khi:
            continue
        at = bisect.bisect_left(fresh_keys, cached_keys[klo], done)
        items += fresh[done:at] + cached[klo:khi]
        keys += fresh_keys[done:at] + cached_keys[klo:khi]
        done = at
    return items + fresh[done:], keys + fresh_keys[done:]


def _indexed_paths(reader: IndexReader, entries: Iterable[FileEntry],
                   missed: list[str] | None = None) -> dict[str, int]:
    """Absolute path -> file id of those `entries` the index holds as they are now. The
    paths of the others whose stat is no longer the one the walk took (a change the watcher
    did not report) are added to `missed`, if given: see `ServedTree._take_again`."""
    indexed_id = freshness(reader).indexed_id
    found = {}
    for entry in entries:
        file_id, changed = indexed_id(entry)
        if file_id >= 0:
            found[entry.path] = file_id
        elif changed and missed is not None and _stat_changed(entry):
            missed.append(entry.path)
    return found


def _stat_changed(entry: FileEntry) -> bool:
    """Whether the file's stat now differs from the one `entry` holds (or it is gone)."""
    try:
        return stat_stamp(os.stat(entry.path)) != stat_stamp(entry.stat())
    except OSError:
        return True


def _ids_in(indexed: dict[str, int], entries: Sequence[FileEntry]) -> np.ndarray:
    """Per entry, its id in `indexed` (see `_indexed_paths`), else -1."""
    import numpy as np

    known = indexed.get
    return np.fromiter((known(entry.path, -1) for entry in entries), np.int64, len(entries))


def _outside_rules(root: str, elsewhere: Iterable[bytes] = ()) -> list[Stamp | None]:
    """The `stat_stamp` (None if missing) of each rule file outside the tree, and of those
    the walk read `elsewhere` (`Walker.rules_elsewhere`: symlinked ones, a worktree's exclude
    file): an edit there changes which files are searched, and no watcher of the tree sees
    it."""
    stamps: list[Stamp | None] = []
    for path in [*rule_files_outside(root), *sorted(elsewhere)]:
        try:
            st = os.stat(path)
        except OSError:
            stamps.append(None)
        else:
            stamps.append(stat_stamp(st))
    return stamps


@dataclass
class _View:
    entries: list[FileEntry]
    span: tuple[int, int] | None = None  # the files it lists, when `_files[lo:hi]` (unfiltered)
    ids: np.ndarray | None = None
    ids_for: IndexReader | None = None  # the index `ids` were worked out for


class ServedTree:
    """One watched tree: its cached walk, its index reader, and what changed since."""

    def __init__(self, root: str, pool: SharedSearchPool | None = None) -> None:
        self.root = root
        self._root_id = _dir_id(root)  # (see `replaced`)
        self._pool = pool
        self.prefix = os.path.join(root, "")
        self._lock = threading.RLock()
        self._files: list[FileEntry] = []  # walk order; display = path relative to the root
        self._keys: list[Key] = []  # _key of each of _files
        self._cached: set[str] = set()  # the relative paths in _files
        self._dirs: set[str] = set()  # directories the walk descended into ("" the root)
        # directories the walk could not list (unreadable): no watcher sees them become
        # readable, and searches must report them as rg does (see `entries`)
        self._unlisted: set[str] = set()
        # directories holding an ignore file with errors ("": the root, or above it): a search
        # whose walk reads it walks, to report them as rg does
        self._bad_rules: set[str] = set()
        # what the walk left out, so globs and types that bring entries in can be answered:
        self._skipped: list[_Skipped] = []  # in walk order
        self._skipped_keys: list[Key] = []  # _key of each of _skipped
        self._dirty_dirs: set[str] = set()  # subtrees to re-walk
        self._relisted_dirs: set[str] = set()  # directories to list again (not their subtrees)
        self._dirty_files: set[str] = set()  # cached files to re-stat
        self._rules_elsewhere: set[bytes] = set()  # see `_outside_rules`
        # The stat of each rule file outside the tree (see `rule_files_outside`) at the walk.
        self._outside_rules = _outside_rules(root)
        # False when git's global excludes hold a pattern a search's walk decides by the
        # paths it shows (relative to its cwd): the cache, walked as seen from the root, then
        # serves only searches whose paths are shown as from the root (see `_seen_as_cached`).
        self._global_by_name = True
        self._reader: IndexReader | None = None
        # Cached files the index holds as they are now: absolute path -> file id, as
        # `engine.freshness(_indexed_by).indexed_id` says (kept up to date as files change).
        self._indexed: dict[str, int] = {}
        self._indexed_by: IndexReader | None = None
        # `_indexed` for each of _files, as `indexed_ids` gives them (None: not worked out
        # since the index changed); changed files are patched in, never in place (searches
        # hold slices of it).
        self._ids: np.ndarray | None = None
        self._files_version = 0  # changes of _files so far
        # Lists of cached files as searches asked for them (by path shown, directory, globs
        # and types), with their `indexed_ids`: reused until something changes.
        self._views: dict[tuple[str, str, Hashable], _View] = {}
        self._views_dropped = 0  # how many times _views were dropped (a view's age)
        # What a view's globs and types decided of each cached file and directory, by path
        # (see `_filtered`): kept when the views are dropped.
        self._verdicts: dict[tuple[str, str, Hashable], dict[str, bool]] = {}
        # The cached files as searches from elsewhere than the root list them, by the
        # directory shown and the length of its path below the root (see `_Shown`).
        self._shown: dict[tuple[str, int], _Shown] = {}
        self._manifest_stamp: tuple[int, int] | None = None
        # While a replaced index is reopened in the background: paths changed meanwhile.
        self._touched: set[str] | None = None
        # No index to use (its build asked for): searches go without one until a manifest
        # other than this one (its stamp; None: there was none) opens. The index was never
        # built, or is of another version, or was found `_damaged`.
        self._unindexed = False
        self._unindexed_stamp: tuple[int, int] | None = None
        self._damaged = False
        self._updater = IndexUpdater(root)
        self._watcher = TreeWatcher(f"watch {root}", self._note)
        self._blind_said = False
        self.listeners: list[Callable[[list[str]], None]] = []
        self.counters = {
            "searches": 0, "warm_searches": 0, "events": 0, "rewalks": 0, "index_repairs": 0,
        }
        self.last_update = time.time()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Walk, watching each directory before it is listed: changes made while no daemon
        ran are caught up by the walk, and those made during it by the watcher. A tree
        without an index is served at once, its files read by every search until the
        updater has built one."""
        self._watcher.start()
        with self._lock:
            self._dirty_dirs = {""}
            self._apply_changes()
            if not os.path.exists(os.path.join(self.root, INDEX_DIR_NAME, MANIFEST_NAME)):
                self._rebuild(None, None)
        self.reader()  # checks every file against the index now, not at the first search
        self._updater.start()  # catches up with changes made while no daemon ran

    def stop(self) -> None:
        self._watcher.stop()
        self._updater.stop()

    # -- watching --------------------------------------------------------------------------

    def _note(self, batch: Batch, overflowed: bool) -> None:
        """Mark what one batch of watcher events means for the cached walk."""
        relevant: list[str] = []
        with self._lock:
            if overflowed:
                self._dirty_dirs.add("")  # events were lost: trust nothing
            for change, path in batch:
                if not path.startswith(self.prefix):
                    continue
                rel = path[len(self.prefix) :]
                if self._mark(rel, change):
                    relevant.append(rel)
            self.counters["events"] += len(relevant)
        if relevant:
            self._updater.changed()
            for listener in list(self.listeners):
                listener(sorted(relevant))

    def _mark(self, rel: str, change: str) -> bool:
        """Mark one changed path; False when it cannot change what is searched."""
        directory, _, name = rel.rpartition("/")
        components = rel.split("/")
        if rel.endswith("/" + GIT_EXCLUDE) or rel == GIT_EXCLUDE:
            repo = rel[: -len(GIT_EXCLUDE)].rstrip("/")
            return self._mark_dir(repo)
        if (rel.endswith("/" + GIT_INFO) or rel == GIT_INFO) and change == ADDED:
            # a new .git/info: the repository's re-walk watches it (its exclude file counts)
            return self._mark_dir(rel[: -len(GIT_INFO)].rstrip("/"))
        if ".git" in components[:-1]:
            return False  # git's own files: only info/exclude matters
        if rel in self._unlisted:  # perhaps readable now (chmod)
            return self._mark_dir(directory, relist=True)
        if directory not in self._dirs:
            return False  # in an ignored or hidden directory, or a new one (its parent is marked)
        if name in IGNORE_FILES or name == ".git":
            return self._mark_dir(directory)  # the rules of the whole subtree may have changed
        if change != MODIFIED:
            if rel in self._dirs:  # a directory the walk knew, gone or made anew: walk it again
                self._mark_dir(rel)
            return self._mark_dir(directory, relist=True)
        if rel in self._cached:
            self._dirty_files.add(rel)
            self._dirty_files.update(self._other_links(rel))
            return True
        if rel in self._dirs:  # its metadata: a chmod may have made it (or below) unreadable
            return self._mark_dir(rel)
        return False  # an ignored file

    def _other_links(self, rel: str) -> list[str]:
        """The cached file's other names in the tree (hard links): a write through one name
        is reported for that name only. (One through a name outside the tree is not reported
        at all: see the README.) A pass over the cache, for files with several links only."""
        st = self._files[bisect.bisect_left(self._keys, _key(rel))].known_stat()
        if st is None or st.st_nlink < 2:
            return []
        inode = (st.st_ino, st.st_dev)
        return [entry.display for entry in self._files if entry.display != rel
                and (s := entry.known_stat()) is not None and (s.st_ino, s.st_dev) == inode]

    def _mark_dir(self, directory: str, *, relist: bool = False) -> bool:
        """Mark `directory` to be walked again, or with `relist` only listed again: an entry
        was added or removed, and a change below its subdirectories marks those."""
        if directory not in self._dirs:
            return False
        (self._relisted_dirs if relist else self._dirty_dirs).add(directory)
        return True

    def replaced(self) -> bool:
        """Whether the root's path now names another directory (the tree moved away and
        another put in its place, e.g. a copy with its `.trigrep/`, which the daemon would
        lock again): the watches follow the directory moved away."""
        return _dir_id(self.root) != self._root_id

    def sync(self, timeout: float = SYNC_TIMEOUT) -> bool:
        """Wait until the watcher has reported every change made before this call."""
        if self._watcher.blind:
            self._go_blind()
            with self._lock:
                self._dirty_dirs.add("")  # nothing reports changes: walk everything again
            return True
        outside_rules = _outside_rules(self.root, self._rules_elsewhere)  # unwatched: stats
        seen = self._watcher.caught_up(timeout)
        with self._lock:
            if outside_rules != self._outside_rules:
                self._outside_rules = outside_rules
                self._dirty_dirs.add("")  # which files are in may have changed anywhere
            if not seen:
                self._dirty_dirs.add("")  # the watcher is behind: trust nothing
        return seen

    def _go_blind(self) -> None:
        """Say once, in the log, that this tree is searched as if it were not watched."""
        if not self._blind_said:
            self._blind_said = True
            sys.stderr.write(f"trigrep: {self.root}: {self._watcher.blind}: every search "
                             "walks the tree again\n")

    # -- the cached walk -------------------------------------------------------------------

    def _apply_changes(self) -> None:
        """Re-walk the marked subtrees, re-list the marked directories and re-stat the marked
        files (lock held)."""
        if not (self._dirty_dirs or self._relisted_dirs or self._dirty_files):
            return
        dirs = sorted(self._dirty_dirs, key=_key)
        outermost = [d for i, d in enumerate(dirs) if not any(_is_below(d, o) for o in dirs[:i])]
        relisted = {d for d in self._relisted_dirs
                    if not any(_is_below(d, o) for o in outermost)}
        # (`_ids` copied once for the files re-stat'ed in place: a copy each, as `_patch_ids`
        # makes, would cost a burst of thousands of edits the whole array each)
        ids = None if self._ids is None else self._ids.copy()
        for rel in sorted(self._dirty_files):
            directory = rel.rpartition("/")[0]
            if directory in relisted or any(_is_below(rel, d) for d in outermost):
                continue  # listed again below
            lo = bisect.bisect_left(self._keys, _key(rel))
            self._forget_indexed(self._files[lo].path)
            try:
                self._files[lo] = _entry(rel, self.prefix + rel, os.stat(self.prefix + rel))
            except OSError:
                relisted.add(directory)  # gone: its deletion is on the way
            else:
                self._note_indexed(self._files[lo : lo + 1])
            if ids is not None:
                ids[lo] = self._indexed.get(self._files[lo].path, -1)
        self._ids = ids
        self._files_version += 1
        for directory in outermost:
            self._rewalk(directory, relist=False)
        for directory in sorted(relisted, key=_key):
            if directory in self._dirs:  # else gone with a directory listed before it
                self._rewalk(directory, relist=True)
        self._dirty_dirs.clear()
        self._relisted_dirs.clear()
        self._dirty_files.clear()
        self._drop_views()
        self.last_update = time.time()

    def _rule_dir(self, rule_file: bytes) -> str:
        """The directory (relative to the root) whose walk reads `rule_file`: "" for the
        root's and for those above it (every search reads them)."""
        directory = os.path.dirname(os.fsdecode(rule_file))
        if directory.endswith("/.git/info"):  # a repository's exclude file
            directory = directory[: -len("/.git/info")]
        return directory[len(self.prefix) :] if directory.startswith(self.prefix) else ""

    def _rewalk(self, directory: str, *, relist: bool) -> None:
        """Replace the cached files and directories below `directory` by a fresh walk of it;
        with `relist`, its subdirectories the cache holds are kept as they are and only new
        ones are walked: a file added at the root costs one listing, not a walk of the tree."""
        self.counters["rewalks"] += 1
        key = _key(directory)
        below = {d for d in self._dirs if _is_below(d, directory)}
        kept: list[str] = []  # subdirectories whose cached contents stay

        def descend(path: bytes) -> bool:
            absolute = os.fsdecode(path)
            rel = absolute[len(self.prefix) :]
            if relist and rel in below:
                kept.append(rel)
                return False
            self._watcher.watch(absolute)  # before it is listed
            return True

        absolute = self.prefix + directory if directory else self.root
        self._watcher.watch(absolute)
        fresh: list[FileEntry] = []
        skipped: list[_Skipped] = []
        walked_dirs: list[bytes] = []
        failed: list[bytes] = []
        bad_rules: list[bytes] = []

        def on_skipped(path: bytes, is_dir: bool, ignored: bool) -> None:
            skipped.append(_Skipped(os.fsdecode(path)[len(self.prefix) :], is_dir, ignored))
        # Marked directories were walked, and no ancestor is being re-walked, so none of the
        # rules that let the walk descend into it has changed: walking it alone is the same.
        if os.path.isdir(absolute):
            walker = Walker([absolute], WalkOptions(), on_directory=walked_dirs.append,
                            on_skipped=on_skipped, descend=descend,
                            seen_from=os.fsencode(self.root))
            for entry in walker:
                rel = entry.path[len(self.prefix) :]
                with contextlib.suppress(OSError):  # vanished already: its event will follow
                    fresh.append(_entry(rel, entry.path, os.stat(entry.path)))
            failed, bad_rules = walker.failed, walker.bad_rule_files
            self._global_by_name = walker.global_by_name
            if not walker.rules_elsewhere <= self._rules_elsewhere:
                # from now on checked before each search, from their state at this walk
                self._rules_elsewhere |= walker.rules_elsewhere
                self._outside_rules = _outside_rules(self.root, self._rules_elsewhere)
        root_bytes = os.fsencode(self.prefix)
        walked = {os.fsdecode(d.removeprefix(root_bytes)) if d != os.fsencode(self.root) else ""
                  for d in walked_dirs}
        kept_keys = [_key(d) for d in kept]
        self._dirs -= below
        self._dirs |= walked
        self._unlisted = {d for d in self._unlisted if not _is_below(d, directory)
                          or any(_is_below(d, k) for k in kept)}
        self._unlisted.update(os.fsdecode(path)[len(self.prefix) :] for path in failed)
        self._bad_rules = {d for d in self._bad_rules if not _is_below(d, directory)
                           or any(_is_below(d, k) for k in kept)}
        self._bad_rules.update(self._rule_dir(path) for path in bad_rules)
        inside = len(directory) + 1 if directory else 0  # where a path below it goes on
        kept_names = {d[inside:] for d in kept}
        self._dirs.update(d for d in below if d[inside:].partition("/")[0] in kept_names)
        self._watcher.unwatch(self.prefix + d if d else self.root for d in below - self._dirs)
        for d in walked:  # git repositories: their .git/info/exclude counts as an ignore file
            git = os.path.join(self.prefix + d if d else self.root, ".git")
            if os.path.isdir(git):
                self._watcher.watch(git, ENTRIES_MASK)
                self._watcher.watch(os.path.join(git, "info"))

        lo, hi = _subtree_range(self._keys, key)
        kept_ranges = [_subtree_range(self._keys, k) for k in kept_keys]
        start = lo
        for klo, khi in [*kept_ranges, (hi, hi)]:  # what is not kept is replaced
            for entry in self._files[start:klo]:
                self._cached.discard(entry.display)
                self._forget_indexed(entry.path)
            start = khi
        if self._watcher.blind and _stamps(self._files[lo:hi]) != _stamps(fresh):
            self._updater.changed()  # no event says so: the walk found the change
        fresh_keys = [_key(entry.display) for entry in fresh]
        merged, merged_keys = _merged(fresh, fresh_keys, self._files, self._keys, kept_ranges)
        self._files[lo:hi], self._keys[lo:hi] = merged, merged_keys
        self._cached.update(entry.display for entry in fresh)
        self._note_indexed(fresh)
        self._patch_ids(lo, hi, len(merged))
        lo, hi = _subtree_range(self._skipped_keys, key)
        self._skipped[lo:hi], self._skipped_keys[lo:hi] = _merged(
            skipped, [_key(entry.rel) for entry in skipped], self._skipped, self._skipped_keys,
            [_subtree_range(self._skipped_keys, k) for k in kept_keys])

    def _forget_indexed(self, path: str) -> None:
        """`path` changed: search it directly until it is checked against the index again."""
        self._indexed.pop(path, None)
        if self._touched is not None:
            self._touched.add(path)

    def _note_indexed(self, entries: Iterable[FileEntry]) -> None:
        """Record which of `entries` (just stat'ed) the open index holds as they are."""
        if self._indexed_by is not None:
            self._indexed.update(_indexed_paths(self._indexed_by, entries))

    def _patch_ids(self, lo: int, hi: int, size: int) -> None:
        """`_ids` after `_files[lo:hi]` became `size` files, now in `_indexed` as they are
        (lock held): those looked up again, the others kept. The first search after a change
        looked up every file (10-28 ms for the Linux tree's 78,000 under load, most of that
        search)."""
        self._files_version += 1
        if self._ids is not None:
            import numpy as np

            self._ids = np.concatenate([
                self._ids[:lo], _ids_in(self._indexed, self._files[lo : lo + size]),
                self._ids[hi:]])

    def indexed_ids(self, entries: Sequence[FileEntry], reader: IndexReader) -> np.ndarray:
        """Per entry, its id in `reader` if the index holds it as it is now, else -1: a dict
        lookup per file (a check per file costs ten times as much), done for every file once
        per index (see `_patch_ids`), for the files a glob or type picks once per change."""
        import numpy as np

        with self._lock:
            if reader is not self._indexed_by:  # a search that began before a reopen
                indexed_id = freshness(reader).indexed_id
                return np.fromiter((indexed_id(entry)[0] for entry in entries), np.int64,
                                   len(entries))
            view = next((v for v in self._views.values() if v.entries is entries), None)
            if view is not None and view.ids_for is reader and view.ids is not None:
                return view.ids
            if view is not None and view.span is not None:
                if self._ids is None:
                    self._ids = _ids_in(self._indexed, self._files)
                lo, hi = view.span
                ids = self._ids[lo:hi]
            else:
                ids = _ids_in(self._indexed, entries)
            ids.setflags(write=False)
            if view is not None:
                view.ids, view.ids_for = ids, reader
            return ids

    def entries(self, paths: Sequence[str], opts: WalkOptions) -> list[FileEntry] | None:
        """The files `walk(paths, opts)` yields now (cwd as the search's), from the cache when
        the walk is the default one over the root or a directory the cache walked, narrowed
        by globs and types as the walker would; None when they bring in a directory the
        cached walk left out."""
        if not opts.is_default or len(paths) > 1 or (paths and (
                not paths[0] or not collapses_as_text(paths[0]))):
            return None  # (the walk resolves such a `..` and reports errors as rg does)
        entry_filter = EntryFilter(opts) if opts.filtered else None  # bad globs raise here
        directory = os.path.abspath(paths[0] if paths else ".")
        if directory != self.root and not directory.startswith(self.prefix):
            return None
        rel = directory[len(self.prefix) :] if directory != self.root else ""
        if not os.path.isdir(directory) or os.path.realpath(directory) != directory:
            return None
        shown = paths[0] if paths else ""
        skip = len(rel) + 1 if rel else 0

        filter_key = None if entry_filter is None else _filter_key(opts)
        self.sync()
        if self.replaced():
            return None  # walked for real (and the daemon stops: see `Daemon._still_serving`)
        with self._lock:
            self._apply_changes()
            if rel not in self._dirs:
                return None  # e.g. a hidden or ignored directory named explicitly
            if not (self._global_by_name or _seen_as_cached(shown, rel)):
                return None
            unlisted = [d for d in self._unlisted if _is_below(d, rel)]
            if unlisted:  # the search walks, to report them as rg does; listed again next
                self._relisted_dirs.update(d.rpartition("/")[0] for d in unlisted)
                return None
            if any(_is_below(d, rel) or _is_below(rel, d) for d in self._bad_rules):
                return None  # the search walks, to report the errors as rg does
            view = self._views.get((shown, rel, filter_key))
            if view is not None:
                self.counters["warm_searches"] += 1
                return view.entries
            scope = _key(rel)
            lo, hi = _subtree_range(self._keys, scope)
            as_shown = self._as_shown(shown, skip) if skip or shown else None
            if entry_filter is None:
                listed = self._files[lo:hi]
                if as_shown is not None:
                    listed = as_shown.copies(listed, hi - lo)
                self._keep_view((shown, rel, None), listed, (lo, hi))
                self.counters["warm_searches"] += 1
                return listed
            cached = self._files[lo:hi]
            lo, hi = _subtree_range(self._skipped_keys, scope)
            skipped = self._skipped[lo:hi]
            dirs = [d for d in self._dirs if d != rel and _is_below(d, rel)]
            dropped = self._views_dropped
            verdicts = self._verdicts.pop((shown, rel, filter_key), {})
            if len(verdicts) > 2 * (len(cached) + len(dirs)):
                verdicts = {}  # mostly of paths gone since (temporary files, say)
            if len(self._verdicts) >= MAX_VIEWS:
                del self._verdicts[next(iter(self._verdicts))]  # (the least recently used)
            self._verdicts[(shown, rel, filter_key)] = verdicts
        # Filtered off the lock: a pass over every cached file.
        found = _filtered(entry_filter, as_shown, self.prefix, cached, skipped, dirs, verdicts)
        if found is None:
            return None
        with self._lock:
            if self._views_dropped == dropped:  # nothing changed meanwhile
                self._keep_view((shown, rel, filter_key), found)
            self.counters["warm_searches"] += 1
        return found

    def _keep_view(self, key: tuple[str, str, Hashable], entries: list[FileEntry],
                   span: tuple[int, int] | None = None) -> None:
        """Cache a list of files searches asked for (lock held); `span`: see _View."""
        if len(self._views) >= MAX_VIEWS:
            self._drop_views()
        self._views[key] = _View(entries, span)

    def _as_shown(self, shown: str, skip: int) -> _Shown:
        """The `_Shown` of searches from `shown` (lock held; the least recently made go)."""
        as_shown = self._shown.get((shown, skip))
        if as_shown is None:
            if len(self._shown) >= MAX_VIEWS:
                del self._shown[next(iter(self._shown))]
            as_shown = self._shown[(shown, skip)] = _Shown(shown, skip)
        return as_shown

    def _drop_views(self) -> None:
        """Forget the cached lists of files: something changed (lock held)."""
        self._views.clear()
        self._views_dropped += 1

    # -- the index -------------------------------------------------------------------------

    def reader(self) -> IndexReader | None:
        """The open index (None while a damaged one is rebuilt). When a build or update has
        replaced the manifest since, the new one is opened in the background (with
        `indexed_ids` worked out for it), and searches use the previous one until then: a
        reader stays valid after its files are replaced."""
        try:
            st = os.stat(os.path.join(self.root, INDEX_DIR_NAME, MANIFEST_NAME))
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            if not os.path.isdir(os.path.join(self.root, INDEX_DIR_NAME)):
                return None  # .trigrep/ deleted: the daemon stops (see Daemon.run)
            stamp = None  # the manifest alone deleted: damage, as IndexReader.open says
        with self._lock:
            if self._unindexed:
                if stamp not in (self._unindexed_stamp, None):
                    self._reopen_in_background(stamp)  # rebuilt, likely
            elif self._reader is None or self._reader.written_since_open(
                    or_deleted=stamp == self._manifest_stamp):
                try:
                    reader = IndexReader.open(self.root)
                    missed: list[str] = []
                    self._install(reader, stamp, _indexed_paths(reader, self._files, missed))
                    self._take_again(missed)
                except IndexCorruptError as e:
                    self._rebuild(stamp, e)
                except IndexVersionError:
                    self._rebuild(stamp, None)
            elif stamp != self._manifest_stamp:
                self._reopen_in_background(stamp)
            return self._reader

    def _reopen_in_background(self, stamp: tuple[int, int] | None) -> None:
        """Open the index of manifest `stamp` in the background, unless one is opening (lock
        held)."""
        if self._touched is None:
            self._touched = set()
            threading.Thread(target=self._reopen, args=(stamp,), daemon=True,
                             name=f"reopen {self.root}").start()

    def index_damaged(self, reader: IndexReader, damage: IndexCorruptError) -> None:
        with self._lock:
            if reader is self._reader:  # (an index replaced since is no longer searched)
                self._rebuild(self._manifest_stamp, damage)

    def _rebuild(self, stamp: tuple[int, int] | None, damage: IndexCorruptError | None
                 ) -> None:
        """Stop using the index of manifest `stamp` (None: there is none), found damaged
        (`damage`, said in the log) or of another version, and have the updater build it in
        full: the next searches read every file, as rg does, until the new index opens. Asked
        for once, however many searches find the damage (lock held)."""
        if self._unindexed and stamp == self._unindexed_stamp:
            return
        if damage is not None:
            say_rebuilding(damage)
            self._damaged = True
            self.counters["index_repairs"] += 1
        self._unindexed, self._unindexed_stamp = True, stamp
        self._reader = self._indexed_by = None
        self._indexed, self._ids = {}, None
        self._drop_views()
        self._updater.rebuild()

    def _install(self, reader: IndexReader, stamp: tuple[int, int] | None,
                 indexed: dict[str, int]) -> None:
        """Make `reader` the open index, `indexed` its `_indexed_paths` (lock held). The cached
        lists of files stay: their ids are worked out again for the new index (see
        `indexed_ids`), not their files (a glob's or type's 18-24 ms on the Linux tree, for
        the first search of each after every update)."""
        self._reader, self._manifest_stamp, self._indexed_by = reader, stamp, reader
        self._indexed, self._ids = indexed, None
        self._unindexed = self._damaged = False

    def _take_again(self, missed: list[str]) -> None:
        """Have the next search stat again the cached files at the absolute paths `missed`,
        whose stat changed unreported (lock held). A hard link made or removed outside the
        tree changes a file's ctime (its count of links) without an event for the watches of
        its directories; an index update, walking afresh, then records the new ctime, and the
        cached file, its old one kept, was searched directly by every search (the Linux
        tree's files linked by `cp -al`: 1.2 s a search, rg's time), the index of no use."""
        for path in missed:
            rel = path[len(self.prefix) :]
            if rel in self._cached:
                self._dirty_files.add(rel)

    def _reopen(self, stamp: tuple[int, int] | None) -> None:
        """Open the replaced index and check the cached files against it, off the lock: those
        whose record it changed (see `IndexReader.records_since`), or all; files that change
        meanwhile (`_touched`) are left to be searched directly."""
        try:
            reader = IndexReader.open(self.root)
            with self._lock:
                files, keys, version = list(self._files), list(self._keys), self._files_version
                ids, earlier, indexed = self._ids, self._indexed_by, dict(self._indexed)
            changed = None if earlier is None else reader.records_since(earlier)
            missed: list[str] = []
            if changed is None:
                indexed = _indexed_paths(reader, files, missed)
            else:  # the others' records, so their verdicts and ids, are as they were
                at = []  # (the cached files among them)
                for path in changed:
                    indexed.pop(self.prefix + path, None)
                    i = bisect.bisect_left(keys, _key(path))
                    if i < len(keys) and files[i].path == self.prefix + path:
                        at.append(i)
                indexed.update(_indexed_paths(reader, (files[i] for i in at), missed))
                if ids is not None:
                    ids = ids.copy()
                    ids[at] = _ids_in(indexed, [files[i] for i in at])
            if changed is None or ids is None:  # (the next search's, if no file changes)
                ids = _ids_in(indexed, files)
            with self._lock:
                for path in self._touched or ():
                    indexed.pop(path, None)
                self._install(reader, stamp, indexed)
                if self._files_version == version:
                    self._ids = ids
                self._take_again(missed)
        except IndexCorruptError as e:
            with self._lock:
                self._rebuild(stamp, e)
        except (OSError, Error) as e:
            sys.stderr.write(f"trigrep: {self.root}: keeping the previous index: {e}\n")
        finally:
            with self._lock:
                self._touched = None

    def refresh_index(self, root: str) -> None:
        """A search found many stale files: update the index now, in the background."""
        self._updater.request()

    def search_pool(self) -> SearchPool | None:
        return self._pool.get() if self._pool is not None else None

    def count(self, counter: str) -> None:
        with self._lock:
            self.counters[counter] += 1

    def status(self) -> Message:
        """The tree as a search would see it now: the changes its watcher reported are applied
        first, as the next search would apply them (else a file deleted a minute before was
        still counted, as a pending change, until a search came). `pending` is what is left:
        changes of a watcher that is behind or blind, which the next search walks for."""
        if not self._watcher.blind and self._watcher.caught_up(SYNC_TIMEOUT):
            with self._lock:
                if not self.replaced():
                    self._apply_changes()
        try:
            reader = self.reader()
            index_stats = reader.stats() if reader is not None else None
        except IndexFormatError:
            index_stats = None
        with self._lock:
            return {
                "root": self.root, "files": len(self._files), "directories": len(self._dirs),
                "watching": self._watcher.blind is None,
                "last_update": self.last_update,
                "pending": len(self._dirty_dirs) + len(self._relisted_dirs)
                + len(self._dirty_files), **self.counters,
                "index_updates": self._updater.runs, "index_updating": self._updater.running,
                "indexed": not self._unindexed, "index_damaged": self._damaged,
                "segments": index_stats.segments if index_stats else None,
                "tombstones": index_stats.tombstones if index_stats else None,
            }


def _dir_id(path: str) -> tuple[int, int] | None:
    """(device, inode) of the directory `path` names now; None when it names none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _entry(rel: str, path: str, st: os.stat_result) -> FileEntry:
    return FileEntry(rel, path, False, st)


def _stamps(entries: Iterable[FileEntry]) -> list[tuple[str, Stamp]]:
    """What tells two cached walks apart: each file's path and `stat_stamp`."""
    return [(entry.display, stat_stamp(entry.stat())) for entry in entries]


@dataclass(frozen=True)
class _Skipped:
    """A file or directory the cached walk left out: ignored by the rules, else hidden."""

    rel: str
    is_dir: bool
    ignored: bool


def _ignored(name: bytes, is_dir: bool) -> bool:
    return True


def _whitelisted(name: bytes, is_dir: bool) -> bool:
    return False  # for the walk's purposes, the same as "no rule" for a file it listed


def _filter_key(opts: WalkOptions) -> Hashable:
    """What decides `EntryFilter(opts)`'s verdicts on a cached walk (the cwd is the glob base
    when none is given)."""
    return (tuple(opts.globs), tuple(opts.iglobs), opts.glob_case_insensitive,
            tuple(opts.type_changes), opts.glob_base or os.getcwd())


def _filtered(
    entry_filter: EntryFilter,
    as_shown: _Shown | None,
    prefix: str,
    cached: list[FileEntry],
    skipped: list[_Skipped],
    dirs: list[str],
    verdicts: dict[str, bool],
) -> list[FileEntry] | None:
    """What the walk with `entry_filter`'s globs and types yields, from the default walk's
    files (`cached`), what it left out (`skipped`) and the directories it walked below the
    search's directory (`dirs`); None when a glob brings in a directory it left out.

    Paths are relative to the root; `as_shown` turns them into the walk's paths (None: they
    are those, and the cached entries are the walk's). A cached file's or directory's
    verdict depends on its path alone: `verdicts` holds those of the searches before (a
    directory's path ends in "/"), so that one after a change decides only what the change
    brought in (deciding them all took 160-250 ms for the Linux tree's 78,000 files, under
    load)."""
    shown = (lambda rel: rel) if as_shown is None else as_shown.display

    def skip(rel: str, is_dir: bool, ruling: Ruling | None) -> bool:
        path = os.fsencode(shown(rel))
        return entry_filter.skip(path, path.rpartition(b"/")[2], is_dir, ruling)

    def dir_skipped(directory: str) -> bool:
        verdict = verdicts.get(directory + "/")
        if verdict is None:
            verdict = verdicts[directory + "/"] = skip(directory, True, _whitelisted)
        return verdict

    pruned = {_key(d) for d in dirs if dir_skipped(d)}

    def in_pruned(rel: str) -> bool:
        if not pruned:
            return False
        parts = _key(rel)
        return any(parts[:depth] in pruned for depth in range(1, len(parts)))

    def selected(rel: str) -> bool:
        verdict = verdicts.get(rel)
        if verdict is None:
            verdict = verdicts[rel] = not (in_pruned(rel) or skip(rel, False, _whitelisted))
        return verdict

    known = verdicts.get  # (a look-up per file decided already, no call)
    picked = [entry for entry in cached
              if (verdict := known(entry.display)) or (verdict is None and selected(entry.display))]
    found = picked if as_shown is None else as_shown.copies(picked, len(cached))
    brought_in = []
    for entry in skipped:
        if not in_pruned(entry.rel) and not skip(
                entry.rel, entry.is_dir, _ignored if entry.ignored else None):
            if entry.is_dir:
                return None  # the walk would descend where the cache never went
            brought_in.append(FileEntry(shown(entry.rel), prefix + entry.rel, False))
    if brought_in:
        found = sorted([*found, *brought_in], key=lambda e: _key(e.path[len(prefix) :]))
    return found
