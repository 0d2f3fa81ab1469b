"""The bytes rg searches for a file: what both the indexer and the searcher must agree on.

`--encoding auto` (BOM sniffing) unless `-E` names another (see `decoded`); `-z` first
decompresses files whose name has
one of rg's compressed extensions. rg does that by running an external program, and only when
that program is installed (otherwise it searches the file as it is); its failures become rg's
error message for the file, after rg has searched what the program wrote before failing.
A single well-formed gzip/bzip2/xz/lzma stream decodes the same in any correct implementation,
so those are decoded in-process (no fork per file); anything else goes to the program, which
is then the one to judge the data, exactly as in rg.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from functools import cache
from itertools import chain
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from trigrep.spawn import popen

if TYPE_CHECKING:
    import subprocess

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16le", b"\xfe\xff": "utf-16be"}
_BOMS_OF_UTF16 = {codec: bom for bom, codec in _UTF16_BOMS.items()}
READ_CHUNK = 1 << 20
LINUX_MAX_READ = 0x7FFFF000  # one read(2) returns at most this much, whatever the file size
_ERROR_RULE = "-" * 79  # grep-cli frames a failed command's stderr between two of these


def encoding_codec(label: str) -> str | None:
    """-E's value as the name of a WHATWG encoding (see trigrep.whatwg, which rg's
    encoding_rs follows); "auto" and "none" (exactly so) stay themselves; None: unknown."""
    if label in ("auto", "none"):
        return label
    from trigrep.whatwg import encoding

    return encoding(label)


def decoded(data: bytes, codec: str) -> bytes:
    """The bytes rg searches for file bytes under `-E` (`codec` from `encoding_codec`): as
    they are for "none", BOM sniffing for "auto" (a UTF-8 BOM dropped, UTF-16 with a BOM
    transcoded to UTF-8, as rg's `--encoding auto`); for an encoding, its text as UTF-8,
    with U+FFFD for ill-formed input. A UTF-16 BOM still decides the encoding; a UTF-8 one
    is only dropped (what follows it is read in the encoding given)."""
    decode, skipped = text_decoder(data, codec)
    return decode(data[skipped:], True)


def text_decoder(head: bytes, codec: str) -> tuple[Callable[[bytes, bool], bytes], int]:
    """How `decoded` reads bytes that start with `head` (6 bytes or more, or all of them):
    an incremental decoder (its input's pieces in turn, True with the last) and how many
    leading bytes (BOMs) it skips; so standard input is decoded as it arrives."""
    if codec == "none":
        return _as_is, 0
    bom_codec = _UTF16_BOMS.get(head[:2])
    if codec == "auto" or bom_codec is not None:
        if bom_codec is None:
            return _as_is, len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
        codec, skipped = bom_codec, 2
    else:
        # The decoder drops a BOM of its own encoding too (a second one after a UTF-8 BOM).
        skipped = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
    bom = _UTF8_BOM if codec == "utf-8" else _BOMS_OF_UTF16.get(codec, b"")
    if bom and head.startswith(bom, skipped):
        skipped += len(bom)
    from trigrep.whatwg import decoder as make_decoder

    decoder = make_decoder(codec, skipped)  # (where its input starts in the file)
    return lambda data, final: decoder.decode(data, final).encode("utf-8"), skipped


def _as_is(data: bytes, final: bool) -> bytes:
    return data


def keeps_nuls(codec: str) -> bool:
    """Whether a NUL byte of a file is a NUL of its text under -E's `codec` (not in UTF-16,
    nor in ISO-2022-JP, whose Katakana and JIS X 0208 states read it as an error)."""
    return not codec.startswith("utf-16") and codec != "iso-2022-jp"


def transcodes(path: str, codec: str) -> bool:
    """Whether rg reads the file through a decoder (so as a stream, never memory-mapped):
    under an -E encoding, or `auto` with a UTF-16 BOM."""
    if codec != "auto":
        return codec != "none"
    try:
        with open(path, "rb") as f:
            return transcodes_text(f.read(2), codec)
    except OSError:
        return False


def drops_utf8_bom(path: str, codec: str) -> bool:
    """Whether rg's decoder drops the file's UTF-8 BOM (any `codec` but "none", which turns
    BOM sniffing off): rg then reads the file as a stream, even one it would map, and its
    first read is a whole buffer of what follows the BOM."""
    if codec == "none":
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(_UTF8_BOM)) == _UTF8_BOM
    except OSError:
        return False


def transcodes_text(head: bytes, codec: str) -> bool:
    """Whether rg reads bytes that start with `head` through a decoder (see `transcodes`)."""
    return codec not in ("auto", "none") or (codec == "auto" and head[:2] in _UTF16_BOMS)


# rg's transcoder (encoding_rs_io) fills its buffer with this much of the file at a time.
TRANSCODER_BUFFER = 8 << 10


def transcoder_fills(
    raw: bytes, codec: str, upto: int | None = None, stdin: bool = False
) -> tuple[int, ...]:
    """Where each fill of rg's transcoder ends, as offsets in `decoded(raw, codec)`: a read
    of the decoded text never goes past the end of the fill it starts in (so rg's searcher
    meets a NUL in pieces of about 8 KiB of the file, not 64 KiB). Empty when rg reads the
    file as it is. The first fill is the file's first 3 bytes (what rg peeked at for a BOM,
    the BOM left out: none is left of a UTF-8 one, whose file's first fill is a whole one),
    then TRANSCODER_BUFFER bytes each; of `stdin`, which Rust reads through an 8 KiB buffer
    the peek filled, the fill after the peek is the rest of that buffer, so they end at
    multiples of 8 KiB. `upto`: the fills past the first that reaches this offset are left
    out (reads of that much text end before them), so a big binary file searched only up
    to its first 64 KiB is not decoded whole."""
    if not transcodes_text(raw, codec):
        return ()
    decode, skip = text_decoder(raw, codec)
    fills = []
    out = 0
    start = skip
    whole_fills = range((0 if stdin else 3) + TRANSCODER_BUFFER, len(raw) + TRANSCODER_BUFFER,
                        TRANSCODER_BUFFER)
    for end in whole_fills if raw.startswith(_UTF8_BOM) else chain([3], whole_fills):
        end = min(end, len(raw))
        out += len(decode(raw[start:end], end == len(raw)))
        fills.append(out)
        start = max(end, skip)
        if end == len(raw) or (upto is not None and out >= upto):
            break
    return tuple(fills)


class _Decoder(Protocol):
    eof: bool
    unused_data: bytes

    def decompress(self, data: bytes) -> bytes: ...


class _Format(NamedTuple):
    """How rg -z decompresses one kind of file, and the kind of its exact in-process decoder
    if any (see `_decoder`)."""

    argv: tuple[str, ...]
    decoder: Literal["gzip", "bzip2", "xz", "lzma"] | None = None


_GZIP = _Format(("gzip", "-d", "-c"), "gzip")
_BZIP2 = _Format(("bzip2", "-d", "-c"), "bzip2")
_XZ = _Format(("xz", "-d", "-c"), "xz")
_ZSTD = _Format(("zstd", "-q", "-d", "-c"))
# grep-cli's default table: name suffix (its glob `*.ext`, case-sensitive) -> command.
_FORMATS: dict[str, _Format] = {
    ".gz": _GZIP, ".tgz": _GZIP,
    ".bz2": _BZIP2, ".tbz2": _BZIP2,
    ".xz": _XZ, ".txz": _XZ,
    ".lz4": _Format(("lz4", "-d", "-c")),
    ".lzma": _Format(("xz", "--format=lzma", "-d", "-c"), "lzma"),
    ".br": _Format(("brotli", "-d", "-c")),
    ".zst": _ZSTD, ".zstd": _ZSTD,
    ".Z": _Format(("uncompress", "-c")),
}


# rg's words for the stderr of a failed program that wrote nothing there
STDERR_EMPTY = "<stderr is empty>"


class DecompressionError(OSError):
    """The decompression program failed. rg still searched what it wrote before failing.

    `partial` holds what it wrote (`read_searchable` decodes it: see `_decoded_output`);
    `message` is rg's text after `<path>: ` in its error line.
    """

    def __init__(self, message: str, partial: bytes) -> None:
        super().__init__(None, message)
        self.message = message
        self.partial = partial

    def __str__(self) -> str:
        return self.message


@cache
def _installed(program: str) -> bool:
    import shutil  # (as bz2, lzma and subprocess: loaded only for -z and --pre)

    return shutil.which(program) is not None


def _format_for(path: str) -> _Format | None:
    """The decompression rg -z applies to `path`, None when it reads the file as it is."""
    for suffix, fmt in _FORMATS.items():
        if path.endswith(suffix):
            return fmt if _installed(fmt.argv[0]) else None
    return None


def is_decompressed(path: str, search_zip: bool) -> bool:
    """True when rg reads `path` through a decompression program: as a stream, never mmapped,
    which changes how NUL bytes are treated in files named on the command line."""
    return search_zip and _format_for(path) is not None


def _decode_in_process(fmt: _Format, data: bytes) -> bytes | None:
    """The content of `data` when it is exactly one complete stream, else None (ask the tool)."""
    if fmt.decoder is None:
        return None
    decoder, error = _decoder(fmt.decoder)
    try:
        content = decoder.decompress(data)
    except (OSError, EOFError, ValueError, error):
        return None
    return content if decoder.eof and not decoder.unused_data else None


def _decoder(kind: str) -> tuple[_Decoder, type[Exception]]:
    """A decompressor of the `kind` of a `_Format`, and the error its library raises."""
    if kind == "gzip":
        return zlib.decompressobj(wbits=31), zlib.error
    if kind == "bzip2":
        import bz2

        return bz2.BZ2Decompressor(), OSError
    import lzma

    return lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE), (
        lzma.LZMAError)


def _run_program(fmt: _Format, program_path: str, cwd: str | None) -> bytes:
    """Decompress the way rg does, raising DecompressionError with rg's message on failure.
    `program_path` is relative to `cwd` (None: this process's working directory)."""
    import subprocess

    proc = popen(
        [*fmt.argv, program_path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=cwd,
    )
    return _output(proc, "")


def _output(proc: subprocess.Popen[bytes], failed: str) -> bytes:
    """A command's output, or DecompressionError with rg's message (after `failed`) holding
    what it wrote before failing."""
    out, err = proc.communicate()
    if proc.returncode == 0:
        return out
    stderr = err.decode("utf-8", errors="replace").strip()
    message = f"\n{_ERROR_RULE}\n{stderr}\n{_ERROR_RULE}" if stderr else STDERR_EMPTY
    raise DecompressionError(failed + message, out)


def _decoded_output(output: bytes, codec: str) -> bytes:
    """What rg searches of a failed command's `output` (the searcher leaves out the last,
    unterminated line): decoded under `codec` as it came (rg's transcoder reads the
    command's output, and the failure ends its reads before it flushes a character left
    incomplete). Nothing when it is shorter than rg's first read, which waits for 3 bytes
    (a BOM's) and so meets the failure before any search."""
    if len(output) < 3:
        return b""
    decode, skipped = text_decoder(output, codec)
    return decode(output[skipped:], False)


class Preprocessor:
    """--pre COMMAND: a file is searched as the output of `COMMAND PATH` (PATH as shown, the
    file on its standard input), if the --pre-glob globs (gitignore lines, a `!` excluding,
    relative to `glob_base`) select it: none select every file."""

    __slots__ = ("command", "glob_base", "globs")

    def __init__(self, command: str, globs: tuple[str, ...] = (), glob_base: str = "") -> None:
        self.command = command
        self.globs = globs
        self.glob_base = glob_base

    def applies(self, shown: str) -> bool:
        if not self.globs:
            return True
        return _pre_globs(self.globs, self.glob_base)(shown)

    def run(self, path: str, shown: str) -> bytes:
        import subprocess

        quoted = f"'{_debug_quoted(self.command)} {_debug_quoted(shown)}'"
        with open(path, "rb") as stdin:
            try:
                proc = popen([self.command, shown], stdin=stdin, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
            except OSError as e:
                raise DecompressionError(
                    f"preprocessor command could not start: {quoted}: {e.strerror} "
                    f"(os error {e.errno})", b"") from None
        return _output(proc, f"preprocessor command failed: {quoted}: ")


@cache
def _pre_globs(globs: tuple[str, ...], base: str) -> Callable[[str], bool]:
    """Whether --pre-glob selects a path: a match decides (`!` excludes); a path no glob
    matches is selected only when every glob excludes (rg's override globs)."""
    from trigrep.ignore import IgnoreMatcher, parse_lines

    rules = IgnoreMatcher(parse_lines(list(globs)).globs)
    prefix = os.path.join(base, "") if base else ""

    def selects(shown: str) -> bool:
        path = shown.removeprefix("./")
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        raw = os.fsencode(path)
        verdict = rules.matched(raw, os.path.basename(raw), False)
        return verdict if verdict is not None else not rules.num_ignores

    return selects


def _debug_quoted(text: str) -> str:
    """`text` as Rust's Debug prints a string (rg quotes a failed command so): bytes that are
    not UTF-8 (surrogate escapes here) as `\\xHH`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    if not escaped.isascii():
        escaped = "".join(
            f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else c for c in escaped)
    return f'"{escaped}"'


def read_file(path: str, size_hint: int | None = None, *, binary_head: int = 0) -> bytes:
    """The whole file, in as few syscalls as rg uses (open() and its buffering cost twice as
    many, which shows when a search reads thousands of small files). `size_hint`: the size a
    stat found before (saves the fstat; if the file changed since, it is still read whole).

    `binary_head`: when a file bigger than this holds a NUL in its first `binary_head` bytes
    (and no UTF-16 BOM, whose text is full of NULs before transcoding), only those bytes:
    for a caller that knows rg would stop there (a big binary file is then not read whole).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size if size_hint is None else size_hint
        if not 0 < binary_head < size:
            return _read_to_end(fd, size)
        head = os.read(fd, binary_head)
        if b"\0" in head and head[:2] not in _UTF16_BOMS:
            return head
        os.lseek(fd, 0, os.SEEK_SET)  # read it again whole: cheaper than joining the rest
        return _read_to_end(fd, size)
    finally:
        os.close(fd)


def _read_to_end(fd: int, size: int) -> bytes:
    """The rest of an open file expected to hold `size` more bytes (it may have changed)."""
    data = os.read(fd, size + 1)
    if len(data) <= size and len(data) < LINUX_MAX_READ:
        return data  # a short read of a regular file is its end
    chunks = [data]
    while chunk := os.read(fd, READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def read_searchable(
    path: str,
    search_zip: bool = False,
    *,
    program_path: str | None = None,
    size_hint: int | None = None,
    binary_head: int = 0,
    codec: str = "auto",
    pre: Preprocessor | None = None,
    program_cwd: str | None = None,
) -> bytes:
    """Read a file and return the bytes rg would search (`pre`: through --pre's command).

    Raises OSError when the file cannot be read, DecompressionError (an OSError) when `-z`
    decompression fails. `program_path` is the path handed to a decompression program (rg
    gives it the path as displayed, which its error messages quote); default `path`. It is
    run in `program_cwd`, the search's working directory (None: this process's; a daemon's
    workers keep the one they started in).
    `size_hint` and `binary_head`: see read_file (a decompressed file is read whole).
    `codec`: -E's (see `decoded`).
    """
    shown = program_path or os.fspath(path)
    try:
        if pre is not None and pre.applies(shown):
            content = pre.run(path, shown)
        else:
            fmt = _format_for(path) if search_zip else None
            if fmt is None:
                return decoded(read_file(path, size_hint, binary_head=binary_head), codec)
            content = _decompressed(fmt, path, shown, program_cwd)
    except DecompressionError as e:
        raise DecompressionError(e.message, _decoded_output(e.partial, codec)) from None
    return decoded(content, codec)


def _decompressed(fmt: _Format, path: str | os.PathLike[str], shown: str, cwd: str | None
                  ) -> bytes:
    """The content `-z` searches of a compressed file (`shown`: the path its program gets,
    in `cwd`)."""
    try:
        with open(path, "rb") as f:
            content = _decode_in_process(fmt, f.read())
    except OSError:
        content = None  # the program reports unreadable files in its own words
    return _run_program(fmt, shown, cwd) if content is None else content
