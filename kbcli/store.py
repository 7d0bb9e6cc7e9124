"""The on-disk index: one folder per index, written by one process at a time, read by many.

Layout of `<home>/indexes/<name>/`:
  manifest.json          fixed settings: format, embedding model, dimension, token limit, chunking
  index.sqlite           files (size, mtime, sha256, status), chunks (text, page, heading), sources,
                         and the committed generation number; WAL mode, so readers never block
  vectors-<gen>.faiss    the FAISS index (IDMap2 over inner product) of exactly the chunks of <gen>
  write.lock             flock()ed by the one writer; the kernel drops it if the writer dies

Commit protocol: the writer changes rows inside one SQLite transaction and the vectors in memory;
to commit it writes `vectors-<gen+1>.faiss` aside (fsync, rename), then records gen+1 and commits
the transaction. A crash before the SQLite commit leaves the last generation untouched (the orphan
file is swept later); after it, the new one is complete. Chunk ids come from SQLite AUTOINCREMENT,
so they are never reused, and they are the FAISS ids.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from kbcli.errors import IncompatibleIndex, IndexExists, IndexNotFound, KbError, LockBusy

if TYPE_CHECKING:
    import numpy as np

FORMAT_VERSION = 5  # 3: chunks.ocr; 4: page leads in the embedded prefix and the heading field; 5: folded CJK keywords
MANIFEST = "manifest.json"
DATABASE = "index.sqlite"
LOCK = "write.lock"
_VECTORS = re.compile(r"^vectors-(\d+)\.faiss$")

_SCHEMA = """
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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


@dataclass
class Manifest:
    name: str
    model: str
    precision: str
    dimension: int
    token_limit: int
    chunking: dict[str, int]
    created_at: str = field(default_factory=now_iso)
    format: int = FORMAT_VERSION
    kbcli_version: str = ""
    vector_index: str = "auto"  # auto | flat | ivf (kbcli.vectors)

    @property
    def fingerprint(self) -> str:
        return f"{self.model}@{self.precision}"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def load(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise IndexNotFound(f"no index at {folder}") from None
        except (OSError, ValueError) as err:
            raise KbError(f"the manifest {path} is unreadable: {err}") from err
        if data.get("format") != FORMAT_VERSION:
            raise IncompatibleIndex(
                f"index {folder.name!r} was built by another kbcli version (format {data.get('format')}, this one "
                f"reads {FORMAT_VERSION}): rebuild it with 'kbcli remove {folder.name} --yes' and 'kbcli index'"
            )
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


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


def _connect(folder: Path, readonly: bool) -> sqlite3.Connection:
    db = folder / DATABASE
    if readonly:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.row_factory = sqlite3.Row
    return conn


def _vector_file(folder: Path, generation: int) -> Path:
    return folder / f"vectors-{generation}.faiss"


def _load_vectors(folder: Path, generation: int, dimension: int, mmap: bool):
    from kbcli.vectors import VectorIndex

    return VectorIndex.load(_vector_file(folder, generation), dimension, mmap)


_CHUNK_COLUMNS = (
    "c.id, c.file_id, f.path, f.source, f.title, c.seq, c.page, c.page_label, c.heading, c.text, c.ocr"
)


def _chunk_rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, ChunkRow]:
    rows: dict[int, ChunkRow] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})"
        for r in conn.execute(sql, part):
            rows[r[0]] = ChunkRow(*r)
    return rows


class IndexReader:
    """A reader that sees one committed generation at a time and follows new commits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest = Manifest.load(folder)
        self._conn = _connect(folder, readonly=True)
        self._vectors = None
        self.generation = -1

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction; vectors are (re)loaded when a newer generation was committed."""
        self._conn.execute("BEGIN")
        try:
            generation = int(self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            if generation != self.generation:
                self._vectors = _load_vectors(self.folder, generation, self.manifest.dimension, mmap=True)
                self.generation = generation
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    def search(self, vector: "np.ndarray", k: int) -> list[tuple[ChunkRow, float]]:
        """The k nearest chunks with their cosine scores (vector search only)."""
        with self.snapshot() as conn:
            found = self.vector_search(conn, vector, k)
            rows = _chunk_rows(conn, [i for i, _ in found])
        return [(rows[i], s) for i, s in found if i in rows]

    def vector_search(self, conn: sqlite3.Connection, vector: "np.ndarray", k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the k nearest chunks; call inside `snapshot()`."""
        assert self._vectors is not None
        return self._vectors.search(vector, k)

    def keyword_search(
        self, conn: sqlite3.Connection, match: str, k: int, weights: tuple[float, float, float]
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) of the k best keyword matches; inside `snapshot()`."""
        sql = "SELECT rowid, -bm25(chunks_fts, ?, ?, ?) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s DESC LIMIT ?"
        return [(int(r[0]), float(r[1])) for r in conn.execute(sql, (*weights, match, k))]

    def rows(self, conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, ChunkRow]:
        return _chunk_rows(conn, ids)

    def places(self, conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[int, int, int | None]]:
        """Chunk id -> (file id, seq, page), without the text; inside `snapshot()`."""
        found: dict[int, tuple[int, int, int | None]] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            sql = f"SELECT id, file_id, seq, page FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            found.update({int(r[0]): (int(r[1]), int(r[2]), r[3]) for r in conn.execute(sql, part)})
        return found

    def chunks_between(self, conn: sqlite3.Connection, file_id: int, first: int, last: int) -> list[tuple[int, int, int | None]]:
        """(id, seq, page) of one file's chunks with first <= seq <= last, in order; inside `snapshot()`."""
        sql = "SELECT id, seq, page FROM chunks WHERE file_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"
        return [(int(r[0]), int(r[1]), r[2]) for r in conn.execute(sql, (file_id, first, last))]

    def vectors(self, ids: list[int]) -> dict[int, "np.ndarray"]:
        """The embeddings of these chunks (call inside `snapshot()`, so they match its generation)."""
        assert self._vectors is not None
        return self._vectors.vectors(ids)

    def neighbours(self, file_id: int, seqs: Iterable[int]) -> dict[int, str]:
        seqs = list(seqs)
        marks = ",".join("?" * len(seqs))
        with self.snapshot() as conn:
            sql = f"SELECT seq, text FROM chunks WHERE file_id=? AND seq IN ({marks})"
            return {r[0]: r[1] for r in conn.execute(sql, [file_id, *seqs])}

    def stats(self) -> dict[str, Any]:
        with self.snapshot() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            counts = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status='ok'),0), COALESCE(SUM(status='failed'),0),"
                " COALESCE(SUM(pages),0), COALESCE(SUM(chunks),0) FROM files"
            ).fetchone()
            vectors = self._vectors.ntotal if self._vectors is not None else 0
        files, ok, failed, pages, chunks = counts
        size = sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file() and p.name != LOCK)
        return {
            "generation": int(meta.get("generation", 0)),
            "created_at": meta.get("created_at"),
            "updated_at": meta.get("updated_at"),
            "files": files,
            "files_ok": ok,
            "files_failed": failed,
            "pages": pages,
            "chunks": chunks,
            "vectors": vectors,
            "disk_bytes": size,
        }

    def sources(self) -> list[Source]:
        with self.snapshot() as conn:
            return _sources(conn)

    def verify(self) -> list[str]:
        """Problems in the committed state: vectors without chunks, chunks without vectors or
        files, and file records whose chunk count is wrong. Empty when the index is consistent."""
        with self.snapshot() as conn:
            vector_ids = self._vectors.ids()
            chunk_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
            keyword_ids = {r[0] for r in conn.execute("SELECT rowid FROM chunks_fts")}
            orphans = conn.execute("SELECT COUNT(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
            wrong = conn.execute(
                "SELECT f.path, f.chunks, COUNT(c.id) FROM files f LEFT JOIN chunks c ON c.file_id = f.id"
                " GROUP BY f.id HAVING f.chunks != COUNT(c.id)"
            ).fetchall()
        problems = []
        if vector_ids - chunk_ids:
            problems.append(f"{len(vector_ids - chunk_ids)} vectors have no chunk")
        if chunk_ids - vector_ids:
            problems.append(f"{len(chunk_ids - vector_ids)} chunks have no vector")
        if keyword_ids != chunk_ids:
            problems.append(f"keyword index differs from chunks by {len(keyword_ids ^ chunk_ids)} rows")
        if orphans:
            problems.append(f"{orphans} chunks belong to no file")
        problems += [f"{path}: manifest says {n} chunks, store has {m}" for path, n, m in wrong]
        return problems

    def files(self, status: str | None = None) -> list[FileRecord]:
        with self.snapshot() as conn:
            return _files(conn, status)


def _sources(conn: sqlite3.Connection) -> list[Source]:
    return [
        Source(r["path"], tuple(json.loads(r["include"])), tuple(json.loads(r["exclude"])), r["added_at"])
        for r in conn.execute("SELECT * FROM sources ORDER BY path")
    ]


def _files(conn: sqlite3.Connection, status: str | None = None) -> list[FileRecord]:
    sql, args = "SELECT * FROM files", ()
    if status:
        sql, args = sql + " WHERE status=?", (status,)
    return [FileRecord(**dict(r)) for r in conn.execute(sql + " ORDER BY path", args)]


def delete_index(folder: Path, wait: float = 0.0) -> None:
    """Remove an index folder, never under a running writer. Works for any format version: the
    manifest goes first, so a half-deleted folder is no longer an index."""
    lock = _acquire_lock(folder, wait)
    try:
        (folder / MANIFEST).unlink()
    finally:
        lock.close()
    shutil.rmtree(folder)


class IndexWriter:
    """The one writer of an index. Changes are invisible to readers until `commit()`."""

    def __init__(self, folder: Path, wait: float = 0.0) -> None:
        self.folder = folder
        self._lock = _acquire_lock(folder, wait)
        try:
            self.manifest = Manifest.load(folder)
            self._conn = _connect(folder, readonly=False)
            self._sweep()
            self.generation = self._committed_generation()
            self._vectors = _load_vectors(folder, self.generation, self.manifest.dimension, mmap=False)
            self._conn.execute("BEGIN IMMEDIATE")
            self.dirty = False
        except BaseException:
            self._lock.close()
            raise

    # -- reading inside the writer's transaction --
    def files(self, status: str | None = None) -> list[FileRecord]:
        return _files(self._conn, status)

    def sources(self) -> list[Source]:
        return _sources(self._conn)

    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self._conn.execute("SELECT id FROM chunks")}

    def vector_ids(self) -> set[int]:
        return self._vectors.ids()

    # -- changes --
    def add_source(self, path: str, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._conn.execute(
            "INSERT INTO sources(path, include, exclude, added_at) VALUES (?,?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET include=excluded.include, exclude=excluded.exclude",
            (path, json.dumps(list(include)), json.dumps(list(exclude)), now_iso()),
        )
        self.dirty = True

    def remove_source(self, path: str) -> None:
        self._conn.execute("DELETE FROM sources WHERE path=?", (path,))
        self.dirty = True

    def _drop_chunks(self, file_id: int) -> int:
        ids = [r[0] for r in self._conn.execute("SELECT id FROM chunks WHERE file_id=?", (file_id,))]
        if ids:
            self._vectors.remove(ids)
            self._conn.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE file_id=?)", (file_id,))
            self._conn.execute("DELETE FROM chunks WHERE file_id=?", (file_id,))
        return len(ids)

    def _upsert_file(self, values: dict[str, Any]) -> int:
        values = {**values, "indexed_at": now_iso()}
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c != "path")
        self._conn.execute(
            f"INSERT INTO files({columns}) VALUES ({marks}) ON CONFLICT(path) DO UPDATE SET {updates}",
            list(values.values()),
        )
        return int(self._conn.execute("SELECT id FROM files WHERE path=?", (values["path"],)).fetchone()[0])

    def put_file(
        self,
        file: dict[str, Any],
        chunks: Sequence[dict[str, Any]],
        vectors: "np.ndarray",
    ) -> tuple[int, int]:
        """Replace everything stored for file['path'] with these chunks; returns (removed, added)."""
        old = self._conn.execute("SELECT id FROM files WHERE path=?", (file["path"],)).fetchone()
        removed = self._drop_chunks(old[0]) if old else 0
        file_id = self._upsert_file(
            {**file, "chunks": len(chunks), "status": "ok", "reason": None, "detail": file.get("detail")}
        )
        ids = []
        for chunk in chunks:
            cur = self._conn.execute(
                "INSERT INTO chunks(file_id, seq, page, page_label, heading, text, ocr) VALUES (?,?,?,?,?,?,?)",
                (file_id, chunk["seq"], chunk["page"], chunk["page_label"], chunk["heading"], chunk["text"],
                 int(bool(chunk.get("ocr")))),
            )
            ids.append(cur.lastrowid)
            words = chunk.get("keywords") or {}
            self._conn.execute(
                "INSERT INTO chunks_fts(rowid, name, heading, body) VALUES (?,?,?,?)",
                (cur.lastrowid, words.get("name", ""), words.get("heading", ""), words.get("body", chunk["text"])),
            )
        if ids:
            self._vectors.add(vectors, ids)
        self.dirty = True
        return removed, len(ids)

    def put_failure(self, file: dict[str, Any], reason: str, detail: str) -> int:
        """Record that file['path'] could not be indexed; its old chunks no longer describe it."""
        old = self._conn.execute("SELECT id FROM files WHERE path=?", (file["path"],)).fetchone()
        removed = self._drop_chunks(old[0]) if old else 0
        self._upsert_file({**file, "chunks": 0, "pages": 0, "status": "failed", "reason": reason, "detail": detail})
        self.dirty = True
        return removed

    def remove_file(self, path: str) -> int:
        old = self._conn.execute("SELECT id FROM files WHERE path=?", (path,)).fetchone()
        if not old:
            return 0
        removed = self._drop_chunks(old[0])
        self._conn.execute("DELETE FROM files WHERE id=?", (old[0],))
        self.dirty = True
        return removed

    def move_file(self, old_path: str, file: dict[str, Any], name_words: str) -> None:
        """A renamed file with unchanged content keeps its chunks and vectors (its name words change)."""
        values = {**file, "indexed_at": now_iso()}
        sets = ", ".join(f"{c}=?" for c in values)
        self._conn.execute(f"UPDATE files SET {sets} WHERE path=?", [*values.values(), old_path])
        self._conn.execute(
            "UPDATE chunks_fts SET name=? WHERE rowid IN"
            " (SELECT c.id FROM chunks c JOIN files f ON f.id=c.file_id WHERE f.path=?)",
            (name_words, file["path"]),
        )
        self.dirty = True

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content, new mtime (touch, copy): remember the mtime so the next check is cheap."""
        self._conn.execute("UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path))
        self.dirty = True

    # -- committing --
    def commit(self) -> None:
        """Make every change so far visible to readers, atomically and durably."""
        if not self.dirty:
            return
        self._vectors.settle(self.manifest.vector_index)
        new = self.generation + 1
        target = _vector_file(self.folder, new)
        tmp = target.with_name(f".{target.name}.tmp")
        self._vectors.save(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_dir(self.folder)
        stamp = now_iso()
        self._conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("generation", str(new)), ("updated_at", stamp)],
        )
        self._conn.execute("COMMIT")
        self.generation = new
        self.dirty = False
        self._sweep()
        self._conn.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        """Drop uncommitted changes and release the lock."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._conn.close()
        finally:
            self._lock.close()

    def _committed_generation(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _sweep(self) -> None:
        """Delete vector files of generations other than the committed one and its predecessor
        (a reader may still be opening it), and temp files left by a killed writer."""
        current = self._committed_generation()
        for path in self.folder.iterdir():
            match = _VECTORS.match(path.name)
            if match and int(match.group(1)) not in (current, current - 1):
                path.unlink(missing_ok=True)
            elif path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)


def _acquire_lock(folder: Path, wait: float):
    """An flock on write.lock: exclusive among writers, released by the kernel if we die."""
    handle = open(folder / LOCK, "a+")
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise LockBusy(
                    f"index {folder.name!r} is being written by another kbcli process"
                    + (f" (waited {wait:g}s)" if wait else "")
                    + "; retry later or pass --wait SECONDS"
                ) from None
            time.sleep(0.2)


def create_index(folder: Path, manifest: Manifest) -> None:
    """Create an empty index folder (generation 0). Fails if one exists."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = _acquire_lock(folder, 0.0)
    try:
        if (folder / MANIFEST).exists():
            raise IndexExists(f"index {manifest.name!r} already exists")
        conn = _connect(folder, readonly=False)
        try:
            conn.executescript(_SCHEMA)
            conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [("generation", "0"), ("created_at", manifest.created_at), ("updated_at", manifest.created_at)],
            )
        finally:
            conn.close()
        # The manifest goes last: its presence is what makes the folder an index.
        write_atomic(folder / MANIFEST, json.dumps(manifest.to_json(), indent=2).encode())
    finally:
        lock.close()
