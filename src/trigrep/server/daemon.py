"""The daemon: a Unix socket server answering the CLI's searches from warm, watched trees.

Each served tree is a `ServedTree` (`trigrep.server.tree`: its cached walk, watcher, open
index and background index updates); this module accepts connections, reads their
newline-delimited requests (`trigrep.server.protocol`), runs each search with the CLI's own
`run_search` inside the search's working directory (`CwdGate`), streams its output back, and
stops when told to, when idle, or when a tree is no longer its to serve.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from trigrep.console import OUTPUT_ENV, Console
from trigrep.engine import writing_index
from trigrep.errors import Error
from trigrep.parallel import SharedSearchPool
from trigrep.roots import INDEX_DIR_NAME, tree_root
from trigrep.server.claim import Claim
from trigrep.server.client import spawn_daemon
from trigrep.server.protocol import (
    DAEMON_LOG,
    SHARED_ENV,
    Message,
    decode,
    encode,
    find_daemon_file,
    is_served,
    socket_dir,
)
from trigrep.server.tree import ServedTree

ACCEPT_POLL_S = 0.2  # how often the accepting thread checks for shutdown
OUTPUT_CHUNK = 64 << 10
SEND_BUFFER = 4 << 20  # (capped by net.core.wmem_max)
START_TIMEOUT = 600.0  # --detach waits this long for the first walk


class CwdGate:
    """Searches resolve relative paths against the process's one working directory: those
    from the same directory run together, those from another wait for them to finish. The
    same directory is the same path naming the same directory still: one moved away (or
    deleted) and another made in its place is entered anew, or relative paths would walk
    the old one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._cwd: str | None = None
        self._holders = 0

    def _in(self, cwd: str) -> bool:
        """Whether the process's working directory is the one `cwd` names now."""
        if self._cwd != cwd:
            return False
        try:
            return os.path.samestat(os.stat(cwd), os.stat("."))
        except OSError:
            return False

    @contextlib.contextmanager
    def inside(self, cwd: str) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._holders or self._in(cwd))
            if not self._in(cwd):
                os.chdir(cwd)  # FileNotFoundError: the caller declines
                self._cwd = cwd
            self._holders += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()


class _Handlers:
    """The threads serving connections, each kept for the next one when its connection
    closes: starting a thread per connection cost every search about 0.1 ms more (the
    accepting thread waits until the new one runs)."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self._serve = serve
        self._waiting: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads done with their connection and not yet handed another

    def hand(self, conn: socket.socket) -> None:
        """Serve `conn` on an idle thread, or on a new one if none is."""
        with self._lock:
            idle = self._idle > 0
            self._idle -= idle
        if not idle:
            threading.Thread(target=self._run, daemon=True).start()
        self._waiting.put(conn)  # (as many threads wait for connections as are put here)

    def _run(self) -> None:
        while True:
            self._serve(self._waiting.get())
            with self._lock:
                self._idle += 1


class Sender(Protocol):
    """Sends one message to a client, followed by `payload` (raw output bytes) if any."""

    def __call__(self, message: Message, payload: bytes | bytearray = b"") -> None: ...


class _Output(io.RawIOBase):
    """A search's stdout, sent to the client in chunks (raw after an `out_bytes` message when
    the client asked for that, else in base64); a cancelled search's next write fails as if
    the client's pipe had closed, which stops the search the way `| head` does."""

    def __init__(self, send: Sender, request_id: Any, cancelled: threading.Event,
                 raw: bool) -> None:
        self._send = send
        self._id = request_id
        self._cancelled = cancelled
        self._raw = raw
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self._cancelled.is_set():
            raise BrokenPipeError("search cancelled")
        if self._raw and len(data) >= OUTPUT_CHUNK:
            # A big piece (a worker's run of rendered files, often hundreds of KiB) goes
            # out as it is, after what the buffer holds: copied into the buffer, it was
            # copied twice more on its way to the socket.
            self.flush()
            self._send({"id": self._id, "out_bytes": len(data)}, data)
            return len(data)
        self._buffer += data
        if len(self._buffer) >= OUTPUT_CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._buffer and self._raw:
            self._send({"id": self._id, "out_bytes": len(self._buffer)}, self._buffer)
        elif self._buffer:
            self._send({"id": self._id, "out": base64.b64encode(self._buffer).decode()})
        self._buffer.clear()


class Daemon:
    """The socket server over a set of served trees."""

    def __init__(self, roots: Sequence[str], idle_timeout: float | None = None) -> None:
        self.pool = SharedSearchPool()
        self.trees = [ServedTree(root, self.pool) for root in roots]
        self.socket_path = os.path.join(socket_dir(), f"daemon-{os.getpid()}.sock")
        self.started = time.time()
        self.idle_timeout = idle_timeout  # stop after this long without a search
        self.last_search = time.monotonic()
        self._claims: list[Claim] = []  # on each tree, taken by `run`
        self._stopping = threading.Event()
        self._gate = CwdGate()
        self._handlers = _Handlers(self._serve_connection)
        self._shared_env = {name: os.environ.get(name) for name in SHARED_ENV}

    def run(self) -> None:
        """Serve until stopped by a `stop` request, SIGTERM or SIGINT, the idle timeout, the
        removal of a served tree's index, or another daemon taking a tree over."""
        for tree in self.trees:
            with writing_index(tree.root):  # (another user's index, a read-only mount)
                self._claims.append(Claim(tree.root))
        for tree in self.trees:
            tree.start()
        # The cached walks are hundreds of thousands of long-lived objects: kept out of the
        # collector's full passes, which a search's allocations would otherwise set off.
        gc.freeze()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        old_umask = os.umask(0o177)  # the socket is born 0600
        try:
            listener.bind(self.socket_path)
        finally:
            os.umask(old_umask)
        listener.listen(128)
        listener.settimeout(ACCEPT_POLL_S)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stopping.set())
        for claim in self._claims:
            claim.publish({"pid": os.getpid(), "socket": self.socket_path,
                           "started": self.started})
        try:
            next_check = 0.0
            while not self._stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    pass
                else:
                    conn.settimeout(None)
                    self._handlers.hand(conn)
                if time.monotonic() >= next_check:  # (however busy the daemon is)
                    if self._idle() or not self._still_serving():
                        break
                    next_check = time.monotonic() + ACCEPT_POLL_S
        finally:
            listener.close()
            self._clean_up()

    def _still_serving(self) -> bool:
        """Whether this daemon still serves every tree: False when one's `.trigrep/` was
        deleted, its root replaced by another directory, or its claim taken by another daemon
        (see `Claim.keep`, which mends the claim otherwise). Checked each ACCEPT_POLL_S."""
        for tree, claim in zip(self.trees, self._claims, strict=True):
            if not os.path.isdir(os.path.join(tree.root, INDEX_DIR_NAME)):
                return False
            if tree.replaced():
                sys.stderr.write(f"trigrep: {tree.root}: another directory took its place; "
                                 "stopping\n")
                return False
            if not claim.keep():
                return False
        return True

    def _clean_up(self) -> None:
        self.pool.close()
        for tree in self.trees:
            tree.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        for claim in self._claims:
            claim.release()

    def _idle(self) -> bool:
        return (self.idle_timeout is not None
                and time.monotonic() - self.last_search > self.idle_timeout)

    def _serve_connection(self, conn: socket.socket) -> None:
        session = _Session(self, conn)
        try:
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    try:
                        session.dispatch(decode(line))
                    except (ValueError, KeyError, TypeError) as e:
                        session.send({"id": None, "error": f"malformed request: {e}"})
        except OSError:
            pass  # the client went away
        finally:
            session.close()

    def stop(self) -> None:
        self._stopping.set()

    def status(self) -> Message:
        return {
            "pid": os.getpid(), "socket": self.socket_path, "started": self.started,
            "roots": [tree.status() for tree in self.trees],
        }

    def _tree_for(self, request: Message) -> ServedTree | str:
        """The tree the client found serving its search, or why it should search by itself."""
        env = request.get("env", {})
        for name, value in self._shared_env.items():
            if env.get(name) != value:
                return f"{name} differs from the daemon's ({SHARED_ENV[name]})"
        for tree in self.trees:
            if tree.root == request["root"]:
                return tree
        return f"{request['root']} is not served by this daemon"

    def search(
        self, request: Message, send: Sender, cancelled: threading.Event
    ) -> None:
        """Run one search request, streaming its output; always ends with `exit` or `declined`."""
        from trigrep.cli import Declined, run_search

        request_id = request["id"]
        self.last_search = time.monotonic()
        tree = self._tree_for(request)
        if isinstance(tree, str):
            send({"id": request_id, "declined": tree})
            return
        env = request.get("env", {})
        out = _Output(send, request_id, cancelled, raw=bool(request.get("raw")))
        err = io.StringIO()
        console = Console(
            out, err, bool(request.get("tty")), {k: env[k] for k in OUTPUT_ENV if k in env},
            stdin_readable=bool(request.get("stdin_readable")),
        )
        with contextlib.suppress(OSError):  # the client went away
            try:
                with self._gate.inside(request["cwd"]):
                    tree.count("searches")
                    code = run_search(request["argv"], console, tree)
            except FileNotFoundError:
                send({"id": request_id, "declined": "the working directory is gone"})
                return
            except Declined as e:
                send({"id": request_id, "declined": str(e)})
                return
            out.flush()
            send({"id": request_id, "exit": code, "stderr": err.getvalue()})


class _Session:
    """One client connection: its requests in flight and its subscriptions."""

    def __init__(self, daemon: Daemon, conn: socket.socket) -> None:
        self._daemon = daemon
        self._conn = conn
        # Room for a search's output in the socket while the client is slow to read it
        # (scheduled out: a search's workers take the cores): a search blocked sending
        # takes no answers from its workers, which then wait with it.
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self._send_lock = threading.Lock()
        self._searches: dict[Any, threading.Event] = {}  # request id -> cancelled
        self._subscriptions: dict[Any, list[tuple[ServedTree, Callable[[list[str]], None]]]] = {}

    def send(self, message: Message, payload: bytes | bytearray = b"") -> None:
        """Send `message`, then `payload` (sent before this returns: the caller may reuse
        it). A big payload follows its line in a second call rather than be copied
        behind it."""
        line = encode(message)
        with self._send_lock:
            if len(payload) >= OUTPUT_CHUNK:
                self._conn.sendall(line)
                self._conn.sendall(payload)
            else:
                self._conn.sendall(line + payload)

    def dispatch(self, request: Message) -> None:
        request_id, op = request["id"], request["op"]
        if op == "search":
            if request.get("ack"):
                self.send({"id": request_id, "accepted": True})
            cancelled = self._searches[request_id] = threading.Event()

            def run() -> None:
                try:
                    self._daemon.search(request, self.send, cancelled)
                finally:
                    self._searches.pop(request_id, None)

            if request.get("alone"):
                run()  # nothing else comes on this connection: no thread needs to read it
            else:
                threading.Thread(target=run, daemon=True).start()
        elif op == "cancel":
            self._cancel(request["target"])
        elif op == "status":
            self.send({"id": request_id, "status": self._daemon.status()})
        elif op == "subscribe":
            self._subscriptions[request_id] = [
                (tree, self._on_change(request_id, tree.root)) for tree in self._daemon.trees
            ]
            for tree, listener in self._subscriptions[request_id]:
                tree.listeners.append(listener)
            self.send({"id": request_id, "subscribed": True})
        elif op == "stop":
            self.send({"id": request_id, "stopping": True})
            self._daemon.stop()
        else:
            self.send({"id": request_id, "error": f"unknown op {op!r}"})

    def _on_change(self, request_id: Any, root: str) -> Callable[[list[str]], None]:
        def changed(paths: list[str]) -> None:
            with contextlib.suppress(OSError):
                self.send({"id": request_id, "event": "changed", "root": root, "paths": paths})

        return changed

    def _cancel(self, target: Any) -> None:
        if target in self._searches:
            self._searches[target].set()
        for tree, listener in self._subscriptions.pop(target, []):
            tree.listeners.remove(listener)

    def close(self) -> None:
        for target in [*self._searches, *self._subscriptions]:
            self._cancel(target)


def serve(paths: Sequence[str], *, detach: bool, idle_timeout: float | None = None) -> int:
    """`trigrep serve`: serve the trees holding `paths`, here or (`detach`) in the background."""
    roots = [served_root(path) for path in paths]
    for root in roots:
        if is_served(root):
            found = find_daemon_file(root)
            pid = found[1].get("pid") if found is not None and found[0] == root else "?"
            raise Error(f"{root}: already served by the daemon with pid {pid}")
    if detach:
        log_path = os.path.join(roots[0], INDEX_DIR_NAME, DAEMON_LOG)
        try:
            logged_before = os.path.getsize(log_path)
        except OSError:
            logged_before = 0
        with writing_index(roots[0]):  # (its log goes there)
            child = spawn_daemon(roots, idle_timeout)
        return _wait_until_serving(child, roots, log_path, logged_before)
    Daemon(roots, idle_timeout).run()
    return 0


def served_root(path: str) -> str:
    """The root of the tree a daemon serves for `path`: that of its index, or where a first
    search would build one."""
    if not os.path.isdir(path):
        raise Error(f"{path}: not a directory")
    return os.path.realpath(tree_root(path))


def _wait_until_serving(
    child: subprocess.Popen[bytes], roots: Sequence[str], log_path: str, logged_before: int
) -> int:
    """Return once the spawned daemon serves every root (or report what it logged, from
    `logged_before` on, if it died: earlier daemons' lines would tell another story)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            with open(log_path, "rb") as log:
                log.seek(logged_before)
                tail = log.read()[-2000:].decode(errors="replace").rstrip("\n")
            if "\n" not in tail and tail.startswith("trigrep: "):  # its own one-line error
                raise Error(f"the daemon did not start: {tail.removeprefix('trigrep: ')}")
            raise Error(f"the daemon exited with code {child.returncode}; its log ends:\n{tail}")
        records = [find_daemon_file(root) for root in roots]
        if all(r is not None and r[1].get("pid") == child.pid for r in records):
            sys.stdout.write(f"trigrep: serving {', '.join(roots)} (pid {child.pid}, "
                             f"log {log_path})\n")
            return 0
        time.sleep(0.05)
    raise Error(f"the daemon (pid {child.pid}) did not start within {START_TIMEOUT:.0f}s")
