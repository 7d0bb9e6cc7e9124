"""Writing an index kept in PostgreSQL: one writer (an advisory lock), one open transaction.

Every change since the last commit sits in one transaction; `commit()` records the new
generation and the keyword statistics in the registry and commits. A writer killed at any
moment loses its connection, so the server rolls the transaction back and drops the lock:
readers keep the last commit. Chunk ids come from a sequence, so they are never reused.

Chunks and their postings go in by binary COPY, ids taken from the sequence first (a COPY
cannot hand them back). A new index has no HNSW index until its first commit with chunks:
that commit builds it over all of them at once, inside its transaction, which is several times
faster than pgvector growing the graph a row at a time; later commits add to it row by row.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from kbcli.errors import DamagedIndex, IndexExists
from kbcli.store.layout import now_iso
from kbcli.store.manifest import Manifest
from kbcli.store.pg.connection import PgLocation, acquire_lock, connect, release_lock
from kbcli.store.pg.reader import files_of, load_manifest, not_found, sources_of
from kbcli.store.pg.schema import HNSW, create_tables, migrate, registry_row, schema_of
from kbcli.store.pg.words import tokens
from kbcli.store.schema import FileRecord, Source

if TYPE_CHECKING:
    import numpy as np

_CHUNK_COPY = (
    ("id", "bigint"), ("file_id", "bigint"), ("seq", "integer"), ("page", "integer"), ("page_label", "text"),
    ("heading", "text"), ("text", "text"), ("ocr", "boolean"), ("section_seq", "integer"), ("section_start", "integer"),
    ("embedding", "vector"), ("name_tokens", "integer"), ("text_tokens", "integer"),
)
_POSTING_COPY = (("lexeme", "text"), ("chunk_id", "bigint"), ("name_tf", "integer"), ("heading_tf", "integer"),
                 ("body_tf", "integer"), ("len", "integer"))
HNSW_BUILD_MEMORY_MAX = 2 << 30  # bytes: the most maintenance_work_mem a commit asks for to build HNSW


class PgWriter:
    """The one writer of a PostgreSQL index (as IndexWriter). Changes are invisible until `commit()`."""

    def __init__(self, location: PgLocation, wait: float = 0.0) -> None:
        self.location = location
        self.folder = None
        self.vector_problem: str | None = None
        self._conn = connect(location.url)
        try:
            migrate(self._conn)  # a newer kbcli's writer brings an older layout up to date
            acquire_lock(self._conn, location.name, wait)
            registry = registry_row(self._conn, location.name)
            if registry is None:
                raise not_found(location)
            self.manifest: Manifest = load_manifest(location, registry)
            self._id, self.generation = int(registry["id"]), int(registry["generation"])
            self._schema = schema_of(self._id)
            self._hnsw = self._run("SELECT to_regclass('{s}.chunks_embedding_idx')").fetchone()[0] is not None
            self._conn.execute("BEGIN")
        except BaseException:
            self._conn.close()
            raise
        self.dirty = False
        self._added = 0  # chunks written since the last commit

    def _run(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql.replace("{s}", self._schema), args)  # type: ignore[arg-type]

    # -- reading inside the writer's transaction --
    def files(self, status: str | None = None) -> list[FileRecord]:
        return files_of(lambda sql, args=(): self._run(sql, args).fetchall(), status)

    def sources(self) -> list[Source]:
        return sources_of(self._run("SELECT path, include, exclude, added_at FROM {s}.sources ORDER BY path").fetchall())

    def chunk_ids(self) -> set[int]:
        return {int(r[0]) for r in self._run("SELECT id FROM {s}.chunks")}

    vector_ids = chunk_ids  # vectors live in the chunk rows: always the same set

    # -- changes --
    def add_source(self, path: str, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._run(
            "INSERT INTO {s}.sources(path, include, exclude, added_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (path) DO UPDATE SET include = excluded.include, exclude = excluded.exclude",
            (path, json.dumps(list(include)), json.dumps(list(exclude)), now_iso()),
        )
        self.dirty = True

    def remove_source(self, path: str) -> None:
        self._run("DELETE FROM {s}.sources WHERE path = %s", (path,))
        self.dirty = True

    def _file_id(self, path: str) -> int | None:
        row = self._run("SELECT id FROM {s}.files WHERE path = %s", (path,)).fetchone()
        return int(row[0]) if row else None

    def _drop_chunks(self, file_id: int) -> int:
        self._run("DELETE FROM {s}.postings WHERE chunk_id IN (SELECT id FROM {s}.chunks WHERE file_id = %s)", (file_id,))
        return int(self._run("DELETE FROM {s}.chunks WHERE file_id = %s", (file_id,)).rowcount)

    def _upsert_file(self, values: dict[str, Any]) -> int:
        values = {**values, "indexed_at": now_iso()}
        columns = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        updates = ", ".join(f"{c} = excluded.{c}" for c in values if c != "path")
        sql = f"INSERT INTO {{s}}.files({columns}) VALUES ({marks}) ON CONFLICT (path) DO UPDATE SET {updates} RETURNING id"
        return int(self._run(sql, list(values.values())).fetchone()[0])

    def put_file(self, file: dict[str, Any], chunks: Sequence[dict[str, Any]], vectors: "np.ndarray") -> tuple[int, int]:
        """Replace everything stored for file['path'] with these chunks; returns (removed, added)."""
        old = self._file_id(file["path"])
        removed = self._drop_chunks(old) if old is not None else 0
        file_id = self._upsert_file(
            {**file, "chunks": len(chunks), "status": "ok", "reason": None, "detail": file.get("detail")}
        )
        if chunks:
            self._copy_chunks(file_id, chunks, vectors)
        self.dirty = True
        return removed, len(chunks)

    def _copy_chunks(self, file_id: int, chunks: Sequence[dict[str, Any]], vectors: "np.ndarray") -> None:
        ids = sorted(int(r[0]) for r in self._run(
            "SELECT nextval('{s}.chunks_id_seq') FROM generate_series(1, %s)", (len(chunks),)))
        rows = [_chunk_values(i, file_id, chunk, vector) for i, chunk, vector in zip(ids, chunks, vectors)]
        self._copy("chunks", _CHUNK_COPY, (row for row, _ in rows))
        self._copy("postings", _POSTING_COPY, (posting for _, postings in rows for posting in postings))
        self._added += len(rows)

    def _copy(self, table: str, columns: tuple[tuple[str, str], ...], rows: "Iterator[tuple[Any, ...]]") -> None:
        names = ", ".join(name for name, _ in columns)
        with self._conn.cursor() as cur, cur.copy(f"COPY {self._schema}.{table}({names}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types([kind for _, kind in columns])
            for row in rows:
                copy.write_row(row)

    def put_failure(self, file: dict[str, Any], reason: str, detail: str) -> int:
        """Record that file['path'] could not be indexed; its old chunks no longer describe it."""
        old = self._file_id(file["path"])
        removed = self._drop_chunks(old) if old is not None else 0
        self._upsert_file({**file, "chunks": 0, "pages": 0, "status": "failed", "reason": reason, "detail": detail})
        self.dirty = True
        return removed

    def remove_file(self, path: str) -> int:
        old = self._file_id(path)
        if old is None:
            return 0
        removed = self._drop_chunks(old)
        self._run("DELETE FROM {s}.files WHERE id = %s", (old,))
        self.dirty = True
        return removed

    def move_file(self, old_path: str, file: dict[str, Any], name_words: str) -> None:
        """A renamed file with unchanged content keeps its chunks and vectors (its name words change)."""
        values = {**file, "indexed_at": now_iso()}
        sets = ", ".join(f"{c} = %s" for c in values)
        row = self._run(f"UPDATE {{s}}.files SET {sets} WHERE path = %s RETURNING id", [*values.values(), old_path]).fetchone()
        if row is not None:
            self._rename_words(int(row[0]), tokens(name_words))
        self.dirty = True

    def _rename_words(self, file_id: int, words: list[str]) -> None:
        """The name field of the file's chunks becomes `words`: their postings' name counts and
        lengths change, postings of words no longer anywhere in a chunk go."""
        counts = Counter(words)
        of_file = "chunk_id IN (SELECT id FROM {s}.chunks WHERE file_id = %s)"
        self._run("UPDATE {s}.chunks SET name_tokens = %s WHERE file_id = %s", (len(words), file_id))
        self._run(f"UPDATE {{s}}.postings SET name_tf = 0 WHERE name_tf > 0 AND {of_file}", (file_id,))
        self._run(
            "INSERT INTO {s}.postings(lexeme, chunk_id, name_tf, heading_tf, body_tf, len)"
            " SELECT w.lexeme, c.id, w.tf, 0, 0, 0 FROM {s}.chunks c, unnest(%s::text[], %s::int[]) AS w(lexeme, tf)"
            " WHERE c.file_id = %s ON CONFLICT (lexeme, chunk_id) DO UPDATE SET name_tf = excluded.name_tf",
            (list(counts), list(counts.values()), file_id),
        )
        self._run(f"DELETE FROM {{s}}.postings WHERE name_tf = 0 AND heading_tf = 0 AND body_tf = 0 AND {of_file}", (file_id,))
        self._run(
            "UPDATE {s}.postings p SET len = c.name_tokens + c.text_tokens FROM {s}.chunks c WHERE c.file_id = %s AND p.chunk_id = c.id",
            (file_id,),
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        self._run("UPDATE {s}.files SET size = %s, mtime_ns = %s WHERE path = %s", (size, mtime_ns, path))
        self.dirty = True

    def mark_changed(self) -> None:
        self.dirty = True

    # -- committing --
    def commit(self) -> None:
        """Make every change so far visible to readers, atomically and durably."""
        if not self.dirty:
            return
        chunks, total = self._run("SELECT count(*), COALESCE(sum(name_tokens + text_tokens), 0) FROM {s}.chunks").fetchone()
        self._index_new_rows(int(chunks))
        new = self.generation + 1
        updated = self._run(
            "UPDATE kbcli.indexes SET generation = %s, updated_at = %s, chunks = %s, tokens = %s, manifest = %s::jsonb"
            " WHERE id = %s AND generation = %s",
            (new, now_iso(), int(chunks), int(total), self.manifest.to_bytes().decode(), self._id, self.generation),
        )
        if updated.rowcount != 1:  # the lock makes this impossible, unless someone wrote around kbcli
            raise DamagedIndex(f"index {self.location.name!r} changed under its writer: not committed")
        self._conn.execute("COMMIT")
        self.generation, self.dirty, self._added = new, False, 0
        self._conn.execute("BEGIN")

    def _index_new_rows(self, chunks: int) -> None:
        """Before a commit: the HNSW index if there is none yet (built over every chunk at once),
        and fresh planner statistics when the commit grows the tables by a tenth or more (so the
        first questions after a build are planned on them, not on an empty table's)."""
        if not self._added:
            return
        if not self._hnsw:
            self._build_memory(chunks)
            self._run(HNSW.format(schema=self._schema))
            self._hnsw = True  # (a failed commit ends the writer: it is not reused)
        if self._added * 10 >= chunks:
            self._run("ANALYZE {s}.chunks, {s}.postings")

    def _build_memory(self, chunks: int) -> None:
        """Enough maintenance_work_mem for the whole graph (about the vectors plus their links),
        up to HNSW_BUILD_MEMORY_MAX, for this transaction only; never less than the server's."""
        wanted = min(int(chunks * (self.manifest.dimension * 4 + 512) * 1.25), HNSW_BUILD_MEMORY_MAX)
        have = int(self._conn.execute("SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'").fetchone()[0])
        if wanted > have:
            self._conn.execute(f"SET LOCAL maintenance_work_mem = '{wanted // 1024}kB'")

    def close(self) -> None:
        """Drop uncommitted changes and release the lock."""
        if self._conn.closed:
            return
        try:
            self._conn.execute("ROLLBACK")
            release_lock(self._conn, self.location.name)
        finally:
            self._conn.close()


def _chunk_values(chunk_id: int, file_id: int, chunk: dict[str, Any], vector: "np.ndarray") -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The chunk's COPY row and its postings' rows (each lexeme's count in the name, heading and body)."""
    words = chunk.get("keywords") or {}
    name = tokens(words.get("name", ""))
    heading, body = tokens(words.get("heading", "")), tokens(words.get("body", chunk["text"]))
    length = len(name) + len(heading) + len(body)
    counts = [Counter(name), Counter(heading), Counter(body)]
    postings = [(lexeme, chunk_id, counts[0][lexeme], counts[1][lexeme], counts[2][lexeme], length)
                for lexeme in dict.fromkeys([*name, *heading, *body])]
    row = (
        chunk_id, file_id, chunk["seq"], chunk["page"], chunk["page_label"], chunk["heading"], chunk["text"],
        bool(chunk.get("ocr")), chunk.get("section_seq"), chunk.get("section_start"), vector, len(name), len(heading) + len(body),
    )
    return row, postings


def create_pg_index(location: PgLocation, manifest: Manifest) -> None:
    """Register a new, empty index and create its tables, in one transaction. Fails if one exists."""
    conn = connect(location.url)
    try:
        migrate(conn)
        acquire_lock(conn, location.name, 0.0)
        with conn.transaction():
            if registry_row(conn, location.name) is not None:
                raise IndexExists(f"index {location.name!r} already exists")
            stamp = manifest.created_at
            row = conn.execute(
                "INSERT INTO kbcli.indexes(name, manifest, created_at, updated_at) VALUES (%s, %s::jsonb, %s, %s) RETURNING id",
                (location.name, manifest.to_bytes().decode(), stamp, stamp),
            ).fetchone()
            create_tables(conn, int(row[0]), manifest.dimension)  # type: ignore[index]
    finally:
        conn.close()


def delete_pg_index(location: PgLocation, wait: float = 0.0) -> None:
    """Drop an index (its schema, every row, every vector) and its registry row, in one transaction."""
    conn = connect(location.url)
    try:
        acquire_lock(conn, location.name, wait)
        with conn.transaction():
            registry = registry_row(conn, location.name)
            if registry is None:
                raise not_found(location)
            conn.execute(f"DROP SCHEMA IF EXISTS {schema_of(int(registry['id']))} CASCADE")
            conn.execute("DELETE FROM kbcli.indexes WHERE id = %s", (int(registry["id"]),))
    finally:
        conn.close()
