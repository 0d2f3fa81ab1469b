"""The CLI's side of the daemon: send a search to the daemon serving its tree, print the answer.

Imported on every CLI search, and when a daemon answers, its start-up is most of what the
search costs: so this module and `protocol` load nothing beyond what the interpreter itself
loads, bar `_socket` (`socket` would add `selectors`, `enum`...), and that only while the
daemon's watcher is at work. No engine, no numpy, no json (`wire` instead), no typing, no
`from __future__`. The output comes raw, not in base64, so nothing is decoded (`binascii`
loads only for a daemon an older trigrep started).
"""

import os
import sys
import time

from trigrep.roots import INDEX_DIR_NAME
from trigrep.server.protocol import (
    DAEMON_LOG,
    Message,
    daemon_lock_path,
    decode,
    encode,
    find_daemon_file,
    is_served,
    read_record,
    search_request,
)

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing on every search
if TYPE_CHECKING:
    import _socket
    import subprocess
    from collections.abc import Iterator, Sequence

CONNECT_TIMEOUT = 1.0
# A daemon takes a search at once (its `accepted` answer); one that does not within this
# long is stopped or stuck: the CLI searches by itself (see `send`).
ACCEPT_TIMEOUT = 3.0
_unresponsive: set = set()  # roots whose daemon did not answer in time: not asked again
# After a search the CLI ran itself, it starts a daemon for the tree when the index holds at
# least this many files (TRIGREP_AUTO_SERVE: another number, or "off"); the daemon stops
# after AUTO_SERVE_IDLE seconds without a search.
AUTO_SERVE_ENV = "TRIGREP_AUTO_SERVE"
AUTO_SERVE_MIN_FILES = 1_000
AUTO_SERVE_IDLE = 1800.0


_MSG_PEEK = 2  # socket.MSG_PEEK (its module would load enum)
RESPONSE_BUFFER = 1 << 17  # a whole output chunk (64 KiB, raw or in base64) per read
Connection = tuple[str, Message, "_socket.socket"]  # (root, daemon record, connected socket)


def connect(start: str) -> Connection | None:
    """(root, daemon record, connected socket) for the daemon serving `start`, if one answers;
    the caller closes the socket."""
    return _connect(find_daemon_file(start))


def _connect(found: "tuple[str, Message] | None") -> Connection | None:
    """(root, daemon record, connected socket) for the daemon `find_daemon_file` found, if
    one answers."""
    if found is None:
        return None
    root, record = found
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    try:
        sock.connect(str(record.get("socket")))
    except OSError:
        sock.close()
        return None
    sock.settimeout(None)
    return root, record, sock


def responses(sock: "_socket.socket") -> "Iterator[Message]":
    """The messages the daemon sends on `sock`, until it closes the connection; an
    `out_bytes` message (a search asked for raw output) comes with its bytes as `data`."""
    with open(sock.fileno(), "rb", buffering=RESPONSE_BUFFER, closefd=False) as lines:
        for line in lines:
            message = decode(line)
            if "out_bytes" in message:
                message["data"] = lines.read(message["out_bytes"])
                if len(message["data"]) != message["out_bytes"]:
                    raise ConnectionError("the daemon went away in the middle of its output")
            yield message


def output_of(message: Message) -> "bytes | None":
    """The output bytes a search's message carries, if any: raw, or in base64 from a daemon
    started by a trigrep older than raw output."""
    if "data" in message:
        return message["data"]
    if "out" in message:
        import binascii

        return binascii.a2b_base64(message["out"])
    return None


class SearchAnswer:
    """The daemon's answer to the search request sent on `sock`: iterating yields its output
    chunks, in order; after that, `exit` and `stderr` hold its end, or `declined` the reason
    the daemon declined it. When both `exit` and `declined` are None, the daemon went away
    before the end: the iteration absorbs that failure, so that one raised by what the caller
    does with the output (writing it to a closed pipe) is never taken for the daemon's."""

    def __init__(self, sock: "_socket.socket") -> None:
        self._sock = sock
        self.exit: int | None = None
        self.stderr = ""
        self.declined: str | None = None

    def __iter__(self) -> "Iterator[bytes]":
        try:
            for message in responses(self._sock):
                data = output_of(message)
                if data is not None:
                    yield data
                elif "exit" in message:
                    self.exit, self.stderr = int(message["exit"]), message.get("stderr", "")
                    return
                elif "declined" in message:
                    self.declined = message["declined"]
                    return
        except (ConnectionError, ValueError):
            pass


def search(argv: "Sequence[str]", paths: "Sequence[str]", *, stdin_readable: bool = False) -> (
    int | None
):
    """Run the search `argv` in the daemon serving the tree of `paths[0]` (or "."), printing
    what it prints. `stdin_readable`: whether rg would read this process's stdin when no path
    is given (the daemon then declines).

    Returns the exit code, or None when no daemon answers for that tree (or it declines) and
    nothing was printed: the caller then searches locally, as if no daemon ran.
    """
    found = find_daemon_file(_directory_of(paths[0] if paths else "."))
    if found is None or found[0] in _unresponsive:
        return None
    return _search_in(_connect(found), argv, stdin_readable)


def _search_in(connected: Connection | None, argv: "Sequence[str]", stdin_readable: bool
               ) -> int | None:
    """`search` over the connection to the daemon it found (None: it did not answer)."""
    if connected is None:
        return None
    root, _record, sock = connected
    request = search_request(list(argv), root, os.getcwd(), tty=sys.stdout.isatty())
    request["stdin_readable"] = stdin_readable
    request["alone"] = True  # (see the protocol: the daemon starts no thread for it)
    out = sys.stdout.buffer
    printed = False
    answer = SearchAnswer(sock)
    try:
        if not send(root, sock, request):
            return None
        # A failure writing (stdout's reader went away: `| head`) propagates: a quiet exit.
        for data in answer:
            out.write(data)
            printed = True
    finally:
        sock.close()
    if answer.exit is not None:
        out.flush()
        sys.stderr.write(answer.stderr)
        return answer.exit
    if answer.declined is not None or not printed:
        return None  # search locally
    sys.stderr.write("trigrep: the daemon stopped in the middle of the search\n")
    return 2


def ask(path: str, message: Message) -> tuple[str, Message, Message] | None:
    """(root, daemon record, the first answer) for one request to the daemon serving `path`."""
    connected = connect(path)
    if connected is None:
        return None
    root, record, sock = connected
    try:
        if not send(root, sock, {"id": 1, **message}):
            return None
        return root, record, next(responses(sock))
    except (ConnectionError, ValueError, StopIteration):
        return None
    finally:
        sock.close()


def send(root: str, sock: "_socket.socket", request: Message) -> bool:
    """Send `request` to the daemon serving `root`: whether its first answer (a search's
    `accepted`) starts arriving within ACCEPT_TIMEOUT. One that does not answer in time is
    stopped (`kill -STOP`, Ctrl-Z) or stuck: `search` does not ask it again."""
    sock.settimeout(ACCEPT_TIMEOUT)
    try:
        sock.sendall(encode(request))
        sock.recv(1, _MSG_PEEK)
    except TimeoutError:
        _unresponsive.add(root)
        return False
    except ConnectionError:
        return False
    sock.settimeout(None)  # (blocking again: `responses` reads the socket's file)
    return True


def _directory_of(path: str) -> str:
    """The directory whose tree a path argument lies in: itself, or a file's parent."""
    return path if os.path.isdir(path) else os.path.dirname(path) or "."


def _unreachable(path: str) -> "tuple[str, Message] | None":
    """(root, record) of a daemon that serves `path` (it holds the tree's daemon lock) but
    does not answer: stopped, or its socket deleted (a cleaner of /tmp). The record is the
    lock file's copy when there is one: the lock's holder wrote it, while daemon.json may be
    anyone's (`trigrep stop` signals its pid)."""
    found = find_daemon_file(_directory_of(path))
    if found is None or not is_served(found[0]):
        return None
    return found[0], read_record(daemon_lock_path(found[0])) or found[1]


def print_status(path: str, *, as_json: bool) -> int:
    """`trigrep status`: 0 and the daemon's state when one serves `path`, else 1."""
    import json

    answer = ask(path, {"op": "status"})
    if answer is None or "status" not in answer[2]:
        unreachable = _unreachable(path)
        silent = unreachable[1] if unreachable is not None else None
        if as_json:
            state: Message = {"served": False}
            if silent is not None:
                state.update(unreachable=True, pid=silent.get("pid"))
            elif (builder := _index_builder(path)) is not None:
                state["indexing"] = builder
            sys.stdout.write(json.dumps(state) + "\n")
        elif silent is None:
            sys.stderr.write(_not_served(path))
        else:
            sys.stderr.write(f"trigrep: the daemon serving {path} (pid {silent.get('pid')}) "
                             "does not answer; searches run without it ('trigrep stop' ends "
                             "it)\n")
        return 1
    status = answer[2]["status"]
    if as_json:
        sys.stdout.write(json.dumps({"served": True, **status}) + "\n")
        return 0
    up = time.time() - status["started"]
    sys.stdout.write(f"pid {status['pid']}, socket {status['socket']}, up {up:.0f}s\n")
    for tree in status["roots"]:
        ago = time.time() - tree["last_update"]
        index = (f"{tree['segments']} segments, {tree['tombstones']} tombstones"
                 f"{' (updating)' if tree['index_updating'] else ''}"
                 if tree.get("indexed", True) else "being built (searches read every file)")
        sys.stdout.write(
            f"{tree['root']}: {tree['files']} files, last update {ago:.1f}s ago, "
            f"{tree['pending']} pending changes, {tree['searches']} searches "
            f"({tree['warm_searches']} from the warm walk), index: {index}\n"
        )
    return 0


def _not_served(path: str) -> str:
    """The line saying no daemon serves `path`, and which process builds its index if one
    does (`trigrep index`, or a search)."""
    builder = _index_builder(path)
    if builder is None:
        return f"trigrep: no daemon serves {path}\n"
    return f"trigrep: no daemon serves {path} yet: process {builder} is building its index\n"


def _index_builder(path: str) -> int | None:
    """The pid of the process writing the index of the tree holding `path` (see
    `lock_holder`); None when none is."""
    from trigrep.index.lock import lock_holder
    from trigrep.roots import tree_root

    return lock_holder(os.path.join(tree_root(_directory_of(path)), INDEX_DIR_NAME))


def stop(path: str, *, timeout: float = 10.0) -> int:
    """`trigrep stop`: ask the daemon serving `path` to exit and wait until it has."""
    answer = ask(path, {"op": "stop"})
    found = answer[:2] if answer is not None else _unreachable(path)
    if found is None:
        sys.stderr.write(_not_served(path))
        return 1
    root, record = found
    pid = int(record["pid"])
    if answer is None:  # it does not answer: SIGTERM stops it as cleanly
        import contextlib
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            os.kill(pid, signal.SIGCONT)  # (a stopped one handles it once it runs)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_served(root):  # (its lock goes with it: a zombie holds none)
            return 0
        time.sleep(0.02)
    sys.stderr.write(f"trigrep: daemon {pid} did not stop within {timeout:.0f}s\n")
    return 2


def spawn_daemon(roots: "Sequence[str]", idle_timeout: float | None) -> (
    "subprocess.Popen[bytes]"
):
    """Start `trigrep serve ROOTS` in its own session, logging to the first root's
    .trigrep/daemon.log; it exits at once if another daemon serves one of them."""
    import subprocess  # not on the path of a search the daemon answers

    from trigrep.spawn import trigrep_command

    index_dir = os.path.join(roots[0], INDEX_DIR_NAME)
    os.makedirs(index_dir, exist_ok=True)
    idle = ["--idle-timeout", f"{idle_timeout:g}"] if idle_timeout is not None else []
    with open(os.path.join(index_dir, DAEMON_LOG), "ab") as log:
        return subprocess.Popen(
            trigrep_command("serve", *idle, *roots),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )


def serve_in_background(path: str) -> None:
    """After a search without a daemon in a big indexed tree, start one for the tree, so that
    the next searches skip walking and checking every file (a watcher knows what changed)."""
    from trigrep.errors import Error
    from trigrep.index.format import MANIFEST_NAME, parse_manifest
    from trigrep.roots import find_index_root

    min_files = _auto_serve_min_files()
    root = find_index_root(_directory_of(path))
    if min_files is None or root is None or is_served(root):
        return
    index_dir = os.path.join(root, INDEX_DIR_NAME)
    try:
        with open(os.path.join(index_dir, MANIFEST_NAME), "rb") as f:
            files = parse_manifest(f.read(), index_dir).stats.files
    except (OSError, Error):
        return
    if files >= min_files:
        _spawn(root)


class FirstBuild:
    """A first search's offer of the index of a tree without one, which it walked `files`
    files of so far (see SearchRun's `first_build`): taken (True), a daemon builds it in the
    background and serves the tree, and the search reads every file meanwhile rather than
    wait for the build (which put the Linux tree's first answer at 15.7-15.9 s). The daemon
    starts once the search is over (`start`, after its output): its walk of the tree took a
    core from the search (the Linux tree's first answer, quiet, 2 cores: 0.93-1.18 s, against
    1.60-1.87 s with the daemon started during the search).

    Declined (False: the search builds it) when no daemon would serve the tree: auto-serve
    off, or fewer files than it asks for. Taken without a new daemon while one is starting
    (it holds the daemon lock before it serves) or another process builds the index: each
    search meanwhile would start one more, which would exit, or wait for the build, update
    the index again and exit."""

    def __init__(self) -> None:
        self.root: str | None = None  # the tree a daemon is to serve, once offered

    def __call__(self, directory: str, files: int) -> bool:
        from trigrep.index.lock import locked_by_another
        from trigrep.roots import default_root

        min_files = _auto_serve_min_files()
        if min_files is None or files < min_files:
            return False
        root = default_root(directory)
        if not (is_served(root) or locked_by_another(os.path.join(root, INDEX_DIR_NAME))):
            self.root = root
        return True

    def start(self) -> None:
        """Start the daemon the offer was taken for, if any (and the tree is not served
        meanwhile: another first search started one)."""
        if self.root is not None and not is_served(self.root):
            _spawn(self.root)


def _auto_serve_min_files() -> int | None:
    """The fewest files of a tree the CLI starts a daemon for; None: never (see AUTO_SERVE_ENV)."""
    setting = os.environ.get(AUTO_SERVE_ENV, "")
    if setting == "off":
        return None
    return int(setting) if setting.isdigit() else AUTO_SERVE_MIN_FILES


def _spawn(root: str) -> None:
    """Start a daemon for `root`, unless this user may not write the tree (another user's
    index, a read-only mount): a daemon could write neither its log nor its record, and the
    search, answered already, must not fail for it."""
    import contextlib

    with contextlib.suppress(OSError):
        spawn_daemon([os.path.realpath(root)], AUTO_SERVE_IDLE)
