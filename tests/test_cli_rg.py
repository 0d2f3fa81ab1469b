"""Differential tests of the whole CLI: trigrep's stdout and exit code must equal rg's.

Each tree is searched twice: once building the index on first use, and once after edits,
additions, deletions and renames made behind the index's back.
"""

from __future__ import annotations

import fcntl
import gzip
import itertools
import os
import random
import shutil
import signal
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (
    RG,
    TRIGREP,
    Run,
    as_plain_user,
    normalise_json,
    normalise_timings,
    run,
    run_until_first_line,
)

TEXT = """\
int main(void) { return PM_RESUME; }
static int pm_resume(struct device *dev)
#define PM_RESUME_FLAG 0x10
foo bar baz qux
foobar foo_bar foo-bar
Straße STRASSE strasse
αβγ Ωmega ωmega ohm: \u2126
Kelvin \u212a k K; long \u017f s S
tab\there  trailing\x20\x20\x20
x
"""

# (relative path, bytes). Covers encodings, binary, line endings and ignore rules.
FILES: dict[str, bytes] = {
    "src/main.c": TEXT.encode(),
    "src/util.h": b"#ifndef UTIL_H\n#define UTIL_H\nint pm_resume(void);\n#endif\n",
    "src/lib.rs": b"fn main() {\n    println!(\"PM_RESUME {}\", 1);\n}\n",
    "src/app.py": b"def foo():\n    return 'bar'\n\nclass Foo:\n    pass\n",
    "src/crlf.txt": b"foo\r\nbar\r\nfoo bar\r\n",
    "src/nonl.txt": b"foo at end without newline",
    "src/empty.txt": b"",
    "src/latin1.txt": b"caf\xe9 foo \xff\xfe bar\n",
    "src/utf16.txt": "\ufefffoo in utf16\nbar\n".encode("utf-16-le"),
    "src/binary.bin": b"foo\x00bar\x00foo\n" * 3,
    "src/late_nul.dat": b"foo line\n" * 20 + b"\x00tail foo\n",
    # Bigger than rg's buffer: read only up to 64 KiB when its NUL lies there (not the last).
    "src/big_early_nul.bin": b"foo line\n" * 100 + b"\x00" + b"foo PM_RESUME\n" * 9000,
    "src/big_late_nul.bin": b"foo line\n" * 9000 + b"\x00" + b"foo PM_RESUME\n" * 9000,
    "src/long.txt": b"a" * 200_000 + b" foo " + b"b" * 1000 + b"\n",
    "docs/readme.md": b"# Title\nSee `foo()` and PM_RESUME.\n\n- item\n",
    "docs/deep/nested/file.md": b"deep foo\n",
    "Makefile": b"all:\n\tcc -o main src/main.c # foo\n",
    "ignored.log": b"foo in ignored log\n",
    "build/out.c": b"foo in build dir\n",
    ".hidden/secret.txt": b"foo hidden\n",
    ".env": b"FOO=bar\n",
    "sub/.ignore": b"skip_me.txt\n",
    "sub/skip_me.txt": b"foo skipped by .ignore\n",
    "sub/keep.txt": b"foo kept\nPM_RESUME\n",
    "sub/.trigrep/mine.txt": b"foo in a directory of the user's named like the index\n",
    "name with space.txt": b"foo spaced\n",
    "src/packed.txt.gz": gzip.compress(b"zipped foo line\nPM_RESUME zipped\n", mtime=0),
    "src/broken.gz": b"\x1f\x8b not really gzip foo\n",
    ".gitignore": b"*.log\n/build/\n",
}


def make_tree(root: Path) -> None:
    for rel, data in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    subprocess.run(["git", "init", "-q", str(root)], check=True)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    make_tree(root)
    return root


ARGS: list[list[str]] = [
    ["foo"],
    ["PM_RESUME"],
    ["-i", "pm_resume"],
    ["-S", "pm_resume"],
    ["-S", "PM_resume"],
    ["-s", "-i", "PM_RESUME"],
    ["[A-Z]+_RESUME"],
    ["foo|bar|baz|qux"],
    ["-w", "foo"],
    ["-x", "foo"],
    ["-F", "foo()"],
    ["-F", "-e", "foo", "-e", "bar"],
    ["-v", "foo"],
    ["-n", "foo"],
    ["-N", "--heading", "foo"],
    ["-o", "fo+"],
    ["-c", "foo"],
    ["--count-matches", "o"],
    ["-l", "foo"],
    ["--files-without-match", "foo"],
    ["--files-without-match", "-g", "*.bin", "zzz"],  # a walked binary file: exit 0, no path
    ["-C1", "-n", "bar"],
    ["-A", "2", "PM_RESUME"],
    ["-B", "1", "-n", "foo"],
    ["-m", "1", "foo"],
    ["-g", "*.c", "foo"],
    ["-g", "!*.md", "foo"],
    ["-t", "c", "pm_resume"],
    ["-T", "md", "foo"],
    ["--iglob", "*.C", "foo"],
    ["-g", "!*.c", "--iglob", "*.C", "--glob-case-insensitive", "-g", "*.MD", "foo"],
    ["-t", "c", "-T", "c", "foo"],
    ["-T", "c", "-t", "c", "foo"],
    ["--type-add", "log:*.log", "-t", "log", "-t", "md", "foo"],
    # `all` selects the types defined where it stands, not one added after it
    ["-t", "all", "--type-add", "dat:*.dat", "-a", "-c", "foo"],
    ["-T", "all", "--type-add", "dat:*.dat", "-a", "-l", "foo"],
    ["--type-add", "nope", "foo"],
    ["--iglob", "[", "foo"],
    ["-g", "nomatch", "foo"],  # "No files were searched": exit 2 ...
    ["-g", "nomatch", "foo", "."],  # ... only when no path is given
    ["--type-add", "foo:*.c", "--type-clear", "md", "--type-list"],
    ["--json", "foo"],
    ["--json", "-C1", "PM_RESUME"],
    ["--json", "nomatchanywhere"],  # the summary counts only files with a match...
    ["--json", "-q", "foo"],  # ... except with -q: every file searched, binary ones too
    ["--json", "-q", "nomatchanywhere"],
    ["--json", "-q", "-z", "zipped"],
    # No pattern at all (an empty -f file): rg searches nothing and prints nothing, exit 1.
    ["-f", os.devnull], ["-v", "-c", "-f", os.devnull], ["--json", "-f", os.devnull],
    ["--files-without-match", "-f", os.devnull, "nonexistent"],
    ["--files", "nonexistent", "src"],
    ["-e", "\\x00", "-e", "foo"], ["-c", "(?-u:\\x00)"], ["-c", "[\\x00-\\x01]|foo"],
    ["-a", "-c", "\\x00"],  # a literal NUL: an error unless -a (a class of it is fine)
    ["foo|\udcff"],  # an argument of non-UTF-8 bytes: "pattern given is not valid UTF-8"
    # --null: a NUL ends each path (no ':' after it, no newline after a path alone).
    ["-0", "-l", "foo"], ["-l0", "foo"], ["--null", "-c", "foo"], ["--null", "--files"],
    ["--null", "-n", "-C1", "PM_RESUME"], ["--null", "--heading", "-n", "foo"],
    ["--null", "--color", "always", "foo"], ["--null", "--json", "PM_RESUME"],
    ["--null", "foo", "src/main.c"], ["--null", "-o", "-n", "foo"],
    # Binary files: -a searches them as text, --binary (and -uuu) as if named.
    ["-a", "-n", "foo"], ["-a", "-c", "foo"], ["-a", "--json", "PM_RESUME"],
    ["--binary", "-n", "foo"], ["--binary", "-c", "foo"], ["--binary", "--json", "foo"],
    ["-uuu", "-c", "foo"], ["-a", "--no-text", "-c", "foo"], ["--binary", "-a", "-l", "foo"],
    ["-a", "foo", "src/binary.bin", "src/late_nul.dat"], ["-a", "-z", "-c", "zipped"],
    # -u: --no-ignore, -uu: and --hidden; -H/-I: the path or not.
    ["-u", "-c", "foo"], ["-uu", "-l", "foo"], ["-uu", "--files"],
    # each -u sets its flag where it stands: later flags win, earlier ones lose
    ["-uu", "--no-hidden", "--files"], ["-uuu", "--no-binary", "-c", "foo"],
    ["-uuu", "--no-text", "-n", "foo"], ["-a", "-uuu", "foo", "src/binary.bin"],
    ["-H", "foo", "src/main.c"], ["-I", "-n", "foo"], ["-I", "-c", "foo"], ["-I", "-H", "foo"],
    # --max-depth: levels below each path given; 0 only the paths given.
    ["--max-depth", "0", "foo"], ["--max-depth", "0", "foo", "src/main.c", "docs"],
    ["--max-depth", "1", "-c", "foo"], ["-d", "2", "-l", "foo"], ["-d1", "--files", "docs", "."],
    # --column: the first match's (bytes, from 1); it implies -n unless -N is given.
    ["--column", "foo"], ["--column", "-N", "-C1", "PM_RESUME"], ["--column", "-o", "o"],
    ["--column", "-v", "foo"], ["--column", "--color", "always", "-o", "-i", "foo"],
    ["--column", "-U", "foo\\nbar|o"], ["--column", "-o", "-U", "foo\\nbar"],
    ["--column", "x*"], ["--column", "--heading", "-i", "strasse"],
    # --vimgrep: a line per match (path, line, column), the whole line, only it painted.
    ["--vimgrep", "o"], ["--vimgrep", "-U", "foo\\nbar|o"], ["--vimgrep", "-C1", "PM_RESUME"],
    ["--vimgrep", "--color", "always", "o"], ["--vimgrep", "-I", "-N", "foo", "src/main.c"],
    ["--vimgrep", "-v", "o"], ["--vimgrep", "--heading", "foo"], ["--vimgrep", "-c", "foo"],
    ["-.", "--files"], ["--hidden", "--no-hidden", "--files"], ["-.l", "foo"],
    ["-F", "--no-fixed-strings", "fo.", "-c"], ["-v", "--no-invert-match", "-c", "foo"],
    ["--maxdepth", "1", "--files"],
    # --vimgrep turns columns and line numbers on unless a flag says otherwise, in any order
    ["--vimgrep", "--no-column", "foo"], ["--no-column", "--vimgrep", "foo"],
    ["--vimgrep", "-N", "--no-column", "foo"], ["-N", "--vimgrep", "foo"],
    ["--vimgrep", "-U", "^"], ["--vimgrep", "-U", "b|^", "src"],
    ["--vimgrep", "-U", "\\n?", "docs"],
    # --multiline-dotall: with -U, `.` matches a newline too; without -U it changes nothing.
    ["-U", "--multiline-dotall", "-n", "foo.bar"], ["--multiline-dotall", "-c", "foo.bar"],
    ["-U", "--multiline-dotall", "--no-multiline-dotall", "-c", "foo.bar"],
    ["-U", "--no-multiline", "-c", "foo.bar"], ["-U", "--multiline-dotall", "-c", "(?-s)o.b"],
    # --include-zero: -c and --count-matches also print files without a match (binary
    # files that stop at a NUL stay out); nothing else changes.
    ["-c", "--include-zero", "foo"], ["--count-matches", "--include-zero", "-v", "o"],
    ["-c", "--include-zero", "nomatchanywhere"], ["-c", "--include-zero", "--no-include-zero",
                                                  "foo"],
    ["-l", "--include-zero", "foo"], ["--include-zero", "-n", "PM_RESUME"],
    ["-c", "--include-zero", "-g", "*.md", "foo", "src", "docs"],
    # --no-messages: no word on unreadable paths (the exit code still tells); -j and
    # --no-config are accepted.
    ["--no-messages", "foo", "missing.txt", "src/main.c"], ["--no-messages", "-g", "*.no", "x"],
    ["--no-messages", "--messages", "-c", "foo", "missing.txt"],
    ["--no-messages", "--files", "missing", "docs"], ["-j", "1", "-c", "foo"],
    ["--threads", "x", "foo"], ["--no-config", "-l", "foo"],
    # -b, --trim, and the separators rg lets one choose.
    ["-b", "-n", "-C1", "foo"], ["-b", "-o", "-U", "foo\\nbar"], ["--trim", "-n", "tab"],
    ["--trim", "-o", "--color", "always", " +trailing"], ["--vimgrep", "-b", "--trim", "o"],
    ["--context-separator", "\\x3d\\x", "-C1", "PM_RESUME"], ["--no-context-separator", "-A1", "x"],
    ["--field-match-separator", "\\0", "--field-context-separator", "|", "-n", "-C1", "foo"],
    ["--field-match-separator", "=", "-c", "foo"], ["--heading", "--context-separator", "",
                                                    "-C1", "foo"],
    ["-M", "20", "foo"], ["-M", "20", "--max-columns-preview", "--color", "always", "-i", "k"],
    ["-M", "0", "-c", "foo"], ["-M", "12", "-U", "--vimgrep", "foo\\nbar"],
    # Flags anywhere among the positional arguments, as rg takes them; -w and -x: the last
    # one wins; -m0 searches nothing (not even a missing path is reported).
    ["foo", "-n", "src/main.c"], ["foo", "src", "-c", "docs"], ["foo", "-i", "--", "src/main.c"],
    ["-e", "x", "--", "-y"], ["foo", "-g", "*.md", "docs", "-l"], ["-x", "-w", "-c", "foo"],
    ["-w", "-x", "-c", "foo"], ["-xw", "-c", "foo"], ["-m0", "-l", "foo"], ["-m0", "-q", "foo"],
    ["-m0", "--files-without-match", "foo"], ["-m0", "--json", "foo"], ["-m0", "foo", "nope"],
    ["-m0", "("], ["-m0", "-g", "[", "foo"],
    ["--count-matches", "$"], ["--count-matches", "$", "src/nonl.txt"], ["-l", "x$"],
    ["-N", "--json", "-C1", "foo"], ["--json", "-o", "-N", "-U", "foo\\nbar"],
    # Each kind of ignore file can be left out (--no-ignore-vcs, -dot, ...), or all but
    # brought back (--ignore).
    ["--no-ignore-vcs", "-l", "foo"], ["--no-ignore-dot", "-l", "foo"],
    ["--no-ignore-parent", "--no-ignore-exclude", "--no-ignore-global", "-c", "foo"],
    ["--no-ignore", "--ignore", "-c", "foo"], ["--no-require-git", "--files"],
    ["--no-ignore-vcs", "--ignore-vcs", "-l", "foo"], ["--no-ignore", "--ignore-vcs", "-l", "foo"],
    ["-u", "--ignore-dot", "-l", "foo"], ["--no-ignore-dot", "--ignore", "-l", "foo"],
    ["-uu", "--ignore", "-l", "foo"],
    # -r: groups by number and name, unknown ones, `$$`, several patterns, -w/-x, -U.
    ["-r", "$2-$1", "(f)(o)|(b)(a)"], ["-r", "${2}$1", "-e", "(f)(o)", "-e", "(b)(a)"],
    ["-r", "<$w>", "(?P<w>fo)o"], ["-r", "$1x|${1}x|${x|$", "(o)"], ["-w", "-r", "W", "foo"],
    ["-i", "-x", "-r", "X$0", "x"], ["-U", "-n", "-r", "N$1", "foo(\\n)bar"],
    ["-F", "-r", "$0$0", "o("], ["-o", "-r", "[$1]", "(é)|o"],
    ["-U", "--vimgrep", "-r", "", "o?\\n"],  # (rg shows no match after the last line)
    # --path-separator (text output only), -p, buffering flags accepted, --sortr path.
    ["--path-separator", "\\\\", "-n", "foo"], ["--path-separator", "\\x3A", "-l", "foo"],
    ["--path-separator", "+", "--files", "docs"], ["--path-separator", "+", "--json", "x"],
    ["--path-separator", "", "-c", "foo"], ["-p", "foo"], ["-p", "--no-heading", "-N", "foo"],
    ["--line-buffered", "-c", "foo"], ["--block-buffered", "-l", "foo"],
    ["--sortr", "path", "-n", "foo", "docs", "sub"], ["--sortr", "path", "--files"],
    # --max-filesize: bigger files found by walking are left out (not the paths given).
    ["--max-filesize", "30", "-l", "foo"], ["--max-filesize", "1K", "--files"],
    ["--max-filesize", "0", "foo"], ["--max-filesize", "1K", "-c", "foo", "src/long.txt"],
    ["--max-filesize", "1k", "foo"], ["--max-filesize", "1M", "-c", "foo"],
    # --no-unicode: every pattern as in (?-u): bytes, ASCII classes and word boundaries.
    ["--no-unicode", "-o", "\\w+"], ["--no-unicode", "-o", "-i", "k"], ["--no-unicode", "-c", "."],
    ["--no-unicode", "-w", "-o", "Stra"], ["--no-unicode", "--unicode", "-o", "\\w{3,}"],
    ["--no-unicode", "-o", "(?u)\\w+"], ["--no-unicode", "-c", "\\p{Greek}"],
    # A value `--` attached to its flag (argparse would drop it).
    ["--context-separator=--", "-C1", "PM_RESUME"], ["--regexp=--", "-c"], ["-e--", "-c"],
    ["--field-match-separator=--", "-n", "foo"], ["--max-depth=--", "foo"],
    # Flags as rg parses them: no abbreviations, no --colour, counts that fit a u64.
    ["--head", "foo"], ["--colour", "never", "foo"], ["-C", "99999999999999999999", "foo"],
    ["-C", "1_0", "foo"], ["-C", "+1", "foo"], ["-m", "18446744073709551615", "foo"],
    ["-C", "18446744073709551615", "foo"],
    # --passthru: every file searched printed whole, even those the index rules out; the last
    # of it and -A/-B/-C wins.
    ["--passthru", "-n", "PM_RESUME"], ["--passthru", "nomatchanywhere", "src", "docs"],
    ["--passthrough", "-c", "foo"], ["-C1", "--passthru", "-m1", "foo", "src"],
    ["--passthru", "-B1", "foo"], ["--passthru", "--json", "-U", "foo\nbar", "src"],
    ["--color", "always", "-n", "foo"],
    # --colors: specs applied in order over rg's defaults, as termcolor writes them
    ["--color", "always", "--colors", "match:none", "-n", "--column", "foo"],
    ["--color", "always", "--colors", "match:fg:blue", "--colors", "match:style:nobold",
     "--colors", "line:bg:0x10,20,255", "--colors", "path:style:underline", "-C1", "foo"],
    ["--color", "always", "--colors", "Path:FG:Red", "--colors", "path:style:intense",
     "--colors", "column:fg:200", "--colors", "line:none", "--vimgrep", "-b", "foo"],
    ["--color", "always", "--colors", "match:style:underline", "-o", "-r", "X", "fo+"],
    ["--color", "always", "--colors", "path:bg:cyan", "--heading", "-n", "foo"],
    ["--color", "always", "--colors", "path:fg:yellow", "-c", "foo"],
    ["--color", "always", "--colors", "match:none", "--colors", "match:style:intense",
     "-U", "foo\\nbar"],
    ["--colors", "match:fg:0x1G", "foo"], ["--colors", "match:fg:256", "foo"],
    ["--colors", "match:fg:1,2", "foo"], ["--colors", "nope:fg:red", "foo"],
    ["--colors", "match:fg", "foo"], ["--colors", "match:xx:red", "foo"],
    ["--colors", "match:style:blink", "foo"], ["--colors", "match:fg:red:x", "foo"],
    # --hyperlink-format: links around what precedes each line, when painting
    *[["--color", "always", "--hyperlink-format", link, *args]
      for link in ("vscode", "default", "kitty", "grep+", "macvim", "textmate", "file",
                   "vscode-insiders", "vscodium", "a+b.c:{path}{{{line}}}{host}")
      for args in (["-n", "--column", "foo"], ["--heading", "foo"], ["-o", "-b", "o"],
                   ["-C1", "PM_RESUME"], ["-c", "foo"], ["--vimgrep", "-U", "foo\\nbar"])],
    ["--color", "always", "--hyperlink-format", "vscode", "--heading", "-n", "-0", "foo"],
    ["--color", "always", "--hyperlink-format", "vscode", "-l", "-0", "foo"],
    # (the path before each line is a link even when nothing else is painted or numbered)
    ["--color", "always", "--colors", "match:none", "--hyperlink-format", "vscode", "foo"],
    ["--color", "always", "--hyperlink-format", "vscode", "-H", "-v", "foo", "src/main.c"],
    ["--color", "always", "--hyperlink-format", "vscode", "-n", "foo", "src/main.c"],
    ["--color", "always", "--hyperlink-format", "none", "-n", "foo"],
    ["--color", "never", "--hyperlink-format", "vscode", "-n", "foo"],
    ["--hyperlink-format", "{path}", "foo"], ["--hyperlink-format", "x_y:{path}", "foo"],
    ["--hyperlink-format", "a:{path}{column}", "foo"], ["--hyperlink-format", "a:{line}", "foo"],
    ["--hyperlink-format", "a:{{path}}", "foo"], ["--hyperlink-format", "a:{nope}", "foo"],
    ["--hyperlink-format", "a:{path}{", "foo"], ["--hyperlink-format", "a:{path}}", "foo"],
    ["-i", "strasse"],
    ["-i", "k"],
    ["-i", "ωmega"],
    [r"\p{Greek}+"],
    [r"\w{5}\s+\w{3}"],
    [r"\bfoo\b"],
    ["^foo$"],
    ["bar$"],
    ["-U", "foo\\nbar"],
    ["--hidden", "foo"],
    ["--no-ignore", "foo"],
    ["-z", "foo"],
    ["-z", "-c", "PM_RESUME"],
    ["-z", "--json", "zipped"],
    ["-q", "foo"],
    ["nomatchanywhere"],
    ["foo", "src"],
    ["foo", "src/main.c"],
    ["foo", "./docs"],
    ["foo", "src", "docs/readme.md"],
    ["--files"],
    ["-t", "ruby", "foo"],
    ["--json", "-t", "ruby", "foo"],
    ["-c", "-g", "*.nothing", "foo"],
    ["[[:upper:]]{4}"],
    # a flag's value is the next argument, even one that starts with "-" (as rg's parser)
    ["-e", "->"],
    ["-ie", "-x", "-c"],
    ["--regexp", "-o"],
    ["-g", "-x", "foo"],
    ["-t", "-c", "foo"],
    ["-A", "-1", "foo"],
    ["-e", "foo", "--", "-x"],
    # what is printed: the last of -l, --files-without-match, -c, --count-matches, --json
    ["-l", "--json", "foo"],
    ["--json", "-l", "foo"],
    ["-c", "--json", "foo"],
    ["--json", "--count-matches", "foo"],
    ["--files-without-match", "-c", "foo"],
    ["-c", "--files-without-match", "foo"],
    ["-l", "-c", "foo"],
    ["-c", "-l", "foo"],
    ["--count-matches", "-c", "foo"],
    ["-o", "-c", "foo"],
    ["-q", "--files-without-match", "foo"],
    ["(?i)straße"],
    ["a*"],
    [""],
    # --stop-on-nonmatch: as rg 14.1, the last of it and -U wins (--no-multiline leaves it
    # off); rg knows no --no-stop-on-nonmatch
    ["--stop-on-nonmatch", "-n", "foo"],
    ["--stop-on-nonmatch", "-v", "-n", "-C1", "foo"],
    ["--stop-on-nonmatch", "-c", "o"],
    ["--stop-on-nonmatch", "--json", "-v", "-m2", "o", "src/main.c"],
    ["--stop-on-nonmatch", "-U", "-n", "foo"],
    ["-U", "--stop-on-nonmatch", "-n", "foo"],
    ["-U", "--stop-on-nonmatch", "foo\\nbar"],
    ["--stop-on-nonmatch", "-U", "foo\\nbar"],
    ["-U", "--no-multiline", "--stop-on-nonmatch", "foo"],
    ["--stop-on-nonmatch", "-U", "--no-multiline", "-v", "foo"],
    ["--no-stop-on-nonmatch", "foo"],
    # --null-data: NUL-terminated lines (no binary file is skipped); it and --crlf turn each
    # other off, --no-crlf only --crlf
    ["--null-data", "-n", "foo"], ["--null-data", "-c", "PM_RESUME"], ["--null-data", "-l", "o"],
    ["--null-data", "--heading", "-n", "-C1", "foo"], ["--null-data", "-U", "-c", "line\\x00f"],
    ["--crlf", "--null-data", "-n", "foo$"], ["--null-data", "--crlf", "-n", "foo$"],
    ["--null-data", "--no-crlf", "--json", "PM_RESUME"], ["--null-data", "--files"],
    ["--null-data", "-e", "\\x00"], ["--no-null-data", "foo"],
]


def _rg(args: list[str], cwd: Path, env: dict[str, str]) -> Run:
    return run([RG, "--sort", "path", *args], cwd, env)


def _trigrep(args: list[str], cwd: Path, env: dict[str, str]) -> Run:
    return run([*TRIGREP, *args], cwd, env)


def assert_same(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    want, got = _rg(args, cwd, env), _trigrep(args, cwd, env)
    assert got.code == want.code, (args, got.err.decode(errors="replace"))
    assert bool(got.err) == bool(want.err), (args, got.err, want.err)
    if "--json" in args or "--stats" in args:
        assert normalise_timings(got.out) == normalise_timings(want.out), args
    else:
        assert got.out == want.out, args


@pytest.mark.parametrize("args", ARGS, ids=[" ".join(a) or "<empty>" for a in ARGS])
def test_same_as_rg(tree: Path, env: dict[str, str], args: list[str]) -> None:
    assert_same(args, tree, env)


def test_index_is_built_on_first_use_and_hidden_from_rg(tree: Path, env: dict[str, str]) -> None:
    assert_same(["foo"], tree, env)
    assert (tree / ".trigrep").is_dir()
    assert_same(["--files"], tree, env)
    assert_same(["--hidden", "--files"], tree, env)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=tree, capture_output=True)
    assert b".trigrep" not in status.stdout


def test_never_stale_after_edits(tree: Path, env: dict[str, str]) -> None:
    queries = [["foo"], ["PM_RESUME"], ["-c", "zebra"], ["-l", "qux"], ["--files"]]
    for q in queries:
        assert_same(q, tree, env)
    # Same size edit (mtime changes), growth, a new file, a delete, a rename, a new dir.
    (tree / "src/app.py").write_bytes(FILES["src/app.py"].replace(b"foo", b"zeb"))
    (tree / "docs/readme.md").write_bytes(b"zebra crossing qux\n")
    (tree / "src/new.c").write_bytes(b"int zebra = PM_RESUME;\n")
    (tree / "src/util.h").unlink()
    os.rename(tree / "sub/keep.txt", tree / "sub/kept.txt")
    (tree / "newdir").mkdir()
    (tree / "newdir/z.txt").write_bytes(b"zebra foo qux\n")
    (tree / ".gitignore").write_bytes(b"*.log\n")  # build/ becomes searchable
    for q in queries:
        assert_same(q, tree, env)


def test_same_size_edit_within_the_same_second(tree: Path, env: dict[str, str]) -> None:
    assert_same(["foo"], tree, env)
    path = tree / "src/app.py"
    st = path.stat()
    path.write_bytes(FILES["src/app.py"].replace(b"foo", b"zoo"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    assert_same(["zoo"], tree, env)


def test_errors_are_one_line_with_exit_2(tree: Path, env: dict[str, str]) -> None:
    for args in (["("], ["a{2,1}"], ["foo", "does-not-exist"], ["-t", "nosuchtype", "x"]):
        want, got = _rg(args, tree, env), _trigrep(args, tree, env)
        assert got.code == want.code == 2, args
        assert b"Traceback" not in got.err
    got = _trigrep(["("], tree, env)
    assert got.err.count(b"\n") == 1 and got.err.startswith(b"trigrep: ")


@pytest.mark.parametrize("args", [["line"], ["-c", "line"], ["--json", "line"]], ids=" ".join)
def test_a_reader_that_goes_away_ends_the_search_quietly(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """`trigrep ... | head -1`: exit 0 and nothing on stderr, as rg."""
    for i in range(40):
        (tmp_path / f"f{i:02d}.txt").write_bytes(b"line\n" * 20_000)
    for command in ([RG, *args], [*TRIGREP, *args]):
        assert run_until_first_line(command, tmp_path, env) == (0, b""), command


def test_stdin_is_searched_when_piped_or_named(tree: Path, env: dict[str, str]) -> None:
    data = b"alpha\nfoo beta\ngamma foo\n"
    for args in (
        ["foo"], ["-n", "foo"], ["--json", "foo"], ["-c", "foo"],
        # `-` names standard input among other paths, in their order.
        ["foo", "-"], ["-n", "foo", "src/main.c", "-", "docs"], ["-l", "foo", "-", "-", "src"],
        ["-q", "foo", "-", "src"], ["--json", "foo", "docs", "-"], ["-c", "zzz", "-"],
        # A path that is not a file (`-`, a missing one) makes rg read the files it names as
        # streams: NULs become line ends.
        ["foo", "src/big_late_nul.bin", "-"], ["foo", "src/big_late_nul.bin", "nonexistent"],
        ["foo", "src/big_late_nul.bin", "src/main.c"],
    ):
        want = run([RG, "--sort", "path", *args], tree, env, stdin=data)
        got = run([*TRIGREP, *args], tree, env, stdin=data)
        assert (normalise_json(got.out), got.code) == (normalise_json(want.out), want.code)


def test_null_data_on_stdin_and_in_indexed_pieces(tmp_path: Path, env: dict[str, str]) -> None:
    """--null-data: standard input, and a line (ending in NUL) that spans the 64 KiB pieces a
    big file is indexed as (each cut after a `\\n`): the index must not rule it out."""
    data = b"a foo\nb\0c\n foo\0" + b"start " + b"x\n" * 40_000 + b"end\0tail foo"
    (tmp_path / "big.txt").write_bytes(data)
    (tmp_path / "small.txt").write_bytes(b"start\nend\0start end\0")
    for name in ("big.txt", "small.txt"):  # (old: not racily clean, so the index decides)
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    assert run([*TRIGREP, "index"], tmp_path, env).code == 0
    for args, stdin in itertools.product(
        (["-c", r"start[\s\S]*end"], ["-b", r"start[\s\S]*end"], ["-o", r"x\nend"],
         ["-n", "-U", r"end\x00tail"], ["-l", r"(?s)start.*end"], ["-c", "^c|foo$"],
         ["--json", "-m1", "foo"]),
        (None, data),
    ):
        args = ["--null-data", *args, *(["-"] if stdin else [])]
        want = run([RG, "--sort", "path", *args], tmp_path, env, stdin=stdin)
        got = run([*TRIGREP, *args], tmp_path, env, stdin=stdin)
        assert (normalise_timings(got.out), got.code) == (
            normalise_timings(want.out), want.code), args
        assert got.code == 0, args


STDLIB_QUERIES = [
    ["def __init__"],
    ["-i", "import re$"],
    ["-w", "yield"],
    [r"class \w+Error\("],
    ["-F", "**kwargs"],
    ["-c", "TODO"],
    ["-l", "asyncio"],
    ["-t", "py", "-g", "!test*", "raise NotImplementedError"],
    [r"\p{Greek}"],
    # No usable trigram: the byte filter narrows (old mtimes: the index rules files out).
    ["-c", "é"],
    ["-i", "-l", "é"],
    ["-c", "(?i)ſ"],
    ["-l", r"(?i)\x{212A}"],
    ["-c", "--regexp=->"],
    ["[αβ]x"],
    ["-l", r"(?-u:\xe9)"],
    ["-c", "→|é|✓"],
    ["--json", "-m", "2", "Copyright"],
    ["--json", "-m", "1", "-A", "3", "import"],
    ["--json", "-m", "3", "-B", "2", "-t", "py", "return"],
    ["--json", "-w", "Copyright"],
]


@pytest.fixture(scope="module")
def stdlib_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this interpreter's standard library: real code nobody here wrote."""
    src = Path(sysconfig.get_paths()["stdlib"])
    dst = tmp_path_factory.mktemp("stdlib") / "lib"
    shutil.copytree(
        src, dst, symlinks=True,
        ignore=shutil.ignore_patterns("site-packages", "__pycache__", "test", "idlelib"),
    )
    return dst


@pytest.mark.parametrize("args", STDLIB_QUERIES)
def test_stdlib_same_as_rg(stdlib_copy: Path, env: dict[str, str], args: list[str]) -> None:
    assert_same(args, stdlib_copy, env)


SITE_PACKAGES_QUERIES = [
    ["-c", "import_module"],
    ["-l", "-w", "frozenset"],
    ["-c", "-i", r"utf-?8"],
    ["-c", r"__\w+__\("],
    ["-l", "-F", "(*args, **kwargs)"],
    ["-c", "GLIBC_2"],
    ["-l", "-i", "numpy"],
]


@pytest.fixture(scope="module")
def site_packages_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test environment's installed packages (hard links where possible): code, data
    and shared libraries nobody here wrote, with lines far longer than an index chunk."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    dst = tmp_path_factory.mktemp("site") / "site-packages"
    shutil.copytree(
        sysconfig.get_paths()["purelib"], dst, symlinks=True, copy_function=link_or_copy,
        ignore=shutil.ignore_patterns("__pycache__", "__editable__*", "*.pth"),
    )
    return dst


@pytest.mark.parametrize("args", SITE_PACKAGES_QUERIES)
def test_site_packages_same_as_rg(
    site_packages_copy: Path, env: dict[str, str], args: list[str]
) -> None:
    assert_same(args, site_packages_copy, env)


STATS_ARGS = [
    ["foo"], ["-l", "foo"], ["-q", "foo"], ["--files-without-match", "foo"], ["-v", "foo"],
    ["-o", "-i", "foo"], ["--count-matches", "foo"], ["nomatchanywhere"], ["-m1", "foo"],
    ["--heading", "-n", "foo"], ["-C1", "foo"], ["-c", "-v", "foo", "src"], ["--json", "foo"],
    ["-U", "foo\\nbar"], ["-a", "foo"], ["--binary", "foo"], ["-uuu", "-C1", "foo"],
    ["--passthru", "bar"], ["-r", "X", "foo"], ["-w", "PM_RESUME"], ["--no-stats", "foo"],
    ["--stop-on-nonmatch", "foo"], ["--stop-on-nonmatch", "-v", "-C1", "foo"],
    ["--stop-on-nonmatch", "-c", "foo", "src/main.c", "src/binary.bin"],
    # counting them, rg's printer knows each line's matches: its -M note says how many
    ["-M", "5", "foo"], ["-M", "5", "--max-columns-preview", "foo"],
]


@pytest.mark.parametrize("args", STATS_ARGS, ids=" ".join)
def test_stats_like_rg(tree: Path, env: dict[str, str], args: list[str]) -> None:
    """--stats: rg's totals, every file searched counted (those the index rules out too),
    binary files as rg's printers stop in them."""
    want, got = _rg(["--stats", *args], tree, env), _trigrep(["--stats", *args], tree, env)
    assert (normalise_timings(got.out), got.code) == (normalise_timings(want.out), want.code)


IGNORE_FILE_ARGS = [
    ["--ignore-file", "../rules/ig", "foo"], ["--ignore-file", "../rules/anch", "foo"],
    ["--ignore-file", "sub/.ignorefile", "foo"], ["--ignore-file", "../rules/ig", "-u", "foo"],
    ["--ignore-file", "../rules/ig", "--no-ignore-files", "foo"],
    ["--no-ignore-files", "--ignore-files", "--ignore-file", "../rules/ig", "--no-ignore-vcs",
     "foo"],
    ["--ignore-file", "../rules/anch", "foo", "sub"], ["--ignore-file", "missing", "-c", "foo"],
    ["--ignore-file", "../rules/ig", "--ignore-file", "../rules/anch", "--no-ignore-vcs",
     "--files"],
    ["--ignore-file", "../rules/anch", "--ignore-file", "../rules/ig", "--no-ignore-vcs",
     "--files"],
    ["--ignore-file", "../rules/ig", "--no-ignore-vcs", "-g", "*.log", "foo"],
    ["--ignore-file", "../rules/rooted", "foo", "."], ["--ignore-file", "sub", "foo"],
    ["--ignore-file", "missing1", "--ignore-file", "missing2", "foo"],  # reported in that order
]


@pytest.mark.parametrize("args", IGNORE_FILE_ARGS, ids=" ".join)
def test_ignore_files_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--ignore-file: below every other ignore file (a .gitignore's `!` wins), kept by
    --no-ignore and -u, anchored at the cwd, the last one given first; --no-ignore-files
    drops them wherever given; one that cannot be read is reported, not fatal."""
    tree, rules = tmp_path / "t", tmp_path / "rules"
    (tree / "sub" / "deep").mkdir(parents=True)
    rules.mkdir()
    for name in ("a.txt", "b.log", "keep.log", "sub/c.txt", "sub/deep/d.txt", "sub/e.md"):
        (tree / name).write_text("foo\n")
    (rules / "ig").write_text("*.log\n!keep.log\n")
    (rules / "anch").write_text("sub/*.txt\n!*.log\n")
    (rules / "rooted").write_text("/a.txt\n/sub/deep/d.txt\n")
    (tree / "sub" / ".ignorefile").write_text("*.md\n")
    (tree / ".gitignore").write_text("!*.log\n")
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    want, got = _rg(args, tree, env), _trigrep(args, tree, env)
    assert (got.out, got.code) == (want.out, want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


ENCODING_FILES = {
    "l1.txt": b"caf\xe9 foo \x80\x81 x\n", "u8.txt": b"bad \xff utf8 foo\n",
    "bom16.txt": b"\xff\xfef\x00o\x00o\x00\n\x00", "be.txt": b"\xfe\xff\x00f\x00o\x00o\x00\n",
    "le.txt": b"f\x00o\x00o\x00 \x00\xe9\x00\n\x00", "bom8.txt": b"\xef\xbb\xbfcaf\xc3\xa9 foo\n",
}
ENCODING_ARGS = [
    ["-c", "foo|caf"], ["-E", "none", "-c", "foo|caf"], ["-E", "utf-8", "-o", ".+"],
    ["-E", "utf-16le", "-n", "."], ["-E", "utf-16", "-c", "foo"], ["-E", "latin1", "-o", ".+"],
    ["-E", "Windows-1252", "--json", "é|€"], ["--encoding=utf-16be", "-o", ".+"],
    ["-E", "latin1", "--no-encoding", "-c", "caf"], ["-E", "utf8", "-c", "\\x{FFFD}"],
    ["-E", "bogus", "foo"], ["-E", "ascii", "-o", "\\x{81}|€"],
]


@pytest.mark.parametrize("args", ENCODING_ARGS, ids=" ".join)
def test_encodings_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """-E: the text of each file in the encoding given (U+FFFD for ill-formed input; the
    C1 controls for windows-1252's holes), a UTF-16 BOM still deciding, a UTF-8 BOM dropped;
    none: bytes as they are. Files the index holds are searched directly."""
    for name, data in ENCODING_FILES.items():
        (tmp_path / name).write_bytes(data)
    want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)
    assert (normalise_json(got.out), got.code) == (normalise_json(want.out), want.code), args


SMALL_FILES = {
    "m.txt": b"foo\nbar\nbaz\nfoo bar\n", "one.txt": b"\n", "four.txt": b"a\n\n\nb\n",
    "n3.txt": b"foo\n", "n4.txt": b"xx\n",
    "u16.txt": "\ufefffoo\x00x\nfoo\n".encode("utf-16-le"),
    "long.txt": (b"x" * 300 + b" foo y\n\n" + b"foo " * 100 + b"\n") * 5 + b"end foo",
}
SMALL_ARGS = [
    # -c -o -v counts the matches of inverted lines (none); --count-matches -v counts lines.
    ["-c", "-o", "-v", "foo"], ["-c", "-o", "-v", "--include-zero", "foo"],
    ["--count-matches", "-v", "foo"], ["--count-matches", "-o", "-v", "-U", "foo"],
    # -r: a replacement holding a newline is one line unless the search runs across lines;
    # replaced by nothing across lines, a match prints nothing.
    ["-n", "-r", "X\nY", "a", "m.txt"], ["-o", "-b", "-r", "X\nY", "a"],
    ["--vimgrep", "-r", "X\nY", "a"], ["-U", "-n", "-r", "X\nY", "o\\nb"],
    ["-U", "-r", "", "\\n", "one.txt"], ["-n", "-U", "-r", "", "a\\n", "four.txt"],
    # A UTF-16 file named on the command line is read as a stream: a NUL breaks its line.
    ["--json", "foo", "u16.txt"], ["-v", "foo", "u16.txt"],
    # -o printing nothing for a file still puts a break before it.
    ["-C1", "-U", "-o", "foo|\\n", "n3.txt", "n4.txt"],
    ["-A1", "-U", "-o", "foo|\\n", "n3.txt", "n4.txt", "n3.txt"],
    # -U re-runs a regex that looks behind on the rest of the text after each match (a text
    # start there); one whose matches hold no newline is re-run on a few lines at a time.
    ["-U", "-c", "^", "long.txt"], ["-U", "-o", "-b", "\\bfoo", "long.txt"],
    ["-U", "-n", "^x|y$|^$", "long.txt"], ["-U", "--count-matches", "\\b", "long.txt"],
    ["-U", "-o", "-b", "^.{0,5}", "long.txt"], ["-U", "-c", "\\Afoo|end", "long.txt"],
    # `-` for --files is standard input; -u at most three times.
    ["--files", "-", "m.txt"], ["-uuuu", "foo"],
]


@pytest.mark.parametrize("args", SMALL_ARGS, ids=" ".join)
def test_small_cases_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """Cases found by exploratory sessions, each on a few small files."""
    for name, data in SMALL_FILES.items():
        (tmp_path / name).write_bytes(data)
    want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)
    assert (normalise_json(got.out), got.code) == (normalise_json(want.out), want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


FOLLOW_ARGS = [
    ["-L", "foo"], ["-L", "--files"], ["-L", "-c", "foo", "a"], ["-L", "-d1", "foo"],
    ["-L", "foo", "dangling", "outlink", "filelink"], ["-L", "-l", "foo", "deep", "self"],
    ["-L", "--hidden", "-u", "foo"], ["-L", "--no-follow", "foo"], ["-L", "-g", "!a", "foo"],
    ["-L", "-c", "foo", "sib"],  # a loop names the nearest of the ancestors it points to
]


@pytest.mark.parametrize("args", FOLLOW_ARGS, ids=" ".join)
def test_follow_symlinks_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """-L: links to files and directories in and outside the tree (hidden, ignored ones),
    loops (to the root, to an ancestor) and dangling links, each error worded as rg's."""
    tree, outside = tmp_path / "t", tmp_path / "out"
    for directory in (tree / "a" / "b", tree / "ign", tree / "deep" / "e", outside):
        directory.mkdir(parents=True)
    for path in (tree / "a" / "b" / "x", outside / "y", tree / ".hid", tree / "ign" / "z"):
        path.write_text("foo\n")
    (tree / ".ignore").write_text("ign\nd3\n")
    for link, target in [("a/b/loop", "../../a"), ("outlink", "../out"), ("dangling", "nowhere"),
                         ("filelink", "a/b/x"), ("self", "."), ("hidlink", ".hid"),
                         ("ignlink", "ign"), (".hiddangle", "nowhere"), ("d3", "nowhere"),
                         ("deep/e/up", "../../deep"), ("sib", "deep/e"), ("deep/e/parent", ".."),
                         ("deep/e/dot", ".")]:
        (tree / link).symlink_to(target)
    want, got = _rg(args, tree, env), _trigrep(args, tree, env)
    assert (got.out, got.code) == (want.out, want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


def test_no_files_searched_is_said_after_walk_errors_too(tmp_path: Path,
                                                         env: dict[str, str]) -> None:
    """rg says its implicit ./ searched nothing whatever errors its walk reported (a loop
    and a dangling link with -L), in its own words (README)."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "loop").symlink_to("..")
    (tmp_path / "d" / "dangling").symlink_to("nowhere")
    for args in (["-L", "foo"], ["-L", "-c", "-g", "*.c", "foo"]):
        want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)
        assert (got.out, got.code) == (want.out, want.code) == (b"", 2)
        *errors, nothing = got.err.splitlines()
        assert errors == want.err.replace(b"rg: ", b"trigrep: ").splitlines()[:-2]
        assert nothing.startswith(b"trigrep: No files were searched")


def test_errors_are_said_among_warnings_in_rgs_order(tmp_path: Path,
                                                     env: dict[str, str]) -> None:
    """rg reports a missing path when its walk gets there, among the warnings about ignore
    files met on the way."""
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "sub" / ".ignore").write_text("x\\\n")
    (tmp_path / "a" / "sub" / "y").write_text("foo\n")
    for args in (["--files", "nonexist", "a/sub", "nonexist2"], ["-c", "foo", "nonexist", "a"]):
        want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)
        assert (got.out, got.code) == (want.out, want.code) == (want.out, 2)
        assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


CRLF_FILES = {
    "a.txt": b"foo bar\r\nbaz foo\r\nlast foo",
    "b.txt": b"x foo\ny\n",
    "c.txt": b"a\rfoo\nx.\ry\nfoo\r\r\n\r\n",
    "d.txt": b"foo longlonglonglong line\r\nctx\r\nctx2\r\nctx3\r\nfoo again\r\n",
    "e.dat": b"foo\0bin\r\nfoo\r\n",
}
CRLF_ARGS = [
    ["foo$"], ["-n", "foo.$"], ["-x", "baz.foo"], ["-o", "foo$"], ["-c", "^"], ["-c", "-v", "foo"],
    ["--count-matches", "$"], ["-o", "$"], ["--json", "-o", "$"], ["--vimgrep", "foo"],
    ["-C1", "foo"], ["--heading", "-n", "foo"], ["-M5", "foo"], ["-M5", "--max-columns-preview",
                                                                  "foo"],
    ["-r", "X", "foo"], ["-r", "X", "-o", "foo"], ["-c", "foo"], ["-l", "-0", "foo"],
    ["-c", "-0", "foo"], ["--passthru", "zz"],
    ["-a", "-o", "foo", "e.dat"], ["-U", "foo$"], ["-U", "o$\\n"], ["-U", "-n", "foo.."],
    ["-U", "-o", "foo.."], ["--vimgrep", "-U", "foo.."], ["-U", "-r", "X", "-o", "foo\\r?\\n"],
    ["--color", "always", "-n", "foo"], ["--color", "always", "-C1", "foo"],
    ["--color", "always", "-U", "o\\r?\\n"], ["--color", "always", "--vimgrep", "foo"],
    ["--color", "always", "-r", "X", "foo"], ["--color", "always", "--colors", "match:none",
                                               "foo"],
    ["--no-crlf", "foo$"], ["-w", "foo"], ["--trim", "-o", "."], ["(?-R)foo$"],
    # -U: lines printed by their matches (a column, -r, --vimgrep, colour) end in CRLF
    ["-U", "--column", "foo\\r?\\nbaz"], ["-U", "-r", "X", "foo\\r?\\n"],
    ["-U", "--vimgrep", "o\\r?\\n"], ["-U", "-n", "-r", "<$0>", "bar\\r?\\nbaz"],
    ["-U", "--color", "always", "--colors", "match:none", "--column", "o\\r?\\n"],
    ["-U", "--color", "always", "--colors", "match:none", "-o", "o\\r?\\n"],
    ["-U", "--color", "always", "--colors", "match:none", "o\\r?\\n"],
    # rg strips `\r` from the pattern, then bans `\n`: a class of both is an error, a class
    # losing `\r` may merge into an alternation of single characters
    ["-c", "a\\r"], ["-c", "[\\r]"], ["-c", "a[\\r\\n]"], ["-c", "[\\r\\n]|a"],
    ["-c", "[\\r\\n]|ab"], ["-c", "[\\r\\n]|\\w"], ["-c", "\\r|\\n"], ["-c", "(?i)\\r"],
    ["--count-matches", "[^a]"], ["--count-matches", "\\s"], ["--count-matches", "[\\ra]"],
    ["-U", "--count-matches", "\\r"],
    # ... also classes of bytes, merged from an alternation or written: `(?-u:\xe9)|s`
    ["-c", "(?-u:\\xe9)|s"], ["-c", "(?-u:\\xe9|\\r)|\\n"], ["-c", "(?-u:[\\r\\xe9])\\n"],
    # `.` takes no `\r` under (?-R) either (rg strips it); --trim keeps the terminator's `\r`;
    # --stats needs the matches, so a -U match's lines end in CRLF
    ["(?-R)o.$"], ["-o", "(?-R)o.$"], ["--trim", ""], ["--stats", "-U", "foo$", "b.txt"],
    # with `\A` or `\z`, rg checks each line alone, without a `\r\n` but with a lone `\n`:
    # `\A` is no `^` after a lone `\r`, `\z` no `$`, and an empty match after a lone `\n`
    # counts
    ["-n", "\\Afoo"], ["-n", "o\\z"], ["-c", "\\Aq|^$"], ["-o", "\\B\\z"],
    ["-v", "-n", "(?-m)^x"], ["-o", "-n", "(?-m)o$"], ["-r", "<$0>", "\\w\\z"],
    ["--json", "-m1", "-v", "o\\z", "b.txt"],
]


@pytest.mark.parametrize("args", CRLF_ARGS, ids=" ".join)
def test_crlf_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--crlf: `$` before `\\r\\n`, `^` after a lone `\\r`, `.` takes no `\\r`; every line
    the printer ends (a painted or replaced one, -o's pieces, counts, paths, separators,
    notes) ends in `\\r\\n`; other lines print as they are."""
    for name, data in CRLF_FILES.items():
        (tmp_path / name).write_bytes(data)
    args = ["--crlf", *args]
    want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)

    assert (normalise_timings(got.out), got.code) == (normalise_timings(want.out), want.code), args
    # rg's message for a banned line terminator goes on for three lines (see the README)
    hint = b"\n\nConsider enabling multiline mode with the --multiline flag (or -U for short).\n" \
        b"When multiline mode is enabled, new line characters can be matched.\n"
    one_line = b" (consider enabling multiline mode with --multiline or -U)\n"
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ").replace(hint, one_line), args


PREPROCESSOR = """#!/bin/sh
case "$1" in
  *fail*) echo "oops on $1" >&2; echo "partial foo"; exit 3;;
  *quiet*) exit 4;;
  *) tr a-z A-Z;;
esac
"""
PRE_ARGS = [
    ["FOO"], ["-c", "."], ["--pre-glob", "*.md", "-i", "zz"], ["--pre-glob", "!*.md", "ZZ"],
    ["foo"], ["--no-pre", "foo"], ["-z", "-i", "foo"], ["--no-search-zip", "-i", "foo"],
    ["BIN"], ["FOO", "a.txt"], ["-l", "FOO"], ["FOO", "n.dat"], ["-g", "n.dat", "FOO"],
    ["--json", "FOO", "a.txt"], ["--files-without-match", "FOO"], ["-c", "FOO"],
    ["--pre-glob", "[", "FOO"], ["-C1", "-n", "FOO", "a.txt", "quiet.txt"],
]


@pytest.mark.parametrize("args", PRE_ARGS, ids=" ".join)
def test_preprocessor_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--pre COMMAND: files (those --pre-glob selects) searched as COMMAND PATH's output, read
    as a stream; a failing command's stderr is reported after what it printed is searched;
    the last of -z and --pre decides."""
    command = tmp_path / "upper.sh"
    command.write_text(PREPROCESSOR)
    command.chmod(0o755)
    tree = tmp_path / "t"
    (tree / "sub").mkdir(parents=True)
    for name, data in {"a.txt": b"hello world\nfoo\n", "b.dat": b"bin\0ary foo\n",
                       "sub/c.md": b"zzz\n", "fail.txt": b"foo fail\n", "quiet.txt": b"foo\n",
                       "n.dat": b"FOO\0x\nFOO\n", "z.txt.gz": gzip.compress(b"foo\n")}.items():
        (tree / name).write_bytes(data)
    args = ["--pre", str(command), *args]
    for _ in range(2):  # the second time, the files are in the index
        want, got = _rg(args, tree, env), _trigrep(args, tree, env)
        assert (normalise_json(got.out), got.code) == (normalise_json(want.out), want.code), args
        assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args
    missing = ["--pre", str(tmp_path / "nowhere"), "foo"]
    want, got = _rg(missing, tree, env), _trigrep(missing, tree, env)
    assert (got.out, got.code, got.err) == (want.out, want.code, want.err.replace(b"rg: ",
                                                                                   b"trigrep: "))


@pytest.mark.parametrize("args", [["--pre", "cat", "-c", "foo"], ["-z", "-c", "foo"]],
                         ids=" ".join)
def test_programs_started_by_forked_workers(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """A search of more files than it searches inline (parallel.INLINE_FILES) forks workers
    under spawn.FORK_LOCK: they were born holding it, and waited forever for it before their
    first program (`--pre cat`, or zstd for -z)."""
    if "-z" in args and shutil.which("zstd") is None:
        pytest.skip("no zstd")
    for i in range(600):
        (tmp_path / f"{i:03}.txt").write_bytes(b"foo %d\n" % i)
    if "-z" in args:
        subprocess.run(["zstd", "-q", "-o", tmp_path / "z.txt.zst"], input=b"foo zipped\n",
                       check=True)
    want = _rg(args, tmp_path, env)
    got = subprocess.run([*TRIGREP, *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, timeout=30, check=False)
    assert (got.stdout, got.returncode, got.stderr) == (want.out, want.code, b"")


CONFIGS = {
    "flags": b"# rg's flags\n  --smart-case  \n\n-n\r\n\t# indented comment\n--glob=!b.txt\n",
    "valued": b"-g\n!c.txt\n--context\n1\n",
    "pattern": b"foo\n",  # a positional argument: the pattern, before the command line's
    "bogus": b"-n\n--bogus\n",
    "not-utf8": b"-n\n\xff\n",
}
CONFIG_CASES = [
    ("flags", ["FOO"]), ("flags", ["foo"]), ("flags", ["-c", "foo", "--no-config"]),
    ("flags", ["-e", "--no-config", "-e", "foo"]), ("flags", ["--", "foo", "--no-config"]),
    ("valued", ["bar"]), ("valued", ["-C0", "bar"]), ("pattern", ["-c", "a.txt"]),
    ("bogus", ["foo"]), ("bogus", ["--no-config", "foo"]), ("not-utf8", ["foo"]),
    ("missing", ["foo"]), ("directory", ["foo"]),
]


@pytest.mark.parametrize(("config", "args"), CONFIG_CASES, ids=lambda v: " ".join(v))
def test_config_file_like_rg(
    tmp_path: Path, env: dict[str, str], config: str, args: list[str]
) -> None:
    """RIPGREP_CONFIG_PATH: one argument per line before the command line's, trimmed,
    comments and blank lines left out, unless --no-config; a file that cannot be read is
    reported and the search goes on."""
    tree = tmp_path / "t"
    tree.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (tree / name).write_bytes(b"x\nfoo bar\nFOO\ny\n")
    path = tmp_path / config
    if config == "directory":
        path.mkdir()
    elif config in CONFIGS:
        path.write_bytes(CONFIGS[config])
    env = {**env, "RIPGREP_CONFIG_PATH": str(path)}
    want, got = _rg(args, tree, env), _trigrep(args, tree, env)
    assert (got.out, got.code) == (want.out, want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


OTHER_DEVICE = Path("/dev/shm")


@pytest.mark.skipif(not OTHER_DEVICE.is_dir(), reason="no /dev/shm")
@pytest.mark.parametrize("args", [
    ["-L", "--one-file-system", "foo"], ["-L", "--one-file-system", "--files"],
    ["-L", "--one-file-system", "--no-one-file-system", "foo"],
    ["--one-file-system", "-L", "foo", "dirlink", "."], ["--one-file-system", "foo", "dirlink"],
], ids=" ".join)
def test_one_file_system_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--one-file-system: a directory on another device (here reached through a link, with
    -L) is left out unless it is the path searched; files there still are searched."""
    tree = tmp_path / "t"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "x").write_text("foo\n")
    with tempfile.TemporaryDirectory(dir=OTHER_DEVICE) as other:
        if os.stat(other).st_dev == os.stat(tree).st_dev:
            pytest.skip("/dev/shm is on the tree's file system")
        (Path(other) / "y").write_text("foo\n")
        (tree / "dirlink").symlink_to(other)
        (tree / "filelink").symlink_to(Path(other) / "y")
        want, got = _rg(args, tree, env), _trigrep(args, tree, env)
    assert (got.out, got.code, got.err) == (want.out, want.code, want.err), args


def test_a_file_named_like_the_index_directory(tmp_path: Path, env: dict[str, str]) -> None:
    """A file `.trigrep` at the root: `trigrep index` says in one line what is wrong, and
    searches print rg's output and nothing else (each said "not indexing ...: File exists"
    before, though its answer was complete)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_bytes(b"foo\n")
    (tmp_path / ".trigrep").write_bytes(b"not a directory\n")
    indexed = run([*TRIGREP, "index"], tmp_path, env)
    assert (indexed.code, indexed.err) == (2, b"trigrep: cannot index %s: %s is not a directory "
                                           b"(trigrep keeps its index there: rename it to "
                                           b"index this tree)\n" % (
                                               bytes(tmp_path), bytes(tmp_path / ".trigrep")))
    for args in (["foo"], ["-l", "foo", "sub"]):
        searched, want = run([*TRIGREP, *args], tmp_path, env), _rg(args, tmp_path, env)
        assert (searched.out, searched.code, searched.err) == (want.out, want.code, b""), args


def test_a_damaged_index_this_user_cannot_write(tree: Path, env: dict[str, str]) -> None:
    """A damaged index this user may read but not write (another user's): searches print
    rg's output and nothing else, as with an index this user may not read (each said
    "...; rebuilding it", though nothing was); `trigrep serve` says in one line that it
    cannot write there."""
    prefix = as_plain_user()
    assert_same(["foo"], tree, env)
    index_dir = tree / ".trigrep"
    [segment] = index_dir.glob("seg-*")
    data = bytearray(segment.read_bytes())
    data[64] ^= 0xFF  # in the header: found as the index is opened
    segment.write_bytes(bytes(data))
    index_dir.chmod(0o555)
    try:
        for args in (["foo"], ["-c", "-i", "PM_RESUME"], ["-l", "bar", "src"]):
            ours = run([*prefix, *TRIGREP, *args], tree, env)
            want = _rg(args, tree, env)
            assert (ours.out, ours.code, ours.err) == (want.out, want.code, b""), args
        served = run([*prefix, *TRIGREP, "serve", "."], tree, env)
        assert (served.code, served.err) == (2, b"trigrep: cannot write the index in "
                                             + bytes(index_dir) + b": Permission denied\n")
    finally:
        index_dir.chmod(0o755)
    assert bytes(data) == segment.read_bytes()  # nothing was rebuilt


def test_index_of_another_format_version_is_rebuilt(tree: Path, env: dict[str, str]) -> None:
    assert_same(["foo"], tree, env)
    manifest = tree / ".trigrep" / "manifest"
    magic, rest = manifest.read_bytes().split(b"\n", 1)
    manifest.write_bytes(magic.rsplit(b" v", 1)[0] + b" v0\n" + rest)
    assert_same(["PM_RESUME"], tree, env)
    assert manifest.read_bytes().split(b"\n", 1)[0] == magic


@pytest.mark.parametrize("where", [64, 0.5, -8])  # a header, a posting block, a checksum
def test_a_corrupt_index_is_rebuilt_by_the_next_search(
    tree: Path, env: dict[str, str], where: float
) -> None:
    """The search answers as rg does, saying in one line what was damaged; the next one finds
    a sound index (damage found when the index is opened or as a posting list is read)."""
    assert_same(["foo"], tree, env)
    [segment] = (tree / ".trigrep").glob("seg-*")
    data = bytearray(segment.read_bytes())
    data[int(len(data) * where) if isinstance(where, float) else where] ^= 0xFF
    segment.write_bytes(bytes(data))
    want, got = _rg(["foo"], tree, env), _trigrep(["foo"], tree, env)
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err.count(b"\n") == 1 and b"is corrupt" in got.err and got.err.endswith(
        b"; rebuilding it\n"), got.err
    assert_same(["foo"], tree, env)
    assert_same(["-w", "PM_RESUME"], tree, env)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_search_leaves_no_worker_behind(
    tmp_path: Path, env: dict[str, str], how: signal.Signals
) -> None:
    """Its workers die with it, and the pipe it printed to ends (`trigrep ... | cat` ends)."""
    for i in range(2000):
        (tmp_path / f"f{i}.txt").write_bytes(b"word another yet more words\n" * 300)
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    run([*TRIGREP, "index"], tmp_path, env)
    proc = subprocess.Popen([*TRIGREP, "-c", r"\w{4}\s+\w{4}\s+\w+\s+\w{5}"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    while not workers and proc.poll() is None:
        workers = _children(proc.pid)
    if not workers:
        pytest.skip("the search ended before its workers were seen")
    proc.send_signal(how)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 60
    while any(_running(w) for w in workers):
        assert time.monotonic() < deadline, "workers outlived the search"
        time.sleep(0.05)
    assert proc.stdout is not None
    proc.stdout.read()  # ends: no worker holds the pipe
    proc.stdout.close()


def test_a_search_does_not_wait_for_another_index_build(tree: Path, env: dict[str, str]) -> None:
    """Another trigrep holds the index lock (building, or stopped in a build): a search that
    would build the index searches directly instead."""
    shutil.rmtree(tree / ".trigrep", ignore_errors=True)
    (tree / ".trigrep").mkdir()
    fd = os.open(tree / ".trigrep" / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert_same(["-n", "foo"], tree, env)
    finally:
        os.close(fd)


def test_a_search_of_a_file_builds_no_index(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "notes.txt").write_bytes(b"a foo\n")
    assert_same(["foo", "notes.txt"], tmp_path, env)
    assert not (tmp_path / ".trigrep").exists()


def assert_same_as(prefix: list[str], args: list[str], tree: Path, env: dict[str, str]) -> None:
    """trigrep and rg, both run after `prefix` (as another user), print and exit alike."""
    ours = run([*prefix, *TRIGREP, *args], tree, env)
    theirs = run([*prefix, RG, "--sort", "path", *args], tree, env)
    assert (ours.out, ours.code, ours.err) == (
        theirs.out, theirs.code, theirs.err.replace(b"rg: ", b"trigrep: ")), args


def test_an_indexed_file_that_cannot_be_stated(tree: Path, env: dict[str, str]) -> None:
    """A directory that may be listed but not entered (no x bit, as a user without root's
    capabilities): rg reports its files as unreadable and goes on; so does a search that
    finds them in the index."""
    prefix = as_plain_user(read=True)
    run([*TRIGREP, "index"], tree, env)
    locked = tree / "src"
    locked.chmod(0o644)
    try:
        for args in (["foo"], ["-c", "foo"]):
            assert_same_as(prefix, args, tree, env)
    finally:
        locked.chmod(0o755)


def test_an_indexed_file_this_user_may_not_read(tree: Path, env: dict[str, str]) -> None:
    """An index built by a user who may read a file (root here) holds it; a search by one who
    may not reports it as rg does (Permission denied, exit 2), rather than let the index rule
    it out: --files-without-match listed it, and a search without a match exited 1."""
    prefix = as_plain_user(read=True)
    locked = tree / "src" / "main.c"
    past = time.time() - 1000
    os.utime(locked, (past, past))  # (not racily clean: the index vouches for it)
    locked.chmod(0)
    try:
        run([*TRIGREP, "index"], tree, env)
        for args in (["zzz_nowhere"], ["-l", "foo"], ["--files-without-match", "zzz_nowhere"]):
            assert_same_as(prefix, args, tree, env)
    finally:
        locked.chmod(0o644)


MODE_AND_IGNORE_CASES = [
    # An ignore file is read up to its first line that is not UTF-8; that line is an error
    # only next to another one (which rg reports with it, prefixed once).
    ({".gitignore": b"x.txt\n\xffzz\nb.txt\n"}, ["foo"]),
    ({".gitignore": b"x.txt\n\xffzz\nb.txt\ny[\n"}, ["foo"]),
    ({".gitignore": b"x[\n\xffzz\nb.txt\n"}, ["foo"]),
    ({".gitignore": b"x[\ny[\nb.txt\n"}, ["foo"]),
    # A bad glob in an ignore file above the path searched fails the search (exit 2).
    ({".ignore": b"x[\n"}, ["foo", "sub"]),
    # --files and --type-list are modes like -l, -c, --json: the last one decides.
    ({}, ["--files", "-l", "foo"]), ({}, ["-l", "--files"]), ({}, ["-c", "--files"]),
    ({}, ["--json", "--files"]), ({}, ["--files", "--count-matches", "foo"]),
    ({}, ["--type-list", "--files"]), ({}, ["--type-list", "-l", "foo"]),
    ({}, ["--files", "-q"]), ({}, ["-q", "--files"]), ({}, ["--files", "-q", "-g", "nomatch"]),
    ({}, ["--files", "--color", "always", "--colors", "path:fg:blue", "-0"]),
    ({}, ["--files", "--color", "always", "--hyperlink-format", "vscode"]),
    # --stats counts no colour or link escape among the bytes printed; -a on a mapped file
    # counts the bytes searched up to where -m stopped.
    ({}, ["--color", "always", "--stats", "foo", "a.txt"]),
    ({}, ["--color", "always", "--hyperlink-format", "vscode", "--stats", "--heading", "foo"]),
    ({}, ["-m1", "-a", "--stats", "foo", "a.txt"]), ({}, ["-m1", "-a", "--json", "foo", "a.txt"]),
    # ... and with a text anchor, where rg checks lines one at a time, up to the last line -m
    # printed (-v: not to the next match)
    ({"a.txt": b"bar\nfoo\nbaz\n"}, ["-m1", "-v", "--stats", "\\Afoo", "a.txt"]),
    ({"a.txt": b"ax\nb\nax\n"}, ["-m1", "-v", "--json", "x\\z", "a.txt"]),
    # -m0 compiles nothing: a bad pattern with -r is no error.
    ({}, ["-m", "0", "-r", "X", "("]),
    # An error above the path searched: --files and -q; --no-ignore-parent still reads the
    # file; --no-messages hides its errors; --no-ignore-messages only those in the tree.
    ({".ignore": b"x[\n"}, ["--files", "sub"]), ({".ignore": b"x[\n"}, ["--files", "-q", "sub"]),
    ({".ignore": b"x[\n"}, ["--no-ignore-parent", "foo", "sub"]),
    ({".ignore": b"x[\n"}, ["--no-messages", "foo", "sub"]),
    ({".ignore": b"x[\n"}, ["--no-ignore-messages", "foo", "sub"]),
    ({".ignore": b"x[\n"}, ["--no-ignore-messages", "--files", "sub"]),
    ({"sub/.ignore": b"x[\n"}, ["--no-ignore-messages", "foo"]),
    # match:none leaves the matches unknown (-M's note), but a preview paints them
    ({}, ["--color", "always", "--colors", "match:none", "-M3", "foo"]),
    ({}, ["--color", "always", "--colors", "match:none", "-M2", "--max-columns-preview", "o"]),
    ({}, ["--color", "always", "--colors", "match:none", "-U", "--stats", "foo$"]),
    ({}, ["--color", "ansi", "foo"]),
    # a link names the path as printed: with another separator, rg finds none
    ({}, ["--color", "always", "--hyperlink-format", "x://{path}", "--path-separator", "\\",
          "foo"]),
    # --ignore-file-case-insensitive: every ignore file's rules but --ignore-file's
    ({".gitignore": b"A.TXT\n", ".ignore": b"B.TXT\n", ".rgignore": b"SUB/\n"},
     ["--ignore-file-case-insensitive", "-l", "foo"]),
    ({".gitignore": b"A.TXT\n", ".ignore": b"B.TXT\n"},
     ["--ignore-file-case-insensitive", "--no-ignore-file-case-insensitive", "-l", "foo"]),
    ({"rules": b"X.TXT\n", ".gitignore": b"rules\nA.txt\n"},
     ["--ignore-file-case-insensitive", "--ignore-file", "rules", "-l", "foo"]),
    ({".gitignore": b"*.TXT\n!A.txt\n"}, ["--ignore-file-case-insensitive", "--files"]),
]


@pytest.mark.parametrize(("rules", "args"), MODE_AND_IGNORE_CASES, ids=lambda v: repr(v)[:60])
def test_modes_and_ignore_files_like_rg(
    tmp_path: Path, env: dict[str, str], rules: dict[str, bytes], args: list[str]
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    for name, data in {"a.txt": b"foo\nbar\n", "b.txt": b"foo\n", "x.txt": b"foo\n",
                       "sub/c.txt": b"foo\n", **rules}.items():
        (tmp_path / name).write_bytes(data)
    want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)

    assert (normalise_timings(got.out), got.code) == (normalise_timings(want.out), want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


ODD_FILES = {
    # Two BOMs: rg drops the one it sniffs, and its decoder drops one of its own encoding.
    "u16le_two_boms.txt": b"\xff\xfe\xff\xfea\x00b\x00c\x00\n\x00",
    "u16be_two_boms.txt": b"\xfe\xff\xfe\xff\x00a\x00b\x00c\x00\n",
    "u16le_three_boms.txt": b"\xff\xfe\xff\xfe\xff\xfea\x00b\x00c\x00\n\x00",
    "u8_two_boms.txt": b"\xef\xbb\xbf\xef\xbb\xbfabc\n",
    "u8_then_u16_bom.txt": b"\xef\xbb\xbf\xff\xfea\x00b\x00c\x00\n\x00",
    # Line breaks other than \n inside a line, for -f files that hold them.
    "cr.txt": b"foo\rbar\nfoo\n", "ff.txt": b"foo\x0cbar\n", "x.txt": b"x\r\nab\x1ccd\nabcd\n",
}
ODD_PATTERNS = {
    "cr": b"foo\rbar\n", "ff": b"foo\x0cbar\n", "blank": b"x\r\r\ny\n\n", "crlf": b"x\r\ny",
    "last_cr": b"foo\r", "twice": b"(?P<a>foo)\nx\n(?P<a>foo)\n",
}


@pytest.mark.parametrize("args", [
    ["-x", "abc"], ["^abc"], ["-c", "abc"], ["-E", "utf-8", "^abc"], ["-E", "utf-16le", "^abc"],
    ["-E", "utf-16be", "^abc"], ["-E", "latin1", "-c", "^abc"], ["-E", "none", "-c", "abc"],
    *(["-f", name] for name in ODD_PATTERNS), *(["-x", "-f", name] for name in ODD_PATTERNS),
    ["-e", "(?P<a>x)", "-e", "(?P<a>x)"], ["-e", "(?P<a>x)", "-e", "(?P<a>y)"],
    ["-F", "-e", "foo", "-e", "foo", "-c"], ["(?x)ab\x1ccd"], ["a{\x1c2}"], ["(?x)a b c d"],
    ["-c", "(?P<Ⓐ>ab)"], ["-c", "(?P<Ⅻ>ab)"], ["-c", "(?P<a½>ab)"], ["-c", "(?P<aा>ab)"],
    ["-c", "(?P<½>ab)"],
], ids=repr)
def test_odd_bytes_in_files_patterns_and_pattern_files(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """BOMs after a BOM, -f files with `\\r`, form feeds and repeated lines, repeated -e
    patterns (rg drops repeats: a named group twice is no error), `(?x)` with characters
    Python counts as whitespace and Rust does not, group names of Unicode's Alphabetic."""
    root = tmp_path / "odd"
    root.mkdir()
    for name, data in ODD_FILES.items():
        (root / name).write_bytes(data)
    for name, data in ODD_PATTERNS.items():
        (tmp_path / name).write_bytes(data)
    args = [str(tmp_path / a) if a in ODD_PATTERNS else a for a in args]
    assert_same(args, root, env)


NOT_UTF8_PATTERNS = {
    "first": b"a \xff~\\\t\"\x7f\x01\xc3\xa9\r\nfoo\n", "later": b"foo\r\na\xff\r",
    "sequence": b"\xc3\xa9\xe9\xa9\n", "crlf": b"ok\na\xfe\r\n",
}


@pytest.mark.parametrize("args", [
    ["-f", "first", "foo"], ["-F", "-f", "later"], ["--no-unicode", "-f", "sequence"],
    ["-e", "foo", "-f", "crlf"], ["-f", "later", "-f", "first"], ["-f", "-"],
], ids=repr)
def test_a_pattern_file_that_is_not_utf8(
    tree: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg names the file, the line and the offset of its first bad byte, and shows the line
    with its bytes escaped."""
    for name, data in NOT_UTF8_PATTERNS.items():
        (tree / name).write_bytes(data)
    stdin = NOT_UTF8_PATTERNS["later"]
    want = run([RG, "--sort", "path", *args], tree, env, stdin=stdin)
    got = run([*TRIGREP, *args], tree, env, stdin=stdin)
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


def test_dot_dot_after_a_symlink(tmp_path: Path, env: dict[str, str]) -> None:
    """`link/..` is the link target's parent, as the OS resolves it (not `.` as its text
    says): the files found there are read from there."""
    root = tmp_path / "t"
    (root / "real" / "sub").mkdir(parents=True)
    (root / "l").mkdir()
    (root / "real" / "a.txt").write_bytes(b"needle\n")
    (root / "l" / "s").symlink_to(root / "real" / "sub", target_is_directory=True)
    assert_same(["foo"], root, env)  # builds the index
    for args in (["needle", "l/s/.."], ["needle", "l/s/../a.txt"], ["-c", "needle", "nosuch/.."],
                 ["-c", "needle", "real/a.txt/.."], ["-c", "needle", ""]):
        assert_same(args, root, env)


@pytest.mark.parametrize("args", [
    ["-f", "-", "-"], ["-f", "-", "src/main.c", "-"], ["--file=-", "-e", "x", "-"],
    ["-f-", "-f-", "src/main.c"], ["-f", "-", "src/main.c"], ["-f", "-"], ["-c", "--file=-"],
], ids=" ".join)
def test_standard_input_is_read_once(tree: Path, env: dict[str, str], args: list[str]) -> None:
    """Patterns from stdin (`-f -`) and stdin searched, or read twice: rg's errors. Without
    a path, `-f -` searches the current directory, as rg does once stdin gave the patterns."""
    want = run([RG, "--sort", "path", *args], tree, env, stdin=b"foo\n")
    got = run([*TRIGREP, *args], tree, env, stdin=b"foo\n")
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


@pytest.mark.parametrize("args", [
    ["-o", "-f", "pats", "-e", "foobar"], ["-o", "-e", "foobar", "-f", "pats"],
    ["-F", "-o", "-f", "blank", "-e", "("], ["-r", "<$0>", "-e", "foob", "-f", "pats", "-e", "fo"],
    ["--json", "-f", "pats", "--regexp=foobar"], ["--count-matches", "-f", "blank", "-e", "x"],
], ids=" ".join)
def test_patterns_of_e_and_f_in_command_line_order(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg joins the patterns of -e and -f in the order given (we put -e's first): of two
    that match at the same place the first wins, so the order decides what -o prints."""
    (tmp_path / "pats").write_bytes(b"foo\n")
    (tmp_path / "blank").write_bytes(b"foo\n\n")  # an empty pattern, matching everywhere
    (tmp_path / "t.txt").write_bytes(b"foobar (x)\n")
    assert_same([*args, "t.txt"], tmp_path, env)


@pytest.mark.parametrize("args", [["-n"], ["-F", "-c", "-w"]], ids=" ".join)
def test_a_long_pattern_file_and_a_long_pattern(tmp_path: Path, tree: Path,
                                                env: dict[str, str], args: list[str]) -> None:
    """5,000 patterns (`-f words`), or one literal of 100,000 bytes: as rg, in time linear in
    their size (the planner joined sets and strings pairwise: a minute for these; -i on many
    more patterns can exceed the engine's size limit, see the README)."""
    words = [f"w{i:05d}x" for i in range(5_000)] + ["foo", "PM_RESUME", "a.b"]
    (tmp_path / "words").write_text("\n".join(words) + "\n")
    (tmp_path / "long").write_text("q" * 100_000 + "\n")
    for pattern_file in ("words", "long"):
        flags = [*args, "-f", str(tmp_path / pattern_file)]
        assert run([*TRIGREP, *flags], tree, env) == _rg(flags, tree, env)


def test_a_path_that_is_not_utf8_in_a_message(tree: Path, env: dict[str, str]) -> None:
    """rg shows such a path's undecodable bytes as U+FFFD in its messages."""
    args = ["foo", os.fsdecode(b"nosuch\xff"), "src/main.c"]
    want = run([RG, "--sort", "path", *args], tree, env)
    got = run([*TRIGREP, *args], tree, env)
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


@pytest.mark.parametrize("args", [
    ["-g", "\udcff", "foo"], ["--glob", "\udcff", "foo"], ["--glob=\udcff", "foo"],
    ["-ig\udcff", "foo"], ["-ig", "\udcff", "foo"], ["-e", "\udcff"], ["-e\udcff"],
    ["-r", "\udcff", "foo"], ["-M", "\udcff", "foo"], ["--colors", "\udcff", "foo"],
    ["--context-separator", "\udcff", "foo"], ["--path-separator", "\udcff", "foo"],
    ["--type-add", "x:\udcff", "foo"], ["-t\udcff", "foo"], ["--sort=\udcff", "foo"],
    ["\udcff"], ["foo", "\udcff"], ["--ignore-file", "\udcff", "foo"], ["-f", "\udcff"],
    ["--pre", "\udcff", "foo", "src/main.c"],
    ["-M", "x", "foo"], ["--max-columns=x", "foo"], ["-nAx", "foo"], ["-A5", "-A", "x", "foo"],
    ["-A", "", "foo"], ["-m", "99999999999999999999999", "foo"], ["-C", "-1", "foo"],
    ["--max-filesize", "9999999999999G", "foo"], ["--dfa-size-limit", "1Q", "foo"],
    ["--engine", "bogus", "foo"], ["-A", "+", "foo"], ["-E", "bogus", "foo"],
    ["--max-filesize", "99999999999999999999", "foo"], ["--pre-glob", "[", "foo"],
    # a choice rg does not know, a missing value, a value given to a switch, `--` as a value
    ["--sort", "bogus", "foo"], ["--sortr=bogus", "foo"], ["--color=bogus", "foo"],
    ["--color", "--", "foo"], ["foo", "--sort"], ["foo", "-A"], ["foo", "-ie"],
    ["foo", "--context-separator"], ["foo", "--hidden="], ["foo", "--no-messages=1"],
    ["foo", "-n=1"], ["-in=", "foo"], ["foo", "-n1"], ["-nQ=1", "foo"], ["-n-", "foo"],
    ["--hidden=a\"b\\c\n\x01é\udcff", "foo"], ["--hidden=1", "-nQ", "foo"],
    ["-e", "--", "src"], ["-ne", "--", "--regexp", "--", "src"], ["foo", "-A", "--"],
    ["--context-separator", "--", "-A1", "foo", "src"], ["-f", "src", "foo"], ["-f", "nosuch"],
], ids=repr)
def test_flag_values_as_rg_reads_them(tree: Path, env: dict[str, str], args: list[str]) -> None:
    """A value that is not UTF-8 is an error for every flag but those naming a path or a
    command (rg names the flag as given); a value rg cannot read is `error parsing flag`."""
    want, got = _rg(args, tree, env), _trigrep(args, tree, env)
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


@pytest.mark.parametrize("args", [
    ["--json", "--no-json", "foo"], ["-c", "--no-json", "foo"],
    ["--json", "-c", "--no-json", "foo"], ["-c", "--json", "--no-json", "foo"],
    ["--no-json", "--json", "PM_RESUME"],
    ["--engine", "default", "-c", "foo"], ["--engine=auto", "-c", "foo"],
    ["--auto-hybrid-regex", "-c", "foo"], ["-P", "--no-pcre2", "-c", "foo"], ["-P", "-m0", "foo"],
    ["--no-auto-hybrid-regex", "--no-pcre2-unicode", "--pcre2-unicode", "-c", "foo"],
    ["--dfa-size-limit", "10M", "--regex-size-limit=1G", "-c", "foo"],
    ["--sort-files", "-l", "foo"], ["--no-sort-files", "--sort-files", "-c", "foo"],
    ["--no-mmap", "-n", "foo", "src/binary.bin", "src/main.c"], ["--no-mmap", "-c", "foo"],
    ["--no-mmap", "--json", "foo", "src/late_nul.dat"], ["--mmap", "-c", "foo"],
    ["--mmap", "-n", "PM_RESUME"], ["--mmap", "--json", "-m3", "foo", "src"],
    ["--mmap", "--no-mmap", "-c", "foo"], ["--mmap", "--binary", "-c", "foo"],
    ["--mmap", "--stats", "foo"], ["--mmap", "-U", "-c", "foo"], ["--mmap", "-C1", "line"],
    ["--color", "always", "--heading", "--hyperlink-format", "x://{host}{path}:{line}",
     "--hostname-bin", "false", "foo", "src/app.py", "docs"],
    ["--color", "always", "--hyperlink-format", "file://{wslprefix}{path}line",
     "--hostname-bin", "nosuchprogram", "foo"],
], ids=" ".join)
def test_more_of_rgs_flags(tree: Path, env: dict[str, str], args: list[str]) -> None:
    """--no-json (undoes --json only), the regex engine flags (rg 14.1's wheel has no PCRE2,
    so `auto` is the default engine), size limits, --mmap (walked files searched as slices:
    a NUL in a printed line ends the search) and --no-mmap (named files read as streams: a
    NUL ends a line), --hostname-bin (failing: the system's host name), old spellings."""
    assert_same(args, tree, env)


@pytest.mark.parametrize("distro", ["Ubuntu", "a b/é", "", "\udcff"], ids=repr)
def test_wsl_prefix_in_hyperlinks(tree: Path, env: dict[str, str], distro: str) -> None:
    """`{wslprefix}` is `wsl$/` and WSL_DISTRO_NAME when that is set (even empty) and UTF-8,
    as rg makes it whatever the system (it was always empty here)."""
    args = ["--color", "always", "--hyperlink-format", "file://{wslprefix}{path}", "-l", "foo"]
    assert_same(args, tree, {**env, "WSL_DISTRO_NAME": distro})


def test_pcre2_is_not_available(tree: Path, env: dict[str, str]) -> None:
    for args in (["-P", "foo"], ["--engine", "pcre2", "foo"], ["--pcre2-version"]):
        want, got = _rg(args, tree, env), _trigrep(args, tree, env)
        assert (got.out.replace(b"trigrep", b"ripgrep"), got.code) == (want.out, want.code)
        assert got.err.replace(b"trigrep", b"ripgrep") == want.err.replace(b"rg: ", b"ripgrep: ")


def test_hostname_bin_names_the_host_in_hyperlinks(tree: Path, env: dict[str, str]) -> None:
    program = tree.parent / "hostname.sh"
    program.write_text("#!/bin/sh\nprintf '  build-host.example \\n\\n'\n")
    program.chmod(0o755)
    args = ["--color", "always", "--heading", "--hyperlink-format", "file://{host}{path}",
            "--hostname-bin", str(program), "foo", "src/app.py", "docs"]
    assert_same(args, tree, env)
    assert b"file://build-host.example/" in _trigrep(args, tree, env).out


@pytest.mark.parametrize("args", [
    ["-A2", "x"], ["-B1", "x"], ["-C3", "-n", "x"], ["-v", "-A1", "foo"], ["-A2", "-c", "x"],
    ["--json", "-A2", "x"], ["-A2", "x", "a.bin", *(f"t{i}.txt" for i in range(10))],
], ids=" ".join)
def test_context_lines_printed_before_a_nul_past_the_first_read(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """The lines rg printed from one read need not be kept for context in the next, so they
    decide where the read that meets a NUL begins: the matches before it are rg's."""
    (tmp_path / "a.bin").write_bytes(b"x\n" * 40_000 + b"foo\n\0ctx\nfoo2\n")
    for i in range(10):
        (tmp_path / f"t{i}.txt").write_bytes(b"x\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["needle"], ["-n", "-C2", "needle"], ["-v", "-c", "x"], ["--stats", "needle"],
    ["--json", "-B1", "needle"],
], ids=" ".join)
def test_a_nul_after_a_line_longer_than_the_read_buffer(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """A line that does not fit in rg's 64 KiB buffer grows it to three times its size (192
    KiB, then 576: each growth adds twice the length), which sets where its later reads
    begin, and so where the read that meets a NUL does: the matches before it are rg's."""
    needles = b"".join(b"needle %d\n" % i for i in range(60_000))
    for name, long in (("a.bin", 100_000), ("b.bin", 300_000)):
        (tmp_path / name).write_bytes(b"x" * long + b"\n" + needles + b"\0needle\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-A1", "needle"], ["-n", "-C1", "needle"], ["-B1", "needle"], ["--json", "-A1", "needle"],
    ["--stats", "-C2", "needle"],
], ids=" ".join)
def test_a_nul_read_further_for_the_context_kept(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """Lines kept for context can grow rg's buffer (two long lines, a match and its context,
    where one alone fits), and a bigger buffer reads further at a time: its read that
    meets a NUL may begin later than it would without context (where the search used to
    stop looking), and the matches before are rg's."""
    lines = b"".join(b"needle %d\nzz\no\n" % i for i in range(3_000))
    (tmp_path / "a.bin").write_bytes(b"x" * 50_000 + b"\n" + b"x" * 98_000 + b" needle\n"
                                     + lines + b"\0needle\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["a"], ["-n", "-C1", "a"], ["-l", "a"], ["--json", "a"], ["--stats", "a"], ["--binary", "a"],
    ["-E", "latin1", "a"], ["-E", "none", "a"], ["-v", "x"],
], ids=" ".join)
def test_a_walked_file_with_a_utf8_bom_and_a_nul(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg's reader drops the UTF-8 BOM it peeked at, and its first read is then a whole
    buffer (of a file without one: the 3 bytes it peeked at), so a NUL in the first 64 KiB
    stops it before any line: nothing printed (unless -E none, which keeps the BOM)."""
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfa\nx\0\n")
    (tmp_path / "plain.txt").write_bytes(b"a\nx\0\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["a", "bom.txt"], ["-n", "-C1", "a", "bom.txt"], ["-c", "a", "bom.txt"],
    ["--json", "a", "bom.txt"], ["--stats", "a", "bom.txt"],
    ["-a", "-m1", "--json", "a", "bom.txt"], ["-E", "none", "a", "bom.txt"], ["--mmap", "a"],
], ids=" ".join)
def test_a_named_file_with_a_utf8_bom_and_a_nul_past_the_first_read(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg would map a named file, but one with a BOM it drops it reads as a stream (so does
    --mmap a walked one): a NUL past the first 64 KiB is met by a read, which stops the
    printing of lines (walked: the search) at the next match, not only by a printed line."""
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfa\n" + b"x\n" * 33_000 + b"\0\na\na\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-E", "latin1", "a"], ["-E", "utf-8", "-n", "a"], ["-E", "latin1", "--stats", "a"],
    ["-E", "latin1", "a", "bom.txt"], ["-E", "latin1", "-n", "-C1", "a", "bom.txt", "plain.txt"],
], ids=" ".join)
def test_an_encoding_reads_a_file_with_a_utf8_bom_in_transcoder_fills(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """Under -E, rg drops a UTF-8 BOM but keeps the encoding's decoder, so its reads end at
    the decoder's 8 KiB fills (the first a whole one after the BOM): a NUL at 10 KB is met
    by the second read, after the line of the first."""
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfa\n" + b"x\n" * 5000 + b"\0\na\n")
    (tmp_path / "plain.txt").write_bytes(b"a\n" + b"x\n" * 5000 + b"\0\na\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-z", "foo"], ["-z", "-c", "foo"], ["-z", "-l", "foo"], ["-z", "--json", "foo"],
    ["-z", "foo", "a.gz", "b.gz"], ["-z", "--binary", "-c", "foo"], ["-z", "-a", "foo"],
], ids=" ".join)
def test_a_walked_compressed_file_holding_a_nul(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg quits at a NUL in a decompressed file it found by walking, as in any other; one
    named on the command line has its NUL turned into a line break."""
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"foo\nhel\0lo\nfoo\n", mtime=0))
    (tmp_path / "b.gz").write_bytes(gzip.compress(b"foo\n" * 500 + b"\0foo\n", mtime=0))
    (tmp_path / "c.txt").write_bytes(b"foo\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-z", "foo"], ["-z", "-c", "o"], ["-z", "--json", "foo"], ["-z", "-E", "latin1", "caf."],
    ["-z", "-E", "utf-16le", "foo"], ["-z", "--pre", "cat", "-E", "latin1", "foo"],
    ["-z", "foo", "bom16.gz"], ["-z", "--null-data", "foo", "nul/a.gz", "latin1.gz"],
    ["-z", "--null-data", "-c", "o", "nul/a.gz", "bom16.gz"],
], ids=" ".join)
def test_the_output_of_a_failed_decompression_is_decoded_as_it_came(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg searches the complete lines a failing program wrote as its transcoder decoded them
    (-E, a UTF-16 BOM): a UTF-16 line's `\n` is not cut in half, latin1 is read as latin1;
    with --null-data, a line is complete at its NUL."""
    trailing = b"trailing garbage"  # gzip decompresses all, then fails
    (tmp_path / "bom16.gz").write_bytes(
        gzip.compress("\ufefffoo\nfoo é\n".encode("utf-16-le"), mtime=0) + trailing)
    (tmp_path / "latin1.gz").write_bytes(gzip.compress(b"caf\xe9 foo\n", mtime=0) + trailing)
    (tmp_path / "nul").mkdir()  # (not walked: how much rg reads of it before the NUL varies)
    (tmp_path / "nul" / "a.gz").write_bytes(
        gzip.compress(b"foo\0bar foo\nx\0tail foo\n", mtime=0) + trailing)
    (tmp_path / ".ignore").write_text("nul/\n")
    assert_same(args, tmp_path, env)
    assert _trigrep(args, tmp_path, env).err == _rg(args, tmp_path, env).err.replace(
        b"rg: ", b"trigrep: ")


FAILING = r"""#!/bin/sh
case "$1" in
  *tail*) printf 'foo\nbar\0baz';;
  *said*) printf 'foo\nbar baz\0'; echo "broken" >&2;;
  *short*) printf 'x\n';;
  *) printf 'foo\nbar foo\nbaz';;
esac
exit 1
"""


@pytest.mark.parametrize("args", [
    ["foo", "tail.txt"], ["-n", "baz", "tail.txt"], ["-c", "bar", "tail.txt"],
    ["--json", "bar", "tail.txt"], ["foo", "d"], ["--json", "foo", "d"], ["-c", "-a", "ba", "d"],
    ["foo", "said.txt"], ["-l", "foo", "said.txt", "tail.txt"], ["-m1", "foo", "said.txt"],
    ["-q", "foo", "plain.txt"], ["-m1", "foo", "plain.txt"], ["-U", "foo\\s", "plain.txt"],
    ["-U", "--json", "foo\\s", "d", "plain.txt"], ["-U", "foo", "plain.txt"], ["x", "short.txt"],
    ["-c", "x", "short.txt"],
], ids=" ".join)
def test_a_failed_programs_output_as_rg_reads_it(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """rg's reads of a failing --pre (or -z) program's output take its unterminated end too: a
    NUL there makes the file binary (the text printer stops at a named file's first match; a
    walked file's search ends), though that end is never a line. A search that stopped
    reading reports the failure only if the program wrote on stderr, as that alone. A -U
    search that can match a line break reads all of the output first, so it searches
    nothing, as does any search of an output shorter than rg's first read (3 bytes)."""
    program = tmp_path / "failing.sh"
    program.write_text(FAILING)
    program.chmod(0o755)
    tree = tmp_path / "t"
    (tree / "d").mkdir(parents=True)
    for name in ("tail.txt", "said.txt", "short.txt", "plain.txt", "d/tail.txt"):
        (tree / name).write_bytes(b"x\n")
    args = ["--pre", str(program), *args]
    assert_same(args, tree, env)
    assert _trigrep(args, tree, env).err == _rg(args, tree, env).err.replace(
        b"rg: ", b"trigrep: ")


def test_a_current_directory_that_was_deleted(tmp_path: Path, env: dict[str, str]) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f"cd {gone} && rmdir {gone} && exec \"$@\""
    got = subprocess.run(["sh", "-c", script, "sh", *TRIGREP, "foo", str(tmp_path)],
                         env=env, capture_output=True, check=False)
    assert (got.returncode, got.stderr) == (2, b"trigrep: the current directory no longer exists\n")


@pytest.mark.parametrize("args", [
    ["--mmap", "-B1", "hello"], ["--mmap", "-n", "-C2", "hello"], ["-U", "-B1", "hello"],
    ["--mmap", "-A1", "hello"], ["--mmap", "--json", "-B1", "hello"],
    ["--mmap", "--json", "-A2", "-B3", "hello"], ["--mmap", "--json", "-v", "-B1", "hello"],
    ["--mmap", "--json", "--passthru", "hello"], ["--mmap", "-l", "-B1", "hello"],
    ["--mmap", "-c", "-A1", "hello"], ["--mmap", "-c", "-m2", "-A1", "hello"],
    ["--mmap", "--count-matches", "--passthru", "hello"], ["--mmap", "-l", "-A1", "hello"],
], ids=" ".join)
def test_a_nul_in_a_context_line_of_a_file_searched_whole(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """A walked file searched as one slice (--mmap, -U) ends at a NUL in a line it prints
    (past the first 64 KiB): rg prints the break before a before-context line, then stops
    (where its search stood then is what --json says it searched). It visits context lines
    in the summary modes too (until -l or -m stops it), and then drops the file."""
    pad = b"".join(b"padding line %d zzz\n" % i for i in range(4000))
    (tmp_path / "a.txt").write_bytes(pad + b"hello 1\nx\nnomatch\0zzz\nhello 2\n")
    (tmp_path / "b.txt").write_bytes(pad + b"hello 1\nnomatch\0zzz\nhello 2\n")
    (tmp_path / "c.txt").write_bytes(b"hello 0\n" + pad + b"hello 1\nnomatch\0zzz\nhello 2\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["--files-without-match", "x"], ["--files-without-match", "--mmap", "x"],
    ["--files-without-match", "-U", "x"], ["--files-without-match", "x", "e.bin", "a.bin"],
], ids=" ".join)
def test_files_without_match_reads_on_to_a_nul(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """--files-without-match does not stop at a file's first match: a NUL met later drops
    its count to 0, which rg takes as success (exit 0) and prints nothing."""
    (tmp_path / "a.bin").write_bytes(b"x\n" + b"y" * 70_000 + b"\n\0y\n")
    (tmp_path / "e.bin").write_bytes(b"x\n" + b"y\n" * 40_000 + b"x\0x\n")
    (tmp_path / "t.txt").write_bytes(b"x\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-U", "-q", "--passthru", "x$"], ["-U", "-c", "--passthru", "^x"],
    ["-U", "--mmap", "-l", "-A15000", "x$"], ["-U", "--count-matches", "-A15000", "x\\n"],
    ["-U", "--files-without-match", "--passthru", "zzz\\n"],
    ["--stats", "-c", "-v", "-U", "\\n\\n"], ["--stats", "-l", "-v", "-U", "^$"],
    ["--stats", "-c", "-v", "-U", "x\\nx", "t.txt"],
], ids=" ".join)
def test_multiline_summaries_of_binary_and_inverted_files(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """-U in the summary modes: rg's multi-line searcher visits context lines too, and one
    holding the NUL (past 64 KiB) drops the file; with -v, a file counts as one with a match
    (--stats) only if its inverted lines hold a match of the regex."""
    (tmp_path / "f.txt").write_bytes(b"x\n" + b"hello\n" * 13_000 + b"a\0b\n")
    (tmp_path / "t.txt").write_bytes(b"a\nb\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-x", "-v", "-U", "-o", "-C1", "(?:a)*"], ["-v", "-U", "-o", "-B1", "^$"],
    ["-v", "-U", "--json", "-C1", "^$"], ["-v", "-U", "--json", "-A1", "(?m)^"],
    ["-v", "-U", "-o", "-n", "-b", "--column", "-C2", "a*"], ["-v", "-U", "-o", "-C1", "a\\n"],
    ["-v", "-U", "--vimgrep", "-C1", "a"], ["-v", "-U", "-o", "-C1", "--color=always", "a*"],
], ids=" ".join)
def test_inverted_multiline_context_lines_show_their_matches(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """-U -v: a context line holds matches of the regex, which rg finds in that line alone
    (not an empty one after its terminator: the next line's) and prints as a line-by-line
    search prints them: with -o, an empty match as an empty line (found by helper-70's
    fuzzing: `-x -v -U -o -C1 '(?:a)*'` on `\\nb` left out the first line)."""
    (tmp_path / "a.txt").write_bytes(b"\nb")
    (tmp_path / "b.txt").write_bytes(b"a\n\n\na\nxx\n  \n b a\n")
    (tmp_path / "c.txt").write_bytes(b"a\r\n\r\nb\r\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-U", "-o", "--trim", "\\t\\n"], ["-U", "-o", "--trim", "-n", "\\r\\nx"],
    ["-U", "-o", "--trim", "--color=always", "\\t\\s*x"],
    ["-U", "-o", "--trim", "-n", "-b", "--column", "\\s+\\n"], ["-U", "-o", "--trim", "\\s*x"],
], ids=" ".join)
def test_multiline_only_matching_trims_each_line_of_a_match(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """-U -o --trim: rg trims each line a match covers of its leading spaces, so a match that
    starts in them loses them, and one made of them prints nothing (found by helper-70's
    fuzzing: ` \\t\\n` printed a tab)."""
    (tmp_path / "a.txt").write_bytes(b" \t\n")
    (tmp_path / "b.txt").write_bytes(b"\t\r\nx\n")
    (tmp_path / "c.txt").write_bytes(b" a \t\nb\n  \t x\n")
    assert_same(args, tmp_path, env)


@pytest.mark.parametrize("args", [
    ["-U", "-o", "--crlf", "\\W"], ["-U", "-o", "--crlf", "(?s)."], ["-U", "-o", "--crlf", "a\\r"],
    ["-U", "-o", "--crlf", "-n", "-b", "--column", "\\r\\n?"], ["-U", "--vimgrep", "--crlf", "\\W"],
    ["-U", "-o", "--crlf", "--color=always", "\\s+"],
], ids=" ".join)
def test_multiline_only_matching_leaves_a_crlf_terminator_out(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """-U -o --crlf: the `\\r` of a line's `\\r\\n` is its terminator's, also when the match
    ends before the `\\n` (`\\W` on `\\r\\n`: rg prints nothing; a line `\\r` was printed)."""
    (tmp_path / "a.txt").write_bytes(b"\r\n")
    (tmp_path / "b.txt").write_bytes(b"a\r\nb\r\n \r\n\r\nx\r\n")
    (tmp_path / "c.txt").write_bytes(b"a\r\nb")
    assert_same(args, tmp_path, env)


def _answer_kind(out: bytes) -> str:
    """What -h, -V or --pcre2-version printed."""
    if out.startswith(b"PCRE2 is not available"):
        return "pcre2"
    return "help" if b"usage" in out.lower() else "version" if out else "nothing"


@pytest.mark.parametrize("args", [
    ["--version"], ["--pcre2-version"], ["--version", "--pcre2-version"],
    ["--pcre2-version", "--version"], ["-h", "--version"], ["--version", "-h"],
    ["--pcre2-version", "--bogus"], ["--pcre2-version", "-A", "x"], ["-hi", "foo"],
    ["-V", "-c", "x"],
], ids=" ".join)
def test_help_and_versions_as_rg_answers_them(
    tmp_path: Path, env: dict[str, str], args: list[str]
) -> None:
    """The last of -h, -V and --pcre2-version is answered once every flag is read (a bad
    one is an error), and rg's config file is not read for them."""
    config = tmp_path / "config"
    config.write_text("-A\nx\n")
    env = {**env, "RIPGREP_CONFIG_PATH": str(config)}
    want, got = _rg(args, tmp_path, env), _trigrep(args, tmp_path, env)
    assert (_answer_kind(got.out), got.code) == (_answer_kind(want.out), want.code)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


@pytest.mark.parametrize("args", [
    ["--type-list", "-t", "nosuch"], ["--type-list", "--type-add", "bad"],
    ["--type-list", "-g", "["], ["--type-list", "--iglob", "["], ["--type-list", "--pre-glob", "["],
    ["--type-list", "--colors", "bogus"], ["--type-list", "--hyperlink-format", "{x}"],
    ["--type-list", "--type-add", "mine:*.mine", "-t", "mine"],
], ids=" ".join)
def test_type_list_checks_flags_first(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--type-list, as rg's every mode, is an error after a bad glob, type or colour."""
    assert_same(args, tmp_path, env)


TRANSCODED_WORDS = ["test", "café", "naïve", "plain", "€ uro", "x" * 50, "σοφ", "line", "日本語",
                    "中文 テスト"]
TRANSCODED_FLAGS = [["-n"], ["-c"], ["-C2", "-n"], ["-l"], ["--json"], ["-m3", "-n"],
                    ["-v", "-c"], ["--stats"], ["-A1"], ["-b", "-o"]]


@pytest.mark.parametrize("case", range(36))
def test_a_transcoded_file_with_a_nul(tmp_path: Path, env: dict[str, str], case: int) -> None:
    """rg reads a file it transcodes (-E, or UTF-16 with a BOM) through a transcoder that
    takes 8 KiB of the file at a time, so it meets a NUL in that piece (and reports the
    matches before it), not in a 64 KiB read: walked and named, as rg. A multi-byte decoder
    holds a sequence split between two pieces; in ISO-2022-JP, a NUL after an escape to
    JIS X 0208 is an error, not a NUL."""
    rng = random.Random(case)
    encoding = rng.choice(["latin1", "cp1252", "utf-16le-bom", "utf-16be-bom", "utf-16le",
                           "shift_jis", "gbk", "euc-jp", "iso-2022-jp", "big5", "koi8-r"])
    text = "".join(" ".join(rng.choice(TRANSCODED_WORDS) for _ in range(rng.randrange(1, 6)))
                   + "\n" for _ in range(rng.randrange(50, 3000)))
    codec, bom = encoding.removesuffix("-bom"), encoding.endswith("-bom")
    raw = ({"utf-16le": b"\xff\xfe", "utf-16be": b"\xfe\xff"}[codec] if bom else b"")
    raw += text.encode(codec, errors="replace")
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(len(raw)) & ~1
        raw = raw[:at] + b"\0" * (2 if codec.startswith("utf-16") else 1) + raw[at:]
    (tmp_path / "f.txt").write_bytes(raw)
    args = [*([] if bom else ["-E", codec]), *rng.choice(TRANSCODED_FLAGS),
            rng.choice(["test", "caf", "line$", "^plain", "€", "本語", "^中"])]
    for paths in ([], ["f.txt"]):
        want, got = _rg([*args, *paths], tmp_path, env), _trigrep([*args, *paths], tmp_path, env)
        assert (normalise_timings(got.out), got.code) == (
            normalise_timings(want.out), want.code), (args, paths)


@pytest.mark.parametrize(("setting", "planned"), [(None, False), ("off", True), ("2", True)])
def test_a_small_tree_is_searched_without_its_index(
    tmp_path: Path, env: dict[str, str], setting: str | None, planned: bool
) -> None:
    """Loading numpy to plan would cost the CLI more than reading a small tree's files: it
    reads them all (unless TRIGREP_SCAN_SMALL says "off", or a file count the tree reaches),
    with rg's output either way."""
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_bytes(b"foo\nbar\n" if i % 2 else b"bar\n")
    env = {k: v for k, v in env.items() if k != "TRIGREP_SCAN_SMALL"}
    env["TRIGREP_NO_DAEMON"] = "1"
    _trigrep(["index"], tmp_path, env)
    if setting is not None:
        env["TRIGREP_SCAN_SMALL"] = setting
    code = ("import sys; from trigrep.cli import main; code = main(['-n', 'foo']); "
            "sys.stderr.write(str('numpy' in sys.modules)); sys.exit(code)")
    got = run([TRIGREP[0], "-c", code], tmp_path, env)
    want = _rg(["-n", "foo"], tmp_path, env)
    assert (got.out, got.code) == (want.out, want.code)
    assert got.err == str(planned).encode()


def test_a_small_tree_gets_an_index_once_a_search_walks_enough_files(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """The CLI would read a small tree's files rather than use an index: its searches build
    none (TRIGREP_SCAN_SMALL: a file count), until one walks that many files."""
    from trigrep.index import IndexReader

    env = {**env, "TRIGREP_NO_DAEMON": "1", "TRIGREP_SCAN_SMALL": "3"}
    for i in range(2):
        (tmp_path / f"f{i}.txt").write_bytes(b"foo\n")
    assert_same(["-n", "foo"], tmp_path, env)
    assert_same(["-c", "foo", "f0.txt"], tmp_path, env)
    assert not (tmp_path / ".trigrep").exists()
    (tmp_path / "f2.txt").write_bytes(b"bar\nfoo\n")
    assert_same(["-n", "foo"], tmp_path, env)
    assert IndexReader.open(str(tmp_path)).stats().files == 3


@pytest.mark.parametrize("taken", [True, False])
def test_a_first_search_of_a_big_tree_offers_its_build_to_a_daemon(
    tmp_path: Path, env: dict[str, str], taken: bool
) -> None:
    """The first search of a tree that is not small (TRIGREP_SCAN_SMALL: a file count) offers
    the build of its index to a daemon (`client.FirstBuild`, here a stand-in): taken, the
    search reads every file, with rg's output, and builds nothing (it built the index first:
    15.7-15.9 s of the Linux tree before its first answer); declined, it builds it first."""
    env = {**env, "TRIGREP_SCAN_SMALL": "3"}
    env.pop("TRIGREP_NO_DAEMON", None)
    for i in range(4):
        (tmp_path / f"f{i}.txt").write_bytes(b"foo\n" if i % 2 else b"bar\nfoo\n")
    code = ("import sys; from trigrep.server import client; from trigrep.cli import main; "
            "offers = []\n"
            "class Offer(client.FirstBuild):\n"
            "    def __call__(self, directory, files):\n"
            f"        return offers.append((directory, files)) or {taken}\n"
            "client.FirstBuild = Offer; code = main(['-n', 'foo']); "
            "sys.stderr.write(repr(offers)); sys.exit(code)")
    for _ in range(2):  # (offered again while no index exists)
        got = run([TRIGREP[0], "-c", code], tmp_path, env)
        want = _rg(["-n", "foo"], tmp_path, env)
        assert (got.out, got.code, got.err) == (want.out, want.code, repr([(".", 3)]).encode())
        assert (tmp_path / ".trigrep" / "manifest").exists() is not taken
        if not taken:
            break


def test_a_first_search_starts_its_daemon_once_it_has_answered(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """The daemon a tree's first search offered its build to starts after the search's
    output (here a stand-in that writes a line where the daemon would start): its walk of the
    tree would take a core from the search."""
    env = {**env, "TRIGREP_SCAN_SMALL": "3", "TRIGREP_AUTO_SERVE": "3"}
    env.pop("TRIGREP_NO_DAEMON", None)
    for i in range(4):
        (tmp_path / f"f{i}.txt").write_bytes(b"foo\n" * (i + 1))
    code = ("import os, sys; from trigrep.server import client; from trigrep.cli import main; "
            "client.spawn_daemon = lambda roots, idle: os.write(1, b'spawned\\n'); "
            "sys.exit(main(['-n', 'foo']))")
    got = run([TRIGREP[0], "-c", code], tmp_path, env)
    want = _rg(["-n", "foo"], tmp_path, env)
    assert (got.out, got.code, got.err) == (want.out + b"spawned\n", want.code, b"")
    assert not (tmp_path / ".trigrep" / "manifest").exists()


def test_a_search_while_a_daemon_builds_the_first_index_starts_no_other(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a daemon builds a tree's first index (the writers' lock held, no manifest yet),
    or is starting (its daemon lock held, not serving yet), a search offers the build again
    (see above), and the offer is taken without a second daemon, which would wait for the
    build, update the index again and exit (or exit at once)."""
    import fcntl

    from trigrep.index.lock import IndexLock
    from trigrep.server import client
    from trigrep.server.protocol import daemon_lock_path

    spawned: list[list[str]] = []
    monkeypatch.setattr(client, "spawn_daemon", lambda roots, idle: spawned.append(roots))
    monkeypatch.setenv("TRIGREP_AUTO_SERVE", "4")
    offer = client.FirstBuild()
    assert offer(str(tmp_path), 3) is False  # fewer files than asked
    (tmp_path / ".trigrep").mkdir()
    with IndexLock(str(tmp_path / ".trigrep"), wait=True):
        assert offer(str(tmp_path), 4) is True
    with open(daemon_lock_path(str(tmp_path)), "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert offer(str(tmp_path), 4) is True
    offer.start()
    assert spawned == []
    assert offer(str(tmp_path), 4) is True
    assert spawned == []  # (once the search is over)
    offer.start()
    assert spawned == [[os.path.realpath(tmp_path)]]


def test_a_first_search_a_daemon_builds_for_loads_no_numpy(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A tree's first search, whose index a daemon builds (here a stand-in that starts
    none), reads every file: asking whether a writer is at work loads none of the writers'
    modules (numpy: ~90 ms on its path, before it read a file)."""
    env = {**env, "TRIGREP_SCAN_SMALL": "3", "TRIGREP_AUTO_SERVE": "3"}
    env.pop("TRIGREP_NO_DAEMON", None)
    for i in range(4):
        (tmp_path / f"f{i}.txt").write_bytes(b"foo\n")
    code = ("import sys; from trigrep.server import client; from trigrep.cli import main; "
            "client.spawn_daemon = lambda roots, idle: None; code = main(['-c', 'foo']); "
            "sys.stderr.write(str('numpy' in sys.modules)); sys.exit(code)")
    got = run([TRIGREP[0], "-c", code], tmp_path, env)
    want = _rg(["-c", "foo"], tmp_path, env)
    assert (got.out, got.code, got.err) == (want.out, want.code, b"False")
    assert not (tmp_path / ".trigrep" / "manifest").exists()


def test_a_small_tree_is_searched_without_modules_it_does_not_need(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Start-up is most of a search of a small tree: what only an index, -z, --pre or --json
    needs (numpy, json, subprocess, base64) is not loaded for one."""
    (tmp_path / "a.txt").write_bytes(b"foo\n")
    env = {k: v for k, v in env.items() if k != "TRIGREP_SCAN_SMALL"}
    env["TRIGREP_NO_DAEMON"] = "1"
    code = ("import sys; from trigrep.cli import main; code = main(['foo']); sys.stderr.write("
            "' '.join(m for m in ('base64', 'json', 'numpy', 'subprocess') if m in sys.modules));"
            " sys.exit(code)")
    got = run([TRIGREP[0], "-c", code], tmp_path, env)
    assert (got.out, got.err, got.code) == (b"a.txt:foo\n", b"", 0)


def test_a_small_tree_that_grew_gets_its_index_refreshed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Reading a small tree's files, the CLI still notes the files its index lacks: once they
    are many, it refreshes the index (in the background), so the tree is planned again."""
    from trigrep.index import IndexReader

    env = {k: v for k, v in env.items() if k != "TRIGREP_SCAN_SMALL"}
    env["TRIGREP_NO_DAEMON"] = "1"
    (tmp_path / "a.txt").write_bytes(b"foo\n")
    _trigrep(["index"], tmp_path, env)
    for i in range(300):
        (tmp_path / f"new{i}.txt").write_bytes(b"foo\n" if i % 3 else b"bar\n")
    assert_same(["-c", "foo"], tmp_path, env)
    deadline = time.monotonic() + 60
    while IndexReader.open(str(tmp_path)).stats().files < 301:
        assert time.monotonic() < deadline, "the index was not refreshed"
        time.sleep(0.1)
