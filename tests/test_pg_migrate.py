"""`kbcli migrate`: an index copied between the embedded store and PostgreSQL (a real server,
tests/pg_server.py) answers every question as the original does, and nothing is embedded again."""

from __future__ import annotations

import json
from pathlib import Path

from pg_server import PASSWORD

QUESTIONS = [
    "How do I descale the espresso machine?",
    "What was Northwind's revenue in 2023?",
    "How many days of annual leave can I carry over?",
    "error code E03",
]


def _hits(cli, name: str, *where: str, mode: str = "hybrid") -> list[list[dict]]:
    """The hits of every question, without chunk ids (a copy numbers its chunks anew)."""
    found = []
    for question in QUESTIONS:
        hits = cli.json(*where, "query", name, question, "--top-k", "5", "--mode", mode, "--json")["hits"]
        assert hits, question
        found.append([{k: v for k, v in hit.items() if k != "chunk_id"} for hit in hits])
    return found


def test_migrate_to_postgres_and_back_keeps_every_hit(cli, sample_index: str, pg_url: str, tmp_path: Path) -> None:
    before = {mode: _hits(cli, sample_index, mode=mode) for mode in ("hybrid", "vector", "keyword")}
    summary = cli.json("migrate", sample_index, "--to", pg_url, "--json")
    assert summary["files"] == 6 and summary["chunks"] > 0 and summary["sources"] == 1 and summary["generation"] == 1
    assert PASSWORD not in json.dumps(summary)
    for mode, hits in before.items():
        assert [_strip(h) for h in _pg_hits(cli, sample_index, pg_url, mode)] == [_strip(h) for h in hits], mode
    source_info = cli.json("info", sample_index, "--json")
    target_info = cli.json("info", sample_index, "--store", pg_url, "--json")
    assert target_info["manifest"] == source_info["manifest"]  # model spec, dimension, probe vectors
    for key in ("files", "files_ok", "files_failed", "pages", "chunks", "vectors"):
        assert target_info[key] == source_info[key], key
    assert [s["path"] for s in target_info["sources"]] == [s["path"] for s in source_info["sources"]]

    back_home = tmp_path / "back"
    back = cli.json("--home", back_home, "migrate", sample_index, "--store", pg_url, "--to", "embedded", "--json")
    assert back["chunks"] == summary["chunks"] and back["files"] == 6
    for mode, hits in before.items():
        assert [_strip(h) for h in _hits(cli, sample_index, "--home", str(back_home), mode=mode)] == [_strip(h) for h in hits], mode
    assert cli("--home", back_home, "check", sample_index).exit_code == 0
    origin = _sections(Path(source_info["path"]))
    assert origin and _sections(back_home / "indexes" / sample_index) == origin  # through PostgreSQL and back


def _sections(folder: Path) -> dict[tuple[str, int], dict]:
    """(file, seq) -> where the chunk lies in its section (what re-cutting needs)."""
    from kbcli.store.copying import chunk_extras
    from kbcli.store.location import open_reader

    reader = open_reader(folder)
    try:
        with reader.snapshot() as snap:
            ids = snap.chunk_ids()
            rows, extras = snap.rows(ids), chunk_extras(snap, ids)
    finally:
        reader.close()
    return {(rows[i].path, rows[i].seq): extras[i] for i in ids}


def _pg_hits(cli, name: str, url: str, mode: str) -> list[list[dict]]:
    found = []
    for question in QUESTIONS:
        hits = cli.json("query", name, question, "--top-k", "5", "--mode", mode, "--store", url, "--json")["hits"]
        found.append([{k: v for k, v in hit.items() if k != "chunk_id"} for hit in hits])
    return found


def _strip(hits: list[dict]) -> list[dict]:
    """Scores rounded: pgvector computes the cosine in float4 arithmetic, FAISS in float32 too,
    but in another order."""
    return [{**hit, "score": round(hit["score"], 3)} for hit in hits]


def test_migrate_refuses_a_target_that_has_the_index_and_keeps_the_source(cli, sample_index: str, pg_url: str) -> None:
    cli("migrate", sample_index, "--to", pg_url, "--quiet")
    again = cli("migrate", sample_index, "--to", pg_url, code=1)
    message = again.stderr.strip()
    assert len(message.splitlines()) == 1 and "already exists" in message and PASSWORD not in message
    assert cli.json("query", sample_index, QUESTIONS[0], "--json")["hits"]  # the source is still there
    assert cli.json("query", sample_index, QUESTIONS[0], "--store", pg_url, "--json")["hits"]


def test_migrate_says_what_is_wrong_with_its_target(cli, sample_index: str, pg_url: str) -> None:
    wrong = cli("migrate", sample_index, "--to", "mysql://db/kb", code=2)
    assert "--to takes a postgresql://" in wrong.stderr
    home = cli("migrate", sample_index, "--to", "embedded", code=2)
    assert "already in the embedded store" in home.stderr
    missing = cli("migrate", "nosuch", "--to", pg_url, code=1)
    assert "no index named 'nosuch'" in missing.stderr and PASSWORD not in missing.stderr


def test_migrate_copies_unreadable_files_and_progress_goes_to_stderr(cli, pg_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The boiler in building C is serviced every March by Calloway Heating.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a PDF")
    cli("index", docs, "--name", "mixed", "--quiet", code=3)
    copied = cli("migrate", "mixed", "--to", pg_url)
    assert "copied 2/2 files" in copied.stderr and "Copied 'mixed'" in copied.stderr and not copied.stdout
    failed = cli.json("info", "mixed", "--failed", "--store", pg_url, "--json")
    original = cli.json("info", "mixed", "--failed", "--json")
    assert failed["files_failed"] == original["files_failed"] == 1
    hits = cli.json("query", "mixed", "who services the boiler", "--store", pg_url, "--json")["hits"]
    assert hits and hits[0]["file"].endswith("notes.txt")


def test_the_copy_reads_where_each_chunk_lies_in_its_section(sample_index_home: Path) -> None:
    """section_seq / section_start (what re-cutting needs) are read from the source with the rows,
    so a target that keeps them gets them (the embedded store does; PostgreSQL not yet)."""
    from kbcli.store.copying import chunk_extras
    from kbcli.store.location import open_reader

    reader = open_reader(sample_index_home / "indexes" / "sample")
    try:
        with reader.snapshot() as snap:
            ids = snap.chunk_ids()
            extras = chunk_extras(snap, ids)
    finally:
        reader.close()
    assert set(extras) == set(ids)
    assert all(e["section_seq"] is not None and e["section_start"] is not None for e in extras.values())
