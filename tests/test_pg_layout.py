"""The PostgreSQL store's layouts: a database an older kbcli laid out (layout 1: keywords in
tsvectors) is migrated to postings (layout 2) on first use and answers as before; BM25 from the
postings is FTS5's bm25() on the same words; a renamed file's postings are a fresh index's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import psycopg
import pytest

from kbcli.keywords import segment
from kbcli.store import Manifest
from kbcli.store.location import PgLocation, create, open_reader, open_writer
from kbcli.store.pg.words import tokens

DIM = 8
WEIGHTS = (10.0, 4.0, 1.0)  # name+title, heading, body (kbcli's defaults are of this shape)
TERMS = [["revenue"], ["revenue", "shanghai"], ["hotel", "night", "limit"], ["northwind"], ["资本", "支出"],
         ["boiler", "march", "service"], ["zzz-absent"], ["survey", "station"]]

# What kbcli wrote before layout 2 (kbcli/store/pg/schema.py and words.py of that time), verbatim.
LAYOUT_1_TABLES = """
CREATE SCHEMA {schema};
CREATE TABLE {schema}.sources (
    path text PRIMARY KEY, include text NOT NULL, exclude text NOT NULL, added_at text NOT NULL);
CREATE TABLE {schema}.files (
    id bigserial PRIMARY KEY, path text NOT NULL UNIQUE, source text NOT NULL, size bigint NOT NULL,
    mtime_ns bigint NOT NULL, sha256 text NOT NULL, title text, pages integer NOT NULL DEFAULT 0,
    chunks integer NOT NULL DEFAULT 0, status text NOT NULL, reason text, detail text, indexed_at text NOT NULL);
CREATE TABLE {schema}.chunks (
    id bigserial PRIMARY KEY,
    file_id bigint NOT NULL REFERENCES {schema}.files(id) ON DELETE CASCADE,
    seq integer NOT NULL, page integer, page_label text, heading text, text text NOT NULL, ocr boolean,
    section_seq integer, section_start integer,
    embedding vector({dimension}) NOT NULL,
    name_words tsvector NOT NULL, text_words tsvector NOT NULL,
    name_tokens integer NOT NULL, text_tokens integer NOT NULL,
    words tsvector GENERATED ALWAYS AS (name_words || text_words) STORED);
CREATE INDEX ON {schema}.chunks (file_id, seq);
CREATE INDEX ON {schema}.chunks (file_id, page);
CREATE INDEX ON {schema}.chunks USING gin (words);
CREATE INDEX ON {schema}.chunks USING hnsw (embedding vector_cosine_ops);
"""


def _tsvector_literal(fields: list[tuple[list[str], str]]) -> str:
    positions: dict[str, list[str]] = {}
    for at, (word, weight) in enumerate(((w, weight) for words, weight in fields for w in words), 1):
        kept = positions.setdefault(word, [])
        if len(kept) < 255 and at <= 16383:
            kept.append(f"{at}{weight}")
    quoted = {w: "'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in positions}
    return " ".join(f"{quoted[w]}:{','.join(marks)}" for w, marks in positions.items() if marks)


def _files() -> list[tuple[str, list[dict]]]:
    """Files and their chunks (keyword fields as kbcli.indexer writes them), English and Chinese."""
    topics = {
        "northwind_report.pdf": ("Northwind annual report", "Revenue", "Northwind revenue grew in 2023; revenue per store rose."),
        "travel_policy.txt": ("Travel policy", "Hotels", "The hotel limit per night in Shanghai is 800 yuan, a night in Beijing 700."),
        "boiler_notes.txt": ("Boiler notes", "Service", "The boiler in building C is serviced every March; service logs are kept."),
        "survey.txt": ("Station survey", "Stations", "Observers at each station recorded the survey; the station survey ran long."),
        "capex_zh.txt": ("资本支出", "支出", "公司二零一八年的资本支出为三亿元，主要用于新建工厂。"),
    }
    found = []
    for path, (title, heading, body) in topics.items():
        chunks = []
        for seq in range(3):
            text = f"{body} Part {seq}: " + " ".join([segment(body).split()[seq]] * (seq + 1))
            chunks.append({"seq": seq, "page": seq + 1, "page_label": None, "heading": heading, "text": text,
                           "keywords": {"name": f"{Path(path).stem.replace('_', ' ')} {title}", "heading": segment(heading),
                                        "body": segment(text)}})
        found.append((f"/src/{path}", chunks))
    return found


def _vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _manifest(name: str) -> Manifest:
    return Manifest(name=name, model="m", precision="fp32", dimension=DIM, token_limit=256, chunking={})


def _write_layout_1(url: str, name: str) -> None:
    """An index as kbcli wrote it in layout 1 (registry, tables, tsvectors), one commit."""
    from kbcli.store.pg.schema import MIGRATIONS

    files = _files()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute(MIGRATIONS[1])
        conn.execute("INSERT INTO kbcli.meta(key, value) VALUES ('layout', '1')")
        index_id = conn.execute(
            "INSERT INTO kbcli.indexes(name, manifest, created_at, updated_at) VALUES (%s, %s::jsonb, 'then', 'then') RETURNING id",
            (name, _manifest(name).to_bytes().decode()),
        ).fetchone()[0]
        schema = f"kbcli_{index_id}"
        conn.execute(LAYOUT_1_TABLES.format(schema=schema, dimension=DIM))
        total = count = 0
        for f, (path, chunks) in enumerate(files):
            file_id = conn.execute(
                f"INSERT INTO {schema}.files(path, source, size, mtime_ns, sha256, title, pages, chunks, status, indexed_at)"
                " VALUES (%s, '/src', 1, 1, %s, NULL, 3, %s, 'ok', 'then') RETURNING id", (path, path, len(chunks)),
            ).fetchone()[0]
            for chunk, vector in zip(chunks, _vectors(len(chunks), f)):
                words = {k: tokens(v) for k, v in chunk["keywords"].items()}
                conn.execute(
                    f"INSERT INTO {schema}.chunks(file_id, seq, page, page_label, heading, text, ocr, embedding, name_words,"
                    " text_words, name_tokens, text_tokens) VALUES (%s, %s, %s, NULL, %s, %s, false, %s::vector, %s::tsvector,"
                    " %s::tsvector, %s, %s)",
                    (file_id, chunk["seq"], chunk["page"], chunk["heading"], chunk["text"], json.dumps(vector.tolist()),
                     _tsvector_literal([(words["name"], "A")]), _tsvector_literal([(words["heading"], "B"), (words["body"], "C")]),
                     len(words["name"]), len(words["heading"]) + len(words["body"])),
                )
                total += sum(len(w) for w in words.values())
                count += 1
        conn.execute("UPDATE kbcli.indexes SET generation = 1, chunks = %s, tokens = %s WHERE id = %s", (count, total, index_id))


def _write_layout_2(url: str, name: str) -> None:
    location = PgLocation(url, name)
    create(location, _manifest(name))
    writer = open_writer(location)
    try:
        for f, (path, chunks) in enumerate(_files()):
            writer.put_file({"path": path, "source": "/src", "size": 1, "mtime_ns": 1, "sha256": path, "title": None, "pages": 3},
                            chunks, _vectors(len(chunks), f))
        writer.commit()
    finally:
        writer.close()


def _fts5_bm25(terms: list[str]) -> list[tuple[int, float]]:
    """SQLite FTS5's own bm25() over the same keyword fields (rowids numbered as the chunks are)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(name, heading, body, tokenize='porter unicode61 remove_diacritics 2')")
    rowid = 0
    for _, chunks in _files():
        for chunk in chunks:
            rowid += 1
            words = chunk["keywords"]
            conn.execute("INSERT INTO t(rowid, name, heading, body) VALUES (?, ?, ?, ?)", (rowid, words["name"], words["heading"], words["body"]))
    match = " OR ".join('"' + t + '"' for t in terms)
    sql = "SELECT rowid, -bm25(t, ?, ?, ?) AS s FROM t WHERE t MATCH ? ORDER BY s DESC, rowid LIMIT 10"
    return [(int(r[0]), float(r[1])) for r in conn.execute(sql, (*WEIGHTS, match))]


def _keyword_answers(url: str, name: str) -> list[list[tuple[int, float]]]:
    reader = open_reader(PgLocation(url, name))
    try:
        with reader.snapshot() as snap:
            return [snap.keyword_matches([segment(t) for t in terms], 10, WEIGHTS) for terms in TERMS]
    finally:
        reader.close()


def _same(ours: list[tuple[int, float]], theirs: list[tuple[int, float]], rel: float) -> None:
    assert [i for i, _ in ours] == [i for i, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=rel)


def test_a_layout_1_database_is_migrated_and_answers_the_same(pg_url: str) -> None:
    from kbcli.store.pg.schema import LAYOUT_VERSION

    _write_layout_1(pg_url, "old")
    with psycopg.connect(pg_url) as conn:  # what layout 1 answered: FTS5's bm25, from the tsvectors
        assert conn.execute("SELECT value FROM kbcli.meta WHERE key = 'layout'").fetchone()[0] == "1"
    migrated = _keyword_answers(pg_url, "old")  # the first reader migrates
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM kbcli.meta WHERE key = 'layout'").fetchone()[0] == str(LAYOUT_VERSION) == "2"
        columns = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'chunks'")}
        assert not columns & {"words", "name_words", "text_words"}
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname LIKE 'kbcli%' AND indexdef LIKE '%USING gin%'").fetchone()[0] == 0
    for terms, found in zip(TERMS, migrated):
        if all(len(tokens(segment(t))) == 1 for t in terms):  # FTS5 reads a several-word term as a phrase
            _same(found, _fts5_bm25([tokens(segment(t))[0] for t in terms]), rel=1e-9)
    assert sum(1 for found in migrated if found) >= 6

    _write_layout_2(pg_url, "new")  # the same chunks written anew: the same answers
    for old, new in zip(migrated, _keyword_answers(pg_url, "new")):
        _same(old, new, rel=1e-12)

    writer = open_writer(PgLocation(pg_url, "old"))  # and the migrated index takes writes as a new one
    try:
        assert writer.remove_file("/src/travel_policy.txt") == 3
        writer.commit()
    finally:
        writer.close()
    assert migrated[2] and _keyword_answers(pg_url, "old")[2] == []  # only travel_policy spoke of hotels
    reader = open_reader(PgLocation(pg_url, "old"))
    try:
        assert reader.search(_vectors(3, 0)[0], 1)[0][0].path == "/src/northwind_report.pdf"  # HNSW kept
    finally:
        reader.close()


def test_a_renamed_files_postings_are_those_of_a_fresh_index(pg_url: str) -> None:
    _write_layout_2(pg_url, "moved")
    writer = open_writer(PgLocation(pg_url, "moved"))
    try:
        new_name = "boiler notes Boiler notes"  # the new name: words kept, gone, new, and repeated
        writer.move_file("/src/survey.txt", {"path": "/src/harbour survey.txt", "source": "/src", "size": 1, "mtime_ns": 1,
                                             "sha256": "/src/survey.txt", "title": None, "pages": 3}, new_name)
        writer.commit()
    finally:
        writer.close()
    with psycopg.connect(pg_url) as conn:
        moved = conn.execute("SELECT 'kbcli_' || id FROM kbcli.indexes WHERE name = 'moved'").fetchone()[0]
        rows = conn.execute(f"SELECT lexeme, chunk_id, name_tf, heading_tf, body_tf, len FROM {moved}.postings ORDER BY 1, 2").fetchall()
        lengths = dict(conn.execute(f"SELECT id, name_tokens + text_tokens FROM {moved}.chunks").fetchall())
        tokens_total = conn.execute("SELECT tokens FROM kbcli.indexes WHERE name = 'moved'").fetchone()[0]
    expected = []
    for chunk_id, chunk in enumerate((c for _, chunks in _files() for c in chunks), 1):
        words = chunk["keywords"]
        name = tokens(new_name) if 10 <= chunk_id <= 12 else tokens(words["name"])
        heading, body = tokens(words["heading"]), tokens(words["body"])
        for lexeme in dict.fromkeys([*name, *heading, *body]):
            expected.append((lexeme, chunk_id, name.count(lexeme), heading.count(lexeme), body.count(lexeme),
                             len(name) + len(heading) + len(body)))
    assert rows == sorted(expected)
    assert all(lengths[chunk_id] == length for _, chunk_id, *_, length in rows)
    assert tokens_total == sum(lengths.values())


def test_a_new_index_gets_its_hnsw_index_with_its_first_commit(pg_url: str) -> None:
    """Built over all the chunks at once inside that commit: before it nobody sees the index
    (nor the chunks), after it the nearest-neighbour query is answered by it."""
    location = PgLocation(pg_url, "fresh")
    create(location, _manifest("fresh"))
    writer = open_writer(location)
    vectors = _vectors(60, 5)

    def hnsw_indexes() -> int:
        with psycopg.connect(pg_url) as conn:
            return conn.execute("SELECT count(*) FROM pg_indexes WHERE schemaname LIKE 'kbcli%' AND indexdef LIKE '%USING hnsw%'").fetchone()[0]

    try:
        writer.put_file({"path": "/src/a.txt", "source": "/src", "size": 1, "mtime_ns": 1, "sha256": "a", "title": None, "pages": 1},
                        [{"seq": i, "page": None, "page_label": None, "heading": None, "text": f"chunk {i}"} for i in range(60)], vectors)
        assert hnsw_indexes() == 0
        writer.commit()
        assert hnsw_indexes() == 1
    finally:
        writer.close()
    reader = open_reader(location)
    try:
        assert reader.search(vectors[7], 1)[0][0].text == "chunk 7"
        with reader.snapshot() as snap:
            snap._conn.execute("SET LOCAL enable_seqscan = off")  # a 60-row table: make the plan show what it could use
            plan = "\n".join(r[0] for r in snap._rows("EXPLAIN SELECT id FROM {s}.chunks ORDER BY embedding <=> %s LIMIT 5", (vectors[0],)))
        assert "chunks_embedding_idx" in plan
    finally:
        reader.close()


_BIG_BUILD = """
import sys, numpy as np
from kbcli.store import Manifest
from kbcli.store.location import PgLocation, create, open_writer
location = PgLocation(sys.argv[1], "big")
create(location, Manifest(name="big", model="m", precision="fp32", dimension=384, token_limit=256, chunking={}))
writer = open_writer(location)
rng = np.random.default_rng(1)
for f in range(40):
    v = rng.normal(size=(100, 384)).astype(np.float32)
    chunks = [{"seq": i, "page": None, "page_label": None, "heading": None, "text": f"file {f} chunk {i}"} for i in range(100)]
    writer.put_file({"path": f"/src/{f}.txt", "source": "/src", "size": 1, "mtime_ns": 1, "sha256": str(f), "title": None,
                     "pages": 1}, chunks, v / np.linalg.norm(v, axis=1, keepdims=True))
writer.commit()
"""


def test_kill_9_while_the_first_commit_builds_hnsw_leaves_the_empty_index(pg_url: str) -> None:
    """The writer is killed while its commit builds the HNSW index: the server rolls the whole
    transaction back (rows, postings, the half-built index) and the next writer starts afresh."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    proc = subprocess.Popen([sys.executable, "-c", _BIG_BUILD, pg_url], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stderr=subprocess.PIPE, text=True)
    building = "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'CREATE INDEX%chunks_embedding_idx%'"
    deadline = time.monotonic() + 300
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while conn.execute(building).fetchone() is None:
            assert proc.poll() is None, f"the build ended before it was killed: {proc.stderr.read() if proc.stderr else ''}"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader = open_reader(PgLocation(pg_url, "big"))  # while the server may still be building
        try:
            assert reader.generation == 0 and reader.stats()["chunks"] == 0
        finally:
            reader.close()
        while conn.execute(building).fetchone() is not None:  # the server notices the client is gone
            assert time.monotonic() < deadline
            time.sleep(0.2)
        schema = conn.execute("SELECT 'kbcli_' || id FROM kbcli.indexes WHERE name = 'big'").fetchone()[0]
        assert conn.execute(f"SELECT count(*) FROM {schema}.postings").fetchone()[0] == 0
        assert conn.execute(f"SELECT to_regclass('{schema}.chunks_embedding_idx')").fetchone()[0] is None
    writer = open_writer(PgLocation(pg_url, "big"), wait=120)  # the lock went with the killed writer
    try:
        v = _vectors(1, 3)
        big = np.zeros((1, 384), dtype=np.float32)
        big[0, :DIM] = v[0]
        writer.put_file({"path": "/src/x.txt", "source": "/src", "size": 1, "mtime_ns": 1, "sha256": "x", "title": None, "pages": 1},
                        [{"seq": 0, "page": None, "page_label": None, "heading": None, "text": "after the kill"}], big)
        writer.commit()
    finally:
        writer.close()
    reader = open_reader(PgLocation(pg_url, "big"))
    try:
        assert reader.search(big[0], 1)[0][0].text == "after the kill" and reader.generation == 1
    finally:
        reader.close()
