"""Long-running front ends to trigrep (the MCP server for AI agents).

Nothing here is imported by the CLI's search path: `trigrep mcp` loads `trigrep.server.mcp`
(and the `mcp` SDK) only when that subcommand runs.
"""
