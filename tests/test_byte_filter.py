"""The per-file byte filter (FILE_BYTES): patterns without a usable trigram (`\\p{Greek}`, `é`,
`->`) must print exactly what rg prints on files in every encoding rg searches (ASCII, Latin-1,
UTF-8, UTF-16 with a BOM, binary, CRLF, compressed), after a full build, an incremental update
and a merge; and the filter must really rule files out.

Files get mtimes in the past, so the index really rules files out (files modified within
RACY_WINDOW_NS of a build are always searched directly and would hide index bugs)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from conftest import RG, normalise_json, run
from test_differential_hypothesis import trigrep_main
from test_index_incremental import PAST, manifest, write
from trigrep.engine import make_plan
from trigrep.index import IndexReader
from trigrep.options import MatchOptions
from trigrep.query import compile_query

FILES: dict[str, bytes] = {
    "ascii.c": b"int main(void) { return p->next; }\n",
    "plain.txt": b"nothing special here\n",
    "latin1.txt": b"caf\xe9 na\xefve \xff\n",
    "utf8.txt": "café → ✓ naïve\nΩmega αβγ ϐx\n".encode(),
    "kelvin.txt": "\u212a and \u017f\n".encode(),
    "upper.txt": "CAFÉ\n".encode(),
    "utf16le.txt": "\ufeffαβ café\r\n->\r\n".encode("utf-16-le"),
    "utf16be.txt": "\ufeffΩ ✓ αx\n".encode("utf-16-be"),
    "bom8.txt": "\ufeffé\n".encode(),
    "binary.bin": b"\x00\x01" + "αé→".encode() + b"\x00",
    "late_nul.dat": "é line\n".encode() * 5 + b"\x00 \xce\xb1\n",
    "crlf.txt": "é\r\nline ->\r\n".encode(),
    "two": "é".encode(),
    "one": b"\xe9",
    "empty": b"",
    "packed.txt.gz": gzip.compress("gz é αβ ->\n".encode(), mtime=0),
}
ASCII_ONLY = {"ascii.c", "plain.txt"}

PATTERNS = [
    r"\p{Greek}", "é", "(?i)é", "(?i)ſ", r"(?i)\x{212A}", "->", "[αβ]x", r"(?-u:\xe9)",
    r"(?-u:\xff)", "é|->", "αβ|nothing", "✓|→", "(?i)Ω", r"\p{Greek}+\s", "ϐ", "k",
]
FLAGS = [[], ["-i"], ["-w"], ["-x"], ["-v", "-c"], ["-U", "-c"], ["-F"], ["--json"], ["-z"],
         ["--files-without-match"], ["-e", "é", "-l"]]


def assert_like_rg(root: Path, env: dict[str, str]) -> None:
    names = sorted(p.name for p in root.iterdir() if p.is_file())
    cases = [[*flags, f"--regexp={pattern}"] for pattern in PATTERNS for flags in FLAGS]
    cases += [["-c", f"--regexp={pattern}", *names] for pattern in PATTERNS]  # NULs converted
    for args in cases:
        want = run([RG, "--sort", "path", *args], root, env)
        out, code = trigrep_main(args, root, env)
        assert (normalise_json(out), code) == (normalise_json(want.out), want.code), args


def candidates(root: Path, pattern: str, **flags: object) -> set[str]:
    """The files the index leaves to search for `pattern` (the engine's own path)."""
    reader = IndexReader.open(str(root))
    query = compile_query(MatchOptions([pattern], **flags))  # type: ignore[arg-type]
    plan = make_plan([str(root)], query, report_all=False, search_zip=False, reader=reader)
    assert plan is not None and plan.candidates is not None
    return {reader.path_of(i) for i in plan.candidates}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for name, data in FILES.items():
        write(root / name, data)
    return root


def test_same_as_rg_after_build_update_and_merge(tree: Path, env: dict[str, str]) -> None:
    env = {**env, "TRIGREP_NO_DAEMON": "1"}
    assert trigrep_main(["index", "."], tree, env)[1] == 0
    assert_like_rg(tree, env)
    # An update: bytes appear in a file and vanish from another; a file comes and one goes.
    write(tree / "plain.txt", "now Greek: λ and ->\n".encode(), PAST + 1)
    write(tree / "utf8.txt", b"cafe, ascii now\n", PAST + 1)
    write(tree / "new16.txt", "\ufeffſ é\n".encode("utf-16-le"))
    (tree / "kelvin.txt").unlink()
    assert trigrep_main(["index", "."], tree, env)[1] == 0
    assert len(manifest(tree).segments) == 2
    assert_like_rg(tree, env)
    # More small updates until their segments are merged (posting lists, no file re-read).
    for step in range(4):
        write(tree / f"more{step}.txt", "x ✓ \u212a\n".encode() if step % 2 else b"x\n")
        write(tree / "two", ["é", "αx", "->", "\u017f"][step].encode(), PAST + 2 + step)
        assert trigrep_main(["index", "."], tree, env)[1] == 0
    segments = manifest(tree).segments
    assert any(s.files > 2 for s in segments[1:]), "no merge happened"
    assert_like_rg(tree, env)


def test_filter_rules_out_files_without_the_bytes(tree: Path, env: dict[str, str]) -> None:
    assert trigrep_main(["index", "."], tree, env)[1] == 0
    greek = candidates(tree, r"\p{Greek}")
    assert not greek & (ASCII_ONLY | {"latin1.txt", "upper.txt", "crlf.txt", "two", "one"})
    assert {"utf8.txt", "utf16le.txt", "utf16be.txt", "binary.bin", "late_nul.dat"} <= greek
    assert candidates(tree, "é") == {  # not latin1.txt: its é is the byte E9, not UTF-8
        "utf8.txt", "utf16le.txt", "bom8.txt", "binary.bin", "late_nul.dat", "crlf.txt", "two",
    }
    assert candidates(tree, r"(?-u:\xe9)") == {"latin1.txt", "one"}
    assert candidates(tree, "->") == {"ascii.c", "utf16le.txt", "crlf.txt"}
    assert "kelvin.txt" in candidates(tree, "k", case="insensitive")
    assert "kelvin.txt" not in candidates(tree, "k", case="sensitive")


def test_greek_on_an_ascii_tree_reads_no_file(tmp_path: Path, env: dict[str, str]) -> None:
    root = tmp_path / "ascii"
    for i in range(20):
        write(root / f"f{i}.c", b"int f%d(struct s *p) { return p->x; }\n" % i)
    assert trigrep_main(["index", "."], root, env)[1] == 0
    for pattern in (r"\p{Greek}", "é", "→", "(?i)é"):
        assert candidates(root, pattern) == set(), pattern
    assert len(candidates(root, "->")) == 20
