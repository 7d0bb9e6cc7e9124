"""The PostgreSQL store (kbcli/store/pg/): the same commands and guarantees as the embedded one,
on a real server with pgvector (tests/pg_server.py): same hits, refreshes that add, delete and
rename, one writer (exit 4), a kill -9 mid-refresh, readers during a refresh, no password shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from http_server import wait_until_serving

from conftest import SAMPLE_DOCS, TEST_MODEL, Cli
from pg_server import PASSWORD, with_database

from kbcli.kb import KnowledgeBase
from kbcli.settings import defaults, with_overrides
from kbcli.store.location import PgLocation, open_writer

KBCLI = [sys.executable, "-m", "kbcli"]
QUESTIONS = [
    "How do I descale the espresso machine?",
    "What was Northwind's revenue in 2023?",
    "How many days of annual leave can I carry over?",
    "notice period to terminate the contract",
    "hotel limit per night in Shanghai",
    "solar panel degradation rate per year",
]


def _topic_file(folder: Path, topic: str, version: int = 0, paragraphs: int = 3) -> Path:
    path = folder / f"{topic}.txt"
    path.write_text("\n\n".join(
        f"The {topic} survey, revision {version}, section {i}: observers recorded conditions near the {topic} "
        f"and compared them with earlier seasons. Measurements from station {i} were archived for review."
        for i in range(paragraphs)
    ))
    return path


def _chunks_mentioning(url: str, word: str) -> int:
    with psycopg.connect(url) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kbcli\\_%'")]
        return sum(conn.execute(f"SELECT count(*) FROM {s}.chunks WHERE text LIKE %s", (f"%{word}%",)).fetchone()[0] for s in schemas)


@pytest.fixture(scope="module")
def pg_sample(pg_server: str, tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> str:
    """sample_docs/ indexed once into a database of its own (through the real CLI)."""
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS kbcli_sample")
        conn.execute("CREATE DATABASE kbcli_sample")
    url = with_database(pg_server, "kbcli_sample", PASSWORD)
    mp = pytest.MonkeyPatch()
    mp.setenv("KBCLI_HOME", str(tmp_path_factory.mktemp("pg-home")))
    mp.setenv("KBCLI_CACHE", str(model_cache))
    mp.setenv("KBCLI_MODEL", TEST_MODEL)  # the model of the embedded `sample_index` it is compared with
    try:
        Cli()("index", SAMPLE_DOCS, "--name", "sample", "--store", url, "--json")
    finally:
        mp.undo()
    return url


def _places(found: dict) -> list[tuple[str, int | None, str]]:
    return [(Path(h["file"]).name, h["page"], h["text"][:80]) for h in found["hits"]]


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "vector"])
def test_same_top_hits_as_the_embedded_store(cli: Cli, sample_index: str, pg_sample: str, mode: str) -> None:
    for question in QUESTIONS:
        embedded = cli.json("query", sample_index, question, "--mode", mode, "-k", "3", "--json")
        postgres = cli.json("query", "sample", question, "--mode", mode, "-k", "3", "--json", "--store", pg_sample)
        assert _places(postgres) == _places(embedded), question
        for ours, theirs in zip(postgres["hits"], embedded["hits"]):
            assert ours["score"] == pytest.approx(theirs["score"], abs=2e-3), question


def test_chinese_keywords_match_as_in_the_embedded_store(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "zh"
    docs.mkdir()
    (docs / "capex.txt").write_text("公司二零一八年的资本支出为三亿元，主要用于新建工厂。")
    (docs / "travel.txt").write_text("员工出差时，上海酒店每晚住宿上限是八百元。")
    cli("index", docs, "--name", "zh", "--json")
    cli("index", docs, "--name", "zh", "--store", pg_url, "--json")
    for question in ("資本支出是多少？", "上海酒店每晚住宿上限"):
        embedded = cli.json("query", "zh", question, "--mode", "keyword", "--json")
        postgres = cli.json("query", "zh", question, "--mode", "keyword", "--json", "--store", pg_url)
        assert postgres["hits"] and _places(postgres) == _places(embedded), question
        assert [h["score"] for h in postgres["hits"]] == pytest.approx([h["score"] for h in embedded["hits"]], rel=1e-4)


def test_refresh_adds_deletes_and_keeps_vectors_of_renamed_files(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for topic in ("lighthouse", "glacier", "orchard"):
        _topic_file(docs, topic)
    cli("index", docs, "--name", "r", "--store", pg_url, "--json")
    before = cli.json("query", "r", "orchard survey", "--store", pg_url, "--json", "-k", "1")["hits"][0]
    _topic_file(docs, "volcano")
    (docs / "glacier.txt").unlink()
    (docs / "orchard.txt").rename(docs / "orchard-renamed.txt")
    report = cli.json("refresh", "r", "--store", pg_url, "--json")
    assert (report["added"], report["removed"], report["moved"]) == (1, 1, 1)
    after = cli.json("query", "r", "orchard survey", "--store", pg_url, "--json", "-k", "1")["hits"][0]
    assert after["file"].endswith("orchard-renamed.txt") and after["chunk_id"] == before["chunk_id"]
    assert _chunks_mentioning(pg_url, "glacier") == 0  # deleted, not hidden
    files = [Path(f["path"]).name for f in cli.json("info", "r", "--store", pg_url, "--json", "--files")["files_detail"]]
    assert sorted(files) == ["lighthouse.txt", "orchard-renamed.txt", "volcano.txt"]
    hits = cli.json("query", "r", "glacier", "--mode", "keyword", "--store", pg_url, "--json")["hits"]
    assert not [h for h in hits if "glacier" in h["text"]]


def test_a_second_writer_exits_4(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "harbor")
    cli("index", docs, "--name", "w", "--store", pg_url, "--json")
    writer = open_writer(PgLocation(pg_url, "w"))
    try:
        busy = cli("refresh", "w", "--store", pg_url, code=4)
        assert "being written by another kbcli process" in busy.stderr
    finally:
        writer.close()
    cli("refresh", "w", "--store", pg_url)  # released with the first writer


def _refresh_process(name: str, url: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "KBCLI_STORE": url, **(extra_env or {})}
    return subprocess.Popen(
        [*KBCLI, "refresh", name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def test_kill_9_mid_refresh_leaves_the_last_commit(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "canyon")
    cli("index", docs, "--name", "k", "--store", pg_url, "--json")
    committed = cli.json("info", "k", "--store", pg_url, "--json")
    for topic in ("desert", "meadow", "reef", "tundra", "harbor", "glacier"):
        _topic_file(docs, topic, paragraphs=60)
    proc = _refresh_process("k", pg_url, {"KBCLI_COMMIT_SECONDS": "3600"})  # no periodic commit on a slow machine
    assert proc.stderr is not None
    seen = ""
    while "[2/" not in seen:  # files are going in: the transaction holds rows and vectors
        line = proc.stderr.readline()
        assert line, f"the refresh ended before it was killed: {seen}"
        seen += line
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    now = cli.json("info", "k", "--store", pg_url, "--json")
    assert (now["generation"], now["chunks"], now["files"]) == (committed["generation"], committed["chunks"], 1)
    assert cli.json("query", "k", "canyon survey", "--store", pg_url, "--json")["hits"]
    finished = cli.json("refresh", "k", "--store", pg_url, "--json")  # the lock went with the killed writer
    assert finished["added"] == 6 and cli.json("info", "k", "--store", pg_url, "--json")["files"] == 7


def test_readers_keep_answering_during_a_refresh(cli: Cli, tmp_path: Path, pg_url: str, kbcli_home: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "lighthouse")
    cli("index", docs, "--name", "live", "--store", pg_url, "--json")
    before = cli.json("info", "live", "--store", pg_url, "--json")["chunks"]
    for topic in ("orchard", "volcano", "harbor"):
        _topic_file(docs, topic, paragraphs=40)
    settings = with_overrides(defaults(kbcli_home), paths={"store": pg_url})
    session = KnowledgeBase(settings).session("live", load_model=False)
    seen, problems, stop = [], [], threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                found = session.search("lighthouse survey", 3, with_overrides(settings, search={"mode": "keyword"}).search)
                seen.append((len(found.hits), session.stats().chunks))
            except Exception as err:  # noqa: BLE001 - any failure is what this test looks for
                problems.append(repr(err))

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        proc = _refresh_process("live", pg_url, {"KBCLI_COMMIT_SECONDS": "0"})
        out, err = proc.communicate(timeout=600)
    finally:
        stop.set()
        asking.join()
        session.close()
    assert proc.returncode == 0, err
    after = cli.json("info", "live", "--store", pg_url, "--json")["chunks"]
    assert problems == [] and seen and all(hits > 0 for hits, _ in seen)
    assert {chunks for _, chunks in seen} <= set(range(before, after + 1)) and after > before


def test_the_password_is_never_shown(cli: Cli, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "reef")
    outputs = [cli("index", docs, "--name", "p", "--store", pg_url, "--json")]
    monkeypatch.setenv("KBCLI_STORE", pg_url)
    outputs += [cli("list"), cli("list", "--json"), cli("info", "p"), cli("info", "p", "--json"), cli("sources", "p")]
    outputs += [cli("query", "p", "reef", "--json"), cli("query", "nope", "reef", code=1)]
    listed = json.loads(outputs[2].stdout)
    assert [i["name"] for i in listed["indexes"]] == ["p"] and listed["indexes"][0]["status"] == "ok"
    assert listed["store"].startswith("postgresql://postgres:***@")
    dead = f"postgresql://kb:{PASSWORD}@127.0.0.1:9/kb"
    unreachable = cli("list", "--store", dead, code=1)
    assert unreachable.stderr.count("\n") == 1 and "cannot use the PostgreSQL store" in unreachable.stderr
    outputs += [unreachable, cli("query", "p", "reef", "--store", dead, code=1)]
    for result in outputs:
        assert PASSWORD not in result.stdout + result.stderr
    assert "Traceback" not in "".join(r.stderr for r in outputs)


def test_remove_drops_everything_and_embedded_only_commands_refuse(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "tundra")
    cli("index", docs, "--name", "gone", "--store", pg_url, "--json")
    for command in (["check", "gone"], ["repair", "gone"], ["reembed", "gone", "--model", "minilm-int8"]):
        assert "embedded indexes only" in cli(*command, "--store", pg_url, code=2).stderr
    cli("remove", "gone", "--yes", "--store", pg_url)
    assert cli.json("list", "--json", "--store", pg_url)["indexes"] == []
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kbcli\\_%'").fetchone()[0] == 0
    cli("query", "gone", "tundra", "--store", pg_url, code=1)


def test_export_and_the_http_api_work_on_postgres(cli: Cli, pg_sample: str, tmp_path: Path) -> None:
    import httpx

    from test_http import _free_port

    exported = cli.json("export", "sample", tmp_path / "llama", "--json", "--store", pg_sample)
    info = cli.json("info", "sample", "--json", "--store", pg_sample)
    assert exported["nodes"] == info["chunks"] and exported["dimension"] == 384
    question = "service level response time for critical incidents"
    expected = cli.json("query", "sample", question, "--json", "--top-k", "3", "--store", pg_sample)
    port = _free_port()
    env = {**os.environ, "KBCLI_STORE": pg_sample}
    server = subprocess.Popen([*KBCLI, "serve", "sample", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, base)
        found = httpx.post(f"{base}/v1/indexes/sample/search", json={"query": question, "top_k": 3}, timeout=60).json()
        assert [h["chunk_id"] for h in found["hits"]] == [h["chunk_id"] for h in expected["hits"]]
        best = expected["hits"][0]
        chunk = httpx.get(f"{base}/v1/indexes/sample/chunks/{best['chunk_id']}?neighbours=1", timeout=60).json()
        assert (chunk["chunk_id"], chunk["file"]) == (best["chunk_id"], best["file"]) and chunk["text"]
        listed = httpx.get(f"{base}/v1/indexes", timeout=60).text
        assert "sample" in listed and PASSWORD not in listed
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_shell_and_a_damaged_index_on_postgres(cli: Cli, tmp_path: Path, pg_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _topic_file(docs, "meadow")
    cli("index", docs, "--name", "s", "--store", pg_url, "--json")
    answered = cli("shell", "s", "--json", "--store", pg_url, input="meadow survey\n:info\n")
    first = json.loads(answered.stdout.splitlines()[0])
    assert first["hits"] and first["hits"][0]["file"].endswith("meadow.txt")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # someone drops a table behind kbcli's back
        schema = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kbcli\\_%'").fetchone()[0]
        conn.execute(f"DROP TABLE {schema}.chunks")
    broken = cli("query", "s", "meadow", "--store", pg_url, code=1)
    assert "cannot be read" in broken.stderr and broken.stderr.count("\n") == 1 and PASSWORD not in broken.stderr
    assert cli.json("list", "--json", "--store", pg_url)["indexes"][0]["status"] == "damaged"
    cli("remove", "s", "--yes", "--store", pg_url)


def test_the_layout_is_versioned_and_a_newer_one_is_refused(cli: Cli, pg_url: str) -> None:
    from kbcli.store.pg.schema import LAYOUT_VERSION, migrate

    assert cli.json("list", "--json", "--store", pg_url)["indexes"] == []  # reading lays nothing out
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('kbcli.meta')").fetchone()[0] is None
        assert migrate(conn) == LAYOUT_VERSION and migrate(conn) == LAYOUT_VERSION  # idempotent
        assert conn.execute("SELECT value FROM kbcli.meta WHERE key = 'layout'").fetchone()[0] == str(LAYOUT_VERSION)
        conn.execute("UPDATE kbcli.meta SET value = '99' WHERE key = 'layout'")
    refused = cli("list", "--store", pg_url, code=1)
    assert "newer kbcli" in refused.stderr and refused.stderr.count("\n") == 1


def test_chunks_keep_where_they_lie_in_their_section(cli: Cli, pg_sample: str) -> None:
    with psycopg.connect(pg_sample) as conn:
        schema = conn.execute("SELECT 'kbcli_' || id FROM kbcli.indexes WHERE name = 'sample'").fetchone()[0]
        missing = conn.execute(f"SELECT count(*) FROM {schema}.chunks WHERE section_seq IS NULL OR section_start IS NULL").fetchone()[0]
        total = conn.execute(f"SELECT count(*) FROM {schema}.chunks").fetchone()[0]
    assert total > 0 and missing == 0


def test_keyword_words_are_the_ones_fts5_indexes() -> None:
    """The PostgreSQL keyword side cuts, folds and stems words exactly as SQLite FTS5 does."""
    import sqlite3
    from collections import Counter

    from kbcli.keywords import segment
    from kbcli.store.pg.words import tokens

    text = segment(
        " ".join(p.read_text(errors="ignore") for p in (SAMPLE_DOCS.parent / "scripts").glob("*.md"))
        + " Café naïve résumé große Straße ＦＹ２０１８ 1970s 10layers автоматической 資本支出 上海酒店每晚住宿上限"
        + " generalization relational conditional hopefully agreed feed ponies caresses"
    )
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, row)")
    conn.execute("INSERT INTO t VALUES (?)", (text,))
    fts5 = {term: count for term, count in conn.execute("SELECT term, cnt FROM v")}
    assert len(fts5) > 200 and dict(Counter(tokens(text))) == fts5
