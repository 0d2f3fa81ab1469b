"""Where a search writes and what terminal it writes to: this process's, or a daemon client's.

Kept free of imports beyond those the interpreter itself loads (no `collections.abc`, no
`from __future__`): the CLI consults it before deciding whether a daemon answers.
"""

import io
import os
import stat
import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

# The environment variables that change what a search prints (--color auto).
OUTPUT_ENV = ("TERM", "NO_COLOR")
OUTPUT_BUFFER = 64 << 10


def stdin_is_readable() -> bool:
    """rg searches stdin only when it is a pipe or a file, not a terminal or /dev/null."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


class Console:
    """The output streams of one search and the facts about them rg's output depends on.

    (A plain class: the CLI imports this module before it knows whether a daemon answers, and
    `dataclasses` would add its import time to every search.)
    """

    def __init__(
        self,
        out: "BinaryIO",
        err: "TextIO",
        is_tty: bool,
        env: "Mapping[str, str] | None" = None,  # OUTPUT_ENV values as the user has them
        stdin_readable: bool = False,
    ) -> None:
        self.out = out
        self.err = err
        self.is_tty = is_tty
        self.env = env or {}
        self.stdin_readable = stdin_readable

    @classmethod
    def of_process(cls, stdin_read: bool = False) -> "Console":
        """This process's own stdout, stderr, terminal and stdin. `stdin_read`: -f - took
        the patterns from stdin, so a search without paths reads the current directory, as
        rg's does, not what is left of stdin."""
        env = {name: os.environ[name] for name in OUTPUT_ENV if name in os.environ}
        is_tty = sys.stdout.isatty()
        out: BinaryIO = sys.stdout.buffer
        if isinstance(out, io.FileIO) and not is_tty:
            # PYTHONUNBUFFERED (or -u) left stdout unbuffered: buffer it, as rg does into a
            # pipe or file, rather than pay a syscall per line.
            own = io.FileIO(out.fileno(), "wb", closefd=False)  # closing it leaves stdout be
            out = io.BufferedWriter(own, OUTPUT_BUFFER)  # type: ignore[assignment]
        return cls(out, sys.stderr, is_tty, env, not stdin_read and stdin_is_readable())
