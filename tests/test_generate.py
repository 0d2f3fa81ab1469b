"""`--generate KIND`: when rg prints its man page or a completion script, trigrep prints its
own (or the same error), and each one is valid for its reader and names every flag."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import RG, TRIGREP, Run, run
from trigrep import __version__, flags
from trigrep.generate import commands

KINDS = flags.GENERATE_KINDS
# What marks each answer (looked for in this order): a kind of --generate's, a listing, help
# or a version.
_MARKS = [("man", b".TH "), ("complete-bash", b"complete -F"), ("complete-zsh", b"#compdef"),
          ("complete-fish", b"complete -c"),
          ("complete-powershell", b"Register-ArgumentCompleter"), ("types", b"\nrust: *.rs\n"),
          ("help", b"usage"), ("help", b"USAGE"), ("version", b"ripgrep 14.1.0\n"),
          ("version", f"trigrep {__version__}\n".encode())]


def _answer_kind(out: bytes) -> str:
    kind = next((kind for kind, mark in _MARKS if mark in out), None)
    return kind or ("files" if out else "nothing")


def _trigrep(args: list[str], cwd: Path, env: dict[str, str]) -> Run:
    return run([*TRIGREP, *args], cwd, {**env, "TRIGREP_NO_DAEMON": "1"})


@pytest.mark.parametrize("args", [
    *([f"--generate={kind}"] for kind in KINDS), ["--generate", "bogus"], ["--generate="],
    ["--generate", "MAN"], ["--generate", "man", "foo", "nosuchpath"],
    ["-l", "--generate", "complete-bash"], ["--generate", "man", "-l"], ["-c", "--generate=man"],
    ["--generate", "man", "--files"], ["--files", "--generate", "man"],
    ["--generate", "man", "--type-list"], ["--type-list", "--generate", "complete-zsh"],
    ["--generate", "man", "--generate", "complete-fish"], ["--generate", "man", "-h"],
    ["-V", "--generate", "man"], ["--generate", "man", "--pcre2-version"],
    ["--generate", "man", "--bogus"], ["--generate", "man", "-m", "x"],
    ["--generate", "man", "-t", "nosuch"], ["--generate", "man", "--type-add", "bad"],
    ["--generate", "man", "-g", "["], ["--generate", "man", "--pre-glob", "["],
    ["--generate", "man", "--colors", "bogus"], ["--generate", "man", "--hyperlink-format={x}"],
    ["--json", "--generate", "man", "--no-json"], ["--generate", "man", "--json", "--no-json"],
    ["--generate", "man", "-e", "x", "-q", "--stats", "-o", "-f", "nosuchfile"],
], ids=" ".join)
def test_generate_like_rg(tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    """--generate is one of rg's modes (the last of it, -l, -c, --json, --files and
    --type-list decides); -h, -V and --pcre2-version win; bad flags, filters and colours are
    errors before anything is printed (a pattern file is not read)."""
    (tmp_path / "a.txt").write_bytes(b"foo\n")
    want, got = run([RG, *args], tmp_path, env), _trigrep(args, tmp_path, env)
    assert (_answer_kind(got.out), got.code) == (_answer_kind(want.out), want.code)
    if b"requires at least one pattern" in want.err:  # (trigrep words it with its usage)
        assert got.err.startswith(b"trigrep: no pattern given")
    else:
        assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


def test_generate_reads_the_config_file(tmp_path: Path, env: dict[str, str]) -> None:
    """As rg, --generate reads RIPGREP_CONFIG_PATH (unlike -h and -V): a bad flag there is an
    error, and a mode there comes first."""
    config = tmp_path / "config"
    for lines, args in (("--bogus\n", ["--generate", "man"]),
                        ("--generate\ncomplete-fish\n", ["-l", "foo"]),
                        ("--files\n", ["--generate", "man"])):
        config.write_text(lines)
        run_env = {**env, "RIPGREP_CONFIG_PATH": str(config)}
        want, got = run([RG, *args], tmp_path, run_env), _trigrep(args, tmp_path, run_env)
        assert (_answer_kind(got.out), got.code) == (_answer_kind(want.out), want.code), lines
        assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


def test_a_missing_kind_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    got = _trigrep(["--generate"], tmp_path, env)
    want = run([RG, "--generate"], tmp_path, env)
    assert (got.out, got.code) == (want.out, want.code) == (b"", 2)
    assert got.err == want.err.replace(b"rg: ", b"trigrep: ")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each kind's output, in a file named as its shell expects it."""
    where = tmp_path_factory.mktemp("generated")
    names = {"man": "trigrep.1", "complete-bash": "trigrep.bash", "complete-zsh": "_trigrep",
             "complete-fish": "trigrep.fish", "complete-powershell": "trigrep.ps1"}
    files = {}
    for kind in KINDS:
        p = subprocess.run([*TRIGREP, "--generate", kind], capture_output=True, check=True,
                           env={"TRIGREP_NO_DAEMON": "1", "PATH": "/usr/bin:/bin"})
        assert p.stderr == b""
        files[kind] = where / names[kind]
        files[kind].write_bytes(p.stdout)
    return files


# How each kind names the command it completes.
_REGISTERED = {"man": ".TH TRIGREP 1 ", "complete-bash": "\ncomplete -F _trigrep -o bashdefault "
               "-o default trigrep\n", "complete-zsh": "#compdef trigrep\n",
               "complete-fish": "\ncomplete -c trigrep ",
               "complete-powershell": " -CommandName 'trigrep' "}


@pytest.mark.parametrize("kind", KINDS)
def test_every_flag_is_named(generated: dict[str, Path], kind: str) -> None:
    """Every flag of the parsers (-h's) and each subcommand, in each kind's own spelling, for
    the command `trigrep`."""
    text = generated[kind].read_text()
    spelled = {
        "man": lambda n: n.replace("-", "\\-"),
        "complete-fish": lambda n: f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}",
    }.get(kind, lambda n: n)
    names = [n for c in commands() for f in c.flags for n in f.names]
    assert {"--type", "--generate", "--full", "--detach", "--idle-timeout"} <= set(names)
    assert [n for n in names if spelled(n) not in text] == []
    assert all(c.name in text for c in commands())
    assert _REGISTERED[kind] in text
    if kind == "complete-fish":
        assert all(line.startswith("complete -c trigrep ") for line in text.splitlines()
                   if line.startswith("complete"))


def _have(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


@pytest.mark.parametrize(("kind", "shell"), [
    ("complete-bash", "bash"), ("complete-zsh", "zsh"), ("complete-fish", "fish")])
def test_scripts_parse(generated: dict[str, Path], kind: str, shell: str) -> None:
    p = subprocess.run([_have(shell), "-n", str(generated[kind])], capture_output=True)
    assert (p.returncode, p.stderr) == (0, b"")


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `trigrep` command of this checkout, for the completions that run it (types)."""
    path = tmp_path_factory.mktemp("bin") / "trigrep"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m trigrep.cli "$@"\n')
    path.chmod(0o755)
    return path


def _bash_completes(script: Path, launcher: Path, words: list[str]) -> set[str]:
    """What the bash completion function offers for the command line `words` (the last one
    being completed), as bash calls it on a TAB."""
    shell_words = " ".join(f"'{w}'" for w in [str(launcher), *words])
    code = (f'source "{script}"; COMP_WORDS=({shell_words}); '
            'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _trigrep; printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run([_have("bash"), "-c", code], capture_output=True, text=True,
                       env={"TRIGREP_NO_DAEMON": "1", "PATH": "/usr/bin:/bin",
                            "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return set(p.stdout.split())


@pytest.mark.parametrize(("words", "offered"), [
    (["--ty"], {"--type", "--type-list", "--type-not", "--type-add", "--type-clear"}),
    (["-t", "ru"], {"ruby", "rust"}), (["-i", "--type", "=", "py"], {"py", "python"}),
    (["--color", "="], {"never", "auto", "always", "ansi"}),
    (["--sortr", ""], {"path", "none", "modified", "accessed", "created"}),
    (["--generate", ""], set(KINDS)), (["st"], {"stats", "status", "stop"}),
    (["index", "--"], {"--full", "--help"}), (["search", "--gen"], {"--generate"}),
    (["serve", "--id"], {"--idle-timeout"}), (["-e", ""], set()),
], ids=repr)
def test_bash_completes(generated: dict[str, Path], launcher: Path, words: list[str],
                        offered: set[str]) -> None:
    """Flags, their values (choices; the types `--type-list` prints), subcommands."""
    assert _bash_completes(generated["complete-bash"], launcher, words) == offered


def test_fish_completes(generated: dict[str, Path], launcher: Path) -> None:
    script = generated["complete-fish"]
    code = (f"source {script}; complete -C '{launcher} --type-l'; "
            f"complete -C '{launcher} -t rus'; complete -C '{launcher} index --f'")
    p = subprocess.run([_have("fish"), "-c", code], capture_output=True, text=True,
                       env={"TRIGREP_NO_DAEMON": "1", "PATH": "/usr/bin:/bin",
                            "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    assert p.stdout.splitlines() == ["--type-list\tshow all file types and exit", "rust\t*.rs",
                                     "--full\trebuild from scratch instead of updating the "
                                     "changed files"], p.stderr


def test_man_page(generated: dict[str, Path]) -> None:
    """A man page groff reads without a warning; its synopsis is -h's usage."""
    text = generated["man"].read_text()
    assert text.startswith(".TH TRIGREP 1 ")
    assert "\\fBtrigrep index [\\-h] [\\-\\-full] [PATH]\\fR" in text
    p = subprocess.run([_have("groff"), "-man", "-Tutf8", "-ww", "-z", str(generated["man"])],
                       capture_output=True)
    assert (p.returncode, p.stderr) == (0, b"")


def test_powershell_script_is_balanced(generated: dict[str, Path]) -> None:
    """(No PowerShell here to run it.) Braces and parentheses pair up outside quotes, and
    quotes close on each line."""
    text = generated["complete-powershell"].read_text()
    unquoted = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"", "", text)
    assert "'" not in unquoted
    for opening, closing in ("{}", "()"):
        assert unquoted.count(opening) == unquoted.count(closing)


def test_a_search_does_not_load_the_generators(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "a.txt").write_bytes(b"foo\n")
    p = run([sys.executable, "-X", "importtime", "-m", "trigrep.cli", "foo", "a.txt"], tmp_path,
            {**env, "TRIGREP_NO_DAEMON": "1"})
    assert p.out == b"foo\n"
    assert b"trigrep.generate" not in p.err


@pytest.mark.parametrize("columns", [None, "", "0", "-3", "x", "50", "200"])
def test_help_is_as_wide_as_argparse_makes_it(
    columns: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parser's formatter sizes help without shutil, as shutil.get_terminal_size would."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert flags._terminal_columns() == shutil.get_terminal_size().columns
