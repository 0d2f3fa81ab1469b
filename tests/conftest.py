"""Shared helpers: run rg (the oracle) and trigrep as a user would, isolated from user config."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
RG = str(BIN / "rg")
TRIGREP = [sys.executable, "-m", "trigrep.cli"]
# Searches use the index even in a test's small tree (the CLI reads a small tree's files
# without it: see trigrep.engine.SCAN_MAX_FILES), in this process and in those it starts.
os.environ["TRIGREP_SCAN_SMALL"] = "off"


@dataclass(frozen=True)
class Run:
    out: bytes
    err: bytes
    code: int


def isolated_env(home: Path) -> dict[str, str]:
    """An environment where neither tool sees the user's rg, git or XDG configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIPGREP", "GIT_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), LC_ALL="C.UTF-8")
    env["TRIGREP_AUTO_SERVE"] = "off"  # no daemon outlives a test unless the test asks for one
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> Run:
    p = subprocess.run(
        cmd, cwd=cwd, env=env, input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, timeout=120, check=False,
    )
    return Run(p.stdout, p.stderr, p.returncode)


def run_until_first_line(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes]:
    """(exit code, stderr) of `cmd` whose reader goes away after one line (`cmd | head -1`)."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    p.stdout.readline()
    p.stdout.close()
    err = p.stderr.read()
    return p.wait(timeout=60), err


_TIMING = re.compile(rb'"(elapsed|elapsed_total)":\{[^{}]*\}')


def normalise_json(out: bytes) -> bytes:
    """Blank the timing fields of rg's --json output: the only bytes that may differ."""
    return _TIMING.sub(rb'"\1":0', out)


def normalise_timings(out: bytes) -> bytes:
    """Blank what differs from run to run: --json's timings and --stats' seconds."""
    return re.sub(rb"(?m)^[0-9.]+ seconds", b"N seconds", normalise_json(out))


def parse_json_lines(out: bytes) -> list[dict]:
    return [json.loads(line) for line in normalise_json(out).splitlines()]


def as_plain_user(*, read: bool = False) -> tuple[str, ...]:
    """The command prefix that runs a program under file permissions as they bind a user
    other than root: none for one, else setpriv dropping root's capability to write
    (and, with `read`, to read) anything. Skips the test where setpriv cannot."""
    if os.geteuid() != 0:
        return ()
    dropped = "-dac_override,-dac_read_search" if read else "-dac_override"
    prefix = ("setpriv", "--bounding-set", dropped)
    if subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip(f"setpriv cannot drop root's capability to {'read' if read else 'write'} "
                    "anything")
    return prefix


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    (h / ".config").mkdir(parents=True)
    return h


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return isolated_env(home)
