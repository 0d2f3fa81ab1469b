"""The walk against `rg --files --sort path`, byte for byte, on generated trees.

Every check runs rg and the walker with the same flags, paths, working directory and an
isolated HOME/XDG_CONFIG_HOME (so the user's rg and git configuration cannot leak in).
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import RG
from trigrep import ignore as ignore_module
from trigrep import walk as walk_module
from trigrep.errors import PatternError
from trigrep.filetypes import type_list
from trigrep.options import TypeChange, WalkOptions
from trigrep.walk import FileEntry, Walker, check_filters, relative_path, walk

STDLIB = Path(os.__file__).parent


def rg_flags(opts: WalkOptions) -> list[str]:
    """The rg command-line flags meaning the same as `opts`."""
    flags = [f"--glob={glob}" for glob in opts.globs]
    flags += [f"--iglob={glob}" for glob in opts.iglobs]
    flags += ["--glob-case-insensitive"] * opts.glob_case_insensitive
    flags += [f"--type-{kind}={value}".replace("-select", "").replace("-negate", "-not")
              for kind, value in opts.type_changes]
    flags += ["--hidden"] * opts.hidden + ["--no-ignore"] * opts.no_ignore
    flags += [f"--no-{name.removeprefix('no_').replace('_', '-')}" for name in _NARROW_NO_IGNORE
              if getattr(opts, name)]
    if opts.sort_by != "path" or opts.sort_reverse:  # after run_rg's --sort path
        flags.append(f"--sort{'r' * opts.sort_reverse}={opts.sort_by}")
    return flags


_NARROW_NO_IGNORE = ("no_ignore_vcs", "no_ignore_dot", "no_ignore_exclude", "no_ignore_global",
                     "no_ignore_parent", "no_require_git")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME (and XDG_CONFIG_HOME below it) for both rg and the walker."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("RIPGREP_CONFIG_PATH", raising=False)
    return home


def run_rg(cwd: Path, opts: WalkOptions, paths: Sequence[str]) -> tuple[bytes, list[str]]:
    """rg's listing and its stderr lines without the `rg: ` prefix."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIPGREP", "GIT_"))}
    proc = subprocess.run(
        [RG, "--files", "--sort", "path", *rg_flags(opts), "--", *paths],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
    )
    messages = os.fsdecode(proc.stderr).splitlines()
    return proc.stdout, [m.removeprefix("rg: ") for m in messages]


def run_walk(cwd: Path, opts: WalkOptions, paths: Sequence[str]) -> tuple[bytes, Walker]:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        walker = Walker(paths, opts)
        listing = b"".join(os.fsencode(entry.display) + b"\n" for entry in walker)
    finally:
        os.chdir(old)
    return listing, walker


def same_as_rg(cwd: Path, opts: WalkOptions | None = None, paths: Sequence[str] = ()) -> bytes:
    """Assert the walk lists what rg lists and reports what rg reports; return the listing."""
    opts = opts or WalkOptions()
    expected, rg_messages = run_rg(cwd, opts, paths)
    listing, walker = run_walk(cwd, opts, paths)
    assert listing.decode(errors="replace") == expected.decode(errors="replace")
    assert listing == expected
    # (one message per ignore file, its errors on several lines; an error above the root is
    # reported as a warning)
    messages = [line for m in walker.errors + walker.warnings for line in m.split("\n") if m]
    assert sorted(messages) == sorted(rg_messages)
    return listing


def make_tree(root: Path, files: Sequence[str], contents: dict[str, str] | None = None) -> None:
    """Create `files` (a trailing `/` makes a directory) and ignore files from `contents`."""
    for name in files:
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    for name, text in (contents or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


# -- order, display paths, file kinds ---------------------------------------------------------

BASIC = [
    "a/b/y", "a/x", "a b", "a-c", "a.txt", "a_c", "A/z", "B", "zz", "é", "!bang", "#hash",
    ".hidden", ".hdir/k", "sub/.hid/q", "sub/f", "sub/deep/er/f.py", "x.py", ".x.py",
]  # fmt: skip


@pytest.fixture
def basic(tmp_path: Path, home: Path) -> Path:
    root = tmp_path / "basic"
    make_tree(root, BASIC)
    (root / os.fsdecode(b"x\xffy")).touch()  # not UTF-8: sorted and printed as raw bytes
    (root / "link").symlink_to("a/x")
    (root / "linkdir").symlink_to("a")
    (root / "dangling").symlink_to("nowhere")
    os.mkfifo(root / "fifo")
    return root


@pytest.mark.parametrize(
    "opts",
    [
        WalkOptions(),
        WalkOptions(hidden=True),
        WalkOptions(no_ignore=True),
        WalkOptions(hidden=True, no_ignore=True),
    ],
)
def test_order_hidden_symlinks_special_files(basic: Path, opts: WalkOptions) -> None:
    same_as_rg(basic, opts)


def test_path_order_is_byte_order_of_paths(tmp_path: Path) -> None:
    """A directory sorts as its name and `/`: `a.c` and `a-b` before `a/`, `a0` after it
    (rg's order puts `a/...` before them)."""
    for rel in ("a.c", "a/x", "a/y/z", "a0", "a-b/c", "B", "_"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    listed = [e.display for e in walk([str(tmp_path)], WalkOptions(), path_order=True)]
    relative = [os.fsencode(os.path.relpath(p, tmp_path)) for p in listed]
    assert relative == sorted(relative) and len(relative) == 7
    rg_order = [e.display for e in walk([str(tmp_path)], WalkOptions())]
    assert sorted(rg_order) == sorted(listed) and rg_order != listed


@pytest.mark.parametrize(
    "paths",
    [
        ["./"],
        ["."],
        ["a"],
        ["a/"],
        ["./a"],
        ["a//"],
        ["sub/.hid"],
        [".hidden", "link", "linkdir", "a/x"],
        ["a/x", "a/x", "a", "a"],
        ["sub", "a", "B"],
        ["fifo"],
    ],
)
def test_display_paths(basic: Path, paths: list[str]) -> None:
    same_as_rg(basic, paths=paths)


def test_display_paths_outside_cwd(basic: Path) -> None:
    same_as_rg(basic / "sub", paths=["..", "../a/"])
    same_as_rg(basic, paths=[str(basic), str(basic / "a") + "/"])


def test_missing_path_is_reported_and_others_still_walked(basic: Path) -> None:
    listing = same_as_rg(basic, paths=["nope", "a", "sub/nope/x"])
    assert listing == b"a/b/y\na/x\n"


def test_entries_carry_absolute_path_stat_and_explicit_flag(basic: Path) -> None:
    old = os.getcwd()
    os.chdir(basic)
    try:
        entries = list(walk(["a", "link"], WalkOptions()))
    finally:
        os.chdir(old)
    assert [(e.display, e.explicit) for e in entries] == [
        ("a/b/y", False),
        ("a/x", False),
        ("link", True),
    ]
    assert entries[1].path == str(basic / "a" / "x")
    assert entries[2].path == str(basic / "link")
    assert all(stat.S_ISREG(e.stat().st_mode) for e in entries)
    assert isinstance(entries[0], FileEntry)


def test_unreadable_directory_is_reported_like_rg(
    basic: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rg prints `./a: IO error for operation on ./a: Permission denied (os error 13)` (checked
    by hand as an unprivileged user; the suite may run as root, so the failure is simulated)."""
    real_scandir = os.scandir

    def scandir(path: bytes) -> object:
        if path == b"./a":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(walk_module.os, "scandir", scandir)
    listing, walker = run_walk(basic, WalkOptions(), [])
    assert b"a/x" not in listing and b"sub/f" in listing
    assert walker.errors == ["./a: IO error for operation on ./a: Permission denied (os error 13)"]


# -- ignore files -------------------------------------------------------------------------------

GITIGNORE = """\
# a comment
*.log
!keep.log
build/
/anchored
deep/nested/file
docs/**/*.html
**/generated
dironly/
escaped\\ 
trailing   
\\#literal
\\!literal
*.{tmp,bak}
[Tt]humbs.db
ign/
!ign/back
lib/**
"""  # noqa: W291

IGNORED_TREE = [
    "a.log", "keep.log", "x/b.log", "x/keep.log", "build/out", "x/build/out", "build",
    "anchored", "x/anchored", "deep/nested/file", "x/deep/nested/file", "docs/a.html",
    "docs/p/q/b.html", "x/docs/a.html", "generated/g", "x/y/generated", "dironly",
    "x/dironly/f", "escaped ", "escaped", "trailing", "#literal", "!literal", "a.tmp", "b.bak",
    "Thumbs.db", "thumbs.db", "ign/back", "ign/other", "lib", "lib/in", "z/lib/in",
]  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git_init(root)
    files = [f for f in IGNORED_TREE if f not in ("build", "lib")]
    make_tree(root, files, {".gitignore": GITIGNORE})
    return root


@pytest.mark.parametrize(
    "opts",
    [WalkOptions(), WalkOptions(hidden=True), WalkOptions(no_ignore=True)],
)
def test_gitignore_pattern_syntax(repo: Path, opts: WalkOptions) -> None:
    same_as_rg(repo, opts)


def test_gitignore_needs_a_repository(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "plain"
    make_tree(root, [f for f in IGNORED_TREE if f not in ("build", "lib")], {".gitignore": "*"})
    assert b"a.log" in same_as_rg(root)
    (root / "inner").mkdir()
    git_init(root / "inner")
    make_tree(root / "inner", ["a.log", "b.txt"], {".gitignore": "*.log\n"})
    listing = same_as_rg(root)
    assert b"inner/b.txt" in listing and b"inner/a.log" not in listing


def test_precedence_of_ignore_files(tmp_path: Path, home: Path) -> None:
    """.rgignore > .ignore > .gitignore > .git/info/exclude > global, whatever the depth."""
    root = tmp_path / "prec"
    root.mkdir()
    git_init(root)
    names = [f"p{i}" for i in range(1, 9)]
    make_tree(
        root,
        [*names, *(f"d/{n}" for n in names), *(f"d/e/{n}" for n in names)],
        {
            ".rgignore": "p1\n!p2\n",
            ".ignore": "p2\n!p3\np4\n",
            ".gitignore": "p3\n!p4\np5\n!p6\n",
            ".git/info/exclude": "p5\np6\np7\n!p8\n",
            "d/.gitignore": "!p5\np8\n",
            "d/e/.ignore": "!p1\n!p4\n",
        },
    )
    (home / ".config" / "git").mkdir()
    (home / ".config" / "git" / "ignore").write_text("p7\np8\n")
    same_as_rg(root)
    same_as_rg(root, paths=["d"])
    same_as_rg(root / "d")


def test_global_excludes_file_from_gitconfig(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "glob"
    root.mkdir()
    git_init(root)
    make_tree(root, ["g1", "g2", "g3", "sub/g2"])
    (home / ".config" / "git").mkdir()
    (home / ".config" / "git" / "ignore").write_text("g1\n")
    (home / "excludes").write_text("g2\n")
    (home / ".gitconfig").write_text('[core]\n\texcludesFile = "~/excludes"\n')
    assert b"g1" in same_as_rg(root)
    (home / ".gitconfig").unlink()
    (home / ".config" / "git" / "config").write_text("[core]\nexcludesfile=~/excludes\n")
    assert b"g1" in same_as_rg(root)
    # rg's regex takes any whitespace around the value, `\r` and line breaks too
    for config in [b"[core]\r\n\texcludesFile = ~/excludes\r\n",
                   b"[core]\nexcludesfile =\n~/excludes\n"]:
        (home / ".config" / "git" / "config").write_bytes(config)
        assert b"g2" not in same_as_rg(root)


def test_global_excludes_path_is_read_again_when_a_config_changes(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a daemon asks before each search: read again after an edit in place of the same
    size (in the same tick as the previous one, the stat may not show it: a config changed
    so recently is not kept), and kept until a config's stat changes (a file of the same
    size put in its place)."""
    config = home / ".gitconfig"
    for name in ("aa", "bb"):
        config.write_text(f"[core]\n\texcludesFile = ~/{name}\n")
        assert ignore_module.global_excludes_path() == os.fsencode(home / name)
    monkeypatch.setattr(ignore_module, "_RACY_S", -60.0)  # every stat trusted: the path kept
    for name in ("cc", "dd"):
        (home / "new").write_text(f"[core]\n\texcludesFile = ~/{name}\n")
        (home / "new").replace(config)
        assert ignore_module.global_excludes_path() == os.fsencode(home / name)
        assert ignore_module.global_excludes_path() == os.fsencode(home / name)


def test_global_and_explicit_ignore_files_see_the_walked_path(tmp_path: Path, home: Path) -> None:
    """rg matches them against the path its walk shows, minus a leading `./` (twice) and
    then a leading `/`: `.//sub/a` and an absolute path's `tmp/...` can be matched too."""
    root = tmp_path / "top"
    git_init(root)
    make_tree(root, ["a", "sub/a", "sub/b", "sub/sub/a"])
    (home / ".config" / "git").mkdir()
    absolute = str(root / "sub" / "b").lstrip("/")
    (home / ".config" / "git" / "ignore").write_text(f"/sub/a\n{absolute}\n")
    for opts in [WalkOptions(), WalkOptions(ignore_files=[str(home / ".config/git/ignore")])]:
        for path in ["sub", ".//sub", "./.", "././sub", "./././sub", str(root), f"/{root}", ".//"]:
            same_as_rg(root, opts, [path])


def test_globs_see_the_walked_path_without_two_leading_dot_slashes(
        tmp_path: Path, home: Path) -> None:
    make_tree(tmp_path, ["a", "sub/a", "sub/b", "sub/sub/a"])
    for glob in ["!/sub/a", "sub/*", "sub/sub/**", "!./sub/a"]:
        for path in ["./.", "././sub", "./././sub", ".//sub", "./"]:
            same_as_rg(tmp_path, WalkOptions(globs=[glob]), [path])


def test_globs_see_the_cwd_walked_from_above_as_an_empty_path(
        tmp_path: Path, home: Path) -> None:
    """rg strips the cwd from an absolute walked path before it matches `-g` globs: the cwd
    itself, walked from above, is an empty path (and name) that `!x` does not leave out."""
    make_tree(tmp_path, ["top", "x/q", "x/y/r"])
    for glob in ["!x", "!x/", "!*", "*", "!*/", "!**/x", "x/**", "!x*"]:
        same_as_rg(tmp_path / "x", WalkOptions(globs=[glob]), [str(tmp_path)])
        same_as_rg(tmp_path / "x" / "y", WalkOptions(globs=[glob]), [str(tmp_path)])


def test_crlf_line_ends_before_an_escaped_trailing_space(tmp_path: Path, home: Path) -> None:
    """rg reads an ignore file's lines without `\\r\\n`: `a\\ ` keeps its escaped space (a
    `\\r` alone, at the end of the file, is trailing whitespace)."""
    make_tree(tmp_path, ["a ", "a", "b  ", "c"])
    for text in [b"a\\ \r\nc\r\n", b"b\\ \\ \r\n", b"a\\ \r"]:
        (tmp_path / ".ignore").write_bytes(text)
        same_as_rg(tmp_path)


def test_a_bom_is_part_of_the_first_pattern(tmp_path: Path, home: Path) -> None:
    """rg 14.1 reads an ignore file's UTF-8 BOM as the start of its first pattern (git
    would drop it), which then never matches."""
    make_tree(tmp_path, ["one.txt", "two.txt", "sub/one.txt", "sub/three.txt"], {
        ".ignore": "\ufeffone.txt\ntwo.txt\n", "sub/.gitignore": "\ufeff*.txt\n",
        "sub/.ignore": "\ufeff\n!three.txt\n",
    })
    git_init(tmp_path / "sub")
    same_as_rg(tmp_path)


def test_a_linked_worktree_uses_its_main_repositorys_exclude(tmp_path: Path, home: Path) -> None:
    main, worktree = tmp_path / "main", tmp_path / "wt"
    make_tree(main, ["ok.txt"])
    git_init(main)
    git = ["git", "-C", str(main), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    subprocess.run([*git, "worktree", "add", "-q", str(worktree)], check=True,
                   capture_output=True)
    (main / ".git" / "info" / "exclude").write_text("excluded.txt\n")
    make_tree(worktree, ["excluded.txt", "kept.txt", "sub/excluded.txt"])
    assert same_as_rg(worktree) == b"kept.txt\nok.txt\n"


@pytest.mark.parametrize("names", [(), *((n,) for n in _NARROW_NO_IGNORE),
                                   ("no_ignore_vcs", "no_require_git"),
                                   ("no_ignore_parent", "no_require_git")], ids=str)
@pytest.mark.parametrize("repo", [True, False], ids=["repo", "no-repo"])
def test_each_kind_of_ignore_file_can_be_left_out(tmp_path: Path, home: Path,
                                                  names: tuple[str, ...], repo: bool) -> None:
    """--no-ignore-vcs, -dot, -exclude, -global, -parent and --no-require-git, as rg."""
    top = tmp_path / "top"
    root = top / "r"
    files = [f"{d}{n}.txt" for d in ("", "sub/") for n in "abcdefgh"]
    make_tree(root, files, {
        "../.ignore": "a.txt\n", "../.gitignore": "h.txt\n", ".gitignore": "b.txt\n",
        ".ignore": "c.txt\n", ".rgignore": "d.txt\n", "sub/.gitignore": "f.txt\n",
    })
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("g.txt\n")
    if repo:
        git_init(root)
        (root / ".git" / "info" / "exclude").write_text("e.txt\n")
    opts = WalkOptions(**dict.fromkeys(names, True))
    same_as_rg(root, opts)
    same_as_rg(root / "sub", opts)
    same_as_rg(top, opts, ["r"])


@pytest.mark.parametrize(("sort_by", "reverse"), [("path", True), ("modified", False),
                                                  ("modified", True), ("accessed", True)])
def test_sorted_by_a_stat_field_or_in_reverse(basic: Path, sort_by: str, reverse: bool) -> None:
    files = sorted(p for p in basic.rglob("*") if p.is_file() and not p.is_symlink())
    for i, path in enumerate(files):  # times all different, in no relation to the paths
        seconds = 1_000_000 + (i * 7919) % len(files) * 60
        os.utime(path, (seconds, seconds))
    opts = WalkOptions(sort_by=sort_by, sort_reverse=reverse)  # type: ignore[arg-type]
    same_as_rg(basic, opts)
    same_as_rg(basic, opts, ["sub", "a", "a-c", "a.txt"])


def test_sortr_path_compares_paths_as_rust_does(tmp_path: Path) -> None:
    """--sortr path orders paths as Rust's Path does: by components, where `.` past the start
    and empty parts are none, and `/`, a leading `.` and `..` come before any name."""
    make_tree(tmp_path, ["a/x", "a.txt", "#h", "ab", ".h/q", "Foo"])
    opts = WalkOptions(sort_by="path", sort_reverse=True)
    for paths in [["./.h/q", "././Foo"], [f"{tmp_path}/.", f"{tmp_path}/a.txt"],
                  ["./a.txt", "#h", f"../{tmp_path.name}/ab"], [".//a.txt", "a//x", "./a/x"]]:
        same_as_rg(tmp_path, opts, paths)


@pytest.mark.parametrize(("sort_by", "reverse"), [("modified", False), ("modified", True),
                                                  ("accessed", False), ("accessed", True)])
def test_equal_stat_times_keep_the_directories_order(
    basic: Path, sort_by: str, reverse: bool
) -> None:
    """Files with the same time (as a tarball unpacks them) stay in the order rg's walk met
    them: its stable sort keeps each directory's listing order (not sorted by name)."""
    make_tree(basic, [f"many/{name}{i}.c" for i in range(30) for name in ("q", "b", "k")])
    for path in basic.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (1_000_000, 1_000_000 + 60 * path.name.startswith("k")))
    opts = WalkOptions(sort_by=sort_by, sort_reverse=reverse)  # type: ignore[arg-type]
    same_as_rg(basic, opts)
    same_as_rg(basic, opts, ["many", "a", "many"])


@pytest.mark.parametrize("reverse", [False, True])
def test_sorted_by_creation_time(tmp_path: Path, home: Path, reverse: bool) -> None:
    """--sort created: the files' birth times (statx), which no stat field holds; a
    directory's files created at once share a time and keep its listing order, as rg's."""
    root = tmp_path / "born"
    names = [f"d{i % 3}/f{(i * 7) % 12}.txt" for i in range(12)]  # created out of path order
    for name in names:
        make_tree(root, [name])
        time.sleep(0.01)  # past the file system's clock tick
    make_tree(root, [f"same/{name}{i}.c" for i in range(20) for name in ("q", "b", "k")])
    opts = WalkOptions(sort_by="created", sort_reverse=reverse)
    same_as_rg(root, opts)
    same_as_rg(root, opts, ["d2", "same", "d0/f0.txt"])


def test_ignore_files_of_parent_directories(tmp_path: Path, home: Path) -> None:
    """Parents' .ignore apply up to `/`; parents' .gitignore only up to the repository root."""
    top = tmp_path / "top"
    make_tree(
        top,
        ["r/f1", "r/f2", "r/f3", "r/sub/f1", "r/sub/f2", "r/sub/f3", "r/sub/f4"],
        {".gitignore": "f1\n", ".ignore": "f2\n", "r/.gitignore": "/sub/f4\nf3\n"},
    )
    git_init(top / "r")
    for cwd, paths in [
        (top, []),
        (top / "r", []),
        (top / "r", ["sub"]),
        (top / "r" / "sub", []),
        (top / "r" / "sub", ["."]),
        (top / "r" / "sub", [".."]),
        (top, [str(top / "r" / "sub")]),
    ]:
        same_as_rg(cwd, paths=paths)


@pytest.mark.parametrize("lines", ["*\n!\n", "!\n*.txt\n", "!  \nx/\n", "*\n!/\n"])
def test_a_lone_bang_in_an_ignore_file_whitelists_everything(repo: Path, lines: str) -> None:
    (repo / ".gitignore").write_text(lines)
    (repo / "x" / ".ignore").write_text(lines)
    same_as_rg(repo)


def test_bad_glob_in_ignore_file_is_a_warning(repo: Path) -> None:
    (repo / ".ignore").write_text("[\n!{a\n*.log\n")
    same_as_rg(repo)


# -- -g, -t, -T -----------------------------------------------------------------------------------

GLOB_CASES = [
    ["*.txt"],
    ["*.py", "!x.py"],
    ["!a"],
    ["!a/", "!B"],
    ["a/*"],
    ["a/**"],
    ["a/**/y"],
    ["**/y"],
    ["**"],
    ["*"],
    ["?"],
    ["??"],
    ["[!a]*"],
    ["a[/]x"],
    ["*.{py,txt}"],
    ["x\\*"],
    ["sub/"],
    [".hidden"],
    ["*", "!a/", "!sub/deep"],
    # `!` alone is `**/`, which globset matches against everything (it ignores every file)
    ["!"], ["*.txt", "!"], ["!", "*.txt"], ["!!"], ["!/"],
]


@pytest.mark.parametrize("globs", GLOB_CASES)
def test_globs(basic: Path, globs: list[str]) -> None:
    same_as_rg(basic, WalkOptions(globs=globs))
    same_as_rg(basic, WalkOptions(globs=globs), paths=["./", "sub"])


IGLOB_CASES = [
    WalkOptions(iglobs=["*.TXT"]),
    WalkOptions(iglobs=["A/"]),
    WalkOptions(iglobs=["!A/", "*"]),
    WalkOptions(globs=["!*.txt"], iglobs=["*.TXT"]),  # --iglob comes after every -g ...
    WalkOptions(globs=["*.TXT"], iglobs=["!*.txt"]),
    WalkOptions(globs=["*.TXT", "SUB/**"], glob_case_insensitive=True),  # ... -g ignores case
    WalkOptions(iglobs=["*.Py"], type_changes=[("negate", "py")]),
]


@pytest.mark.parametrize("opts", IGLOB_CASES)
def test_case_insensitive_globs(basic: Path, opts: WalkOptions) -> None:
    make_tree(basic, ["A.TXT", "sub/b.Txt", "SUB/c.tXt", "x.PY"])
    same_as_rg(basic, opts)


def select(*names: str) -> list[TypeChange]:
    return [("select", name) for name in names]


def negate(*names: str) -> list[TypeChange]:
    return [("negate", name) for name in names]


@pytest.mark.parametrize(
    "changes",
    [
        select("py"),
        select("py", "txt"),
        negate("py"),
        select("all"),
        negate("all"),
        # The last selection whose globs match the name decides: the order counts.
        select("c") + negate("c"),
        negate("c") + select("c"),
        select("cpp") + negate("c"),
        negate("c") + select("cpp"),
        select("all") + negate("c"),
        negate("all") + select("c"),
        [("add", "foo:*.TXT"), *select("foo")],
        [*select("foo"), ("add", "foo:*.TXT"), ("add", "foo:*.h")],  # defined after -t
        [("add", "foo:include:c,txt"), *select("foo")],
        [("clear", "c"), ("add", "c:*.h"), *select("c")],
        [("add", "foo:*.py"), ("add", "bar:include:foo"), ("clear", "foo"), *select("bar")],
        [("add", "c:*.TXT"), *select("c"), *negate("py")],
    ],
)
def test_types(basic: Path, changes: list[TypeChange]) -> None:
    make_tree(basic, ["A.TXT", "c.c", "d.h", ".e.c", "sub/f.cc", "new\nline.txt", "n\nl.c"])
    same_as_rg(basic, WalkOptions(type_changes=changes))
    same_as_rg(basic, WalkOptions(type_changes=changes, globs=["!sub"]))


@pytest.mark.parametrize(
    "changes",
    [
        [("add", "foo")], [("add", ":*.c")], [("add", "foo:")], [("add", "foo:include:")],
        [("add", "foo:bar:*.c")], [("add", "foo:include:c,nope")], [("add", "all:*.c")],
        [("add", "f/oo:*.c")], [("add", "foo:*.c:x")], [("clear", "c"), *select("c")],
        [("add", "foo:["), *select("foo", "nope")], [*select("nope"), ("add", "foo:["),
                                                     *select("foo")],
        [*select("nope"), ("add", "foo")],
    ],
)
def test_type_errors_are_rgs(basic: Path, changes: list[TypeChange]) -> None:
    """rg's first error: a bad definition, else the first bad selection in order."""
    expected, messages = run_rg(basic, WalkOptions(type_changes=changes), [])
    assert expected == b"" and len(messages) == 1
    with pytest.raises(PatternError) as error:
        check_filters(WalkOptions(type_changes=changes))
    assert str(error.value) == messages[0]


def test_filters_do_not_apply_to_named_files(basic: Path) -> None:
    opts = WalkOptions(globs=["*.txt"], type_changes=select("py"))
    same_as_rg(basic, opts, paths=["a/x", ".hidden", "a.txt"])


def test_invalid_glob_and_unknown_type_are_errors_worded_like_rg() -> None:
    with pytest.raises(PatternError, match=r"^error parsing glob '\[': unclosed character class"):
        Walker([], WalkOptions(globs=["["]))
    with pytest.raises(PatternError, match=r"^error parsing glob '\{a,\{b\}\}': nested"):
        Walker([], WalkOptions(globs=["{a,{b}}"]))
    with pytest.raises(PatternError, match=r"^unrecognized file type: nope$"):
        check_filters(WalkOptions(type_changes=negate("nope")))
    check_filters(WalkOptions(type_changes=select("all", "py")))
    with pytest.raises(PatternError, match=r"^error parsing glob '\]\[': unclosed"):
        Walker([], WalkOptions(globs=["]["], iglobs=["["]))  # -g before --iglob, as rg


def test_type_list_is_rgs() -> None:
    expected = subprocess.run([RG, "--type-list"], capture_output=True, check=True).stdout
    assert type_list().encode() == expected
    changes: list[TypeChange] = [
        ("add", "foo:*.c"), ("add", "foo:*.c"), ("add", "c:*.c"), ("add", "foo:*.a"),
        ("add", "FOO:*.c"), ("clear", "py"), ("add", "bar:include:foo,md"),
    ]
    flags = rg_flags(WalkOptions(type_changes=changes))
    expected = subprocess.run([RG, *flags, "--type-list"], capture_output=True, check=True).stdout
    assert type_list(changes).encode() == expected


# -- trigrep's index directory -------------------------------------------------------------------


@pytest.mark.parametrize("opts", [WalkOptions(), WalkOptions(hidden=True, no_ignore=True)])
def test_index_directory_is_never_listed(basic: Path, opts: WalkOptions) -> None:
    """trigrep's own directories (the index at the root, a nested one, one a daemon has just
    made) are never listed; a user's directory of that name is, as rg lists it."""
    make_tree(basic, [".trigrep/lock", ".trigrep/seg-1.tgs", "sub/.trigrep/manifest",
                      "new/.trigrep/daemon.lock", "mine/.trigrep/x"],
              {".trigrep/.gitignore": "*\n", ".trigrep/.ignore": "*\n",
               "new/.trigrep/.ignore": "*\n"})
    expected, _ = run_rg(basic, opts, [])
    listing, _ = run_walk(basic, opts, [])
    kept = [line for line in expected.splitlines(True)
            if b".trigrep/" not in line or line.startswith(b"mine/")]
    assert listing == b"".join(kept)
    if opts.hidden:
        assert b"mine/.trigrep/x" in listing


# -- randomised ignore files ---------------------------------------------------------------------

RANDOM_TREE = [
    "b", "b.c", "a/b/c", "ab/c.c", "x/a", "x/ab.c", "x/y/b", ".a", "x/.b/c", "c/a/b.c", "a/c",
]  # fmt: skip
pattern_part = st.sampled_from(["a", "b", "c", "ab", "*", "?", "**", "*.c", "[ab]", "{a,b}"])
patterns = st.builds(
    lambda neg, lead, parts, trail: neg + lead + "/".join(parts) + trail,
    st.sampled_from(["", "", "!"]),
    st.sampled_from(["", "", "/", "**/"]),
    st.lists(pattern_part, min_size=1, max_size=3),
    st.sampled_from(["", "", "/", "/**"]),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(patterns, min_size=1, max_size=5), in_sub=st.booleans())
def test_random_ignore_files_match_rg(tmp_path: Path, home: Path, lines: list[str], in_sub: bool):
    root = tmp_path / "rand"
    if not root.exists():
        make_tree(root, RANDOM_TREE)
    ignore_file = root / ("x" if in_sub else "") / ".ignore"
    ignore_file.write_text("\n".join(lines) + "\n")
    same_as_rg(root)
    same_as_rg(root, WalkOptions(globs=lines[:2]))


# -- a real tree -------------------------------------------------------------------------------


@pytest.mark.skipif(not (STDLIB / "json").is_dir(), reason="no stdlib source tree")
@pytest.mark.parametrize(
    "opts",
    [WalkOptions(), WalkOptions(type_changes=select("py")), WalkOptions(globs=["*.txt"])],
)
def test_python_stdlib_tree(home: Path, opts: WalkOptions) -> None:
    same_as_rg(STDLIB, opts)


@pytest.mark.parametrize("path", [
    "/r/a", "/r/a/b.c", "/r/./a", "/r//a", "/r/a/../b", "/r", "/r/", "/rx/a", "/other/a", "/r/.a",
])
@pytest.mark.parametrize("root", ["/r", "/r/", "/"])
def test_relative_path_is_relpath(path: str, root: str) -> None:
    assert relative_path(path, root) == os.path.relpath(path, root)
