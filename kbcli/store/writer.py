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

from kbcli.errors import DamagedIndex, IndexExists
from kbcli.store import schema
from kbcli.store.layout import (
    DATABASE,
    MANIFEST,
    PRIVATE_FILE,
    VECTOR_FILE,
    acquire_lock,
    fsync_dir,
    make_private_dirs,
    now_iso,
    tighten,
    vector_file,
    write_atomic,
)
from kbcli.store.integrity import (
    chunk_count,
    check_counts,
    committed_meta,
    damaged,
    disk_is_full,
    guarded,
    has_database,
    manifest_missing,
    no_space,
    open_vectors,
)
from kbcli.store.manifest import Manifest
from kbcli.store.schema import SCHEMA, FileRecord, Source, connect

if TYPE_CHECKING:
    import numpy as np


def delete_index(folder: Path, wait: float = 0.0) -> None:
    """Remove an index folder, never under a running writer. Works for any format version: the
    manifest goes first, so a half-deleted folder is no longer an index."""
    with guarded(folder, writing=True):
        lock = acquire_lock(folder, wait)
        try:
            (folder / MANIFEST).unlink(missing_ok=True)  # a half-created or damaged folder has none
        finally:
            lock.close()
        shutil.rmtree(folder)


class IndexWriter:
    """The one writer of an index. Changes are invisible to readers until `commit()`."""

    def __init__(self, folder: Path, wait: float = 0.0, manifest: Manifest | None = None, lenient: bool = False) -> None:
        """`manifest`: the one to use when the file is lost (repair); `lenient`: open whatever the
        vectors' state (repair), noting the problem in `vector_problem` instead of raising."""
        self.folder = folder
        self.vector_problem: str | None = None
        with guarded(folder, writing=True):
            self._lock = acquire_lock(folder, wait)
        try:
            with guarded(folder, writing=True):
                self._open(manifest, lenient)
        except BaseException:
            self._lock.close()
            raise

    def _open(self, manifest: Manifest | None, lenient: bool) -> None:
        self.manifest = manifest or Manifest.load(self.folder)
        if not has_database(self.folder):  # connect() would create an empty one
            raise damaged(self.folder, f"{DATABASE} missing", repairable=False)
        tighten(self.folder)  # before anything new is written beside older, looser files
        self._conn = connect(self.folder, readonly=False)
        meta = committed_meta(self._conn, self.folder)
        self._sweep()
        self.generation = int(meta["generation"])
        try:
            self._vectors = open_vectors(self.folder, self.generation, self.manifest.dimension, mmap=False)
            check_counts(self.folder, meta, self._vectors.ntotal, chunk_count(self._conn))
        except DamagedIndex as err:
            if not lenient:
                raise  # never commit on top of a damaged index
            from kbcli.vectors import VectorIndex

            self.vector_problem = str(err)
            if not hasattr(self, "_vectors"):
                self._vectors = VectorIndex.empty(self.manifest.dimension)
        self._conn.execute("BEGIN IMMEDIATE")
        schema.migrate(self._conn)  # in the transaction: committed with the first change
        self.dirty = False

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
        ids = schema.insert_chunks(self._conn, file_id, chunks)
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
        with guarded(self.folder, writing=True):
            self._commit()

    def _commit(self) -> None:
        chunks = chunk_count(self._conn)
        if self._vectors.ntotal != chunks:  # never commit a state that is already inconsistent
            raise damaged(self.folder, f"{self._vectors.ntotal} vectors for {chunks} chunks, not committed")
        self._vectors.settle(self.manifest.vector_index)
        new = self.generation + 1
        target = vector_file(self.folder, new)
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            self._vectors.save(tmp)
        except RuntimeError:  # FAISS says only "fwrite failed"
            tmp.unlink(missing_ok=True)
            if disk_is_full(self.folder):
                raise no_space(self.folder) from None
            raise
        os.chmod(tmp, PRIVATE_FILE)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(self.folder)
        stamp = now_iso()
        self._conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("generation", str(new)), ("updated_at", stamp), ("vectors", str(self._vectors.ntotal)),
             ("chunks", str(chunks)), ("manifest", self.manifest.to_bytes().decode())],
        )
        self._conn.execute("COMMIT")
        self.generation = new
        self.dirty = False
        self._sweep()
        self._conn.execute("BEGIN IMMEDIATE")

    # -- repairing (kbcli.repair): the committed rows are the truth, vectors and keywords follow --
    def embedding_rows(self) -> list[tuple[int, int, int | None, str | None, str, str | None, str]]:
        """(id, file id, page, heading, text, file title, file path) of every chunk, in file order."""
        return schema.embedding_rows(self._conn)

    def keyword_ids(self) -> set[int]:
        return {r[0] for r in self._conn.execute("SELECT rowid FROM chunks_fts")}

    def drop_vectors(self, ids: Sequence[int]) -> None:
        if ids:
            self._vectors.remove(list(ids))
            self.dirty = True

    def add_vectors(self, vectors: "np.ndarray", ids: Sequence[int]) -> None:
        if ids:
            self._vectors.add(vectors, list(ids))
            self.dirty = True

    def drop_orphans(self) -> int:
        """Chunks whose file record is gone cannot be shown: they go, with their vectors."""
        ids = [r[0] for r in self._conn.execute("SELECT id FROM chunks WHERE file_id NOT IN (SELECT id FROM files)")]
        if ids:
            self._vectors.remove([i for i in ids if i in self._vectors.ids()])
            marks = ",".join("?" * len(ids))
            self._conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({marks})", ids)
            self._conn.execute(f"DELETE FROM chunks WHERE id IN ({marks})", ids)
            self.dirty = True
        return len(ids)

    def fix_file_counts(self) -> int:
        sql = "UPDATE files SET chunks = (SELECT COUNT(*) FROM chunks c WHERE c.file_id = files.id)"
        changed = self._conn.execute(sql + " WHERE chunks != (SELECT COUNT(*) FROM chunks c WHERE c.file_id = files.id)").rowcount
        self.dirty = self.dirty or changed > 0
        return changed

    def put_keywords(self, rows: Sequence[tuple[int, str, str, str]], drop: Sequence[int]) -> None:
        """Keyword rows (chunk id, name, heading, body) put back, stray ones dropped, the FTS index rebuilt."""
        for start in range(0, len(drop), 500):
            part = list(drop[start : start + 500])
            self._conn.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({','.join('?' * len(part))})", part)
        self._conn.executemany("INSERT INTO chunks_fts(rowid, name, heading, body) VALUES (?,?,?,?)", rows)
        self._conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        self.dirty = True

    def mark_changed(self) -> None:
        self.dirty = True

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
    fresh = not folder.exists()
    with guarded(folder, writing=True):
        make_private_dirs(folder)
        lock = acquire_lock(folder, 0.0)
        try:
            _create(folder, manifest)
        except BaseException:
            if fresh:  # a first creation that failed (disk full...) leaves no half-made folder behind
                shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            lock.close()


def _create(folder: Path, manifest: Manifest) -> None:
    if (folder / MANIFEST).exists():
        raise IndexExists(f"index {manifest.name!r} already exists")
    if has_database(folder):  # a database without its manifest: not to be silently emptied
        raise manifest_missing(folder)
    conn = connect(folder, readonly=False)
    try:
        conn.executescript(SCHEMA)
        conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("generation", "0"), ("created_at", manifest.created_at), ("updated_at", manifest.created_at),
             ("vectors", "0"), ("chunks", "0"), ("manifest", manifest.to_bytes().decode())],
        )
    finally:
        conn.close()
    tighten(folder)  # the database and the lock, whatever the umask
    # The manifest goes last: its presence is what makes the folder an index.
    write_atomic(folder / MANIFEST, manifest.to_bytes())
