"""`kbcli mcp` driven by the official SDK's own client, over stdio and streamable HTTP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import ROOT, SAMPLE_DOCS, word_file

TOOLS = {"search", "get_passage", "get_page", "list_indexes", "index_info"}


@pytest.fixture
def docs_index(cli, tmp_path: Path) -> tuple[str, Path]:
    """A small index (one PDF, one Word file) whose source folder the test may add to."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("caldera_aurora_espresso_manual.pdf", "meridian_corporate_travel_policy.docx"):
        shutil.copy(SAMPLE_DOCS / name, folder / name)
    cli("index", folder, "--name", "docs", "-q")
    return "docs", folder


def _env() -> dict[str, str]:
    return {k: os.environ[k] for k in ("KBCLI_HOME", "KBCLI_CACHE")} | {"PYTHONPATH": str(ROOT)}


def _query_json(cli, name: str, question: str, *args: str) -> dict:
    return cli.json("query", name, question, "--json", *args)


def _same_hits(tool_hits: list[dict], cli_hits: list[dict]) -> None:
    extra = {"uri", "highlight", "cut"}
    assert all("snippet" in h for h in cli_hits)  # MCP's `text` is the snippet, within max_chars
    assert [{k: v for k, v in h.items() if k not in extra} for h in tool_hits] == [
        {k: v for k, v in h.items() if k != "snippet"} for h in cli_hits
    ]
    assert all(h["uri"].startswith("kbcli://") for h in tool_hits)


async def _call(session: ClientSession, tool: str, **arguments) -> dict:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def _error(session: ClientSession, tool: str, **arguments) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    return result.content[0].text


def test_stdio_session_searches_reads_and_follows_a_refresh(cli, docs_index) -> None:
    name, folder = docs_index
    question = "how often to descale the espresso machine"
    expected = _query_json(cli, name, question, "--top-k", "4")
    keyword = _query_json(cli, name, "per diem meals", "--top-k", "3", "--mode", "keyword")
    # A damaged second index: the server must report it and keep serving the good one.
    shutil.copytree(Path(os.environ["KBCLI_HOME"]) / "indexes" / name, Path(os.environ["KBCLI_HOME"]) / "indexes" / "broken")
    (Path(os.environ["KBCLI_HOME"]) / "indexes" / "broken" / "index.sqlite").write_bytes(b"not a database" * 100)

    async def session_run() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "kbcli", "mcp"], env=_env())
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            assert all(t.description and t.input_schema["type"] == "object" for t in tools.values())
            assert "8000" in tools["search"].description  # the default budget is stated

            found = await _call(session, "search", query=question, index=name, top_k=4, max_chars=100_000)
            _same_hits(found["hits"], expected["hits"])
            found = await _call(session, "search", query="per diem meals", index=name, top_k=3, mode="keyword", max_chars=100_000)
            _same_hits(found["hits"], keyword["hits"])

            bounded = await _call(session, "search", query=question, index=name, top_k=4, max_chars=800)
            assert sum(len(h["text"]) for h in bounded["hits"]) <= 800
            assert [h["chunk_id"] for h in bounded["hits"]] == [h["chunk_id"] for h in expected["hits"]]
            assert any(h["cut"] for h in bounded["hits"])

            only_docx = await _call(session, "search", query=question, index=name, file_glob="*.docx")
            assert only_docx["hits"] and all(h["file"].endswith(".docx") for h in only_docx["hits"])

            await _reads(session, name, expected["hits"][0])
            await _hostile(session, name)

            # A refresh that adds a file during the session is visible to the next call.
            word_file(folder / "zephyr_fleet_memo.docx", "The Zephyrquill fleet renewal starts in March.")
            cli("refresh", name, "-q")
            fresh = await _call(session, "search", query="Zephyrquill fleet renewal", index=name, top_k=1)
            assert fresh["hits"][0]["file"].endswith("zephyr_fleet_memo.docx")

    anyio.run(session_run)


async def _reads(session: ClientSession, name: str, hit: dict) -> None:
    passage = await _call(session, "get_passage", chunk_id=hit["chunk_id"], index=name, neighbours=1)
    assert passage["file"] == hit["file"] and passage["page"] == hit["page"]
    assert passage["text"][:100] in hit["text"]  # the hit's own chunk
    assert passage["before"] or passage["after"]

    page = await _call(session, "get_page", file=Path(hit["file"]).name, page=hit["page"], index=name)
    assert page["page"] == hit["page"] and page["text"]
    assert passage["text"][:100] in page["text"]  # the cited chunk is on the page

    small = await _call(session, "get_page", file=hit["file"], page=hit["page"], index=name, max_chars=300)
    assert len(small["text"]) <= 300 and small["cut"]

    resources = (await session.list_resources()).resources
    uris = {str(r.uri) for r in resources}
    pdf_uri = next(u for u in uris if u.endswith(".pdf") and f"//{name}/" in u)
    read = await session.read_resource(f"{pdf_uri}#page={hit['page']}")
    assert page["text"][:200] in read.contents[0].text

    indexes = (await _call(session, "list_indexes"))["indexes"]
    assert {i["name"] for i in indexes} == {name, "broken"}
    assert next(i for i in indexes if i["name"] == "broken")["error"]
    info = await _call(session, "index_info", index=name)
    assert info["files"] == 2 and len(info["files_list"]) == 2


async def _hostile(session: ClientSession, name: str) -> None:
    assert "no index named 'nope'" in await _error(session, "search", query="descale", index="nope")
    assert "the question is empty" in await _error(session, "search", query="   ", index=name)
    assert "top_k must be" in await _error(session, "search", query="descale", index=name, top_k=10**6)
    assert "characters long" in await _error(session, "search", query="descale " * 20_000, index=name)
    assert "no file '/etc/passwd'" in await _error(session, "get_page", file="/etc/passwd", page=1, index=name)
    assert "out of range" in await _error(session, "get_page", file="caldera_aurora_espresso_manual.pdf", page=999, index=name)
    assert "no chunk" in await _error(session, "get_passage", chunk_id=10**9, index=name)
    assert "cannot be read" in await _error(session, "search", query="descale", index="broken")
    assert "name an index" in await _error(session, "search", query="descale")  # two are served
    with pytest.raises(Exception):
        await session.read_resource(f"kbcli://{name}/etc/passwd")
    still = await _call(session, "search", query="descale", index=name, top_k=1)
    assert still["hits"]  # the server kept serving


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else "server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the server did not start listening")


def test_streamable_http_with_token(cli, docs_index) -> None:
    name, _ = docs_index
    question = "water filter replacement"
    expected = _query_json(cli, name, question, "--top-k", "3")
    port = _free_port()
    env = os.environ | _env()
    command = [sys.executable, "-m", "kbcli", "mcp", name, "--http", f"127.0.0.1:{port}", "--token", "s3cret"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(port, process)

        @asynccontextmanager
        async def connect(token: str):
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
            async with client, streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=client) as (r, w):
                async with ClientSession(r, w) as session:
                    await session.initialize()
                    yield session

        async def run() -> None:
            async with connect("s3cret") as session:
                assert {t.name for t in (await session.list_tools()).tools} == TOOLS
                found = await _call(session, "search", query=question, top_k=3, max_chars=100_000)
                _same_hits(found["hits"], expected["hits"])
                assert "is not served here" in await _error(session, "search", query="x", index="other")

        anyio.run(run)
        import httpx

        refused = httpx.post(f"http://127.0.0.1:{port}/mcp", json={}, headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_mcp_http_off_loopback_needs_a_token(cli, monkeypatch) -> None:
    monkeypatch.delenv("KBCLI_TOKEN", raising=False)
    result = cli("mcp", "--http", "0.0.0.0:9", code=2)
    assert "give --token" in result.stderr
    assert "give PORT or HOST:PORT" in cli("mcp", "--http", "nine", code=2).stderr
