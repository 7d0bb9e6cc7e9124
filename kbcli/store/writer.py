"""Writing an index: one writer at a time, changes invisible to readers until they are committed.

Commit protocol: the writer changes rows inside one SQLite transaction and the vectors in memory;
to commit it writes `vectors-<gen+1>.faiss` aside (fsync, rename), then records gen+1 and commits
the transaction. A crash before the SQLite commit leaves the last generation untouched (the orphan
file is swept later); after it, the new one is complete. Chunk ids come from SQLite AUTOINCREMENT,
so they are never reused, and they are the FAISS ids.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kbcli.errors import IndexExists
from kbcli.store import schema
from kbcli.store.layout import (
    MANIFEST,
    PRIVATE_FILE,
    VECTOR_FILE,
    acquire_lock,
    fsync_dir,
    load_vectors,
    make_private_dirs,
    now_iso,
    tighten,
    vector_file,
    write_atomic,
)
from kbcli.store.manifest import Manifest
from kbcli.store.schema import SCHEMA, FileRecord, Source, connect

if TYPE_CHECKING:
    import numpy as np


def delete_index(folder: Path, wait: float = 0.0) -> None:
    """Remove an index folder, never under a running writer. Works for any format version: the
    manifest goes first, so a half-deleted folder is no longer an index."""
    lock = acquire_lock(folder, wait)
    try:
        (folder / MANIFEST).unlink()
    finally:
        lock.close()
    shutil.rmtree(folder)


class IndexWriter:
    """The one writer of an index. Changes are invisible to readers until `commit()`."""

    def __init__(self, folder: Path, wait: float = 0.0) -> None:
        self.folder = folder
        self._lock = acquire_lock(folder, wait)
        try:
            self.manifest = Manifest.load(folder)
            tighten(folder)  # before anything new is written beside older, looser files
            self._conn = connect(folder, readonly=False)
            self._sweep()
            self.generation = self._committed_generation()
            self._vectors = load_vectors(folder, self.generation, self.manifest.dimension, mmap=False)
            self._conn.execute("BEGIN IMMEDIATE")
            self.dirty = False
        except BaseException:
            self._lock.close()
            raise

    # -- reading inside the writer's transaction --
    def files(self, status: str | None = None) -> list[FileRecord]:
        return schema.files(self._conn, status)

    def sources(self) -> list[Source]:
        return schema.sources(self._conn)

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
        target = vector_file(self.folder, new)
        tmp = target.with_name(f".{target.name}.tmp")
        self._vectors.save(tmp)
        os.chmod(tmp, PRIVATE_FILE)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(self.folder)
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
        return schema.committed_generation(self._conn)

    def _sweep(self) -> None:
        """Delete vector files of generations other than the committed one and its predecessor
        (a reader may still be opening it), and temp files left by a killed writer."""
        current = self._committed_generation()
        for path in self.folder.iterdir():
            match = VECTOR_FILE.match(path.name)
            if match and int(match.group(1)) not in (current, current - 1):
                path.unlink(missing_ok=True)
            elif path.name.startswith(".") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)


def create_index(folder: Path, manifest: Manifest) -> None:
    """Create an empty index folder (generation 0). Fails if one exists."""
    make_private_dirs(folder)
    lock = acquire_lock(folder, 0.0)
    try:
        if (folder / MANIFEST).exists():
            raise IndexExists(f"index {manifest.name!r} already exists")
        conn = connect(folder, readonly=False)
        try:
            conn.executescript(SCHEMA)
            conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [("generation", "0"), ("created_at", manifest.created_at), ("updated_at", manifest.created_at)],
            )
        finally:
            conn.close()
        tighten(folder)  # the database and the lock, whatever the umask
        # The manifest goes last: its presence is what makes the folder an index.
        write_atomic(folder / MANIFEST, json.dumps(manifest.to_json(), indent=2).encode())
    finally:
        lock.close()
