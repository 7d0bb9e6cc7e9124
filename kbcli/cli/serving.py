"""`kbcli mcp` and `kbcli serve`: the indexes for programs (AI assistants over MCP, HTTP JSON).

The MCP SDK, Starlette and uvicorn are imported inside the commands: `kbcli --help` stays instant.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from kbcli.cli.invocation import Invocation, current
from kbcli.cli.options import RerankOpt
from kbcli.errors import UsageError
from kbcli.servers.service import IndexService

ServedArg = Annotated[
    Optional[list[str]], typer.Argument(metavar="[NAME]...", help="Indexes to serve (default: all).", show_default=False)
]
TokenOpt = Annotated[
    Optional[str],
    typer.Option("--token", metavar="TOKEN",
                 help="Clients must send 'Authorization: Bearer TOKEN' ($KBCLI_TOKEN does the same, unseen by ps). Required off 127.0.0.1."),
]
CorsOpt = Annotated[Optional[str], typer.Option("--cors", metavar="ORIGIN", help="Let web pages from ORIGIN call the API (default: none).")]
HttpOpt = Annotated[
    Optional[str],
    typer.Option("--http", metavar="[HOST:]PORT", help="Serve MCP's streamable HTTP at http://HOST:PORT/mcp instead of stdio."),
]


def _service(run: Invocation, names: list[str] | None, rerank_model: object) -> IndexService:
    """The search core for `mcp` and `serve`: the model loaded and the first index opened now."""
    service = IndexService(run.kb(rerank_model=rerank_model), names or ())
    service.warm_up()
    return service


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--http {address!r}: give PORT or HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def mcp(
    ctx: typer.Context,
    names: ServedArg = None,
    http: HttpOpt = None,
    token: TokenOpt = None,
    rerank_model: RerankOpt = None,
) -> None:
    """Serve the indexes to AI assistants over MCP (stdio by default): search, passages, pages.

    Read-only; the model loads once; refreshes show up in the next call. See the README's
    "For programs" section for Claude Desktop, Claude Code and Cursor configuration.

    Examples:
      claude mcp add kbcli -- kbcli mcp work
      kbcli mcp --http 8765
    """
    from kbcli.servers.http_api import build_app, check_exposure, serve as run_http
    from kbcli.servers.mcp_server import serve_stdio

    run = current(ctx)
    address = _host_port(http) if http else None
    secret = (token or run.settings.servers.token) if address else None
    if address:
        check_exposure(address[0], secret)
    service = _service(run, names, rerank_model)
    workers = os.cpu_count() or 1
    try:
        if address is None:
            serve_stdio(service, workers)
        else:
            run_http(build_app(service, workers, token=secret, api=False, mcp=True, host=address[0]), *address)
    finally:
        service.close()


def serve(
    ctx: typer.Context,
    names: ServedArg = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but 127.0.0.1 needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8765,
    token: TokenOpt = None,
    cors: CorsOpt = None,
    with_mcp: Annotated[bool, typer.Option("--mcp", help="Also serve MCP's streamable HTTP transport at /mcp.")] = False,
    rerank_model: RerankOpt = None,
) -> None:
    """A local HTTP JSON API for programs: search (as query --json), chunks, pages, /openapi.json.

    Examples:
      kbcli serve work --port 8765
      curl -s localhost:8765/v1/indexes/work/search -d '{"query": "notice period"}'
    """
    from kbcli.servers.http_api import build_app, check_exposure, serve as run_http

    run = current(ctx)
    secret = token or run.settings.servers.token
    check_exposure(host, secret)
    service = _service(run, names, rerank_model)
    workers = os.cpu_count() or 1
    served = ", ".join(service.names()) or "no indexes yet"
    run.output.note(f"kbcli: serving {served} on http://{host}:{port}" + (" (MCP at /mcp)" if with_mcp else ""))
    try:
        run_http(build_app(service, workers, token=secret, cors=cors, mcp=with_mcp, host=host), host, port)
    finally:
        service.close()
