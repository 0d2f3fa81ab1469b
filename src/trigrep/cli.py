"""Command line: searches with rg's flags and exit codes, and the other subcommands.

Exit codes are rg's: 0 something matched, 1 nothing matched, 2 an error occurred. Every
`trigrep.Error` becomes a one-line `trigrep: ...` message on stderr with exit 2.

A search first goes, unparsed, to a daemon serving the current directory's tree, if one
does: then this process loads nothing but the socket client. Otherwise the flags are parsed
here (`trigrep.flags`) and the search runs here, or in the daemon serving its paths.
"""

# Neither `from __future__ import annotations` (a module to load) nor a runtime import of
# `collections.abc` (it loads `collections`) nor of `trigrep.errors`: when a daemon answers,
# loading this module is most of what a search costs beyond the interpreter's start-up.
import os
import sys

from trigrep.console import stdin_is_readable

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn, TextIO

    from trigrep.console import Console
    from trigrep.engine import WarmTree

CONFIG_ENV = "RIPGREP_CONFIG_PATH"  # rg's config file: one argument per line, put first
SUBCOMMANDS = ("search", "index", "stats", "mcp", "serve", "status", "stop")
NO_DAEMON_ENV = "TRIGREP_NO_DAEMON"  # set: searches neither use nor start a daemon
DEBUG_ENV = "TRIGREP_DEBUG"  # set: internal errors raise (so searches run here, not in a daemon)
# Flags whose answer this process prints itself (help, versions): no daemon is asked, and
# no config file read, as rg reads none for them.
_LOCAL_FLAGS = ("--help", "--version", "--pcre2-version")
_LOCAL_SHORT_FLAGS = frozenset("hV")


class Declined(Exception):
    """A daemon cannot run this search for its client (the message says why): it reads the
    client's stdin, or runs the client's --pre or --hostname-bin program, which rg starts
    with its own environment and directory (PATH, `./script`, the paths it is given)."""


def _search(argv: "Sequence[str]", console: "Console | None" = None,
            warm: "WarmTree | None" = None) -> int:
    """The search `argv`, printed to `console` (default: this process's), with `warm` the
    daemon's cache when a daemon runs it."""
    from trigrep import flags

    ns = flags.parse_search(argv)
    if console is None and not ns.no_config and "--no-config" in argv:
        # main did not add the config: rg's --no-config was a value (`-e --no-config`)
        argv = [*_config_args(), *argv]
        ns = flags.parse_search(argv)
    if ns.special is not None:
        text, code = flags.special_answer(ns.special)
        (console.out if console else sys.stdout.buffer).write(text.encode())
        return code
    paths = flags.search_paths(ns)
    stdin_readable = console.stdin_readable if console else stdin_is_readable()
    reads_stdin = "-" in ns.file or "-" in paths or (not paths and stdin_readable)
    if console is not None and reads_stdin:
        raise Declined("the search reads the client's stdin")
    if console is not None and (ns.pre or ns.hostname_bin):
        raise Declined("--pre or --hostname-bin runs a program in the client's environment")
    use_daemon = console is None and not (
        reads_stdin or os.environ.get(NO_DAEMON_ENV) or os.environ.get(DEBUG_ENV) or ns.type_list
        or ns.generate or not (ns.args or ns.regexp or ns.file or ns.files)
    )
    if use_daemon:
        from trigrep.server import client

        delegated = client.search(argv, paths)
        if delegated is not None:
            return delegated
    if console is None:
        # This process searches once: the objects it makes per file are freed by reference
        # counting, and the cycle collector's frequent passes over its growing heap cost
        # 5-15% of a search of the Linux tree. It still runs, far less often.
        import gc

        gc.set_threshold(100_000, 50, 1000)
    from trigrep import engine
    from trigrep.extract import Preprocessor
    from trigrep.options import WalkOptions
    from trigrep.walk import check_filters, type_list

    args: list[str] = list(ns.args)
    walk_opts = WalkOptions(
        globs=ns.glob, iglobs=ns.iglob, glob_case_insensitive=ns.glob_case_insensitive,
        type_changes=ns.type_changes, hidden=ns.hidden,
        no_ignore_vcs=ns.no_ignore_vcs,
        no_ignore_dot=ns.no_ignore_dot, no_ignore_exclude=ns.no_ignore_exclude,
        no_ignore_global=ns.no_ignore_global, no_ignore_parent=ns.no_ignore_parent,
        no_require_git=ns.no_require_git, sort_by=ns.sort[0], sort_reverse=ns.sort[1],
        search_zip=ns.search_zip, max_depth=ns.max_depth, max_filesize=ns.max_filesize,
        pre=Preprocessor(ns.pre, tuple(ns.pre_glob), os.getcwd()) if ns.pre else None,
        follow=ns.follow, one_file_system=ns.one_file_system,
        ignore_files=[] if ns.no_ignore_files else ns.ignore_file, encoding=ns.encoding,
        mmap=ns.mmap, ignore_case_insensitive=ns.ignore_file_case_insensitive,
    )
    check_filters(walk_opts)
    if ns.pre_glob:  # bad globs are an error even without --pre, as in rg
        from trigrep.ignore import parse_lines

        parse_lines(ns.pre_glob)
    if ns.type_list or ns.generate:
        flags.listing_options(ns)  # bad --colors, --hyperlink-format: rg's errors in every mode
        if ns.generate:
            from trigrep.generate import generated  # (loaded for --generate only)

            listing = generated(ns.generate)
        else:
            listing = type_list(walk_opts.type_changes)
        (console.out if console else sys.stdout.buffer).write(listing.encode())
        return 0
    if ns.files:
        return engine.list_files(args, walk_opts, flags.listing_options(ns), console, warm)
    match_opts, out_opts = flags.search_options(ns, args)
    if not match_opts.patterns:  # only empty -f files: rg searches nothing, prints nothing
        return 1
    if ns.engine == "pcre2" and out_opts.max_count != 0:  # (-m0 compiles no pattern)
        from trigrep.errors import Error

        raise Error("PCRE2 is not available in this build of trigrep")
    if console is None:
        from trigrep.console import Console

        console = Console.of_process(stdin_read=("file", "-") in ns.pattern_sources)
    first_build = client.FirstBuild() if use_daemon else None
    try:
        code = engine.search(args, match_opts, walk_opts, out_opts, console, warm,
                             first_build=first_build)
    finally:  # (also after `| head` closed the output)
        if first_build is not None:
            first_build.start()
    if use_daemon:
        client.serve_in_background(args[0] if args else ".")
    return code


def _index(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("index").parse_args(argv)
    from trigrep import engine

    return engine.build(ns.path, progress=sys.stderr.isatty(), full=ns.full)


def _stats(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("stats").parse_args(argv)
    from trigrep import engine

    return engine.print_stats(ns.path, as_json=ns.json)


def _mcp(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("mcp").parse_args(argv)
    from trigrep.server.mcp import serve  # the mcp SDK loads only for this subcommand

    return serve(ns.path)


def _serve(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("serve").parse_args(argv)
    from trigrep.server import daemon

    return daemon.serve(ns.paths or ["."], detach=ns.detach, idle_timeout=ns.idle_timeout)


def _status(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("status").parse_args(argv)
    from trigrep.server import client

    return client.print_status(ns.path, as_json=ns.json)


def _stop(argv: "Sequence[str]") -> int:
    from trigrep import flags

    ns = flags.subcommand_parser("stop").parse_args(argv)
    from trigrep.server import client

    return client.stop(ns.path)


def _guarded(run: "Callable[[], int]", err: "TextIO") -> int:
    """`run()`'s exit code, with every failure turned into rg's one-line message and code."""
    from trigrep.errors import Error

    try:
        return run()
    except Error as e:
        err.write(f"trigrep: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except (BrokenPipeError, Declined):
        raise  # the reader went away (a quiet exit, as rg's) / the daemon's client searches
    except Exception as e:
        if os.environ.get(DEBUG_ENV):
            raise
        err.write(
            f"trigrep: internal error: {type(e).__name__}: {e} (TRIGREP_DEBUG=1 shows more)\n"
        )
        return 2


def run_search(argv: "Sequence[str]", console: "Console", warm: "WarmTree | None" = None) -> int:
    """The search `trigrep ARGV` printing to `console` (a daemon's client's), as main would.

    A reader that went away (`| head`, a cancel) ends it quietly, as rg does.
    """
    try:
        return _guarded(lambda: _search(argv, console, warm), console.err)
    except BrokenPipeError:
        return 0


def _config_args() -> "list[str]":
    """The arguments in rg's config file (RIPGREP_CONFIG_PATH), as rg reads them: one per
    line, trimmed, none from blank lines and `#` comments. A file that cannot be read is
    reported, and the search goes on without it."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        return []
    where = f"{path}: "
    try:
        with open(path, "rb") as f:
            where = ""  # rg names the file only when it cannot open it
            lines = f.read().splitlines()
    except OSError as e:
        if isinstance(e, IsADirectoryError):
            where = ""  # rg opens a directory, then fails to read it
        sys.stderr.write(f"trigrep: failed to read the file specified in {CONFIG_ENV}: "
                         f"{where}{e.strerror} (os error {e.errno})\n")
        return []
    return [os.fsdecode(line) for line in map(bytes.strip, lines)
            if line and not line.startswith(b"#")]


def _configured(argv: "list[str]") -> "list[str]":
    """A search's arguments after those of rg's config file, unless `--no-config` may be
    among them (then `_search` decides, once the flags are parsed), or -h, -V... (rg reads
    no config file for those)."""
    if "--no-config" in argv or _asks_locally(argv):
        return argv
    return [*_config_args(), *argv]


def _asks_locally(argv: "Sequence[str]") -> bool:
    """Whether a flag among `argv` asks for what this process prints itself (-h, -V...)."""
    for arg in argv:
        if arg == "--":
            break
        if arg in _LOCAL_FLAGS or (
            arg[:1] == "-" and arg[1:2] != "-" and not _LOCAL_SHORT_FLAGS.isdisjoint(arg[1:])
        ):
            return True
    return False


def _daemon_may_parse(argv: "Sequence[str]") -> bool:
    """Whether the search may go, flags unparsed, to a daemon serving the current directory's
    tree: it parses them (and declines a search of stdin), so a search it answers loads none
    of the CLI's parsing. Errs on the side of parsing here."""
    if os.environ.get(NO_DAEMON_ENV) or os.environ.get(DEBUG_ENV) or (
            "--no-config" in argv and os.environ.get(CONFIG_ENV)):
        return False  # (whether rg's config file counts is for _search to tell)
    return not _asks_locally(argv)


def _exit_now(code: int) -> "NoReturn":
    """End the process now, its output flushed: the interpreter's teardown (freeing every
    module and object) would add a few ms to a search that took a daemon about as long."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _lossy_messages() -> None:
    """rg names a path that is not UTF-8 in its messages with U+FFFD for the bytes it cannot
    decode; Python's stderr would write the surrogates they became as `\\udcff` escapes."""
    stream = sys.stderr
    if not (hasattr(stream, "reconfigure") and (stream.encoding or "").lower() in (
            "utf-8", "utf8")):
        return
    import codecs  # (loaded at start-up already, by the interpreter's own encodings)

    codecs.register_error("trigrep-lossy", _as_replacement_characters)
    stream.reconfigure(errors="trigrep-lossy")


def _as_replacement_characters(error: UnicodeError) -> tuple[bytes, int]:
    assert isinstance(error, UnicodeEncodeError)  # (an encoder takes bytes, or ASCII text)
    return "\ufffd".encode() * (error.end - error.start), error.end


def main(argv: "Sequence[str] | None" = None, *, quick_exit: bool = False) -> int:
    """Entry point of the `trigrep` command; returns the process exit code. `quick_exit`:
    a search a daemon answered ends the process (see `_exit_now`)."""
    _lossy_messages()
    try:
        os.getcwd()
    except FileNotFoundError:  # (rg still searches absolute paths: see the README)
        sys.stderr.write("trigrep: the current directory no longer exists\n")
        return 2
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else "search"
    if argv and argv[0] == command:
        argv = argv[1:]
    if command == "search":
        argv = _configured(argv)
    run = {
        "search": _search, "index": _index, "stats": _stats, "mcp": _mcp, "serve": _serve,
        "status": _status, "stop": _stop,
    }[command]
    try:
        if command == "search" and _daemon_may_parse(argv):
            from trigrep.server import client

            answered = client.search(argv, ["."], stdin_readable=stdin_is_readable())
            if answered is not None:
                if quick_exit:
                    _exit_now(answered)
                return answered
        from trigrep.cpu import prefer_fast_numpy_sort

        prefer_fast_numpy_sort()  # (before anything here loads numpy)
        return _guarded(lambda: run(argv), sys.stderr)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): quiet exit, as rg does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main(quick_exit=True))
