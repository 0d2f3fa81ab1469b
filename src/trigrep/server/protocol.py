"""The daemon's socket protocol: newline-delimited JSON over a Unix stream socket.

Where: a daemon listens on one socket, `<dir>/daemon-<pid>.sock`, where `<dir>` is
`$XDG_RUNTIME_DIR/trigrep/` when XDG_RUNTIME_DIR is set, else `<tmp>/trigrep-<uid>/`. The
directory is mode 0700 and owned by the user, the socket 0600. Each tree it serves holds
`.trigrep/daemon.json`: `{"pid": ..., "socket": ..., "root": ..., "started": <unix time>}`;
clients find a daemon through that file (a stale one, left by a killed daemon, simply fails
to connect). The daemon's lock file, `.trigrep/daemon.lock`, holds the same record while it
serves (only the holder of the lock writes it): clients read that one when daemon.json is
damaged or gone, which the daemon writes again when it notices.

Framing: every message is one JSON object encoded as UTF-8 on one line ending in `\\n`
(but the raw output bytes a search that asked for them gets after each `out_bytes` line).
Every request carries an `id` (a number or string the client chooses, unique among its
requests in flight on that connection); every response carries the `id` it answers.
Several requests may be in flight on one connection; their responses may interleave.

Requests (client -> daemon):

    {"id": 1, "op": "search", "argv": [...], "root": "/abs/root", "cwd": "/abs/dir",
     "tty": false, "stdin_readable": false,
     "env": {"TERM": ..., "NO_COLOR": ..., "HOME": ..., "XDG_CONFIG_HOME": ...,
             "WSL_DISTRO_NAME": ...}}
        Run `trigrep ARGV` (the search command's arguments, as after `trigrep` or
        `trigrep search`, unparsed: the daemon parses them and reports flag errors) as if
        in `cwd` with stdout a terminal when `tty`. `root` is the served tree whose
        daemon.json the client found above its first path (or cwd); `env` holds those of the
        listed variables the client has (they decide colours, git's global excludes and
        hyperlinks' `{wslprefix}`).
        `stdin_readable`: the client's stdin is a pipe or file, so without a path the search
        would read it; the daemon declines such searches, and those reading patterns from
        stdin (`-f -`). Optional `"raw": true`: the output comes as raw bytes after
        `out_bytes` lines, not in base64 `out` lines (what the CLI asks for: no encoding nor
        decoding of output).
        Optional `"ack": true`: an `accepted` answer comes first, as soon as the daemon
        reads the request (the CLI searches by itself when none comes: a stopped daemon).
        Optional `"alone": true`: the client sends nothing more on this connection (the
        CLI), so the daemon runs the search on the thread reading it, not on one of its
        own; closing the connection then stops the search at its next output chunk.
    {"id": 2, "op": "cancel", "target": 1}
        Stop request 1 (a search or a subscription). A search stops at its next output
        chunk and still ends with its `exit` message. Closing the connection cancels all.
    {"id": 3, "op": "status"}
    {"id": 4, "op": "subscribe"}
        Change events until cancelled (from the `subscribed` answer on).
    {"id": 5, "op": "stop"}
        Shut the daemon down (it finishes nothing but removes its socket and daemon.json).

Responses (daemon -> client):

    {"id": 1, "accepted": true}         the daemon took the search (asked for with "ack")
    {"id": 1, "out": "<base64>"}        a chunk of the search's stdout bytes, in order
    {"id": 1, "out_bytes": N}           the same with `"raw": true`: the line is followed by
                                        exactly N bytes of output (not JSON), then the next line
    {"id": 1, "exit": 0, "stderr": "..."}
        the search's end: its exit code (rg's) and everything it wrote to stderr
    {"id": 1, "declined": "<reason>"}   this daemon cannot answer exactly as a local run would
                                        (path not served, other HOME...): search locally
    {"id": 3, "status": {"pid": ..., "socket": ..., "started": ..., "roots": [
        {"root": ..., "files": ..., "directories": ..., "last_update": <unix time of the
         last change applied>, "pending": <changes left to walk for: the watcher was behind
         or is blind; those it reported are applied first>, "searches": ..., "warm_searches": ...,
         "events": ..., "rewalks": ..., "index_updates": <runs of trigrep index>,
         "index_updating": <bool>, "indexed": <bool: false while searched without an index,
         which is built (never built yet, damaged, of another version)>, "index_damaged":
         <bool: found damaged, not rebuilt yet>, "index_repairs": <damage found>,
         "segments": ..., "tombstones": ...}, ...]}}
    {"id": 4, "subscribed": true}     changes from now on are reported:
    {"id": 4, "event": "changed", "root": "/abs/root", "paths": ["rel/path", ...]}
        paths (relative to the root) of a batch of relevant changes the watcher saw
    {"id": 5, "stopping": true}
    {"id": ..., "error": "<message>"}    the request was malformed

The CLI loads this on every search, so it imports next to nothing: the lines' JSON is
`wire`'s, not the json package's (see there why), and no `from __future__` import (that
alone is a module to load).
"""

import os
import stat

from trigrep.roots import INDEX_DIR_NAME, nearest
from trigrep.server import wire

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    from typing import Any

DAEMON_FILE = "daemon.json"  # in a served tree's .trigrep/
DAEMON_LOCK = "daemon.lock"  # flock'ed by the daemon serving the tree, for its whole life
DAEMON_LOG = "daemon.log"
CLIENT_ENV = ("TERM", "NO_COLOR", "HOME", "XDG_CONFIG_HOME", "WSL_DISTRO_NAME")
# The client's variables that must match the daemon's for it to search, and what they decide.
SHARED_ENV = {"HOME": "git's global excludes", "XDG_CONFIG_HOME": "git's global excludes",
              "WSL_DISTRO_NAME": "hyperlinks' {wslprefix}"}

Message = dict[str, "Any"]


def encode(message: Message) -> bytes:
    """One message as a protocol line."""
    return wire.dumps(message).encode() + b"\n"


def decode(line: bytes) -> Message:
    """One protocol line as a message; ValueError if it is not a JSON object."""
    message = wire.loads(line.decode())
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def search_request(argv: "list[str]", root: str, cwd: str, *, tty: bool) -> Message:
    """A search request (`id` 1) for output in raw bytes, acknowledged (see `client.send`),
    with the variables of CLIENT_ENV this process has."""
    return {"id": 1, "op": "search", "argv": argv, "root": root, "cwd": cwd, "tty": tty,
            "raw": True, "ack": True,
            "env": {name: os.environ[name] for name in CLIENT_ENV if name in os.environ}}


def socket_dir() -> str:
    """The private directory for sockets, created 0700 if missing; refuses one that another
    user owns or others can enter (anyone could then connect, or plant a socket)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        path = os.path.join(runtime, "trigrep")
    else:
        import tempfile  # only the daemon needs it: clients read the path from daemon.json

        path = os.path.join(tempfile.gettempdir(), f"trigrep-{os.getuid()}")
    from trigrep.errors import Error  # (only the daemon comes here: not on a search's path)

    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError as e:  # (a file in its place, a parent this user cannot write)
        raise Error(f"cannot keep the daemon's socket in {path}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise Error(f"cannot keep the daemon's socket in {path}: not a private directory of "
                    "this user")
    return path


def daemon_file(root: str) -> str:
    return os.path.join(root, INDEX_DIR_NAME, DAEMON_FILE)


def daemon_lock_path(root: str) -> str:
    return os.path.join(root, INDEX_DIR_NAME, DAEMON_LOCK)


def is_served(root: str) -> bool:
    """True while a daemon holds `root`'s daemon lock (the kernel drops it when the daemon
    dies, however it dies)."""
    import fcntl  # not on the path of a search a daemon answers

    try:
        fd = os.open(daemon_lock_path(root), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def read_record(path: str) -> Message | None:
    """The daemon record in the file `path` (daemon.json, or the lock file's copy), if it
    holds one: a damaged record is none (`trigrep stop` signals its pid: 0 or -1 would
    signal every process it may)."""
    try:
        with open(path, "rb") as f:
            record = decode(f.read())
    except (OSError, ValueError):
        return None
    pid = record.get("pid")
    if isinstance(pid, int) and pid > 0 and isinstance(record.get("socket"), str):
        return record
    return None


def find_daemon_file(start: str) -> tuple[str, Message] | None:
    """(root, record) of the nearest served tree at or above `start`, if any records one."""
    return nearest(start, lambda path: read_record(daemon_file(path))
                   or read_record(daemon_lock_path(path)))
