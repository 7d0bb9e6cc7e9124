"""The SQLite side: tables, connections, and the records read from them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kbcli.store.layout import DATABASE

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, include TEXT NOT NULL, exclude TEXT NOT NULL, added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    title TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,              -- 'ok' or 'failed'
    reason TEXT,                       -- for failed files: one of the documented reasons
    detail TEXT,
    indexed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the FAISS id as well: never reused
    file_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    page INTEGER,
    page_label TEXT,
    heading TEXT,
    text TEXT NOT NULL,
    ocr INTEGER,                            -- 1 when the text was recognised from a page image
    section_seq INTEGER,                    -- ordinal of the reader's Section within its file
    section_start INTEGER);                 -- where text starts in that section's text (re-cutting)
CREATE INDEX IF NOT EXISTS chunks_by_file ON chunks(file_id, seq);
-- BM25 keyword side: rowid = chunk id; words pre-segmented for CJK (kbcli.keywords).
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    name, heading, body, tokenize='porter unicode61 remove_diacritics 2');
"""


@dataclass
class FileRecord:
    id: int
    path: str
    source: str
    size: int
    mtime_ns: int
    sha256: str
    title: str | None
    pages: int
    chunks: int
    status: str
    reason: str | None
    detail: str | None
    indexed_at: str


@dataclass
class ChunkRow:
    id: int
    file_id: int
    path: str
    source: str
    title: str | None
    seq: int
    page: int | None
    page_label: str | None
    heading: str | None
    text: str
    ocr: bool | None = None


@dataclass
class Source:
    path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    added_at: str


# Columns added after the first indexes were built: (table, column, type), added on a writer's open.
_ADDED_COLUMNS = (("chunks", "section_seq", "INTEGER"), ("chunks", "section_start", "INTEGER"))


def migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older database lacks (NULL in its rows: they predate them)."""
    for table, column, kind in _ADDED_COLUMNS:
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def insert_chunks(conn: sqlite3.Connection, file_id: int, chunks: Sequence[dict[str, Any]]) -> list[int]:
    """Store a file's chunks and their keyword rows; their new ids (AUTOINCREMENT: never reused)."""
    ids: list[int] = []
    for chunk in chunks:
        cur = conn.execute(
            "INSERT INTO chunks(file_id, seq, page, page_label, heading, text, ocr, section_seq, section_start)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (file_id, chunk["seq"], chunk["page"], chunk["page_label"], chunk["heading"], chunk["text"],
             int(bool(chunk.get("ocr"))), chunk.get("section_seq"), chunk.get("section_start")),
        )
        ids.append(int(cur.lastrowid or 0))
        words = chunk.get("keywords") or {}
        conn.execute(
            "INSERT INTO chunks_fts(rowid, name, heading, body) VALUES (?,?,?,?)",
            (cur.lastrowid, words.get("name", ""), words.get("heading", ""), words.get("body", chunk["text"])),
        )
    return ids


def replace_chunks(conn: sqlite3.Connection, file_id: int, chunks: Sequence[dict[str, Any]]) -> list[int]:
    """A file's chunks and keyword rows replaced by these (its vectors are the caller's)."""
    conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id=?)", (file_id,))
    conn.execute("DELETE FROM chunks WHERE file_id=?", (file_id,))
    conn.execute("UPDATE files SET chunks=? WHERE id=?", (len(chunks), file_id))
    return insert_chunks(conn, file_id, chunks)


def recut_rows(conn: sqlite3.Connection) -> dict[int, list[sqlite3.Row]]:
    """File id -> its chunks in seq order, with what re-cutting needs (kbcli.recut)."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    sql = ("SELECT id, file_id, seq, section_seq, section_start, page, page_label, heading, text, ocr"
           " FROM chunks ORDER BY file_id, seq")
    by_file: dict[int, list[sqlite3.Row]] = {}
    for row in cursor.execute(sql):
        by_file.setdefault(row["file_id"], []).append(row)
    return by_file


def embedding_rows(conn: sqlite3.Connection) -> list[tuple[int, int, int | None, str | None, str, str | None, str]]:
    """(id, file id, page, heading, text, file title, file path) of every chunk, in file order."""
    sql = (
        "SELECT c.id, c.file_id, c.page, c.heading, c.text, f.title, f.path FROM chunks c"
        " JOIN files f ON f.id = c.file_id ORDER BY c.file_id, c.seq"
    )
    return [tuple(r) for r in conn.execute(sql)]  # type: ignore[misc]


def connect(folder: Path, readonly: bool) -> sqlite3.Connection:
    db = folder / DATABASE
    if readonly:
        conn = _connect_readonly(db)
    else:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.row_factory = sqlite3.Row
    return conn


def _connect_readonly(db: Path) -> sqlite3.Connection:
    """Read-only; on a read-only disk or folder, where SQLite cannot create the WAL's -shm file,
    the database is opened as immutable (nothing can commit there meanwhile)."""
    if not db.exists():  # mode=ro never creates it, but says only "unable to open"
        raise FileNotFoundError(2, "No such file or directory", str(db))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    return sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False)


_CHUNK_COLUMNS = (
    "c.id, c.file_id, f.path, f.source, f.title, c.seq, c.page, c.page_label, c.heading, c.text, c.ocr"
)


def chunk_rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, ChunkRow]:
    rows: dict[int, ChunkRow] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})"
        for r in conn.execute(sql, part):
            rows[r[0]] = ChunkRow(*r)
    return rows


def sources(conn: sqlite3.Connection) -> list[Source]:
    return [
        Source(r["path"], tuple(json.loads(r["include"])), tuple(json.loads(r["exclude"])), r["added_at"])
        for r in conn.execute("SELECT * FROM sources ORDER BY path")
    ]


def files(conn: sqlite3.Connection, status: str | None = None) -> list[FileRecord]:
    sql, args = "SELECT * FROM files", ()
    if status:
        sql, args = sql + " WHERE status=?", (status,)
    return [FileRecord(**dict(r)) for r in conn.execute(sql + " ORDER BY path", args)]


def committed_generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
    return int(row[0]) if row else 0
