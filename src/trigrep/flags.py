"""rg's flags: the argparse parsers of trigrep's commands and the options they make.

Imported only once a command runs here: a search that a daemon answers never parses its
flags in the client (the daemon does).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from trigrep import __version__
from trigrep.errors import Error

if TYPE_CHECKING:
    from trigrep.options import MatchOptions, OutputOptions

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


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter, sized as argparse sizes it (COLUMNS, else the terminal's width, else
    80, less 2) without importing `shutil` to do so: the parser makes a formatter for each flag
    it is given, on every search, and `shutil` imports `bz2` and `lzma` (about 2 ms)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


def _terminal_columns() -> int:
    """`shutil.get_terminal_size().columns`."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class Parser(argparse.ArgumentParser):
    """argparse with rg-style one-line errors (exit code 2, from the CLI's error handling,
    which a daemon running the search also has), and rg's reading of a flag's value: the
    next argument, whatever it looks like (`-e '->'`, `-g -x`), where argparse would take
    one starting with `-` for a flag."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # rg takes no abbreviated long flag
        super().__init__(*args, **kwargs)
        # Per parse (a daemon's threads share a parser): each flag taking a value, as given,
        # in order, for rg's wording of an error in its value.
        self._given_flags = threading.local()

    def error(self, message: str) -> NoReturn:
        for kind in _MISUSES:  # argparse's wording of a misuse rg words differently
            if message.endswith(kind) or f": {kind} " in message:
                raise Error(getattr(self._given_flags, "misused", {}).get(kind, message))
        unknown = message.removeprefix("unrecognized arguments: ")
        if unknown != message and unknown[:1] == "-" and unknown[1:2] not in ("", " "):
            flag = unknown.split(" ")[0]  # rg names the first, a short one alone
            message = f"unrecognized flag {flag.split('=')[0] if flag[1] == '-' else flag[:2]}"
        raise Error(message)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        args = list(sys.argv[1:] if args is None else args)
        self._given_flags.by_action = {}
        self._given_flags.misused = {}
        parsed, extras = super().parse_known_args(self._flags_first(args), namespace)
        for name, value in vars(parsed).items():  # see _DASHES
            if isinstance(value, list):
                setattr(parsed, name, [
                    tuple(map(_given, v)) if isinstance(v, tuple) else _given(v) for v in value])
            elif isinstance(value, str):
                setattr(parsed, name, _given(value))
        return parsed, extras

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        """argparse's conversion of a flag's value, its errors worded as rg's (naming the
        flag as given: argparse names all its spellings)."""
        given = self._given_flags.by_action.get(id(action)) if action.nargs is None else None
        flag = given.pop(0) if given else None
        try:
            return super()._get_values(action, arg_strings)
        except argparse.ArgumentError as e:
            if flag is None:
                raise
            raise Error(f"error parsing flag {flag}: {e.message}") from None

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            raise argparse.ArgumentError(action, _Choice(tuple(action.choices)).refusal(value))

    def _misuse(self, kind: str, message: str) -> None:
        """Word argparse's first error of this kind as rg words it (see `error`)."""
        self._given_flags.misused.setdefault(kind, message)

    def _value_given(self, flag: str, action: argparse.Action, value: str) -> str:
        """`value` given to `flag` (as typed: `-g`, `--glob`), unless it is not UTF-8
        (undecodable bytes come as surrogates) where rg wants text: then rg's error."""
        self._given_flags.by_action.setdefault(id(action), []).append(flag)
        if action.dest in _OS_STRING_VALUES or value.isascii():
            return value
        try:
            value.encode()
        except UnicodeEncodeError:
            problem = ("separator must be valid UTF-8 (use escape sequences to provide a "
                       "separator that is not valid UTF-8)" if action.dest in _SEPARATOR_VALUES
                       else "value is not valid UTF-8")
            raise Error(f"error parsing flag {flag}: {problem}") from None
        return value

    def _flags_first(self, args: list[str]) -> list[str]:
        """`args` with each flag's separate value joined to it (`--regexp=VALUE`), then the
        flags before the positional arguments, which follow a `--`: rg takes flags anywhere
        (`rg foo -n src`), where argparse would stop taking positionals at the first flag
        after them."""
        out: list[str] = []
        rest: list[str] = []  # what followed a `--`: positional, whatever it looks like
        for arg in self._values_attached(args, rest):
            (rest if arg == "-" or not arg.startswith("-") else out).append(arg)
        return [*out, "--", *rest]

    def _values_attached(self, args: list[str], after_dashes: list[str]) -> Iterator[str]:
        """`args` up to a `--` (what follows it goes to `after_dashes`), each flag's separate
        value joined to it (`--regexp=VALUE`)."""
        takes_value = {
            option: action for option, action in self._option_string_actions.items()
            if action.nargs is None
        }

        def attached(action: argparse.Action, value: str) -> str:
            value = _DASHES if value == "--" else value  # (`-e --`: rg's pattern `--`)
            long = next((o for o in action.option_strings if o.startswith("--")), None)
            return f"{long}={value}" if long else action.option_strings[0] + value

        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                after_dashes.extend(args[i:])
                return
            action = takes_value.get(arg)
            if action is not None and arg.startswith("--"):
                if i < len(args):
                    yield attached(action, self._value_given(arg, action, args[i]))
                    i += 1
                    continue
                self._missing_value(arg)
            long = arg.startswith("--")
            flag, value = arg.partition("=")[::2] if long else (arg[:2], arg[2:])
            switch = self._option_string_actions.get(flag) if long and "=" in arg else None
            if switch is not None and switch.nargs == 0:
                self._misuse(_EXPLICIT, _unexpected_value(flag, value))
            if flag in takes_value and (long or value in ("--", "=--")):
                self._value_given(flag, takes_value[flag], value)
            if value in ("--", "=--") and flag in takes_value and (not long or "=" in arg):
                yield (flag + "=" if long else flag) + _DASHES  # `--regexp=--`, `-e--`
                continue
            if arg.startswith("-") and not long and arg != "-":
                # a cluster of short flags (`-ie`): does one take a value (the rest of the
                # argument, or the next one)?
                for k in range(1, len(arg)):
                    action = takes_value.get("-" + arg[k])
                    if action is not None or f"-{arg[k]}" not in self._option_string_actions:
                        break
                if action is not None and k < len(arg) - 1:
                    self._value_given("-" + arg[k], action, arg[k + 1 :])
                elif action is not None and i < len(args):
                    if k > 1:
                        yield arg[:k]
                    yield attached(action, self._value_given("-" + arg[k], action, args[i]))
                    i += 1
                    continue
                elif action is not None:
                    self._missing_value("-" + arg[k])
                elif k > 1 and arg[k] == "=":  # `-n=1`: a value for a switch
                    self._misuse(_EXPLICIT, _unexpected_value("-" + arg[k - 1], arg[k + 1 :]))
                elif k > 1:  # `-nQ`: rg names the letter it does not know
                    self._misuse(_EXPLICIT, f"unrecognized flag -{arg[k]}")
            yield arg

    def _missing_value(self, flag: str) -> None:
        self._misuse(_MISSING, f"missing value for flag {flag}: missing argument for option "
                               f"'{flag}'")


# argparse's errors for a flag given without its value, or a switch given one (`--hidden=x`),
# which the parser words as rg does (see Parser._misuse).
_MISSING = "expected one argument"
_EXPLICIT = "ignored explicit argument"
_MISUSES = (_MISSING, _EXPLICIT)


def _unexpected_value(flag: str, value: str) -> str:
    return f"invalid CLI arguments: unexpected argument for option '{flag}': {_debug(value)}"


def _debug(text: str) -> str:
    """`text` quoted as Rust's Debug quotes an OS string (rg's messages do)."""
    out = []
    for char in text:
        if char in _DEBUG_ESCAPES:
            out.append(_DEBUG_ESCAPES[char])
        elif "\udc80" <= char <= "\udcff":  # a byte that is not UTF-8 (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02X}")
        elif char.isprintable() or char == " ":
            out.append(char)
        else:
            out.append(f"\\u{{{ord(char):x}}}")
    return '"' + "".join(out) + '"'


_DEBUG_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\0": "\\0"}


# argparse drops a flag's value `--` even when given attached (`--regexp=--`, `-e--`), where
# rg takes it: the parser passes it as this (no argument can hold a NUL), and each converter
# and the parsed values get `--` back (`_given`).
_DASHES = "\0--\0"


# Flags whose value rg takes as the OS gives it (a path, a command): any other flag's value
# must be UTF-8, and a separator's says how to give bytes that are not.
_OS_STRING_VALUES = frozenset(("file", "ignore_file", "pre", "hostname_bin"))
_SEPARATOR_VALUES = frozenset(
    ("context_separator", "field_match_separator", "field_context_separator"))


def _given(text: str) -> str:
    return "--" if text == _DASHES else text


def _count(text: str) -> int:
    """A count as rg parses one (a u64: digits after an optional "+", nothing else)."""
    text = _given(text)
    digits = text.removeprefix("+")
    if not text:
        raise argparse.ArgumentTypeError(
            "value is not a valid number: cannot parse integer from empty string")
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(
            "value is not a valid number: invalid digit found in string")
    value = int(digits)
    if value >= 1 << 64:
        raise argparse.ArgumentTypeError(
            "value is not a valid number: number too large to fit in target type")
    return min(value, sys.maxsize)  # as good as unlimited, and fits islice and range


_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("0"): b"\0",
            ord("\\"): b"\\"}
_HEX = b"0123456789abcdefABCDEF"


def _unescaped(text: str) -> bytes:
    """A separator as rg reads it: `\\n`, `\\r`, `\\t`, `\\0`, `\\\\` and `\\xHH` escapes; any
    other backslash stands for itself."""
    data = os.fsencode(_given(text))  # (UTF-8: see Parser._value_given)
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == 0x5C and i + 1 < len(data):
            escape = _ESCAPES.get(data[i + 1])
            if escape is not None:
                out += escape
                i += 2
                continue
            digits = data[i + 2 : i + 4]
            if data[i + 1] == ord("x") and len(digits) == 2 and all(d in _HEX for d in digits):
                out.append(int(digits, 16))
                i += 4
                continue
        out.append(data[i])
        i += 1
    return bytes(out)


_IGNORE_KINDS = (  # --no-NAME (and --NAME, its negation)
    ("ignore-vcs", "no .gitignore, .git/info/exclude or global git excludes"),
    ("ignore-dot", "no .ignore or .rgignore files"),
    ("ignore-exclude", "no .git/info/exclude"),
    ("ignore-global", "no global git excludes (core.excludesFile)"),
    ("ignore-parent", "no ignore files from directories above the paths searched"),
    ("require-git", ".gitignore files count outside git repositories too"),
)


_TYPE_FLAGS = (
    (("-t", "--type"), "select", "TYPE", "only files of TYPE"),
    (("-T", "--type-not"), "negate", "TYPE", "no files of TYPE"),
    (("--type-add",), "add", "TYPE:GLOB", "define a type (or TYPE:include:A,B)"),
    (("--type-clear",), "clear", "TYPE", "forget a type's globs"),
)


_MODE_FLAGS = (
    (("-l", "--files-with-matches"), "files_with_matches", "print the files with a match"),
    (("--files-without-match",), "files_without_match", "print the files without a match"),
    (("-c", "--count"), "count", "matching lines per file"),
    (("--count-matches",), "count_matches", "matches per file"),
    (("--json",), "json", "rg's JSON Lines output"),
)


def _file_size(value: str) -> int:
    """--max-filesize: digits and an optional K, M or G (powers of 1024), as rg reads it."""
    digits, unit = (value[:-1], value[-1]) if value[-1:] in ("K", "M", "G") else (value, "")
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(
            f"invalid size: invalid format for size '{value}', which should be a non-empty "
            "sequence of digits followed by an optional 'K', 'M' or 'G' suffix")
    if int(digits) >= 1 << 64:
        raise argparse.ArgumentTypeError(
            f"invalid size: invalid integer found in size '{value}': number too large to fit "
            "in target type")
    size = int(digits) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]
    if size >= 1 << 64:
        raise argparse.ArgumentTypeError(f"invalid size: size too big in '{value}'")
    return size


class _Choice:
    """The converter of a flag taking one of `choices` (rg's `error` for another): the
    choices are also what `--generate`'s completion scripts offer for the flag."""

    def __init__(self, choices: tuple[str, ...], error: str = "choice '{}' is unrecognized",
                 ) -> None:
        self.choices, self._error = choices, error

    def __call__(self, value: str) -> str:
        if value not in self.choices:
            raise argparse.ArgumentTypeError(self.refusal(value))
        return value

    def refusal(self, value: str) -> str:
        return self._error.format(_given(value))


GENERATE_KINDS = ("man", "complete-bash", "complete-zsh", "complete-fish", "complete-powershell")
_engine = _Choice(("default", "auto", "pcre2"), "unrecognized regex engine '{}'")


def _encoding(value: str) -> str:
    """-E: the WHATWG encoding a label names (see `extract.encoding_codec`), else rg's
    error."""
    from trigrep.extract import encoding_codec

    codec = encoding_codec(value)
    if codec is None:
        raise argparse.ArgumentTypeError(f"grep config error: unknown encoding: {value}")
    return codec


def _path_separator(value: str) -> bytes | None:
    """--path-separator: one byte (an escape such as `\\x5C` counts as one), or nothing."""
    separator = _unescaped(value)
    if len(separator) > 1:
        raise argparse.ArgumentTypeError(
            f"A path separator must be exactly one byte, but the given separator is "
            f"{len(separator)} bytes: {value}")
    return separator or None


_IGNORE_DESTS = [f"no_{name.replace('-', '_')}" for name, _ in _IGNORE_KINDS
                 if name != "require-git"]


def _set_ignore_kinds(namespace: argparse.Namespace, off: bool) -> None:
    """Every --no-ignore-* flag at once, where --no-ignore, -u or --ignore stands (so the
    last flag given wins, as in rg)."""
    for dest in _IGNORE_DESTS:
        setattr(namespace, dest, off)


class _AllIgnoreKinds(argparse.Action):
    """--no-ignore (const True) and --ignore (False)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        _set_ignore_kinds(namespace, bool(self.const))


class _Unrestricted(argparse.Action):
    """-u: --no-ignore there; -uu: and --hidden; -uuu: and --binary (counted), each set
    where it stands, as rg does: a later --no-hidden, --no-binary or -a still wins."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.unrestricted += 1
        if namespace.unrestricted > 3:
            parser.error("error parsing flag -u: flag can only be repeated up to 3 times")
        if namespace.unrestricted == 1:
            _set_ignore_kinds(namespace, True)
        elif namespace.unrestricted == 2:
            namespace.hidden = True
        else:
            namespace.binary = "binary"


class _Pretty(argparse.Action):
    """-p: --color always --heading --line-number, as if given there (later flags win)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.color, namespace.heading, namespace.line_number = "always", True, True


class _Reader(argparse.Action):
    """-z and --pre: the last given decides how files are read (`--pre ''` reads them as
    they are; --no-search-zip leaves --pre alone)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        if option_string in ("-z", "--search-zip"):
            namespace.search_zip, namespace.pre = True, None
        else:
            namespace.pre, namespace.search_zip = values or None, False


class _Mode(argparse.Action):
    """What a search prints: as in rg, the last of -l, -c, --json... and of --files,
    --type-list and --generate (which print something else instead of searching) decides."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.modes = [*(namespace.modes or []), self.const]
        namespace.files, namespace.type_list = self.const == "files", self.const == "type_list"
        namespace.generate = values if self.const == "generate" else None


class _PatternSource(argparse.Action):
    """-e and -f: each value in its own list, and in `pattern_sources` with the other's in
    command-line order, rg's order of their patterns (of two that match at the same place,
    the first is the match -o, -r and --json report)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, [*getattr(namespace, self.dest), values])
        namespace.pattern_sources = [*namespace.pattern_sources, (self.dest, values)]


class _NoJson(argparse.Action):
    """--no-json: back to the standard printer after --json; after another mode, nothing."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        if namespace.modes[-1:] == ["json"]:
            namespace.modes = [*namespace.modes, "lines"]


class _Context(argparse.Action):
    """-A, -B, -C: as rg, they replace an earlier --passthru (and keep each other)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.passthru = False


class _LineMode(argparse.Action):
    """-U and --stop-on-nonmatch: as in rg 14.1, each turns the other off (--no-multiline
    turns only -U off)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.multiline = self.dest == "multiline"
        namespace.stop_on_nonmatch = not namespace.multiline


class _Terminator(argparse.Action):
    """--crlf and --null-data: as in rg, each turns the other off (--no-crlf turns only
    --crlf off)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.crlf = self.dest == "crlf"
        namespace.null_data = not namespace.crlf


class _Passthru(argparse.Action):
    """--passthru: replaces any -A, -B and -C given before it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        namespace.passthru = True
        namespace.after_context = namespace.before_context = namespace.context = None


class _SortKey:
    """The converter of --sort (or --sortr) to (field, reverse)."""

    choices = ("path", "none", "modified", "accessed", "created")

    def __init__(self, reverse: bool) -> None:
        self._reverse = reverse

    def __call__(self, value: str) -> tuple[str, bool]:
        _Choice(self.choices)(value)
        return ("path" if value == "none" else value), self._reverse and value != "none"


def _type_change(kind: str) -> Callable[[str], tuple[str, str]]:
    """The argparse converter tagging one type flag's value, so the flags keep their order."""
    return lambda value: (kind, value)


@functools.cache
def search_parser() -> Parser:
    """The search command line's parser, built once per process (a daemon parses every search
    with it: building it takes ten times as long as a parse)."""
    p = Parser(
        prog="trigrep",
        usage="trigrep [OPTIONS] PATTERN [PATH ...]\n       trigrep [OPTIONS] -e PATTERN ... "
        "[PATH ...]\n       trigrep index [--full] [PATH]\n       trigrep stats [--json] [PATH]\n"
        "       trigrep serve [--detach] [PATH ...]\n       trigrep status [--json] [PATH]\n"
        "       trigrep stop [PATH]\n       trigrep mcp [PATH]",
        description="Indexed code search with ripgrep's syntax, flags and output.",
        epilog=EXAMPLES,
        formatter_class=_HelpFormatter,
        add_help=False,
    )
    add = p.add_argument
    add("args", nargs="*", metavar="PATTERN/PATH", help="the pattern (unless -e/-f), then paths")
    # As in rg, the last of these is answered (see special_answer), once every flag is read.
    add("-h", "--help", dest="special", action="store_const", const="help",
        help="show this help and exit")
    add("-V", "--version", dest="special", action="store_const", const="version",
        help="show the version and exit")
    add("--generate", action=_Mode, const="generate", metavar="KIND",
        type=_Choice(GENERATE_KINDS),
        help="print a man page or a shell's completion script and exit: "
        + ", ".join(GENERATE_KINDS))
    g = p.add_argument_group("patterns")
    g.add_argument("-e", "--regexp", action=_PatternSource, default=[], metavar="PATTERN",
                   help="a pattern to search for (repeatable; a line matching any matches)")
    g.add_argument("-f", "--file", action=_PatternSource, default=[], metavar="PATTERNFILE",
                   help="read patterns from a file, one per line ('-' for stdin)")
    g.add_argument("-F", "--fixed-strings", action="store_true", help="patterns are literals")
    g.add_argument("--no-fixed-strings", dest="fixed_strings", action="store_false")
    g.add_argument("-i", "--ignore-case", dest="case", action="append_const", const="insensitive",
                   help="search case-insensitively")
    g.add_argument("-S", "--smart-case", dest="case", action="append_const", const="smart",
                   help="insensitive unless the pattern has an uppercase letter")
    g.add_argument("-s", "--case-sensitive", dest="case", action="append_const",
                   const="sensitive", help="search case-sensitively (the default)")
    # -w and -x: as in rg, the last one given wins.
    g.add_argument("-w", "--word-regexp", dest="bounds", action="append_const", const="word",
                   default=[], help="only matches surrounded by word boundaries")
    g.add_argument("-x", "--line-regexp", dest="bounds", action="append_const", const="line",
                   help="only matches that are whole lines")
    g.add_argument("-v", "--invert-match", action="store_true",
                   help="print the lines that do not match")
    g.add_argument("--no-invert-match", dest="invert_match", action="store_false")
    g.add_argument("-U", "--multiline", action=_LineMode, nargs=0, default=False,
                   help="matches may span lines")
    g.add_argument("--no-multiline", dest="multiline", action="store_false")
    g.add_argument("--multiline-dotall", action="store_true",
                   help="with -U, '.' matches line terminators too")
    g.add_argument("--no-multiline-dotall", dest="multiline_dotall", action="store_false")
    g.add_argument("--no-unicode", dest="unicode", action="store_false", default=True,
                   help="patterns match bytes and ASCII classes, as in (?-u)")
    g.add_argument("--unicode", dest="unicode", action="store_true")
    g.add_argument("--crlf", action=_Terminator, nargs=0, default=False,
                   help="lines end in CRLF: '$' matches before '\\r\\n'; printed lines end so")
    g.add_argument("--null-data", action=_Terminator, nargs=0, default=False,
                   help="lines end in NUL (as from find -print0), printed lines too; implies -a")
    g.add_argument("--no-crlf", dest="crlf", action="store_false")
    # Regex engines: rg 14.1's wheel has no PCRE2 either, so `auto` is the default engine.
    g.add_argument("--engine", type=_engine, default="default", metavar="ENGINE",
                   help="default, or auto (the same here); pcre2 is not available")
    for flags, engine in ((("-P", "--pcre2"), "pcre2"), (("--no-pcre2",), "default"),
                          (("--auto-hybrid-regex",), "auto"),
                          (("--no-auto-hybrid-regex",), "default")):
        g.add_argument(*flags, dest="engine", action="store_const", const=engine,
                       help=argparse.SUPPRESS)
    g.add_argument("--pcre2-version", dest="special", action="store_const",
                   const="pcre2_version", help="say that PCRE2 is not available (exit code 1)")
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
    g.add_argument("--type-list", action=_Mode, nargs=0, const="type_list",
                   help="show all file types and exit")
    g.add_argument("-.", "--hidden", action="store_true",
                   help="search hidden files and directories")
    g.add_argument("--no-hidden", dest="hidden", action="store_false")
    g.add_argument("--no-ignore", action=_AllIgnoreKinds, nargs=0, const=True,
                   help="don't respect ignore files (as all the --no-ignore-* below)")
    g.add_argument("--ignore", action=_AllIgnoreKinds, nargs=0, const=False)
    for name, text in _IGNORE_KINDS:
        dest = "no_" + name.replace("-", "_")
        g.add_argument(f"--no-{name}", dest=dest, action="store_true", help=text)
        g.add_argument(f"--{name}", dest=dest, action="store_false")
    g.add_argument("--ignore-file", action="append", default=[], metavar="PATH",
                   help="also ignore what this gitignore-style file says (lowest precedence)")
    g.add_argument("--ignore-file-case-insensitive", action="store_true",
                   help="ignore files' rules ignore case (but --ignore-file's)")
    g.add_argument("--no-ignore-file-case-insensitive", dest="ignore_file_case_insensitive",
                   action="store_false")
    g.add_argument("--no-ignore-files", action="store_true",
                   help="no --ignore-file, wherever given")
    g.add_argument("--ignore-files", dest="no_ignore_files", action="store_false")
    g.add_argument("-d", "--max-depth", "--maxdepth", type=_count, metavar="NUM",
                   help="descend at most NUM directories below each path (0: the paths only)")
    g.add_argument("--max-filesize", type=_file_size, metavar="NUM+SUFFIX?",
                   help="leave out files found by walking that are bigger (suffixes K, M, G)")
    g.add_argument("-u", "--unrestricted", action=_Unrestricted, nargs=0, default=0,
                   help="-u: --no-ignore; -uu: and --hidden; -uuu: and --binary")
    g.add_argument("-L", "--follow", action="store_true",
                   help="follow symlinks (a loop or a dangling link is an error)")
    g.add_argument("--no-follow", dest="follow", action="store_false")
    g.add_argument("--one-file-system", action="store_true",
                   help="do not descend into directories on other file systems")
    g.add_argument("--no-one-file-system", dest="one_file_system", action="store_false")
    g.add_argument("-z", "--search-zip", action=_Reader, nargs=0, default=False,
                   help="search compressed files")
    g.add_argument("--no-search-zip", dest="search_zip", action="store_false")
    g.add_argument("--pre", action=_Reader, metavar="COMMAND",
                   help="search the output of COMMAND PATH (the file on its input) instead")
    g.add_argument("--no-pre", dest="pre", action="store_const", const=None)
    g.add_argument("--pre-glob", action="append", default=[], metavar="GLOB",
                   help="run --pre's COMMAND only on files matching GLOB ('!GLOB' excludes)")
    g.add_argument("-E", "--encoding", type=_encoding, default="auto", metavar="ENCODING",
                   help="read files as this encoding (utf-8, utf-16le/be, latin1...; none: as "
                   "bytes); a BOM still decides")
    g.add_argument("--no-encoding", dest="encoding", action="store_const", const="auto")
    g.add_argument("--mmap", dest="mmap", action="store_const", const="always",
                   default="auto", help="search every file as rg searches a memory-mapped one "
                   "(by default, only files named on the command line): NULs count in the "
                   "first 64 KiB and in the lines printed")
    g.add_argument("--no-mmap", dest="mmap", action="store_const", const="never",
                   help="search every file as rg searches one it reads as a stream")
    g.add_argument("--files", action=_Mode, nargs=0, const="files",
                   help="print the files that would be searched")
    g.add_argument("--sort", dest="sort", type=_SortKey(False), default=("path", False),
                   metavar="SORTBY",
                   help="path (the default; also none), modified, accessed, created")
    g.add_argument("--sort-files", dest="sort", action="store_const", const=("path", False),
                   help=argparse.SUPPRESS)  # rg's old name of --sort path (and of none:)
    g.add_argument("--no-sort-files", dest="sort", action="store_const",
                   const=("path", False), help=argparse.SUPPRESS)
    g.add_argument("--sortr", dest="sort", type=_SortKey(True), metavar="SORTBY",
                   help="the same, in reverse")
    g = p.add_argument_group("output")
    g.add_argument("-n", "--line-number", dest="line_number", action="store_true", default=None,
                   help="print line numbers (the default on a terminal)")
    g.add_argument("-N", "--no-line-number", dest="line_number", action="store_false")
    g.add_argument("--heading", dest="heading", action="store_true", default=None,
                   help="print each file's path above its matches (the default on a terminal)")
    g.add_argument("--no-heading", dest="heading", action="store_false")
    g.add_argument("--color", choices=["never", "auto", "always", "ansi"], default="auto",
                   help="ansi: as always (rg's choice for Windows consoles)")
    g.add_argument("--colors", action="append", default=[], metavar="COLOR_SPEC",
                   help="{path,line,column,match}:{fg,bg,style}:VALUE or TYPE:none (repeatable)")
    g.add_argument("--hyperlink-format", default="", metavar="FORMAT",
                   help="link printed paths (when coloured): an alias (vscode, file, kitty...) "
                   "or a URL with {path}, {line}, {column}, {host}")
    g.add_argument("--hostname-bin", metavar="COMMAND",
                   help="{host} in hyperlinks is what COMMAND prints (default: the system's)")
    g.add_argument("-H", "--with-filename", dest="with_filename", action="store_true",
                   default=None, help="print the path of each match, even for one file")
    g.add_argument("-I", "--no-filename", dest="with_filename", action="store_false",
                   help="never print the path of a match")
    g.add_argument("--binary", dest="binary", action="store_const", const="binary",
                   default="auto", help="in files found by walking, keep printing matches after "
                   "a NUL, up to the first match after it ('binary file matches')")
    g.add_argument("--no-binary", dest="binary", action="store_const", const="auto")
    g.add_argument("-a", "--text", dest="binary", action="store_const", const="text",
                   help="search binary files as text: a NUL is a byte like any other")
    g.add_argument("--no-text", dest="binary", action="store_const", const="auto")
    g.add_argument("--column", action="store_true", default=None,
                   help="print the column (bytes, from 1) of each line's first match; implies -n")
    g.add_argument("--no-column", dest="column", action="store_false")
    g.add_argument("--vimgrep", action="store_true",
                   help="a line per match: path, line and column, then the whole line")
    g.add_argument("-M", "--max-columns", type=_count, metavar="NUM",
                   help="print a note instead of a line longer than NUM bytes (0: no limit)")
    g.add_argument("--max-columns-preview", action="store_true",
                   help="with -M, print the start of such a line instead")
    g.add_argument("--no-max-columns-preview", dest="max_columns_preview",
                   action="store_false")
    g.add_argument("-b", "--byte-offset", action="store_true",
                   help="print the byte offset of each line (or -o match) before it")
    g.add_argument("--no-byte-offset", dest="byte_offset", action="store_false")
    g.add_argument("--trim", action="store_true", help="print lines without leading spaces")
    g.add_argument("--no-trim", dest="trim", action="store_false")
    g.add_argument("--context-separator", type=_unescaped, default=b"--", metavar="SEP",
                   help="the line between context groups (escapes: \\t \\n \\xHH ...)")
    g.add_argument("--no-context-separator", dest="context_separator", action="store_const",
                   const=None, help="print no line between context groups")
    g.add_argument("--field-match-separator", type=_unescaped, default=b":", metavar="SEP",
                   help="what follows the path, number... of a matching line")
    g.add_argument("--field-context-separator", type=_unescaped, default=b"-", metavar="SEP",
                   help="what follows the path, number... of a context line")
    g.add_argument("--path-separator", type=_path_separator, metavar="SEPARATOR",
                   help="print paths with this byte between their parts, not '/'")
    g.add_argument("-p", "--pretty", action=_Pretty, nargs=0,
                   help="--color always --heading --line-number")
    g.add_argument("-0", "--null", action="store_true",
                   help="end each path printed with a NUL, not ':' or a newline (for xargs -0)")
    g.add_argument("-o", "--only-matching", action="store_true",
                   help="print only the matches, each on a line of its own")
    g.add_argument("-r", "--replace", type=os.fsencode, metavar="REPLACEMENT",
                   help="print each match as REPLACEMENT ($1, $name, ${name}: its groups)")
    g.add_argument("-m", "--max-count", type=_count, metavar="NUM",
                   help="stop searching a file after NUM matching lines")
    for flags, where in ((("-A", "--after-context"), "after"),
                         (("-B", "--before-context"), "before"),
                         (("-C", "--context"), "before and after")):
        g.add_argument(*flags, action=_Context, type=_count, metavar="NUM",
                       help=f"print NUM lines {where} each match")
    g.add_argument("--passthru", "--passthrough", action=_Passthru, nargs=0, default=False,
                   help="print every line, matching or not (the last of it and -A/-B/-C wins)")
    g.add_argument("--stop-on-nonmatch", action=_LineMode, nargs=0, default=False,
                   help="stop searching a file at the first non-matching line after a "
                   "matching one (the last of it and -U wins)")
    # What is printed: as in rg, the last of these flags decides.
    for flags, mode, text in _MODE_FLAGS:
        g.add_argument(*flags, dest="modes", action=_Mode, nargs=0, const=mode, help=text)
    g.add_argument("--no-json", dest="modes", action=_NoJson, nargs=0)
    g.add_argument("--include-zero", action="store_true",
                   help="with -c or --count-matches, also print files with no match (count 0)")
    g.add_argument("--no-include-zero", dest="include_zero", action="store_false")
    g.add_argument("-q", "--quiet", action="store_true", help="print nothing; exit 0 on a match")
    g.add_argument("--stats", action="store_true",
                   help="print totals after the output (matches, files and bytes searched...)")
    g.add_argument("--no-stats", dest="stats", action="store_false")
    g.add_argument("--no-messages", dest="messages", action="store_false", default=True,
                   help="do not report files that cannot be opened or read (the exit code "
                   "still says so)")
    g.add_argument("--messages", dest="messages", action="store_true")
    g.add_argument("--no-ignore-messages", dest="ignore_messages", action="store_false",
                   default=True, help="do not report errors in ignore files")
    g.add_argument("--ignore-messages", dest="ignore_messages", action="store_true")
    g.add_argument("--line-buffered", dest="buffering", action="store_const", const="line",
                   help="write out each file's lines at once, and standard input's lines as "
                   "they arrive (as it does on a terminal)")
    g.add_argument("--block-buffered", dest="buffering", action="store_const", const="block",
                   help="write output in blocks (as into a pipe or a file)")
    for name in ("line-buffered", "block-buffered"):
        g.add_argument(f"--no-{name}", dest="buffering", action="store_const", const=None)
    g = p.add_argument_group("accepted for rg compatibility")
    g.add_argument("-j", "--threads", type=_count, metavar="NUM",
                   help="ignored: trigrep sizes its worker pool to the machine's cores")
    for name in ("dfa-size-limit", "regex-size-limit"):
        g.add_argument(f"--{name}", type=_file_size, metavar="NUM+SUFFIX?",
                       help="ignored: trigrep's regex engine has its own limits")
    g.add_argument("--pcre2-unicode", action="store_true", help="ignored (no PCRE2)")
    g.add_argument("--no-pcre2-unicode", dest="pcre2_unicode", action="store_false")
    g.add_argument("--debug", action="store_true", help="ignored: trigrep logs nothing")
    g.add_argument("--trace", action="store_true", help="ignored: trigrep logs nothing")
    g.add_argument("--no-config", action="store_true",
                   help="do not read the config file named by RIPGREP_CONFIG_PATH")
    p.set_defaults(modes=[], files=False, type_list=False, generate=None, pattern_sources=[])
    return p


_SUBCOMMANDS = {  # (`search` is the search parser's)
    "index": "Build or bring up to date the index of PATH.",
    "stats": "Show the statistics of the index of PATH.",
    "serve": "Watch the trees holding PATHs (default: the current one) and answer searches in "
             "them from a warm index.",
    "status": "Show the daemon serving PATH; exit 0 if one does, else 1.",
    "stop": "Stop the daemon serving PATH.",
    "mcp": "Serve the tree at PATH to AI agents: an MCP server over stdio with search, count, "
           "files and read tools.",
}


def subcommand_parser(name: str) -> Parser:
    """The parser of `trigrep NAME` (a subcommand but `search`): one definition for the CLI
    and for --generate's man page and completion scripts."""
    p = Parser(prog=f"trigrep {name}", description=_SUBCOMMANDS[name])
    if name == "serve":
        p.add_argument("paths", nargs="*", metavar="PATH")
        p.add_argument("--detach", action="store_true",
                       help="run in the background (pid in .trigrep/daemon.json, log in "
                       ".trigrep/daemon.log)")
        p.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                       help="stop after this long without a search (default: never)")
        return p
    p.add_argument("path", nargs="?", default=".", metavar="PATH")
    if name == "index":
        p.add_argument("--full", action="store_true",
                       help="rebuild from scratch instead of updating the changed files")
    if name in ("stats", "status"):
        p.add_argument("--json", action="store_true", help="print it as JSON")
    return p


def special_answer(special: str) -> tuple[str, int]:
    """What -h/--help, -V/--version or --pcre2-version print, and the exit code (rg 14.1's
    wheel is built without PCRE2)."""
    if special == "help":
        return search_parser().format_help(), 0
    if special == "version":
        return f"trigrep {__version__}\n", 0
    return "PCRE2 is not available in this build of trigrep.\n", 1


def read_patterns(sources: list[tuple[str, str]], paths: Sequence[str] = ()) -> list[str]:
    """The patterns of -e and -f (`pattern_sources`), in their order: a -f file's one per
    line as rg reads them (a final newline ends no pattern). `-` is standard input, which can
    be read once: not as patterns and as a path searched (`paths`), nor by two `-f -`."""
    if ("file", "-") in sources and "-" in paths:
        raise Error("error: attempted to read patterns from stdin while also searching stdin")
    patterns: list[str] = []
    stdin_read = False
    for dest, name in sources:
        if dest == "regexp":
            patterns.append(name)
            continue
        try:
            if name == "-":
                if stdin_read:
                    raise Error("error reading -f/--file from stdin: stdin has already been "
                                "consumed")
                stdin_read = True
                data = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as f:
                    data = f.read()
        except OSError as e:
            # (rg opens a directory and fails to read it: its read errors have no space)
            sep = ":" if isinstance(e, IsADirectoryError) else ": "
            raise Error(f"{name}{sep}{e.strerror} (os error {e.errno})") from None
        for number, line in enumerate(_pattern_lines(data), 1):
            try:
                patterns.append(line.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise Error(
                    f"{'<stdin>' if name == '-' else name}:{number}: found invalid UTF-8 in "
                    f"pattern at byte offset {e.start}: {_escaped(line)} (disable Unicode "
                    "mode and use hex escape sequences to match arbitrary bytes in a pattern, "
                    "e.g., '(?-u)\\xFF')") from None
    return patterns


def _pattern_lines(data: bytes) -> list[bytes]:
    """The lines of a -f file as rg splits them: at `\n` only (no other line break), a line
    ending in `\r\n` without its `\r`; a last line without a `\n` keeps a final `\r`."""
    lines = data.split(b"\n")
    last = lines.pop()
    return [line.removesuffix(b"\r") for line in lines] + ([last] if last else [])


_BYTE_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord("\\"): "\\\\", 0: "\\0"}


def _escaped(line: bytes) -> str:
    """`line` as rg's grep_cli::escape shows it: the ASCII bytes `!` to `~` as they are but
    `\\`, a few C escapes, `\\xHH` for other bytes (those of ill-formed UTF-8 included), and
    characters beyond ASCII as they are."""
    out = []
    for ch in line.decode("utf-8", errors="surrogateescape"):
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:  # a byte that is not UTF-8
            cp -= 0xDC00
        elif cp >= 0x80:
            out.append(ch)
            continue
        if 0x21 <= cp <= 0x7E and cp != 0x5C:
            out.append(chr(cp))
        else:
            out.append(_BYTE_ESCAPES.get(cp) or f"\\x{cp:02X}")
    return "".join(out)


def listing_options(ns: argparse.Namespace) -> OutputOptions:
    """How --files prints each path: as rg's summary printers do (colour, links, NUL)."""
    from trigrep import hyperlink
    from trigrep.colors import palette
    from trigrep.options import OutputOptions

    return OutputOptions(
        mode="quiet" if ns.quiet else "files_with_matches", null=ns.null,
        path_separator=ns.path_separator, color=ns.color, palette=palette(ns.colors),
        hyperlinks=hyperlink.parse(ns.hyperlink_format, os.getcwd(), ns.hostname_bin),
        messages=ns.messages, ignore_messages=ns.ignore_messages,
    )


def _output_mode(ns: argparse.Namespace) -> str:
    mode = ns.modes[-1] if ns.modes else "lines"
    if ns.quiet:
        return "quiet"
    if mode == "json":
        return "lines"
    if mode == "count_matches" and ns.invert_match:
        return "count"  # rg counts inverted lines then (-c -o -v counts their matches: none)
    if mode == "count" and ns.only_matching:
        return "count_matches"
    return mode


def search_paths(ns: argparse.Namespace) -> list[str]:
    """The path arguments (the first positional is the pattern unless -e/-f gave one or
    --files needs none)."""
    return list(ns.args) if ns.regexp or ns.file or ns.files else list(ns.args[1:])


def search_options(
    ns: argparse.Namespace, args: list[str]
) -> tuple[MatchOptions, OutputOptions]:
    """The match and output options of parsed search flags; takes the positional pattern
    off `args` (leaving the paths) unless -e/-f gave the patterns."""
    from trigrep import hyperlink
    from trigrep.colors import palette
    from trigrep.options import MatchOptions, OutputOptions
    from trigrep.query import compile_replacer

    patterns = read_patterns(ns.pattern_sources, args)
    if not ns.regexp and not ns.file:
        if not args:
            raise Error("no pattern given (usage: trigrep [OPTIONS] PATTERN [PATH ...])")
        patterns.append(args.pop(0))
    match_opts = MatchOptions(
        patterns=patterns, fixed_strings=ns.fixed_strings,
        case=(ns.case or ["sensitive"])[-1], word_regexp=ns.bounds[-1:] == ["word"],
        line_regexp=ns.bounds[-1:] == ["line"], invert_match=ns.invert_match,
        multiline=ns.multiline, multiline_dotall=ns.multiline_dotall, unicode=ns.unicode,
        text=ns.binary == "text" or ns.null_data, crlf=ns.crlf, null_data=ns.null_data,
    )
    context = ns.context or 0
    out_opts = OutputOptions(
        mode=_output_mode(ns),  # type: ignore[arg-type]
        json=ns.modes[-1:] == ["json"], line_number=ns.line_number,
        null=ns.null, path_separator=ns.path_separator,
        column=ns.vimgrep if ns.column is None else ns.column,
        vimgrep=ns.vimgrep, color=ns.color, palette=palette(ns.colors), crlf=ns.crlf,
        null_data=ns.null_data,
        hyperlinks=hyperlink.parse(ns.hyperlink_format, os.getcwd(), ns.hostname_bin),
        with_filename=True if ns.vimgrep and ns.with_filename is None else ns.with_filename,
        heading=False if ns.vimgrep else ns.heading,
        binary="text" if ns.null_data else ns.binary,
        only_matching=ns.only_matching, max_count=ns.max_count,
        # (-m0 searches nothing, so rg never compiles the pattern: a bad one is no error)
        replace=None if ns.replace is None or ns.max_count == 0
        else compile_replacer(match_opts, ns.replace),
        include_zero=ns.include_zero,
        max_columns=ns.max_columns or None, max_columns_preview=ns.max_columns_preview,
        byte_offset=ns.byte_offset, trim=ns.trim, context_separator=ns.context_separator,
        field_match_separator=ns.field_match_separator,
        field_context_separator=ns.field_context_separator,
        messages=ns.messages, ignore_messages=ns.ignore_messages,
        before_context=context if ns.before_context is None else ns.before_context,
        after_context=context if ns.after_context is None else ns.after_context,
        passthru=ns.passthru, stop_on_nonmatch=ns.stop_on_nonmatch, stats=ns.stats,
        line_buffered=None if ns.buffering is None else ns.buffering == "line",
    )
    return match_opts, out_opts


def parse_search(argv: Sequence[str]) -> argparse.Namespace:
    """The search command line `argv` parsed (Error for a bad flag). A parse depends on the
    arguments alone, so the last few are kept: a daemon asked for the same search again
    does not parse it again (0.15 ms). Each caller gets its own copy to change."""
    return argparse.Namespace(**vars(_parsed(tuple(argv))))


@functools.lru_cache(maxsize=32)
def _parsed(argv: tuple[str, ...]) -> argparse.Namespace:
    return search_parser().parse_args(argv)


def parse_search_flags(argv: Sequence[str]) -> tuple[MatchOptions, OutputOptions]:
    """Options for a search command line, exactly as the CLI builds them (used by tests that
    drive the searcher and printers without the walk)."""
    ns = parse_search(argv)
    return search_options(ns, list(ns.args))
