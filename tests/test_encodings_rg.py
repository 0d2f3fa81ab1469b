"""-E with each WHATWG encoding rg's encoding_rs knows: every byte of each single-byte
encoding, every lead and trail of each multi-byte one, random text and bytes, and the labels,
compared with rg."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from conftest import RG, TRIGREP, normalise_json, normalise_timings, run
from trigrep.extract import decoded, encoding_codec, text_decoder, transcoder_fills
from trigrep.whatwg import LABELS

MULTI_BYTE = ["gbk", "gb18030", "big5", "euc-jp", "iso-2022-jp", "shift_jis", "euc-kr"]
SINGLE_BYTE = sorted(set(LABELS.values()) - {*MULTI_BYTE, "utf-8", "utf-16le", "utf-16be"})
# The Python codec that writes valid text in each (for random files).
PYTHON_CODECS = {"gbk": "gbk", "gb18030": "gb18030", "big5": "big5hkscs", "euc-jp": "euc_jp",
                 "iso-2022-jp": "iso2022_jp", "shift_jis": "cp932", "euc-kr": "cp949"}
LINES = ["-a", "--no-line-number", ""]  # every line, as rg decoded it


def _same(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    want = run([RG, "--sort", "path", *args], cwd, env)
    got = run([*TRIGREP, *args], cwd, env)
    assert (normalise_json(got.out), got.code) == (normalise_json(want.out), want.code), args
    assert got.err == want.err.replace(b"rg: ", b"trigrep: "), args


@pytest.mark.parametrize("name", SINGLE_BYTE)
def test_every_byte_of_a_single_byte_encoding(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    """Each of the 256 bytes decodes to rg's character (the Python codec's, with WHATWG's
    C1 controls, x-user-defined's U+F780.., KOI8-RU's and windows-1255's own)."""
    (tmp_path / "all.txt").write_bytes(bytes(range(256)) + b"\n" + bytes(range(255, -1, -1)))
    _same(["-E", name, *LINES], tmp_path, env)
    _same(["-E", name, "-a", "-o", "-b", "[^\\x00-\\x7f]"], tmp_path, env)


def _sequences(name: str) -> bytes:
    """Every byte 0x80-0xFF followed by every byte (but a line break), one to a line; for
    EUC-JP every JIS X 0212 lead pair with every byte, for gb18030 and GBK four-byte
    sequences of each first byte, for ISO-2022-JP each escape with pairs of bytes."""
    lines = [bytes([lead, trail]) for lead in range(0x80, 0x100) for trail in range(256)
             if trail != 0x0A]
    if name == "euc-jp":
        lines += [bytes([0x8F, lead, trail]) for lead in range(0xA1, 0xFF)
                  for trail in range(256) if trail != 0x0A]
    if name in ("gbk", "gb18030"):
        rng = random.Random(0)
        lines += [bytes([first, rng.randrange(0x30, 0x3A), rng.randrange(0x81, 0xFF),
                         rng.randrange(0x30, 0x3A)]) for first in range(0x81, 0xFF)
                  for _ in range(40)]
        lines += [b"\x81\x35\xf4\x37", b"\x84\x31\xa4\x39", b"\x84\x31\xa5\x30"]
    if name == "iso-2022-jp":
        lines = [escape + bytes([lead, trail]) for escape in (b"\x1b$B", b"\x1b(I", b"\x1b(J")
                 for lead in range(0x20, 0x80) for trail in range(0x20, 0x80)]
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("name", MULTI_BYTE)
def test_every_sequence_of_a_multi_byte_encoding(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    """Each lead with each byte after it decodes to rg's characters: the Python codec's
    (cp932 for Shift_JIS and EUC-JP's JIS X 0208, big5hkscs, cp949, gb18030...) with the
    standard's fixes, one U+FFFD for a bad pair, an ASCII trail read again."""
    (tmp_path / "seq.txt").write_bytes(_sequences(name))
    _same(["-E", name, *LINES], tmp_path, env)


def _random_file(rng: random.Random, name: str) -> bytes:
    """Valid text in the encoding, random bytes, or valid text with a few bytes changed."""
    alphabet = [*map(chr, range(0x20, 0x7F)), *"\n\n\n", *map(chr, range(0x3041, 0x30FF)),
                *map(chr, range(0x4E00, 0x5000)), *map(chr, range(0xAC00, 0xAC80)),
                "\u00a5", "\u203e", "\uff61", "\uff9f", "\u20ac", "\ue7c7", "\U0001f600"]
    text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400)))
    data = bytearray(text.encode(PYTHON_CODECS[name], errors="ignore"))
    kind = rng.randrange(3)
    if kind == 1:
        data = bytearray(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    elif kind == 2:
        for _ in range(rng.randrange(1, 6)):
            at = rng.randrange(len(data) + 1)
            data[at:at + rng.randrange(2)] = bytes([rng.choice(
                [rng.randrange(256), 0x1B, 0x0A, 0x30, 0x8F, 0x8E, 0x81, 0x80, 0xFF])])
    return bytes(data)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", MULTI_BYTE)
def test_random_text_and_bytes(
    tmp_path: Path, env: dict[str, str], name: str, seed: int
) -> None:
    """Random files (valid, mangled, random bytes; some ending in a lead byte, which
    encoding_rs's Shift_JIS, Big5 and EUC-KR decoders drop unless a transcoder fill starts
    with it, a UTF-8 BOM counting as the first fill) searched as rg searches them."""
    rng = random.Random(f"{name}{seed}")
    for i in range(30):
        (tmp_path / f"f{i:02}.txt").write_bytes(b"x" + _random_file(rng, name))
    for length in (1, 2, 3, 4, 5, 8195, 8196, 8197):
        (tmp_path / f"lead{length}.txt").write_bytes(b"a" * (length - 1) + b"\xe3")
        (tmp_path / f"bom{length}.txt").write_bytes(b"\xef\xbb\xbf" + b"a" * length + b"\xe3")
    _same(["-E", name, *LINES], tmp_path, env)
    _same(["-E", name, "--json", "-a", "[\\x{80}-\\x{10FFFF}]+"], tmp_path, env)
    _same(["-E", name, "-c", "\\x{FFFD}"], tmp_path, env)


def test_an_iso_2022_jp_nul_read_as_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    """A NUL right after an escape to JIS X 0208 is an error (U+FFFD) in ISO-2022-JP, not a
    NUL: rg searches the file to its end (trigrep read only its first 64 KiB, where that
    NUL lies, and missed the match after them)."""
    data = ("テスト line\n" * 100).encode("iso2022_jp").replace(b"\x1b$B", b"\x1b$B\0", 1)
    (tmp_path / "f.txt").write_bytes(data + b"filler line\n" * 8000 + b"needle here\n")
    _same(["-E", "iso-2022-jp", "needle"], tmp_path, env)
    _same(["-E", "iso-2022-jp", "-c", "\\x{FFFD}", "f.txt"], tmp_path, env)


def test_a_big_binary_file_is_decoded_only_as_far_as_it_is_searched(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A walked Shift_JIS file over 64 KiB with a NUL in its first 64 KiB is searched only
    that far, as rg stops there, and its transcoder fills are worked out only that far too
    (decoding all of the stdlib's 45 MB libpython3.11.a for them took 2.8 s of CPU)."""
    raw = ("日本語 needle line\n" * 500).encode("cp932") + b"\0" + b"filler needle\n" * 20000
    (tmp_path / "big.txt").write_bytes(raw)
    _same(["-E", "shift_jis", "-n", "needle"], tmp_path, env)
    _same(["-E", "shift_jis", "--json", "-m2", "filler"], tmp_path, env)
    every = transcoder_fills(raw, "shift_jis")
    needed = transcoder_fills(raw, "shift_jis", upto=20_000)
    assert needed == every[:len(needed)] and needed[-2] < 20_000 <= needed[-1]


def test_every_label_names_rg_s_encoding(tmp_path: Path, env: dict[str, str]) -> None:
    """Each label (in any ASCII case, ASCII whitespace around it) decodes as rg decodes with
    it; what rg calls unknown (the `replacement` encoding's labels, Python's own names, other
    whitespace, a case only Unicode folds) is unknown here too."""
    path = tmp_path / "all.txt"
    data = bytes(range(256)) + b"\n"
    path.write_bytes(data)
    odd = ["replacement", "iso-2022-kr", "csiso2022kr", "hz-gb-2312", "iso-2022-cn",
           "iso-2022-cn-ext", "utf-32", "utf-7", "cp936", "big5hkscs", "x-mac-ce", "\vlatin1",
           "\u00a0latin1", "\u212aoi8-r", "AUTO", " auto", "none ", "", "auto", "none"]
    labels = [*LABELS, " Shift_JIS\t", "\nUTF-16LE\f\r", "WINDOWS-1252", "Koi8-R", *odd]
    for label in labels:
        want = subprocess.run([RG, "-E", label, *LINES, str(path)], env=env,
                              capture_output=True, check=False)
        codec = encoding_codec(label)
        if want.returncode == 2:
            assert codec is None, label
        else:
            assert codec is not None, label
            text = decoded(data, codec)
            assert want.stdout == text + b"\n" * (not text.endswith(b"\n")), label


@pytest.mark.parametrize("label", ["utf-32", "AUTO", " none", "iso-2022-kr", "\vlatin1",
                                   " Shift_JIS\n", "x-user-defined", "iso-8859-8-i"])
def test_labels_as_rg_reads_them(tmp_path: Path, env: dict[str, str], label: str) -> None:
    """An unknown label is rg's error, in its words; a known one in any case is read."""
    (tmp_path / "f.txt").write_bytes(b"caf\xe9 \x82\xa0\n")
    _same(["-E", label, "caf"], tmp_path, env)



@pytest.mark.parametrize("name", [*MULTI_BYTE, "windows-1252", "x-user-defined"])
def test_pieces_read_apart_decode_as_the_whole(tmp_path: Path, env: dict[str, str],
                                               name: str) -> None:
    """A piece of pure ASCII is its own text, unless a lead from the piece before waits for
    it (standard input is decoded as it arrives): cut anywhere, the pieces read what rg
    reads in the whole file."""
    data = b"ab\x82\n\x8f\xa1cd\x81\x30\x81ef\x1b$Bgh\x1b(Bij\xa4@k\n\xe3"
    (tmp_path / "f.txt").write_bytes(data)
    want = run([RG, "-E", name, *LINES, "f.txt"], tmp_path, env).out
    for cut in range(len(data) + 1):
        decode, skipped = text_decoder(data, name)
        text = decode(data[skipped:cut], False) + decode(data[max(cut, skipped):], True)
        assert text + b"\n" * (not text.endswith(b"\n")) == want, cut


@pytest.mark.parametrize("name", ["latin1", "utf-8", "shift_jis", "utf-16le"])
def test_bytes_searched_of_a_transcoded_file_a_search_stopped_early(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    """-m, -l and --stop-on-nonmatch stop rg in the transcoder's fill holding the line: what
    its buffer had consumed then is what --stats and --json report (trigrep said 0 for a
    file under 64 KiB, and worked it out from its own reads for bigger ones)."""
    codec = PYTHON_CODECS.get(name, name)
    for size in (3_000, 6_000, 30_000):
        lines = [f"filler {i} 日本" if name != "latin1" else f"filler {i} é" for i in range(size)]
        for at in (size // 10, size // 3, size - 5):
            lines[at] += " needle"
        (tmp_path / f"f{size}.txt").write_bytes("\n".join(lines).encode(codec) + b"\n")
    for args in (["--stats", "-m1"], ["--json", "-m1"], ["--json", "-m2", "-B2"],
                 ["--stats", "-l"], ["--json", "-m1", "-A3"], ["--stats", "--stop-on-nonmatch"]):
        for named in ([], ["f6000.txt"]):
            search = ["--sort", "path", "-E", name, *args, "needle", *named]
            got, want = run([*TRIGREP, *search], tmp_path, env), run([RG, *search], tmp_path, env)
            assert normalise_timings(got.out) == normalise_timings(want.out), search
