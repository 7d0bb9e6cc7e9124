"""The SQLite side: tables, connections, and the records read from them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

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
    ocr INTEGER);                           -- 1 when the text was recognised from a page image
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
