"""`kbcli serve`: a small local HTTP JSON API on the search core (Starlette + uvicorn).

Bound to 127.0.0.1 unless told otherwise; with a token every request but /healthz needs
`Authorization: Bearer TOKEN`; no CORS unless an origin is given; bodies and `top_k` bounded.
`mcp=True` also mounts MCP's streamable HTTP transport at /mcp (`kbcli serve --mcp`, `kbcli mcp --http`).
"""

from __future__ import annotations

import contextlib
import hmac
import json
from typing import Any, Callable

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from kbcli import __version__
from kbcli.errors import IndexNotFound, KbError, UsageError
from kbcli.servers.openapi import document as openapi_document
from kbcli.servers.service import IndexService

MAX_BODY = 64 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = ("/healthz",)
_SEARCH_FIELDS = {"query", "top_k", "mode", "file_glob", "max_chars"}


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token (before anything binds)."""
    if host not in LOOPBACK and not token:
        raise UsageError(f"listening on {host} lets other machines in: give --token (or set KBCLI_TOKEN)")


class BearerAuth:
    """Every request but OPEN_PATHS needs `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(given, self.expected):
            response = JSONResponse({"error": "missing or wrong bearer token"}, 401, {"WWW-Authenticate": "Bearer"})
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def build_app(
    service: IndexService, workers: int, *, token: str | None = None, cors: str | None = None,
    api: bool = True, mcp: bool = False, host: str = "127.0.0.1",
) -> Starlette:
    limiter = anyio.CapacityLimiter(max(1, workers))

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=limiter)

    routes: list[BaseRoute] = [Route("/healthz", lambda _r: JSONResponse({"ok": True, "version": __version__}))]
    if api:
        routes += _api_routes(service, run)
    lifespan = None
    if mcp:
        from kbcli.servers.mcp_server import build_server

        server = build_server(service, workers)
        routes += list(server.streamable_http_app(host=host).routes)

        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette):  # the MCP session manager lives as long as the app
            async with server.session_manager.run():
                yield

    middleware = []
    if cors:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=[cors], allow_methods=["GET", "POST"],
                                     allow_headers=["Authorization", "Content-Type", "Mcp-Session-Id"]))
    if token:
        middleware.append(Middleware(BearerAuth, token=token))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _api_routes(service: IndexService, run: Callable[..., Any]) -> list[BaseRoute]:
    async def indexes(_request: Request) -> Response:
        return await _answer(lambda: {"indexes": service.list_indexes()}, run)

    async def index(request: Request) -> Response:
        return await _answer(lambda: service.info(request.path_params["name"]), run)

    async def search(request: Request) -> Response:
        fields = await _body(request)
        if isinstance(fields, Response):
            return fields
        name = request.path_params["name"]

        def answer() -> dict[str, Any]:
            result = service.search(fields.get("query", ""), name, fields.get("top_k", 5), fields.get("mode"),
                                    fields.get("file_glob"))
            return service.result_json(result, fields.get("max_chars"), full_text=True)

        return await _answer(answer, run)

    async def chunk(request: Request) -> Response:
        name, query = request.path_params["name"], request.query_params
        return await _answer(lambda: service.passage(
            request.path_params["chunk_id"], name, _integer(query, "neighbours", 1), _integer(query, "max_chars", None)), run)

    async def page(request: Request) -> Response:
        name, query = request.path_params["name"], request.query_params
        return await _answer(lambda: service.page(
            query.get("file", ""), _integer(query, "page", 0), name, _integer(query, "max_chars", None)), run)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(openapi_document(service.limits))

    return [
        Route("/openapi.json", openapi),
        Route("/v1/indexes", indexes),
        Route("/v1/indexes/{name}", index),
        Route("/v1/indexes/{name}/search", search, methods=["POST"]),
        Route("/v1/indexes/{name}/chunks/{chunk_id:int}", chunk),
        Route("/v1/indexes/{name}/page", page),
    ]


async def _body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, refused (413/400) when too large, malformed or with unknown fields."""
    size = request.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY:
        return _error(f"the request body is over {MAX_BODY} bytes", 413)
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            return _error(f"the request body is over {MAX_BODY} bytes", 413)
    try:
        fields = json.loads(body or b"{}")
    except ValueError:
        return _error("the request body is not JSON", 400)
    if not isinstance(fields, dict):
        return _error("the request body must be a JSON object", 400)
    unknown = set(fields) - _SEARCH_FIELDS
    if unknown:
        return _error(f"unknown fields {', '.join(sorted(unknown))} (known: {', '.join(sorted(_SEARCH_FIELDS))})", 400)
    return fields


def _integer(query, key: str, default: int | None) -> int | None:
    raw = query.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{key} must be a whole number (got {raw!r})") from None


async def _answer(fn: Callable[[], Any], run: Callable[..., Any]) -> Response:
    try:
        return JSONResponse(await run(fn))
    except IndexNotFound as err:
        return _error(str(err), 404)
    except KbError as err:
        return _error(str(err), 400)


def _error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status)


def serve(app: Starlette, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
