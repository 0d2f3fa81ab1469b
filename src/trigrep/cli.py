"""Command line: rg's flags and exit codes, plus the `index` and `stats` subcommands.

Exit codes are rg's: 0 something matched, 1 nothing matched, 2 an error occurred. Every
`trigrep.Error` becomes a one-line `trigrep: ...` message on stderr with exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

from trigrep import __version__
from trigrep.console import stdin_is_readable
from trigrep.errors import Error

if TYPE_CHECKING:  # the options' dataclasses load only once a search runs here
    from trigrep.console import Console
    from trigrep.engine import WarmTree
    from trigrep.options import MatchOptions, OutputOptions

SUBCOMMANDS = ("search", "index", "stats", "mcp", "serve", "status", "stop")

EXAMPLES = """\
examples:
  trigrep PM_RESUME                  search the tree under the current directory
  trigrep -i 'open\\(' src -t py      case-insensitive regex, only Python files under src/
  trigrep -w -C2 main -g '*.c'        whole words, two lines of context, only *.c files
  trigrep --json -F 'a.b' | jq .      rg's JSON Lines messages
  trigrep index                      build or update the index of the current directory
  trigrep stats --json               files, bytes, trigrams and index size
  trigrep search index               search for the word "index" (not the subcommand)
  trigrep serve --detach             watch the tree and answer searches from a warm daemon
  trigrep status / trigrep stop      the daemon serving this tree

The first search in a tree builds its index in .trigrep/ at the tree's root (the nearest
directory above holding .trigrep/, else the git work tree, else the current directory).
Later searches use it, and files changed since are searched directly, so results always
match what rg prints at that moment. When a daemon (`trigrep serve`) serves the tree, searches
are sent to it (set TRIGREP_NO_DAEMON=1 to search locally).
"""


class _Parser(argparse.ArgumentParser):
    """argparse with rg-style one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"trigrep: {message}\n")
        sys.exit(2)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"number must be non-negative: {text!r}")
    return value


_TYPE_FLAGS = (
    (("-t", "--type"), "select", "TYPE", "only files of TYPE"),
    (("-T", "--type-not"), "negate", "TYPE", "no files of TYPE"),
    (("--type-add",), "add", "TYPE:GLOB", "define a type (or TYPE:include:A,B)"),
    (("--type-clear",), "clear", "TYPE", "forget a type's globs"),
)


def _type_change(kind: str) -> Callable[[str], tuple[str, str]]:
    """The argparse converter tagging one type flag's value, so the flags keep their order."""
    return lambda value: (kind, value)


def _search_parser() -> _Parser:
    p = _Parser(
        prog="trigrep",
        usage="trigrep [OPTIONS] PATTERN [PATH ...]\n       trigrep [OPTIONS] -e PATTERN ... "
        "[PATH ...]\n       trigrep index [--full] [PATH]\n       trigrep stats [--json] [PATH]\n"
        "       trigrep serve [--detach] [PATH ...]\n       trigrep status [--json] [PATH]\n"
        "       trigrep stop [PATH]\n       trigrep mcp [PATH]",
        description="Indexed code search with ripgrep's syntax, flags and output.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = p.add_argument
    add("args", nargs="*", metavar="PATTERN/PATH", help="the pattern (unless -e/-f), then paths")
    add("-V", "--version", action="version", version=f"trigrep {__version__}")
    g = p.add_argument_group("patterns")
    g.add_argument("-e", "--regexp", action="append", default=[], metavar="PATTERN")
    g.add_argument("-f", "--file", action="append", default=[], metavar="PATTERNFILE",
                   help="read patterns from a file, one per line ('-' for stdin)")
    g.add_argument("-F", "--fixed-strings", action="store_true", help="patterns are literals")
    g.add_argument("-i", "--ignore-case", dest="case", action="append_const", const="insensitive")
    g.add_argument("-S", "--smart-case", dest="case", action="append_const", const="smart",
                   help="insensitive unless the pattern has an uppercase letter")
    g.add_argument("-s", "--case-sensitive", dest="case", action="append_const",
                   const="sensitive")
    g.add_argument("-w", "--word-regexp", action="store_true")
    g.add_argument("-x", "--line-regexp", action="store_true")
    g.add_argument("-v", "--invert-match", action="store_true")
    g.add_argument("-U", "--multiline", action="store_true", help="matches may span lines")
    g = p.add_argument_group("files")
    g.add_argument("-g", "--glob", action="append", default=[], metavar="GLOB",
                   help="include files matching GLOB; '!GLOB' excludes")
    g.add_argument("--iglob", action="append", default=[], metavar="GLOB",
                   help="like -g, ignoring case (applied after every -g)")
    g.add_argument("--glob-case-insensitive", action="store_true",
                   help="-g globs ignore case too")
    g.add_argument("--no-glob-case-insensitive", dest="glob_case_insensitive",
                   action="store_false")
    for flags, kind, metavar, text in _TYPE_FLAGS:
        g.add_argument(*flags, dest="type_changes", action="append", default=[],
                       type=_type_change(kind), metavar=metavar, help=text)
    g.add_argument("--type-list", action="store_true", help="show all file types and exit")
    g.add_argument("--hidden", action="store_true", help="search hidden files and directories")
    g.add_argument("--no-ignore", action="store_true", help="don't respect ignore files")
    g.add_argument("-z", "--search-zip", action="store_true", help="search compressed files")
    g.add_argument("--files", action="store_true", help="print the files that would be searched")
    g.add_argument("--sort", choices=["path", "none"], default="path",
                   help="output is always in path order; accepted for rg compatibility")
    g = p.add_argument_group("output")
    g.add_argument("-n", "--line-number", dest="line_number", action="store_true", default=None)
    g.add_argument("-N", "--no-line-number", dest="line_number", action="store_false")
    g.add_argument("--heading", dest="heading", action="store_true", default=None)
    g.add_argument("--no-heading", dest="heading", action="store_false")
    g.add_argument("--color", "--colour", choices=["never", "auto", "always"], default="auto")
    g.add_argument("-o", "--only-matching", action="store_true")
    g.add_argument("-m", "--max-count", type=_count, metavar="NUM")
    g.add_argument("-A", "--after-context", type=_count, metavar="NUM")
    g.add_argument("-B", "--before-context", type=_count, metavar="NUM")
    g.add_argument("-C", "--context", type=_count, metavar="NUM")
    g.add_argument("-l", "--files-with-matches", action="store_true")
    g.add_argument("--files-without-match", action="store_true")
    g.add_argument("-c", "--count", action="store_true", help="matching lines per file")
    g.add_argument("--count-matches", action="store_true", help="matches per file")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing; exit 0 on a match")
    g.add_argument("--json", action="store_true", help="rg's JSON Lines output")
    return p


def _read_pattern_files(names: list[str]) -> list[str]:
    """Patterns from -f files, one per line as rg reads them (a final newline ends no pattern)."""
    patterns: list[str] = []
    for name in names:
        try:
            if name == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as f:
                    data = f.read()
        except OSError as e:
            raise Error(f"{name}: {e.strerror}") from None
        text = data.decode("utf-8", errors="surrogateescape")
        patterns.extend(line.removesuffix("\r") for line in text.splitlines())
    return patterns


def _output_mode(ns: argparse.Namespace) -> str:
    if ns.quiet:
        return "quiet"
    if ns.files_with_matches:
        return "files_with_matches"
    if ns.files_without_match:
        return "files_without_match"
    if ns.count_matches or (ns.count and ns.only_matching):
        return "count_matches"
    if ns.count:
        return "count"
    return "lines"


def _search_paths(ns: argparse.Namespace) -> list[str]:
    """The path arguments (the first positional is the pattern unless -e/-f gave one or
    --files needs none)."""
    return list(ns.args) if ns.regexp or ns.file or ns.files else list(ns.args[1:])


def _may_use_daemon(ns: argparse.Namespace) -> bool:
    """Whether a daemon may run this search: not one reading stdin, and not when
    TRIGREP_NO_DAEMON is set."""
    return not (
        os.environ.get("TRIGREP_NO_DAEMON") or ns.type_list or "-" in ns.file
        or not (ns.args or ns.regexp or ns.file or ns.files)
        or (not _search_paths(ns) and stdin_is_readable())
    )


def search_options(
    ns: argparse.Namespace, args: list[str]
) -> tuple[MatchOptions, OutputOptions]:
    """The match and output options of parsed search flags; takes the positional pattern
    off `args` (leaving the paths) unless -e/-f gave the patterns."""
    from trigrep.options import MatchOptions, OutputOptions

    patterns = list(ns.regexp) + _read_pattern_files(ns.file)
    if not ns.regexp and not ns.file:
        if not args:
            raise Error("no pattern given (usage: trigrep [OPTIONS] PATTERN [PATH ...])")
        patterns.append(args.pop(0))
    match_opts = MatchOptions(
        patterns=patterns, fixed_strings=ns.fixed_strings,
        case=(ns.case or ["sensitive"])[-1], word_regexp=ns.word_regexp,
        line_regexp=ns.line_regexp, invert_match=ns.invert_match, multiline=ns.multiline,
    )
    context = ns.context or 0
    out_opts = OutputOptions(
        mode=_output_mode(ns),  # type: ignore[arg-type]
        json=ns.json, line_number=ns.line_number, heading=ns.heading, color=ns.color,
        only_matching=ns.only_matching, max_count=ns.max_count,
        before_context=context if ns.before_context is None else ns.before_context,
        after_context=context if ns.after_context is None else ns.after_context,
    )
    return match_opts, out_opts


def parse_search_flags(argv: Sequence[str]) -> tuple[MatchOptions, OutputOptions]:
    """Options for a search command line, exactly as the CLI builds them (used by tests that
    drive the searcher and printers without the walk)."""
    ns = _search_parser().parse_args(argv)
    return search_options(ns, list(ns.args))


def _search(argv: Sequence[str], console: Console | None = None,
            warm: WarmTree | None = None) -> int:
    ns = _search_parser().parse_args(argv)
    use_daemon = console is None and _may_use_daemon(ns)
    if use_daemon:
        from trigrep.server import client

        delegated = client.search(argv, _search_paths(ns))
        if delegated is not None:
            return delegated
    from trigrep import engine
    from trigrep.options import WalkOptions
    from trigrep.walk import check_types, type_list

    args: list[str] = list(ns.args)
    walk_opts = WalkOptions(
        globs=ns.glob, iglobs=ns.iglob, glob_case_insensitive=ns.glob_case_insensitive,
        type_changes=ns.type_changes, hidden=ns.hidden, no_ignore=ns.no_ignore,
        search_zip=ns.search_zip,
    )
    if ns.type_list:
        listing = type_list(walk_opts.type_changes)
        (console.out if console else sys.stdout.buffer).write(listing.encode())
        return 0
    check_types(walk_opts)
    if ns.files:
        return engine.list_files(args, walk_opts, console, warm)
    match_opts, out_opts = search_options(ns, args)
    code = engine.search(args, match_opts, walk_opts, out_opts, console, warm)
    if use_daemon:
        client.serve_in_background(args[0] if args else ".")
    return code


def _index(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep index", description="Build or bring up to date the index of PATH.")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--full", action="store_true",
                   help="rebuild from scratch instead of updating the changed files")
    ns = p.parse_args(argv)
    from trigrep import engine

    return engine.build(ns.path, progress=sys.stderr.isatty(), full=ns.full)


def _stats(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep stats", description="Show the statistics of the index of PATH.")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from trigrep import engine

    return engine.print_stats(ns.path, as_json=ns.json)


def _mcp(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep mcp", description="Serve the tree at PATH to AI agents: an MCP "
                "server over stdio with search, count, files and read tools.")
    p.add_argument("path", nargs="?", default=".")
    ns = p.parse_args(argv)
    from trigrep.server.mcp import serve  # the mcp SDK loads only for this subcommand

    return serve(ns.path)


def _serve(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep serve", description="Watch the trees holding PATHs (default: "
                "the current one) and answer searches in them from a warm index.")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--detach", action="store_true",
                   help="run in the background (pid in .trigrep/daemon.json, log in "
                   ".trigrep/daemon.log)")
    p.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                   help="stop after this long without a search (default: never)")
    ns = p.parse_args(argv)
    from trigrep.server import daemon

    return daemon.serve(ns.paths or ["."], detach=ns.detach, idle_timeout=ns.idle_timeout)


def _status(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep status",
                description="Show the daemon serving PATH; exit 0 if one does, else 1.")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(argv)
    from trigrep.server import client

    return client.print_status(ns.path, as_json=ns.json)


def _stop(argv: Sequence[str]) -> int:
    p = _Parser(prog="trigrep stop", description="Stop the daemon serving PATH.")
    p.add_argument("path", nargs="?", default=".")
    ns = p.parse_args(argv)
    from trigrep.server import client

    return client.stop(ns.path)


def _guarded(run: Callable[[], int], err: TextIO) -> int:
    """`run()`'s exit code, with every failure turned into rg's one-line message and code."""
    try:
        return run()
    except Error as e:
        err.write(f"trigrep: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise  # the reader went away: the caller's quiet exit, as rg's
    except Exception as e:
        if os.environ.get("TRIGREP_DEBUG"):
            raise
        err.write(
            f"trigrep: internal error: {type(e).__name__}: {e} (TRIGREP_DEBUG=1 shows more)\n"
        )
        return 2


def run_search(argv: Sequence[str], console: Console, warm: WarmTree | None = None) -> int:
    """The search `trigrep ARGV` printing to `console` (a daemon's client's), as main would.

    A reader that went away (`| head`, a cancel) ends it quietly, as rg does.
    """
    try:
        return _guarded(lambda: _search(argv, console, warm), console.err)
    except BrokenPipeError:
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `trigrep` command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "search"
    if argv and argv[0] == command:
        argv = argv[1:]
    run = {
        "search": _search, "index": _index, "stats": _stats, "mcp": _mcp, "serve": _serve,
        "status": _status, "stop": _stop,
    }[command]
    try:
        return _guarded(lambda: run(argv), sys.stderr)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): quiet exit, as rg does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
