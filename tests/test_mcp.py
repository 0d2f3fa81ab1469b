"""`trigrep mcp`: the server spawned as a client would, through the SDK's stdio client.

One server serves one tree for the whole module (spawning costs more than all the calls).
Results are checked against rg run on the same tree; bounds, tool errors and attempts to
reach outside the root are checked too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from conftest import RG, isolated_env, parse_json_lines, run

SRC = Path(__file__).resolve().parent.parent / "src"
CALL_TIMEOUT = 60


class ServerProcess:
    """A `trigrep mcp` subprocess and its client session, used synchronously from tests.

    The session's async context must be entered and left in one task, so it lives in a task
    of an event loop running on a helper thread; calls are submitted to that loop.
    """

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._stop: asyncio.Event | None = None
        ready: concurrent.futures.Future[ClientSession] = concurrent.futures.Future()
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "trigrep.cli", "mcp", str(root)], env=env,
        )
        self._held = asyncio.run_coroutine_threadsafe(self._hold(params, ready), self._loop)
        concurrent.futures.wait([ready, self._held], timeout=CALL_TIMEOUT,
                                return_when=concurrent.futures.FIRST_COMPLETED)
        if self._held.done():
            self._held.result()  # raises what went wrong
        self.session = ready.result(timeout=0)

    async def _hold(self, params: StdioServerParameters,
                    ready: concurrent.futures.Future[ClientSession]) -> None:
        with open(os.devnull, "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                self._stop = asyncio.Event()
                ready.set_result(session)
                await self._stop.wait()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return self.run(self.session.call_tool(tool, arguments))

    def close(self) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._held.result(CALL_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def text(result: CallToolResult) -> str:
    assert result.content and result.content[0].type == "text"
    return result.content[0].text


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def error(result: CallToolResult) -> str:
    assert result.is_error, text(result)
    return text(result)


def make_tree(base: Path) -> Path:
    root = base / "tree"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "src" / "main.py").write_text(
        "import os\n\ndef main():\n    print('hello world')\n    return os.getcwd()\n"
        "\n\nclass Hello:\n    pass\n"
    )
    (root / "src" / "pkg" / "util.py").write_text(
        "def helper(x):\n    # TODO: hello\n    return x + 1\n"
    )
    (root / "src" / "lib.rs").write_text("fn main() {\n    println!(\"Hello, world\");\n}\n")
    (root / "docs" / "guide.md").write_text("# Guide\n\nSay hello.\n")
    (root / "docs" / "NOTES.MD").write_text("hello in upper case\n")
    (root / "many.txt").write_text("".join(f"hit {i}\n" for i in range(150)))
    (root / "wide.txt").write_text("".join(f"wide {i:03} " + "x" * 280 + "\n" for i in range(90)))
    (root / "minified.js").write_text("var a=1;" * 500 + "needle();" + "var b=2;" * 500 + "\n")
    (root / "blob.bin").write_bytes(b"hello\0binary\n")
    (root / "ignored.log").write_text("hello from an ignored file\n")
    (root / ".ignore").write_text("*.log\n")
    (root / ".hidden").write_text("hello hidden\n")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("hello secret\n")
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    (root / "escape_file").symlink_to(outside / "secret.txt")
    (root / "inside_link.py").symlink_to(root / "src" / "main.py")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tree(tmp_path_factory.mktemp("mcp"))


@pytest.fixture(scope="module")
def rg_env(tree: Path) -> dict[str, str]:
    home = tree.parent / "home"
    (home / ".config").mkdir(parents=True)
    return isolated_env(home)


@pytest.fixture(scope="module")
def server(tree: Path, rg_env: dict[str, str]) -> Iterator[ServerProcess]:
    env = dict(rg_env, PYTHONPATH=str(SRC))
    process = ServerProcess(tree, env)
    yield process
    process.close()


def rg(tree: Path, env: dict[str, str], *args: str) -> str:
    result = run([RG, "--sort", "path", *args], tree, env)
    assert result.code in (0, 1), result.err
    return result.out.decode()


def rg_matches(tree: Path, env: dict[str, str], *args: str) -> list[tuple[str, int]]:
    messages = parse_json_lines(run([RG, "--sort", "path", "--json", *args], tree, env).out)
    return [(m["data"]["path"]["text"], m["data"]["line_number"])
            for m in messages if m["type"] == "match"]


def shown(out: dict[str, Any]) -> list[tuple[str, int]]:
    return [(f["path"], m["line_number"]) for f in out["files"] for m in f["matches"]]


def test_lists_four_read_only_tools_with_schemas(server: ServerProcess) -> None:
    tools = {t.name: t for t in server.run(server.session.list_tools()).tools}
    assert set(tools) == {"search", "count", "files", "read"}
    for tool in tools.values():
        assert tool.description and tool.output_schema
        assert tool.annotations is not None and tool.annotations.read_only_hint
        for prop in tool.input_schema["properties"].values():
            assert prop.get("description")
    search_props = tools["search"].input_schema["properties"]
    assert {"pattern", "path", "fixed_strings", "ignore_case", "smart_case", "word_regexp",
            "glob", "iglob", "type", "context", "max_results"} <= set(search_props)
    for name in ("count", "files"):
        assert {"glob", "iglob", "type"} <= set(tools[name].input_schema["properties"])
    assert tools["search"].input_schema["required"] == ["pattern"]
    assert tools["read"].input_schema["required"] == ["path"]


@pytest.mark.parametrize(("arguments", "rg_args"), [
    ({"pattern": "hello", "ignore_case": True, "context": 1}, ["-i", "-C1", "hello"]),
    ({"pattern": "Hello", "smart_case": True}, ["-S", "Hello"]),
    ({"pattern": "o", "path": "src"}, ["o", "src"]),
    ({"pattern": "return", "context": 1}, ["-C1", "return"]),
    ({"pattern": "main", "word_regexp": True, "path": "src"}, ["-w", "main", "src"]),
    ({"pattern": "x + 1", "fixed_strings": True}, ["-F", "x + 1"]),
    ({"pattern": "hello", "ignore_case": True, "glob": "*.md"}, ["-i", "-g", "*.md", "hello"]),
    ({"pattern": "fn|def", "type": ["rust", "py"]}, ["-t", "rust", "-t", "py", "fn|def"]),
    ({"pattern": "def", "glob": ["src/**/*.py", "!src/main.py"]},
     ["-g", "src/**/*.py", "-g", "!src/main.py", "def"]),
    ({"pattern": "hello", "iglob": "*.md"}, ["--iglob", "*.md", "hello"]),
    ({"pattern": "hello", "glob": "*.py", "iglob": ["*.MD", "!docs/g*"]},
     ["-g", "*.py", "--iglob", "*.MD", "--iglob", "!docs/g*", "hello"]),
])
def test_search_prints_what_rg_prints(
    server: ServerProcess, tree: Path, rg_env: dict[str, str],
    arguments: dict[str, Any], rg_args: list[str],
) -> None:
    result = server.call("search", **arguments)
    out = ok(result)
    assert text(result) + "\n" == rg(tree, rg_env, "--heading", "-n", *rg_args)
    rg_args = [a for a in rg_args if not a.startswith("-C")]
    assert shown(out) == rg_matches(tree, rg_env, *rg_args)
    assert not out["truncated"] and out["hint"] is None


def test_search_is_bounded_by_max_results(
    server: ServerProcess, tree: Path, rg_env: dict[str, str]
) -> None:
    expected = rg_matches(tree, rg_env, "hit")
    assert len(expected) == 150
    result = server.call("search", pattern="hit")
    out = ok(result)
    assert shown(out) == expected[:100]
    assert (out["truncated"], out["omitted_results"], out["shown_matches"]) == (True, 50, 100)
    assert "left out 50 matching lines" in text(result)
    assert "raise max_results" in text(result)
    out = ok(server.call("search", pattern="hit", max_results=7))
    assert shown(out) == expected[:7] and out["omitted_results"] == 143


def test_search_is_bounded_by_text_size(server: ServerProcess) -> None:
    result = server.call("search", pattern="wide", max_results=1000)
    out = ok(result)
    assert 0 < out["shown_matches"] < 90
    assert out["shown_matches"] + out["omitted_results"] == 90
    assert len(text(result)) < 21_000
    assert "raise max_results" not in text(result)


def test_long_lines_are_clipped_around_the_match(server: ServerProcess) -> None:
    out = ok(server.call("search", pattern="needle"))
    line = out["files"][0]["matches"][0]["line"]
    assert "needle();" in line and len(line) < 400 and line.startswith("[…")


def test_count_with_iglob(server: ServerProcess, tree: Path, rg_env: dict[str, str]) -> None:
    result = server.call("count", pattern="hello", iglob=["*.MD"])
    assert text(result).split("\n\n")[0] + "\n" == rg(tree, rg_env, "-c", "--iglob", "*.MD",
                                                        "hello")
    assert ok(result)["total_files"] == 2


def test_count_matches_rg(server: ServerProcess, tree: Path, rg_env: dict[str, str]) -> None:
    result = server.call("count", pattern="hello", ignore_case=True)
    out = ok(result)
    listing = rg(tree, rg_env, "-c", "-i", "hello")
    assert text(result).split("\n\n")[0] + "\n" == listing
    counts = [int(line.rsplit(":", 1)[1]) for line in listing.splitlines()]
    assert out["total_matching_lines"] == sum(counts)
    assert out["total_files"] == len(counts)
    assert f"Total: {sum(counts)} matching lines in {len(counts)} files." in text(result)
    out = ok(server.call("count", pattern="hello", ignore_case=True, max_results=2))
    assert len(out["files"]) == 2 and out["omitted_results"] == len(counts) - 2
    assert out["total_files"] == len(counts)


@pytest.mark.parametrize(("arguments", "rg_args"), [
    ({}, ["--files"]),
    ({"type": "py"}, ["--files", "-t", "py"]),
    ({"glob": ["*.md", "*.rs"]}, ["--files", "-g", "*.md", "-g", "*.rs"]),
    ({"path": "src"}, ["--files", "src"]),
    ({"path": "src", "glob": "src/pkg/*"}, ["--files", "-g", "src/pkg/*", "src"]),
    ({"iglob": "*.MD"}, ["--files", "--iglob", "*.MD"]),
    ({"path": "docs", "glob": "!*.md", "iglob": "*.Md"},
     ["--files", "-g", "!*.md", "--iglob", "*.Md", "docs"]),
    ({"pattern": "hello", "ignore_case": True}, ["-l", "-i", "hello"]),
    ({"pattern": "hello", "iglob": ["*.md", "*.PY"]}, ["-l", "--iglob", "*.md", "--iglob", "*.PY",
                                                       "hello"]),
    ({"pattern": "def", "path": "src/pkg"}, ["-l", "def", "src/pkg"]),
    ({"pattern": "x", "word_regexp": True}, ["-l", "-w", "x"]),
    ({"pattern": "hello", "smart_case": True}, ["-l", "-S", "hello"]),
    ({"pattern": "Hello", "smart_case": True}, ["-l", "-S", "Hello"]),
])
def test_files_lists_what_rg_lists(
    server: ServerProcess, tree: Path, rg_env: dict[str, str],
    arguments: dict[str, Any], rg_args: list[str],
) -> None:
    out = ok(server.call("files", **arguments))
    assert out["files"] == rg(tree, rg_env, *rg_args).splitlines()


def test_files_is_bounded(server: ServerProcess, tree: Path, rg_env: dict[str, str]) -> None:
    everything = rg(tree, rg_env, "--files").splitlines()
    result = server.call("files", max_results=3)
    out = ok(result)
    assert out["files"] == everything[:3]
    assert out["omitted_results"] == len(everything) - 3
    assert f"left out {len(everything) - 3} files" in text(result)


def test_read_returns_numbered_lines(server: ServerProcess, tree: Path) -> None:
    lines = (tree / "src" / "main.py").read_text().splitlines()
    result = server.call("read", path="src/main.py", start_line=3, end_line=4)
    out = ok(result)
    assert out["lines"] == lines[2:4]
    assert (out["start_line"], out["end_line"], out["total_lines"]) == (3, 4, len(lines))
    assert text(result).startswith("     3\tdef main():\n     4\t    print('hello world')")
    assert "start_line=5" in text(result)
    out = ok(server.call("read", path="inside_link.py"))
    assert out["lines"] == lines and not out["truncated"]


def test_a_file_name_that_is_not_utf8(tmp_path: Path, rg_env: dict[str, str]) -> None:
    """JSON text is UTF-8: such a name is shown with `\\xff` escapes (it used to kill the
    server), and `read` takes it back as shown."""
    root = tmp_path / "odd"
    root.mkdir()
    (root / os.fsdecode(b"we\xffird.txt")).write_bytes(b"hello odd\n")
    (root / "plain.txt").write_bytes(b"hello plain\n")
    process = ServerProcess(root, dict(rg_env, PYTHONPATH=str(SRC)))
    try:
        assert shown(ok(process.call("search", pattern="hello"))) == [
            ("plain.txt", 1), ("we\\xffird.txt", 1)]
        assert ok(process.call("count", pattern="odd"))["files"] == [
            {"path": "we\\xffird.txt", "count": 1}]
        assert ok(process.call("files"))["files"] == ["plain.txt", "we\\xffird.txt"]
        assert ok(process.call("read", path="we\\xffird.txt"))["lines"] == ["hello odd"]
    finally:
        process.close()


def test_a_subdirectory_of_an_indexed_tree_matches_globs_from_there(
    tmp_path: Path, rg_env: dict[str, str]
) -> None:
    """Served from a subdirectory of the tree whose index it uses, globs are relative to
    that subdirectory, as rg run there matches them (they were matched from the index's
    root: `pkg/*.py` found nothing)."""
    root = make_tree(tmp_path)
    env = dict(rg_env, PYTHONPATH=str(SRC))
    assert run([sys.executable, "-m", "trigrep.cli", "index", str(root)], root, env).code == 0
    src = root / "src"
    process = ServerProcess(src, env)
    try:
        for glob in ["pkg/*.py", "/main.py", "!pkg/"]:
            expected = rg(src, rg_env, "-c", "--with-filename", "-g", glob, "e").splitlines()
            counted = ok(process.call("count", pattern="e", glob=glob))["files"]
            assert [f"{f['path']}:{f['count']}" for f in counted] == expected, glob
            listed = ok(process.call("files", pattern="e", glob=glob))["files"]
            assert listed == rg(src, rg_env, "-l", "-g", glob, "e").splitlines(), glob
    finally:
        process.close()


def test_read_is_bounded(server: ServerProcess) -> None:
    result = server.call("read", path="many.txt")
    out = ok(result)
    assert out["end_line"] == 150 and not out["truncated"]
    out = ok(server.call("read", path="many.txt", start_line=140, end_line=145))
    assert out["lines"] == [f"hit {i}" for i in range(139, 145)]
    result = server.call("read", path="wide.txt")
    out = ok(result)
    assert out["truncated"] and out["end_line"] < 90
    assert f"start_line={out['end_line'] + 1}" in out["hint"]


def test_results_follow_edits(server: ServerProcess, tree: Path) -> None:
    fresh = tree / "fresh"
    fresh.mkdir()
    target = fresh / "new.py"
    target.write_text("before_edit = 1\n")
    assert shown(ok(server.call("search", pattern="before_edit"))) == [("fresh/new.py", 1)]
    target.write_text("x = 0\nafter_edit = 2\n")
    assert shown(ok(server.call("search", pattern="after_edit"))) == [("fresh/new.py", 2)]
    error(server.call("search", pattern="before_edit"))


@pytest.mark.parametrize(("tool", "arguments", "message"), [
    ("search", {"pattern": "a("}, "fixed_strings=true"),
    ("count", {"pattern": "[z-a]"}, "regex parse error"),
    ("files", {"pattern": "(?P<"}, "regex parse error"),
    ("search", {"pattern": "no_such_text_anywhere"}, "No matches for"),
    ("count", {"pattern": "no_such_text_anywhere", "glob": "*.py"}, "wider path/glob/type"),
    ("files", {"glob": "*.nothing"}, "No files match"),
    ("search", {"pattern": "x", "type": "nosuchtype"}, "unrecognized file type"),
    ("files", {"glob": "a{"}, "error parsing glob"),
    ("search", {"pattern": "x", "path": "missing"}, "no such file or directory"),
    ("read", {"path": "src"}, "is a directory"),
    ("read", {"path": "blob.bin"}, "binary file"),
    ("read", {"path": "src/main.py", "start_line": 50}, "has only 9 lines"),
    ("search", {"pattern": "x", "max_results": 0}, "max_results"),
])
def test_errors_are_tool_errors(
    server: ServerProcess, tool: str, arguments: dict[str, Any], message: str
) -> None:
    assert message in error(server.call(tool, **arguments))


@pytest.mark.parametrize("path", [
    "../outside", "../outside/secret.txt", "src/../../outside/secret.txt", "escape_dir",
    "escape_dir/secret.txt", "escape_file", "/etc/passwd", "OUTSIDE_ABSOLUTE",
])
@pytest.mark.parametrize("tool", ["search", "count", "files", "read"])
def test_paths_outside_the_root_are_refused(
    server: ServerProcess, tree: Path, tool: str, path: str
) -> None:
    if path == "OUTSIDE_ABSOLUTE":
        path = str(tree.parent / "outside" / "secret.txt")
    arguments: dict[str, Any] = {"path": path}
    if tool in ("search", "count"):
        arguments["pattern"] = "secret"
    message = error(server.call(tool, **arguments))
    assert "outside the tree" in message or "relative to the root" in message
    assert "hello secret" not in message


def test_walks_never_leave_the_root(server: ServerProcess) -> None:
    listed = ok(server.call("files"))["files"]
    assert not any(p.startswith(("escape", "../")) for p in listed)
    error(server.call("search", pattern="secret"))


def test_server_survives_all_of_the_above(server: ServerProcess) -> None:
    assert ok(server.call("count", pattern="hello"))["total_files"] >= 1


class Served:
    """A tree served by a real daemon, with an MCP server that uses it and one that may not."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        started = run([sys.executable, "-m", "trigrep.cli", "serve", "--detach", str(root)],
                      root, env)
        assert started.code == 0, started.err
        self.via_daemon = ServerProcess(root, env)
        self.local = ServerProcess(root, dict(env, TRIGREP_NO_DAEMON="1"))

    def daemon_searches(self) -> int:
        status = run([sys.executable, "-m", "trigrep.cli", "status", "--json", str(self.root)],
                     self.root, self.env)
        assert status.code == 0, status.err
        return json.loads(status.out)["roots"][0]["searches"]

    def close(self) -> None:
        self.via_daemon.close()
        self.local.close()
        run([sys.executable, "-m", "trigrep.cli", "stop", str(self.root)], self.root, self.env)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("served")
    root = make_tree(base)
    (base / "home" / ".config").mkdir(parents=True)
    # HOME and XDG_CONFIG_HOME must be the daemon's, or it declines (git's global excludes).
    env = dict(isolated_env(base / "home"), PYTHONPATH=str(SRC))
    tree_served = Served(root, env)
    yield tree_served
    tree_served.close()


# Every call reaches the daemon (failures too: they are then rerun locally for typed errors).
DAEMON_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search", {"pattern": "hello"}),
    ("search", {"pattern": "hello", "ignore_case": True, "context": 2}),
    ("search", {"pattern": "HELLO", "smart_case": True, "ignore_case": True, "glob": "*.py"}),
    ("search", {"pattern": "hello", "word_regexp": True, "type": ["py", "md"], "path": "src"}),
    ("search", {"pattern": "a=1;v", "fixed_strings": True}),
    ("search", {"pattern": "hit", "max_results": 7}),
    ("search", {"pattern": "wide", "max_results": 1000}),
    ("search", {"pattern": "return", "path": "src/main.py", "context": 1}),
    ("count", {"pattern": "hello", "ignore_case": True}),
    ("count", {"pattern": "hit|wide", "max_results": 1}),
    ("files", {}),
    ("files", {"path": "src", "glob": "src/pkg/*"}),
    ("search", {"pattern": "hello", "iglob": "*.MD"}),
    ("count", {"pattern": "hello", "glob": "!*.py", "iglob": ["*.md"]}),
    ("files", {"iglob": "DOCS/*"}),
    ("files", {"type": "py", "max_results": 1}),
    ("files", {"pattern": "hello", "ignore_case": True}),
    ("search", {"pattern": "a("}),
    ("count", {"pattern": "no_such_text_anywhere"}),
    ("search", {"pattern": "x", "type": "nosuchtype"}),
    ("files", {"glob": "a{"}),
]


def test_daemon_answers_exactly_as_the_index(served: Served) -> None:
    before = served.daemon_searches()
    for tool, arguments in DAEMON_CALLS:
        answer = served.via_daemon.call(tool, **arguments)
        expected = served.local.call(tool, **arguments)
        assert (answer.is_error, text(answer), answer.structured_content) == \
            (expected.is_error, text(expected), expected.structured_content), (tool, arguments)
    assert served.daemon_searches() - before == len(DAEMON_CALLS)


def test_daemon_answers_as_rg(served: Served) -> None:
    result = served.via_daemon.call("search", pattern="hello", ignore_case=True, context=1)
    assert text(result) + "\n" == rg(served.root, served.env, "--heading", "-n", "-i", "-C1",
                                      "hello")
    assert shown(ok(result)) == rg_matches(served.root, served.env, "-i", "hello")
    listed = ok(served.via_daemon.call("files"))["files"]
    assert listed == rg(served.root, served.env, "--files").splitlines()


def test_daemon_counts_as_rg_c(served: Served) -> None:
    """The daemon answers `count` with its `-c` output, not with a JSON message for every
    match (a pattern matching every line of the stdlib, `M{0,2}`, took minutes)."""
    for arguments, rg_args in [({"pattern": "M{0,2}"}, ["M{0,2}"]),
                               ({"pattern": "hello", "path": "src/main.py"},
                                ["hello", "src/main.py"])]:
        out = ok(served.via_daemon.call("count", **arguments))
        counted = rg(served.root, served.env, "-c", "--with-filename", *rg_args)
        assert [f"{f['path']}:{f['count']}" for f in out["files"]] == counted.splitlines()


def test_daemon_results_follow_edits(served: Served) -> None:
    target = served.root / "src" / "pkg" / "util.py"
    before = served.daemon_searches()
    target.write_text("def helper(x):\n    return edited_now(x)\n")
    out = ok(served.via_daemon.call("search", pattern="edited_now"))
    assert shown(out) == [("src/pkg/util.py", 2)]
    error(served.via_daemon.call("search", pattern="TODO: hello"))
    assert served.daemon_searches() - before == 2


def test_a_big_tree_gets_a_daemon_whose_answers_the_tools_use(tmp_path: Path) -> None:
    """As a search of the CLI does, the server starts a daemon for a big tree (here: of 2 files
    or more), and the calls after go to it: each call without one walked and stat'ed the
    whole tree (1.3-1.6 s for the Linux tree's, under a load of 5)."""
    root = make_tree(tmp_path)
    (tmp_path / "home" / ".config").mkdir(parents=True)
    env = dict(isolated_env(tmp_path / "home"), PYTHONPATH=str(SRC), TRIGREP_AUTO_SERVE="2")
    cli = [sys.executable, "-m", "trigrep.cli"]
    server = ServerProcess(root, env)
    try:
        expected = ok(server.call("search", pattern="hello"))
        deadline = time.monotonic() + CALL_TIMEOUT
        while json.loads(run([*cli, "status", "--json"], root, env).out).get("served") is not True:
            assert time.monotonic() < deadline, "no daemon was started"
            time.sleep(0.05)
        status = json.loads(run([*cli, "status", "--json"], root, env).out)
        before = status["roots"][0]["searches"]
        assert ok(server.call("search", pattern="hello")) == expected
        status = json.loads(run([*cli, "status", "--json"], root, env).out)
        assert status["roots"][0]["searches"] == before + 1
    finally:
        server.close()
        run([*cli, "stop"], root, env)


def test_a_stopped_daemon_hangs_no_tool(served: Served) -> None:
    """A daemon stopped (Ctrl-Z, SIGSTOP) takes no search: the tools answer from the index
    once it has not taken the search within the CLI's ACCEPT_TIMEOUT."""
    pid = json.loads((served.root / ".trigrep" / "daemon.json").read_bytes())["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        answer = served.via_daemon.call("search", pattern="hello")
    finally:
        os.kill(pid, signal.SIGCONT)
    expected = served.local.call("search", pattern="hello")
    assert answer.structured_content == expected.structured_content


def test_daemon_counts_and_lists_odd_files_as_the_index(served: Served) -> None:
    """A walked file with a NUL after its match (rg -c leaves it out) and a name holding a
    newline (rg --files cannot tell it from two names: the listing is then walked here)."""
    odd = [served.root / "odd\nname.txt", served.root / "late.bin"]
    odd[0].write_text("hello there\n")
    odd[1].write_bytes(b"hello\n" + b"x" * 70_000 + b"\0\n")
    try:
        for tool, arguments in [("count", {"pattern": "hello"}), ("files", {})]:
            answer = served.via_daemon.call(tool, **arguments)
            expected = served.local.call(tool, **arguments)
            assert answer.structured_content == expected.structured_content, tool
        counted = ok(served.via_daemon.call("count", pattern="hello"))
        assert "late.bin" not in json.dumps(counted)
        assert "odd\nname.txt" in ok(served.via_daemon.call("files"))["files"]
    finally:
        for path in odd:
            path.unlink()
