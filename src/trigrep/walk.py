"""Which files rg searches, in `rg --sort path` order, with the paths rg prints.

The walk is rg's: depth first, each directory's entries sorted by name bytes (files and
subdirectories interleaved), symlinks and special files skipped unless named on the
command line. An entry is dropped by the first of these that has an opinion, as in the
`ignore` crate: `-g` globs, then ignore files (.rgignore > .ignore > .gitignore >
.git/info/exclude > git's global excludes, nearest directory first within each kind),
then `-t`/`-T`, then "hidden" (a whitelisting glob, `!pattern` or type makes a hidden file
visible). Paths named on the command line skip all of that.

Everything runs on bytes (names are not always UTF-8, and globs match bytes); paths are
decoded with surrogateescape only for the entries handed out.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter, itemgetter

from trigrep.filetypes import TypeMatcher, type_list
from trigrep.ignore import (
    IgnoreMatcher,
    git_config_paths,
    global_excludes_path,
    parse_lines,
    read_ignore_file,
)
from trigrep.index.format import LOCK_NAME, MANIFEST_NAME
from trigrep.options import WalkOptions
from trigrep.roots import INDEX_DIR_NAME

__all__ = [
    "EntryFilter", "FileEntry", "Ruling", "Walker", "check_filters", "relative_path", "type_list",
    "walk",
]

INDEX_DIR = os.fsencode(INDEX_DIR_NAME)  # trigrep's own state: never listed, whatever the flags
# An error reported already, as a warning at the time it happened (an error in an ignore file
# above a root, which rg prints before the rest and which still fails the search)
REPORTED = ""


def _is_index(directory: bytes) -> bool:
    """Whether a directory named INDEX_DIR is trigrep's (it holds the `.ignore` trigrep
    writes first, a lock or a manifest), not one of the user's that rg would search."""
    return any(os.path.exists(directory + b"/" + os.fsencode(name))
               for name in (".ignore", LOCK_NAME, MANIFEST_NAME))


_DEFAULT_ROOT = b"./"  # rg's implicit path; its `./` is not printed
_by_name = attrgetter("name")


def _by_path(entry: os.DirEntry[bytes]) -> bytes:
    """A directory sorts as its name and `/`, so a depth-first walk lists paths in byte order
    (`a.c` comes before `a/x`: `.` < `/`), the order of an index's files."""
    return entry.name + b"/" if entry.is_dir(follow_symlinks=False) else entry.name


MessageHandler = Callable[[str], None]
# (message, whether it fails the search): an error in an ignore file above a root fails it,
# and rg prints it even with --no-ignore-messages
WarningHandler = Callable[[str, bool], None]


def collapses_as_text(path: str | bytes) -> bool:
    """Whether `os.path.abspath` finds what the OS opens for `path`: every `..` in it steps
    out of a directory that exists and is no symlink (after a symlink, `..` leads to the
    link target's parent; after a missing path or a file, the OS fails)."""
    sep, here, up = ("/", ".", "..") if isinstance(path, str) else (b"/", b".", b"..")
    parts = path.split(sep)
    for i, part in enumerate(parts):
        if part == up and i and parts[i - 1] not in (up, here, sep[:0]):
            before = sep.join(parts[:i])
            if os.path.islink(before) or not os.path.isdir(before):
                return False
    return True


def absolute_path(path: bytes) -> bytes:
    """The absolute path the OS opens for `path` (see `collapses_as_text`)."""
    return os.path.abspath(path) if collapses_as_text(path) else os.path.realpath(path)


def relative_path(path: str, root: str) -> str:
    """`os.path.relpath(path, root)`, by slicing when `path` is below `root` as the walk
    builds paths: relpath costs more than a stat, per file of a whole tree."""
    prefix = os.path.join(root, "")
    if path.startswith(prefix):
        rel = path[len(prefix):]
        if rel and not os.path.isabs(rel) and os.path.normpath(rel) == rel:
            return rel
    return os.path.relpath(path, root)


class FileEntry:
    """One file to search. (A plain class: one is made for each file walked.)"""

    __slots__ = ("_stat", "display", "explicit", "path", "shipped")

    def __init__(self, display: str, path: str, explicit: bool,
                 stat: os.stat_result | None = None) -> None:
        self.display = display  # the path exactly as rg prints it for these path arguments
        self.path = path  # absolute path
        self.explicit = explicit  # named on the command line: searched even if ignored, hidden...
        self._stat = stat
        # what a search worker is sent for this file, made once (see parallel._shipped)
        self.shipped: bytes | None = None

    def __repr__(self) -> str:
        return f"FileEntry({self.display!r}, {self.path!r}, {self.explicit!r})"

    def stat(self) -> os.stat_result:
        """The file's stat (following symlinks), fetched once; the walk itself never stats
        the files it lists, only the paths named on the command line."""
        if self._stat is None:
            self._stat = os.stat(self.path)
        return self._stat

    def known_stat(self) -> os.stat_result | None:
        """The stat if something fetched it already."""
        return self._stat


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def check_filters(opts: WalkOptions) -> None:
    """Raise PatternError (rg's wording) for a bad `--type-add`, an unknown `-t`/`-T` or a
    bad `-g`/`--iglob`/`--pre-glob`."""
    if opts.globs or opts.iglobs or opts.type_changes:  # (else nothing to check: no filter made)
        EntryFilter(opts)
    if opts.pre is not None:
        opts.pre.applies("")


# The ignore rules' verdict on an entry: True ignored, False whitelisted (`!`), None silent.
Ruling = Callable[[bytes, bool], bool | None]


class EntryFilter:
    """The walk's verdict on one entry below a root, from the `-g`/`--iglob` globs, the
    types and the ignore rules: one implementation for the walker and for a daemon filtering
    its cached walk. Raises PatternError (rg's wording) for a bad glob or type."""

    def __init__(self, opts: WalkOptions) -> None:
        self._types = TypeMatcher(opts.type_changes)
        globs = parse_lines(opts.globs, case_insensitive=opts.glob_case_insensitive).globs
        iglobs = parse_lines(opts.iglobs, case_insensitive=True).globs
        self._globs = IgnoreMatcher([*globs, *iglobs])  # rg adds --iglob after every -g
        self._hidden = opts.hidden
        self._cwd = os.fsencode(opts.glob_base) if opts.glob_base else os.getcwdb()

    def skip(self, path: bytes, name: bytes, is_dir: bool, ruling: Ruling | None) -> bool:
        """The ignore crate's verdict: True to leave the entry out. `path` is the walked path
        (the root argument joined with the entry's path below it); `ruling` (None: no rules
        in force) is only asked when the globs have no opinion."""
        if self._globs:
            # -g globs are gitignore lines with the meaning inverted: a plain glob selects,
            # even an ignored or hidden entry.
            rel = self.glob_path(path)
            # (the directory that is the cwd, walked from above, is an empty path to rg's
            # matcher, whose name is empty too: `-g '!x'` run in x/ does not leave it out)
            verdict = self._globs.matched(rel, name if rel else b"", is_dir)
            if verdict is not None:
                return not verdict
            if self._globs.num_ignores and not is_dir:
                return True
        whitelisted = False
        if ruling is not None:
            verdict = ruling(name, is_dir)
            if verdict:
                return True
            whitelisted = verdict is False
        if self._types and not is_dir:
            keep = self._types.matched(name)
            if keep is False:
                return True
            whitelisted = whitelisted or keep is True
        return not (whitelisted or self._hidden) and name[:1] == b"."

    def glob_path(self, path: bytes) -> bytes:
        """The path `-g` globs see: without `./` (twice: rg's walker strips one, its gitignore
        matcher another), relative to the cwd when given absolute."""
        path = path.removeprefix(b"./").removeprefix(b"./")
        if b"/" in path and path.startswith(self._cwd):
            path = path[len(self._cwd) :].removeprefix(b"/")
        return path


def walk(
    paths: Sequence[str],
    opts: WalkOptions,
    on_error: MessageHandler | None = None,
    on_warning: WarningHandler | None = None,
    *,
    path_order: bool = False,
) -> Iterator[FileEntry]:
    """Yield the files `rg --files --sort path` lists for `paths` (empty: rg's default), in
    that order, or in byte order of their paths with `path_order`.

    Problems are reported as rg words them after its `rg: ` prefix: `on_error` for those
    that make rg exit 2 (missing paths, unreadable directories), `on_warning` for errors in
    ignore files, as they are read (those above a root make rg exit 2 too). Invalid
    `-g`/`-t` raise PatternError upfront.
    """
    return iter(Walker(paths, opts, on_error, on_warning, path_order=path_order))


_SORT_FIELDS = {"modified": "st_mtime_ns", "accessed": "st_atime_ns"}  # ("created": statx)
_TIME_SORTS = frozenset((*_SORT_FIELDS, "created"))


def _components(path: bytes) -> list[tuple[int, bytes]]:
    """The key Rust's Path ordering compares: its components, `/` first, then a leading `.`,
    then `..`, then names (by bytes); an empty part or a `.` past the start is none."""
    key = [(0, b"")] if path.startswith(b"/") else []
    for i, part in enumerate(path.split(b"/")):
        if part == b".." or (part == b"." and i == 0):
            key.append((1 if part == b"." else 2, b""))
        elif part and part != b".":
            key.append((3, part))
    return key


def _sorted(entries: Iterable[FileEntry], opts: WalkOptions) -> list[FileEntry]:
    """--sort modified/accessed/created (`opts.sort_by`), or any --sortr: the files of all
    paths ordered by that key (a path compared part by part), as rg does (a stable sort of the
    walks of all the paths, in their order; a time the system cannot give sorts first)."""
    if opts.sort_by == "path":
        return sorted(entries, key=lambda entry: _components(os.fsencode(entry.display)),
                      reverse=opts.sort_reverse)
    field = _SORT_FIELDS.get(opts.sort_by)

    def key(entry: FileEntry) -> int:
        try:
            return birth_time_ns(entry.path) if field is None else getattr(entry.stat(), field)
        except OSError:
            return 0  # gone since the walk: its search reports it

    return sorted(entries, key=key, reverse=opts.sort_reverse)


def birth_time_ns(path: str) -> int:
    """A file's creation time (following symlinks), 0 where the system or its file system
    keeps none: Python's stat has no birth time on Linux, so this asks statx(2) through libc,
    as rg's Rust standard library does."""
    import ctypes
    import struct

    statx = _libc_statx()
    if statx is None:
        return 0
    buffer = ctypes.create_string_buffer(_STATX_SIZE)
    if statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BTIME, buffer) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), path)
    mask, = struct.unpack_from("I", buffer, 0)
    if not mask & _STATX_BTIME:
        return 0
    seconds, nanoseconds = struct.unpack_from("qI", buffer, _STATX_BTIME_OFFSET)
    return seconds * 1_000_000_000 + nanoseconds


@functools.cache
def _libc_statx() -> Callable[..., int] | None:
    """libc's statx, None in a libc older than it (glibc 2.28) or without it."""
    import ctypes

    return getattr(ctypes.CDLL(None, use_errno=True), "statx", None)


# statx(2): struct statx (256 bytes), its stx_btime field, and the flags asking for it.
_STATX_SIZE, _STATX_BTIME_OFFSET, _STATX_BTIME, _AT_FDCWD = 256, 80, 0x800, -100


def rule_files_outside(root: str) -> list[bytes]:
    """The files outside `root` whose presence or content decides which files below it the
    default walk yields: the ignore files and `.git` of each parent directory, git's config
    files and its global excludes (a watcher of the tree sees none of them change)."""
    paths = []
    directory = b""
    for parent in os.fsencode(os.path.realpath(root)).split(b"/")[1:-1]:
        directory += b"/" + parent
        paths += [directory + b"/" + name for _, name in _IGNORE_FILES]
        paths.append(directory + b"/.git")
    excludes = global_excludes_path()
    return [*paths, *git_config_paths(), *([excludes] if excludes is not None else [])]


# Kinds of ignore files, in rg's order of precedence (within a kind, the nearest wins).
# (--ignore-file's, _EXPLICIT, rank lowest: they apply everywhere, even with --no-ignore)
_RGIGNORE, _DOT_IGNORE, _GITIGNORE, _EXCLUDE, _GLOBAL, _EXPLICIT = range(6)
_IGNORE_FILES = (
    (_RGIGNORE, b".rgignore"),
    (_DOT_IGNORE, b".ignore"),
    (_GITIGNORE, b".gitignore"),
    (_EXCLUDE, b".git/info/exclude"),
)
_GIT_KINDS = frozenset((_GITIGNORE, _EXCLUDE, _GLOBAL))  # only inside a git repository
_REPO_KINDS = frozenset((_GITIGNORE, _EXCLUDE))  # not past the repository's root
_ALL_KINDS = frozenset((_RGIGNORE, _DOT_IGNORE, *_GIT_KINDS))


def _kinds_respected(opts: WalkOptions) -> frozenset[int]:
    """The kinds of ignore files the walk reads, given --no-ignore and its narrower forms."""
    if opts.no_ignore:
        return frozenset()
    off = set()
    if opts.no_ignore_vcs:
        off |= _GIT_KINDS
    if opts.no_ignore_dot:
        off |= {_RGIGNORE, _DOT_IGNORE}
    if opts.no_ignore_exclude:
        off.add(_EXCLUDE)
    if opts.no_ignore_global:
        off.add(_GLOBAL)
    return _ALL_KINDS - off


# (kind, matcher, prefix): entries are matched as `prefix + name`, their path relative to
# the ignore file's directory.
_Source = tuple[int, IgnoreMatcher, bytes]


def _dot_names(entries: Iterable[os.DirEntry[bytes]]) -> dict[bytes, bool]:
    """The entries whose names start with a dot (where the ignore files are), each with
    whether it is a symlink (from the listing: no stat)."""
    return {entry.name: entry.is_symlink() for entry in entries if entry.name[:1] == b"."}


def _exclude_file(directory: bytes) -> bytes:
    """The `info/exclude` of the repository whose root is `directory` (ends with `/`): in its
    `.git`, or for a linked worktree (a `.git` file: `gitdir: PATH`), in the main repository's
    git directory (the worktree's `commondir`), as rg finds it."""
    git = directory + b".git"
    try:
        with open(git, "rb") as f:
            line = f.readline().rstrip(b"\r\n")
    except OSError:  # a directory (or nothing)
        return git + b"/info/exclude"
    gitdir = os.path.join(directory, line.removeprefix(b"gitdir: "))
    try:
        with open(os.path.join(gitdir, b"commondir"), "rb") as f:
            common = os.path.join(gitdir, f.readline().rstrip(b"\r\n"))
    except OSError:
        common = gitdir
    return os.path.join(common, b"info/exclude")


class _Rules:
    """The ignore files in force inside one directory."""

    __slots__ = ("active", "in_git", "require_git", "sources")

    def __init__(self, sources: Sequence[_Source] = (), in_git: bool = False,
                 require_git: bool = True) -> None:
        self.sources = tuple(sources)  # by kind, nearest directory first within a kind
        self.in_git = in_git  # a `.git` here or in any parent directory
        # git's files count only in a repository, and not past its root (--no-require-git:
        # anywhere, from every directory above)
        self.require_git = require_git
        active = []
        for kind, matcher, prefix in self.sources:
            if in_git or not require_git or kind not in _GIT_KINDS:
                usable = matcher.at_depth(prefix.count(b"/"))
                if usable is not None:
                    active.append((usable, prefix))
        self.active = tuple(active)

    def child(self, name: bytes, has_git: bool, own: Sequence[tuple[int, IgnoreMatcher]]) -> _Rules:
        """Rules inside subdirectory `name`, given its own ignore files (kind, matcher).

        A `.git` there makes it a repository root: git's files of directories above stop
        applying; .ignore/.rgignore of all parents keep applying.
        """
        suffix = name + b"/"
        sources = [(kind, matcher, b"") for kind, matcher in own]
        sources += [
            (kind, matcher, prefix + suffix)
            for kind, matcher, prefix in self.sources
            if not (has_git and self.require_git and kind in _REPO_KINDS)
        ]
        sources.sort(key=itemgetter(0))  # stable: a directory's own files stay first
        return _Rules(sources, self.in_git or has_git, self.require_git)

    def with_source(self, kind: int, matcher: IgnoreMatcher, prefix: bytes) -> _Rules:
        """These rules plus an ignore file of no directory (git's global excludes, an
        --ignore-file), which sees entries as `prefix + name`."""
        return _Rules((*self.sources, (kind, matcher, prefix)), self.in_git, self.require_git)

    def matched(self, name: bytes, is_dir: bool) -> bool | None:
        """True: ignored, False: whitelisted by a `!` pattern, None: no rule applies."""
        for matcher, prefix in self.active:
            verdict = matcher.matched(prefix + name, name, is_dir)
            if verdict is not None:
                return verdict
        return None


class Walker:
    """One walk over the path arguments; iterate it once for the files.

    `errors` and `warnings` collect the messages also passed to the callbacks, so the
    caller can decide the exit code (rg exits 2 after any error, but not for warnings).
    """

    def __init__(
        self,
        paths: Sequence[str],
        opts: WalkOptions,
        on_error: MessageHandler | None = None,
        on_warning: WarningHandler | None = None,
        on_directory: Callable[[bytes], None] | None = None,
        on_skipped: Callable[[bytes, bool, bool], None] | None = None,
        descend: Callable[[bytes], bool] | None = None,
        *,
        path_order: bool = False,
        seen_from: bytes | None = None,
    ) -> None:
        self.paths = list(paths)
        # git's global excludes and --ignore-file see the walked paths relative to the cwd;
        # an absolute `seen_from` makes them see an absolute path relative to it instead
        # (a daemon's cache of its root, as a search run there would see it)
        self._seen_from = seen_from
        # --sort modified/accessed: rg's stable sort keeps its walk's order among files with
        # the same time, and that walk lists each directory in the order the OS lists it.
        self._sort_key = (_by_path if path_order else None if opts.sort_by in _TIME_SORTS
                          else _by_name)
        self._on_directory = on_directory  # told each directory listed, so a watcher knows them
        # told each file or directory left out below a root, (path, is_dir, ignored): ignored
        # by the rules, else hidden; so a cache knows what an overriding glob or type brings in
        self._on_skipped = on_skipped
        # asked before listing each directory below a root that the rules let in: False leaves
        # it out, unlisted and unreported (a cache that already knows its contents re-lists
        # only the directory that changed)
        self._descend = descend
        self.opts = opts
        self.errors: list[str] = []
        self.failed: list[bytes] = []  # the path each of `errors` is about
        self.warnings: list[str] = []
        self.bad_rule_files: list[bytes] = []  # ignore files whose errors were reported
        self._above_root = False  # reading the ignore files of a root's parents: see _load
        # Ignore files read below the paths whose edits no watcher of their directories sees:
        # a symlinked one (or one in a symlinked .git), a linked worktree's exclude file.
        self.rules_elsewhere: set[bytes] = set()
        self._on_error = on_error
        self._on_warning = on_warning
        self._filter = EntryFilter(opts)
        self._kinds = _kinds_respected(opts)
        self._global = self._load_global() if _GLOBAL in self._kinds else None
        # read (and reported) in the order given, but the last one wins, as in rg: it comes first
        self._explicit = self._load_explicit(opts.ignore_files)[::-1]

    def __iter__(self) -> Iterator[FileEntry]:
        if self.opts.sort_by == "path" and not self.opts.sort_reverse:
            yield from self._walk_roots()  # (each path in turn, as given)
        else:
            yield from _sorted(self._walk_roots(), self.opts)

    def _walk_roots(self) -> Iterator[FileEntry]:
        for root in self.paths or [None]:
            yield from self._walk_root(_DEFAULT_ROOT if root is None else os.fsencode(root))

    # -- reporting -------------------------------------------------------------------------

    def _error(self, path: bytes, err: OSError) -> None:
        shown = os.fsdecode(path)
        self._fail(path, f"{shown}: IO error for operation on {shown}: {err.strerror} "
                         f"(os error {err.errno})")

    def _fail(self, path: bytes, message: str) -> None:
        self.errors.append(message)
        self.failed.append(path)
        if self._on_error is not None:
            self._on_error(message)

    def _warn(self, message: str, fails: bool = False) -> None:
        self.warnings.append(message)
        if fails:
            self.errors.append(REPORTED)
            if self._on_error is not None:
                self._on_error(REPORTED)
        if self._on_warning is not None:
            self._on_warning(message, fails)

    def _load(self, path: bytes, explicit: bool = False) -> IgnoreMatcher | None:
        """An ignore file's rules (ignoring case with --ignore-file-case-insensitive, unless
        an `explicit` --ignore-file); its errors are reported, as warnings, but errors for
        the files above a root (rg fails the search for those, exit code 2)."""
        shown = os.fsdecode(path)

        def report(errors: list[str]) -> None:
            self.bad_rule_files.append(path)
            self._warn("\n".join(f"{shown}: {e}" for e in errors), fails=self._above_root)

        return read_ignore_file(path, report, self.opts.ignore_case_insensitive and not explicit)

    @property
    def global_by_name(self) -> bool:
        """Whether git's global excludes (if read) decide by file names alone: rg matches
        them against the paths its walk shows, relative to the cwd, so the verdicts of any
        other pattern (`/build`, `a/b`) depend on where a search runs and what it names."""
        return self._global is None or self._global.by_name

    def _load_global(self) -> IgnoreMatcher | None:
        path = global_excludes_path()
        return self._load(path) if path is not None else None

    def _load_explicit(self, paths: Iterable[str]) -> list[IgnoreMatcher]:
        """--ignore-file: one that cannot be read is reported, and the search goes on."""
        matchers = []
        for path in paths:
            try:
                with open(path, "rb"):
                    pass
            except OSError as e:
                where = "line 1: " if e.errno == errno.EISDIR else ""  # rg read it line by line
                self._warn(f"{path}: {where}{e.strerror} (os error {e.errno})")
                continue
            matcher = self._load(os.fsencode(path), explicit=True)
            if matcher is not None:
                matchers.append(matcher)
        return matchers

    # -- walking ---------------------------------------------------------------------------

    def _walk_root(self, root: bytes) -> Iterator[FileEntry]:
        try:
            root_stat = os.stat(root)
        except OSError as err:
            self._error(root, err)
            return
        absolute = absolute_path(root)
        if not stat.S_ISDIR(root_stat.st_mode):
            yield FileEntry(os.fsdecode(root), os.fsdecode(absolute), True, root_stat)
            return
        if self.opts.max_depth == 0:
            return  # only the paths given, and this one is a directory
        entries = self._list(root)
        if entries is not None:
            if self._on_directory is not None:
                self._on_directory(root)
            rules = self._root_rules(root, entries)
            yield from self._walk_tree(root, absolute.rstrip(b"/") + b"/", entries, rules)

    def _list(self, directory: bytes) -> list[os.DirEntry[bytes]] | None:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as err:
            self._error(directory, err)
            return None
        if self._sort_key is not None:
            entries.sort(key=self._sort_key)
        return entries

    def _root_rules(self, root: bytes, entries: list[os.DirEntry[bytes]]) -> _Rules:
        """Rules of the root directory: those of its parent directories up to `/` (found
        through the resolved path, as rg does) plus its own."""
        rules = _Rules(require_git=not self.opts.no_require_git)
        if not (self._kinds or self._explicit):
            return rules
        *parents, name = os.path.realpath(root).split(b"/")[1:]
        directory = b""
        self._above_root = True
        for parent in parents:
            directory += b"/" + parent
            has_git = os.path.exists(directory + b"/.git")
            read = self._child_rules(rules, parent, directory, has_git, None)
            if self.opts.no_ignore_parent:  # rg still reads their files (their errors count)
                rules = _Rules((), rules.in_git or has_git, rules.require_git)  # and their .git
                continue
            rules = read
        self._above_root = False
        rules = self._listed_dir_rules(rules, name, root, entries)
        # The global file and --ignore-file's have no directory: rg matches them against the
        # walked path minus a leading `./` (twice: its walker strips one, the matcher another),
        # then minus a leading `/` (`/a/b/x` is `a/b/x`).
        prefix = root if root.endswith(b"/") else root + b"/"
        if self._seen_from is not None:
            base = self._seen_from.rstrip(b"/") + b"/"
            prefix = prefix[len(base) :] if prefix.startswith(base) else prefix
        prefix = prefix.removeprefix(b"./").removeprefix(b"./").removeprefix(b"/")
        if self._global is not None:
            rules = rules.with_source(_GLOBAL, self._global, prefix)
        for matcher in self._explicit:
            rules = rules.with_source(_EXPLICIT, matcher, prefix)
        return rules

    def _listed_dir_rules(
        self, rules: _Rules, name: bytes, path: bytes, entries: list[os.DirEntry[bytes]]
    ) -> _Rules:
        """Rules inside a directory whose entries are at hand (so no failed opens). Without
        ignore files to read, --ignore-file's rules still follow the walk down: they see each
        entry's path from where they apply."""
        if not (self._kinds or self._explicit):
            return rules
        dot_names = _dot_names(entries)
        return self._child_rules(rules, name, path, b".git" in dot_names, dot_names)

    def _child_rules(
        self,
        rules: _Rules,
        name: bytes,
        path: bytes,
        has_git: bool,
        dot_names: dict[bytes, bool] | None,
    ) -> _Rules:
        """Rules inside directory `path` (named `name`); `dot_names` lists its entries that
        start with a dot, or is None when unknown (then every ignore file is tried)."""
        in_git = rules.in_git or has_git or not rules.require_git
        own = []
        for kind, file in _IGNORE_FILES:
            if kind not in self._kinds or (kind == _GITIGNORE and not in_git) or (
                    kind == _EXCLUDE and not has_git):
                continue
            if dot_names is not None and file.partition(b"/")[0] not in dot_names:
                continue
            directory = path if path.endswith(b"/") else path + b"/"
            rule_file = _exclude_file(directory) if kind == _EXCLUDE else directory + file
            matcher = self._load(rule_file)
            if dot_names is not None and (dot_names[file.partition(b"/")[0]] or (
                    not rule_file.startswith(directory))):
                self.rules_elsewhere.add(rule_file)  # through a symlink, or a worktree's
            if matcher is not None:
                own.append((kind, matcher))
        if not (own or has_git or rules.sources):
            return rules
        return rules.child(name, has_git, own)

    def _walk_tree(
        self, root: bytes, absolute: bytes, entries: list[os.DirEntry[bytes]], rules: _Rules
    ) -> Iterator[FileEntry]:
        """Depth-first over the listings (sorted, but for --sort modified/accessed); `absolute`
        ends with `/`."""
        strip = len(_DEFAULT_ROOT) if root == _DEFAULT_ROOT and not self.paths else 0
        max_depth = self.opts.max_depth
        max_size = self.opts.max_filesize
        follow = self.opts.follow
        device = os.stat(root).st_dev if self.opts.one_file_system else None
        stack = [(iter(entries), rules, absolute)]
        # -L: the (device, inode) and path of each directory on the stack, to tell loops
        ancestors = [(_identity(os.stat(root)), root)] if follow else []
        while stack:
            it, rules, absolute = stack[-1]
            for entry in it:
                name = entry.name
                target = None  # -L: the stat of a symlink's target
                if follow and entry.is_symlink():
                    target = self._followed(entry.path, ancestors[: len(stack)])
                    if target is None:
                        continue
                    is_dir = stat.S_ISDIR(target.st_mode)
                else:
                    is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir:
                    if max_depth is not None and len(stack) >= max_depth:
                        continue  # its files would lie deeper than --max-depth
                    if name == INDEX_DIR and _is_index(entry.path):
                        continue
                    if self._skip(entry.path, name, True, rules):
                        continue
                    if device is not None and not self._same_device(entry, target, device):
                        continue
                    if self._descend is not None and not self._descend(entry.path):
                        continue
                    children = self._list(entry.path)
                    if children is None:
                        continue
                    if self._on_directory is not None:
                        self._on_directory(entry.path)
                    if follow:
                        identity = _identity(target or entry.stat(follow_symlinks=False))
                        del ancestors[len(stack) :]
                        ancestors.append((identity, entry.path))
                    child_rules = self._listed_dir_rules(rules, name, entry.path, children)
                    stack.append((iter(children), child_rules, absolute + name + b"/"))
                    break
                is_file = stat.S_ISREG(target.st_mode) if target else entry.is_file(
                    follow_symlinks=False)
                if is_file and not self._skip(entry.path, name, False, rules):
                    st = target
                    if max_size is not None:  # --max-filesize (not for paths given)
                        if st is None:
                            try:
                                st = entry.stat(follow_symlinks=False)
                            except OSError:
                                continue  # gone already
                        if st.st_size > max_size:
                            continue
                    yield FileEntry(
                        entry.path[strip:].decode("utf-8", "surrogateescape"),
                        (absolute + name).decode("utf-8", "surrogateescape"),
                        False, st,
                    )
            else:
                stack.pop()

    def _same_device(
        self, entry: os.DirEntry[bytes], target: os.stat_result | None, device: int
    ) -> bool:
        """--one-file-system: whether the directory `entry` (-L: its `target`) lies on the
        `device` of the path searched; a failing stat is reported, as rg does."""
        try:
            st = target or entry.stat(follow_symlinks=False)
        except OSError as err:
            self._error(entry.path, err)
            return False
        return st.st_dev == device

    def _followed(
        self, path: bytes, ancestors: list[tuple[tuple[int, int], bytes]]
    ) -> os.stat_result | None:
        """-L: the stat of the target of the symlink `path`; None (an error, as rg reports it,
        whatever the rules say of the link) when it dangles or is one of the `ancestors`."""
        try:
            st = os.stat(path)
        except OSError as err:
            self._error(path, err)
            return None
        identity = _identity(st)
        for ancestor_identity, ancestor in reversed(ancestors):  # rg names the nearest
            if stat.S_ISDIR(st.st_mode) and ancestor_identity == identity:
                self._fail(path, f"File system loop found: {os.fsdecode(path)} points to an "
                                 f"ancestor {os.fsdecode(ancestor)}")
                return None
        return st

    def _skip(self, path: bytes, name: bytes, is_dir: bool, rules: _Rules) -> bool:
        """True to leave the entry out (reported to `on_skipped`)."""
        ruling = rules.matched if rules.active else None
        if not self._filter.skip(path, name, is_dir, ruling):
            return False
        if self._on_skipped is not None:
            self._on_skipped(path, is_dir, ruling is not None and ruling(name, is_dir) is True)
        return True
