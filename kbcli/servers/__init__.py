"""kbcli for programs: one search core (`service`) behind an MCP server and a local HTTP API."""
