"""`kbcli mcp`: the indexes as MCP tools and resources, on the official SDK (PyPI `mcp`).

Tools answer with bounded text (`max_chars`); failures are MCP tool errors carrying the CLI's
one-line message, and the server keeps serving. Work runs in threads (at most one per core), so a
slow query does not hold up the others or the protocol.
"""

# No `from __future__ import annotations`: the SDK reads these signatures (with Field texts
# built from the limits) to write the tools' JSON schemas.
from typing import Annotated, Any, Callable, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import Resource, ResourceTemplate, ToolAnnotations
from pydantic import Field

from kbcli import __version__
from kbcli.errors import IndexNotFound, KbError
from kbcli.servers.service import SCHEME, IndexService

INSTRUCTIONS = (
    "Private document search over the user's indexed PDFs and Word files (offline). Use `search` "
    "to find passages that answer a question; each hit names its file, page and chunk_id. Quote "
    "and cite them (file, page). Use `get_passage` for the text around a hit and `get_page` for "
    "a whole PDF page. `list_indexes` says what is indexed. Answers are cut to `max_chars`."
)
READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)

Index = Annotated[
    str | None,
    Field(description="Index to use (see list_indexes). May be left out when only one index is served."),
]


def _max_chars(service: IndexService) -> Any:
    limits = service.limits
    return Annotated[
        int | None,
        Field(description=f"Budget for the returned text in characters (default {limits.default_max_chars}, "
                          f"{limits.min_chars_per_hit}-{limits.max_chars}). Passages are cut at sentence ends, marked …"),
    ]


class KbcliMCP(MCPServer):
    """MCPServer whose resources are the indexed files, listed afresh on each request."""

    def __init__(self, service: IndexService, run: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self._run = run

    async def list_resources(self) -> list[Resource]:
        documents = await self._run(self.service.documents)
        return [
            Resource(uri=d["uri"], name=d["name"], title=d["title"] or None, mime_type="text/plain",
                     description=f"{d['pages']} pages; read one as {d['uri']}#page=N" if d["pages"] else "indexed text")
            for d in documents
        ]

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        return [ResourceTemplate(
            uri_template=f"{SCHEME}://{{index}}/{{+path}}", name="indexed file", mime_type="text/plain",
            description="An indexed file's stored text (its beginning); add #page=N for one PDF page.")]

    async def read_resource(self, uri: Any, context: Any = None) -> list[ReadResourceContents]:
        try:
            text = await self._run(self.service.document, str(uri))
        except IndexNotFound as err:
            raise ResourceNotFoundError(str(err)) from None
        except KbError as err:
            raise ResourceError(str(err)) from None
        return [ReadResourceContents(content=text, mime_type="text/plain")]


def build_server(service: IndexService, workers: int) -> KbcliMCP:
    limiter = anyio.CapacityLimiter(max(1, workers))

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args), limiter=limiter)

    async def call(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await run(fn, *args)
        except KbError as err:
            raise ToolError(str(err)) from None

    server = KbcliMCP(service, run, name="kbcli", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    MaxChars = _max_chars(service)
    limits = service.limits

    @server.tool(name="search", annotations=READ_ONLY, description=(
        "Find the passages in the user's indexed documents that answer a question or mention a "
        "term. Returns ranked hits (file, page, heading, score, chunk_id, uri) with the best "
        f"sentences of each passage; all hits' text together stays within max_chars (default "
        f"{limits.default_max_chars} characters). Write the question in plain words; exact figures, "
        "names and codes work too (mode=keyword for those alone)."))
    async def search(
        query: Annotated[str, Field(description=f"The question or words to look for (at most {limits.max_query_chars} characters).")],
        index: Index = None,
        top_k: Annotated[int, Field(description=f"How many hits (1-{limits.max_top_k}).")] = 5,
        mode: Annotated[Literal["hybrid", "vector", "keyword"] | None,
                        Field(description="hybrid: meaning and exact words (default); vector: meaning; keyword: BM25 words.")] = None,
        file_glob: Annotated[str | None, Field(description="Only files matching this glob, e.g. '*.pdf' or 'reports/2023*'.")] = None,
        max_chars: MaxChars = None,
    ) -> dict[str, Any]:
        def answer() -> dict[str, Any]:
            result = service.search(query, index, top_k, mode, file_glob)
            return service.result_json(result, max_chars, full_text=False)

        return await call(answer)

    @server.tool(name="get_passage", annotations=READ_ONLY, description=(
        "The text of one hit (by the chunk_id that search returned) with the passages just before "
        "and after it: use it when a hit's text was cut or starts mid-thought."))
    async def get_passage(
        chunk_id: Annotated[int, Field(description="A chunk_id from search.")],
        index: Index = None,
        neighbours: Annotated[int, Field(description=f"Chunks to add on each side (0-{limits.max_neighbours}).")] = 1,
        max_chars: MaxChars = None,
    ) -> dict[str, Any]:
        return await call(service.passage, chunk_id, index, neighbours, max_chars)

    @server.tool(name="get_page", annotations=READ_ONLY, description=(
        "The text of one page of an indexed PDF, by file and page number as search shows them."))
    async def get_page(
        file: Annotated[str, Field(description="The file: its path as search returned it, the path below its folder, or its name.")],
        page: Annotated[int, Field(description="Page number, 1 being the first.")],
        index: Index = None,
        max_chars: MaxChars = None,
    ) -> dict[str, Any]:
        return await call(service.page, file, page, index, max_chars)

    @server.tool(name="list_indexes", annotations=READ_ONLY, description=(
        "The document indexes this server searches, with their file, page and chunk counts."))
    async def list_indexes() -> dict[str, Any]:
        return {"indexes": await call(service.list_indexes)}

    @server.tool(name="index_info", annotations=READ_ONLY, description=(
        "One index in detail: its source folders, model, counts, last update, and its files "
        "(path, uri, pages)."))
    async def index_info(index: Index = None) -> dict[str, Any]:
        return await call(service.info, index)

    return server


def serve_stdio(service: IndexService, workers: int) -> None:
    build_server(service, workers).run("stdio")
