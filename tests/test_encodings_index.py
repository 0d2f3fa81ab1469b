"""-E searches narrowed by the index (which holds each file's text under -E auto): under an
encoding of `whatwg.ASCII_FROM_ITSELF`, by the ASCII trigrams and bytes of a match. Checked
three ways: each such decoder writes ASCII only for the same bytes, next to each other in
the text only when next to each other in the file (every lead and sequence, random bytes);
every file rg finds a match in under -E is a candidate (hypothesis); and trigrep prints what
rg prints over an indexed tree in each family (invalid sequences, BOMs, CRLF, NULs), while
the index really rules files out."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import RG, normalise_json, run
from test_differential_hypothesis import (
    PATTERNS,
    SOUNDNESS_FLAGS,
    fuzz_settings,
    rg_matched_files,
    sandbox,
    trigrep_main,
    write_tree,
)
from test_index_incremental import write
from trigrep import engine
from trigrep.engine import make_plan
from trigrep.extract import decoded
from trigrep.index import IndexReader
from trigrep.options import MatchOptions
from trigrep.query import compile_query
from trigrep.query.plan import trigrams_of
from trigrep.whatwg import _GRAMMARS, ASCII_FROM_ITSELF, LABELS, _single_byte_table, _tokens

Flags = tuple[str, str, bool, bool]  # (case, -w or -x or "", -F, -U), as SOUNDNESS_FLAGS
# Python codecs that write valid text in some of them (for random files).
WRITERS = {"windows-1252": "cp1252", "koi8-r": "koi8_r", "euc-jp": "euc_jp",
           "shift_jis": "cp932", "big5": "big5hkscs", "euc-kr": "cp949", "gbk": "gbk",
           "gb18030": "gb18030", "utf-8": "utf-8", "x-user-defined": "latin-1",
           "utf-16le": "utf-16-le", "utf-16be": "utf-16-be"}


def ascii_trigrams_kept(raw: bytes, codec: str) -> bool:
    """Whether each line of `raw`'s text under -E `codec` has only ASCII trigrams and ASCII
    bytes of the same line of `raw` (where the index finds them)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return True  # (UTF-16 whatever the encoding, and so indexed as text)
    lines, text_lines = raw.split(b"\n"), decoded(raw, codec).split(b"\n")
    return len(lines) == len(text_lines) and all(
        {t for t in trigrams_of(text) if not t & 0x808080} <= trigrams_of(line)
        and {b for b in text if b < 0x80} <= set(line)
        for line, text in zip(lines, text_lines, strict=True))


@pytest.mark.parametrize("codec", sorted(set(LABELS.values())))
def test_which_decoders_write_ascii_only_for_itself(codec: str) -> None:
    """Single-byte tables map no byte 0x80-0xFF to ASCII; a multi-byte sequence writes no
    ASCII but an ASCII byte it ends in, read again; random bytes around ASCII keep their
    text's ASCII trigrams. ISO-2022-JP's escapes and UTF-16 do not."""
    if codec not in ASCII_FROM_ITSELF:
        assert not ascii_trigrams_kept(b"a\x1b(Bbc\n", codec) or not ascii_trigrams_kept(
            b"abc\n", codec)
        return
    if codec in _GRAMMARS:
        for sequence, text in _tokens(codec).items():
            ascii = [c for c in text if c < "\x80"]
            assert ascii in ([], [sequence[-1]]) and text.endswith("".join(ascii)), sequence
    elif codec != "utf-8":
        assert all(c >= "\x80" for c in _single_byte_table(codec)[0x80:]), codec
    rng = random.Random(codec)
    context = [b"a", b"bc", b"\n", b"0", b"12", b"\x1b(B", b"@", b"~~", b"\\", b"\r\n", b"\0"]
    for _ in range(3000):
        odd = bytes(rng.choice([rng.randrange(0x80, 0x100), rng.randrange(0x100)])
                    for _ in range(rng.randrange(1, 6)))
        raw = b"".join([rng.choice(context), odd, rng.choice(context), rng.choice(context)])
        assert ascii_trigrams_kept(raw, codec), raw


@pytest.mark.parametrize("codec", ["utf-16le", "utf-16be"])
def test_ascii_of_utf16_text_is_units_of_the_bytes(codec: str) -> None:
    """Each ASCII trigram `abc` of a file's text under -E UTF-16 (without a BOM, which makes
    the index hold the text) comes from bytes holding `a\\0b`, `\\0b\\0` and `b\\0c`, unpaired
    surrogates, odd lengths, a UTF-8 BOM before it, NULs and all."""
    rng = random.Random(codec)
    units = ["a", "bc", "\n", "\0", "é", "日", "\U0001f600", "\ud800", "\udc00", "\u0a0a"]
    for _ in range(3000):
        text = "".join(rng.choice(units) for _ in range(rng.randrange(1, 8)))
        raw = bytearray(text.encode(codec.replace("utf-16", "utf-16-"), "surrogatepass"))
        for _ in range(rng.randrange(3)):
            raw.insert(rng.randrange(len(raw) + 1), rng.choice([0, 0x61, 0xd8, 0xef]))
        raw = rng.choice([b"", b"\xef\xbb\xbf"]) + bytes(raw)
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            continue
        found = trigrams_of(raw)
        for t in trigrams_of(decoded(raw, codec)):
            if not t & 0x808080:
                a, b, c = t >> 16, t >> 8 & 0xFF, t & 0xFF
                assert {a << 16 | b, b << 8, b << 16 | c} <= found, raw
        assert {b for b in decoded(raw, codec) if b < 0x80} <= set(raw), raw


_CHUNKS = ["a", "k", "K", "s", "S", "foo", "bar", "PM_RESUME", "é", "É", "ß", "α", "Ω",
           "\u212a", "\u017f", "日本", "テスト", "한글", "中文", "\\", "~", " ", "\t", "\r\n",
           "\n", "\n", "->", "→", "1", "42"]
_ODD_BYTES = [b"\x81", b"\x8e", b"\x8f", b"\xa1", b"\xe9", b"\xfe", b"\xff", b"\x80", b"\x00",
              b"\x1b", b"\xef\xbb\xbf", b"\x830", b"\x81\x30\x81"]


@st.composite
def encoded_files(draw: st.DrawFn, codec: str) -> tuple[bytes, list[str]]:
    """Text in `codec` (what it cannot write left out), some odd bytes among it, maybe
    after a BOM; and the text's chunks."""
    chunks = draw(st.lists(st.sampled_from(_CHUNKS), min_size=2, max_size=20))
    pieces = [c.encode(WRITERS[codec], errors="ignore") for c in chunks]
    for _ in range(draw(st.integers(0, 3))):
        pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(_ODD_BYTES)))
    bom = draw(st.sampled_from([b""] * 6 + [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
    return bom + b"".join(pieces), chunks


@st.composite
def encoded_trees(draw: st.DrawFn, codec: str) -> tuple[dict[str, bytes], list[tuple[str, Flags]]]:
    """Files in `codec`, and patterns with flags: the other differential tests' patterns or
    runs of the files' own chunks (a lone character has no trigrams), found in them more
    often."""
    names = st.sampled_from(["a.txt", "b.rs", "d/c.txt", "d/e/f.md", "z.py"])
    files = draw(st.dictionaries(names, encoded_files(codec), min_size=1, max_size=4))
    chunks = sorted({c for _, used in files.values() for c in used} - {"\\", "\n", "\r\n"})
    own = st.lists(st.sampled_from(chunks), min_size=1, max_size=3).map("".join)
    patterns = st.one_of(PATTERNS, own) if chunks else PATTERNS
    searches = draw(st.lists(st.tuples(patterns, SOUNDNESS_FLAGS), min_size=1, max_size=4))
    return {name: data for name, (data, _) in files.items()}, searches


@pytest.mark.parametrize("codec", sorted(WRITERS))
@fuzz_settings(default_examples=30)
@given(data=st.data())
def test_every_file_rg_matches_under_e_is_a_candidate(codec: str, data: st.DataObject) -> None:
    files, searches = data.draw(encoded_trees(codec))
    with sandbox() as (root, env):
        write_tree(root, files, time.time() - 1000)
        engine.build_at(str(root), progress=False)
        reader = IndexReader.open(str(root))
        for _, opts, args, matched in rg_matched_files(root, env, searches, ["-E", codec, "-a"]):
            plan = make_plan([str(root)], compile_query(opts), report_all=False,
                             search_zip=False, reader=reader, codec=codec)
            if plan is not None and plan.candidates is not None:
                assert matched <= {reader.path_of(i) for i in plan.candidates}, (args, codec)


# One tree of each family, in files a plain ASCII search would rule out as well as in
# files only the encoding's text matches in.
FAMILY_FILES = {
    "windows-1252": {"cafe.txt": b"caf\xe9 PM_RESUME \x80uro\r\nna\xefve\n"},
    "euc-jp": {"jp.txt": "日本語 PM_RESUME テスト\n".encode("euc_jp") + b"\x8f\xa1A\xa4PM\n"},
    "shift_jis": {"jp.txt": "テスト PM_RESUME\n".encode("cp932") + b"\x83PM_RESUME\x82\n"},
    "big5": {"tw.txt": "中文 PM_RESUME\n".encode("big5") + b"\xa4@xyz \xa4\n"},
    "euc-kr": {"kr.txt": "한글 PM_RESUME\n".encode("cp949") + b"\x81Abc\n"},
    "gb18030": {"cn.txt": "中文 PM_RESUME\n".encode("gb18030") + b"\x810\x81x 0x30\x81\n"},
    "utf-8": {"u8.txt": "café PM_RESUME\n".encode() + b"\xc3PM\xe9\n"},
    "utf-16le": {"le.txt": "日本 PM_RESUME\r\nxyz €\n".encode("utf-16-le") + b"\x00\xd8A\x00b",
                 "odd.txt": b"x" + "PM_RESUME café\n".encode("utf-16-le")},
    "utf-16be": {"be.txt": "中 PM_RESUME café\n".encode("utf-16-be") + b"\xdc\x00\x00A"},
}
COMMON_FILES = {
    "plain.c": b"int main(void) { return PM_RESUME; }\n",
    "other.c": b"static int caf;\n",
    "bom8.txt": b"\xef\xbb\xbfcaf\xc3\xa9 \xe9 PM_RESUME\n",
    "bom16.txt": "\ufeffcafé 日本 PM_RESUME\r\n".encode("utf-16-le"),
    "nul.bin": b"PM_RESUME\x00caf\xe9\n",
    "late_nul.dat": b"caf\xe9 line\n" * 3 + b"\x00 PM_RESUME\n",
}
PATTERNS_E = ["PM_RESUME", "caf", "café", "日本", "(?i)pm_resume", "\\w+ PM", "é|ß",
              "\\x{FFFD}", "A", "xyz", "テスト|テ", "[^\\x00-\\x7f]+ PM", "€|日|中|xyzzy"]
FLAGS_E = [[], ["-i"], ["-w"], ["-c"], ["-l"], ["--json"], ["-o", "-n"], ["-v", "-c"],
           ["--files-without-match"], ["-c", "--include-zero"], ["--json", "-q"], ["-U", "-c"]]


@pytest.mark.parametrize("codec", sorted(FAMILY_FILES))
def test_same_as_rg_over_an_index(tmp_path: Path, env: dict[str, str], codec: str) -> None:
    root = tmp_path / "tree"
    for name, data in {**COMMON_FILES, **FAMILY_FILES[codec]}.items():
        write(root / name, data)
    assert trigrep_main(["index", "."], root, env)[1] == 0
    for flags in FLAGS_E:
        for pattern in PATTERNS_E:
            args = ["-E", codec, *flags, f"--regexp={pattern}"]
            want = run([RG, "--sort", "path", *args], root, env)
            out, code = trigrep_main(args, root, env)
            assert (normalise_json(out), code) == (normalise_json(want.out), want.code), args
    reader = IndexReader.open(str(root))

    def candidates(pattern: str) -> set[str]:
        plan = make_plan(["."], compile_query(MatchOptions([pattern])), report_all=False,
                         search_zip=False, reader=reader, codec=codec)
        assert plan is not None and plan.candidates is not None
        return {reader.path_of(i) for i in plan.candidates}

    assert "other.c" not in candidates("PM_RESUME")
    assert "plain.c" not in candidates("caf")
    if not codec.startswith("utf-16"):  # (its é need not have a byte over 0x7F)
        assert "plain.c" not in candidates("é")
