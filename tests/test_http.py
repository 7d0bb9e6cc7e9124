"""`kbcli serve`: the local HTTP JSON API, run as a real server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from http_server import wait_until_serving

from tests.conftest import ROOT, SAMPLE_DOCS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(cli, tmp_path: Path):
    """`kbcli serve docs --token s3cret` on a free loopback port; yields (base url, headers)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("caldera_aurora_espresso_manual.pdf", "kestrel_managed_it_services_agreement.docx"):
        shutil.copy(SAMPLE_DOCS / name, folder / name)
    cli("index", folder, "--name", "docs", "-q")
    port = _free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "kbcli", "serve", "docs", "--port", str(port), "--token", "s3cret"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(process, base)
        yield base, {"Authorization": "Bearer s3cret"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_search_chunks_pages_and_errors(cli, server) -> None:
    base, auth = server
    question = "service level response time for critical incidents"
    expected = cli.json("query", "docs", question, "--json", "--top-k", "4")
    found = httpx.post(f"{base}/v1/indexes/docs/search", json={"query": question, "top_k": 4}, headers=auth)
    assert found.status_code == 200, found.text
    data = found.json()
    extra = {"uri", "snippet", "highlight", "cut"}
    assert [{k: v for k, v in h.items() if k not in extra} for h in data["hits"]] == [
        {k: v for k, v in h.items() if k != "snippet"} for h in expected["hits"]  # snippet: within max_chars here
    ]  # full text kept
    assert all(h["snippet"] and h["uri"].startswith("kbcli://docs/") for h in data["hits"])
    assert {k: data[k] for k in ("index", "query", "mode", "expanded")} == {k: expected[k] for k in ("index", "query", "mode", "expanded")}

    hit = expected["hits"][0]
    chunk = httpx.get(f"{base}/v1/indexes/docs/chunks/{hit['chunk_id']}", params={"neighbours": 2}, headers=auth).json()
    assert chunk["file"] == hit["file"] and chunk["text"][:100] in hit["text"]

    pdf = next(f for f in httpx.get(f"{base}/v1/indexes/docs", headers=auth).json()["files_list"] if f["pages"])
    page = httpx.get(f"{base}/v1/indexes/docs/page", params={"file": pdf["path"], "page": 2}, headers=auth)
    assert page.status_code == 200 and page.json()["page"] == 2 and page.json()["text"]

    listed = httpx.get(f"{base}/v1/indexes", headers=auth).json()["indexes"]
    assert [i["name"] for i in listed] == ["docs"] and listed[0]["files"] == 2
    spec = httpx.get(f"{base}/openapi.json", headers=auth).json()
    assert spec["openapi"].startswith("3.") and "/v1/indexes/{name}/search" in spec["paths"]

    def status(method: str, path: str, **kwargs) -> tuple[int, str]:
        response = httpx.request(method, f"{base}{path}", headers=auth, **kwargs)
        return response.status_code, response.json().get("error", "")

    code, message = status("POST", "/v1/indexes/nope/search", json={"query": "x"})
    assert code == 404 and "index 'nope' is not served here" in message
    assert status("POST", "/v1/indexes/docs/search", json={"query": ""}) == (400, "the question is empty")
    code, message = status("POST", "/v1/indexes/docs/search", json={"query": "x", "top_k": 10**6})
    assert code == 400 and "top_k must be" in message
    code, message = status("POST", "/v1/indexes/docs/search", content=b'{"query": "' + b"a" * 100_000 + b'"}')
    assert code == 413
    assert status("POST", "/v1/indexes/docs/search", json={"query": "x", "shell": "rm"})[0] == 400
    assert status("POST", "/v1/indexes/docs/search", content=b"not json")[0] == 400
    code, message = status("GET", "/v1/indexes/docs/page", params={"file": "/etc/passwd", "page": 1})
    assert code == 400 and "no file '/etc/passwd'" in message
    assert httpx.post(f"{base}/v1/indexes/docs/search", json={"query": "x"}, headers=auth).status_code == 200  # still serving


def test_token_is_required_and_checked(server) -> None:
    base, auth = server
    assert httpx.get(f"{base}/v1/indexes").status_code == 401
    assert httpx.get(f"{base}/v1/indexes", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/v1/indexes", headers=auth).status_code == 200
    assert httpx.get(f"{base}/healthz").status_code == 200  # liveness only, no data
    assert "access-control-allow-origin" not in httpx.get(f"{base}/v1/indexes", headers=auth | {"Origin": "http://evil.example"}).headers


def test_concurrent_clients_all_succeed(server) -> None:
    base, auth = server
    questions = ["descaling the machine", "termination notice", "grinder settings", "uptime credits", "water hardness"]
    failures: list[str] = []

    def client(number: int) -> None:
        with httpx.Client(base_url=base, headers=auth, timeout=60) as http:
            for i in range(20):
                response = http.post("/v1/indexes/docs/search", json={"query": questions[(number + i) % len(questions)], "top_k": 3})
                if response.status_code != 200 or not response.json()["hits"]:
                    failures.append(f"{response.status_code} {response.text[:200]}")

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "searches did not finish in time"
    assert failures == []
    assert time.monotonic() - started < 240


def test_refuses_to_listen_beyond_loopback_without_a_token(cli, monkeypatch) -> None:
    monkeypatch.delenv("KBCLI_TOKEN", raising=False)
    result = cli("serve", "--host", "0.0.0.0", "--port", "9", code=2)  # refused before binding anything
    assert "give --token (or set KBCLI_TOKEN)" in result.stderr
