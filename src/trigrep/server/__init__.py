"""Long-running front ends to trigrep: the MCP server for AI agents (`mcp.py`) and the
`trigrep serve` daemon keeping trees' walks and indexes warm (`daemon.py`, the socket
server; each tree it serves in `tree.py`, with its inotify watcher in `watch.py` and its
background index updates in `updater.py`; its socket protocol in `protocol.py`, its lock
and record on each tree in `claim.py`).

The CLI's search path imports only `client.py`, `protocol.py`, `wire.py` (the protocol's
JSON) and `trigrep.roots` (where the daemon's record is), which load nothing beyond
`_socket`, to find a daemon; `trigrep mcp` loads `mcp.py` (and the `mcp` SDK) only when that
subcommand runs.
"""
