"""Reading an index: one committed generation at a time, following new commits.

Search asks a `Snapshot` for candidates and gets plain data back (chunk ids with scores, rows,
vectors); the SQL and FAISS behind the answers stay here.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from kbcli.store import schema
from kbcli.store.check import consistency
from kbcli.store.integrity import chunk_count, check_counts, committed_meta, damaged, guarded, has_database, open_vectors
from kbcli.store.layout import DATABASE, LOCK
from kbcli.store.manifest import Manifest
from kbcli.store.schema import ChunkRow, FileRecord, Source
from kbcli.settings import SearchSettings

if TYPE_CHECKING:
    import numpy as np

    from kbcli.vectors import VectorIndex

DEFAULT_NPROBE = SearchSettings.nprobe

Place = tuple[int, int, "int | None"]  # (file id, seq, page) of a chunk


class Snapshot:
    """One committed generation, read consistently: the vectors and rows of the same commit."""

    def __init__(self, conn: sqlite3.Connection, vectors: "VectorIndex") -> None:
        self._conn = conn
        self._vectors = vectors

    def nearest(self, vector: "np.ndarray", k: int, nprobe: int = DEFAULT_NPROBE) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the k nearest chunks."""
        return self._vectors.search(vector, k, nprobe)

    def keyword_matches(self, terms: Sequence[str], k: int, weights: tuple[float, float, float]) -> list[tuple[int, float]]:
        """(chunk id, BM25 score, higher is better) of the k best chunks holding any of the query
        words `terms` (kbcli.keywords.query_terms); `weights`: of the name+title, heading and body columns."""
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        if not match:
            return []
        sql = "SELECT rowid, -bm25(chunks_fts, ?, ?, ?) AS s FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY s DESC LIMIT ?"
        return [(int(r[0]), float(r[1])) for r in self._conn.execute(sql, (*weights, match, k))]

    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        return schema.chunk_rows(self._conn, ids)

    def vectors(self, ids: list[int]) -> dict[int, "np.ndarray"]:
        """The stored embeddings of these chunks (those this generation holds)."""
        return self._vectors.vectors(ids)

    def chunk_ids(self) -> list[int]:
        return [int(r[0]) for r in self._conn.execute("SELECT id FROM chunks ORDER BY id")]

    def places(self, ids: Sequence[int]) -> dict[int, Place]:
        """Chunk id -> (file id, seq, page), without the text."""
        found: dict[int, Place] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            sql = f"SELECT id, file_id, seq, page FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            found.update({int(r[0]): (int(r[1]), int(r[2]), r[3]) for r in self._conn.execute(sql, part)})
        return found

    def passages(self, ids: Sequence[int], page_reach: int, loose_reach: int = 1) -> dict[int, tuple[int, ...]]:
        """Chunk id -> the ids of the passage around it: the chunks of its page within `page_reach`
        chunks, or, for chunks without pages (DOCX, text), those within `loose_reach`. One query
        per run of overlapping reaches in a file, not one per chunk."""
        places = self.places(ids)

        def reach(page: int | None) -> int:
            return page_reach if page is not None else loose_reach

        spans: dict[int, list[tuple[int, int]]] = {}
        for file_id, seq, page in places.values():
            spans.setdefault(file_id, []).append((seq - reach(page), seq + reach(page)))
        nearby = self._nearby({file_id: _merged(ranges) for file_id, ranges in spans.items()})
        return {
            chunk_id: tuple(
                cid for cid, other, other_page in nearby.get(file_id, [])
                if other_page == page and abs(other - seq) <= reach(page)
            )
            for chunk_id, (file_id, seq, page) in places.items()
        }

    def file_chunks(self, file_id: int, first_seq: int, last_seq: int) -> list[ChunkRow]:
        """One file's chunks with seq from `first_seq` to `last_seq`, in order (text included)."""
        sql = "SELECT id FROM chunks WHERE file_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"
        ids = [int(r[0]) for r in self._conn.execute(sql, (file_id, first_seq, last_seq))]
        rows = self.rows(ids)
        return [rows[i] for i in ids if i in rows]

    def page_chunks(self, file_id: int, page: int) -> list[ChunkRow]:
        """One file's chunks of one page, in order; no text is read for its other pages."""
        sql = "SELECT id FROM chunks WHERE file_id = ? AND page = ? ORDER BY seq"
        ids = [int(r[0]) for r in self._conn.execute(sql, (file_id, page))]
        rows = self.rows(ids)
        return [rows[i] for i in ids if i in rows]

    def _nearby(self, spans: dict[int, list[tuple[int, int]]]) -> dict[int, list[tuple[int, int, "int | None"]]]:
        """File id -> (id, seq, page) of its chunks within its seq spans, in order."""
        return {file_id: self._chunks_in(file_id, ranges) for file_id, ranges in spans.items()}

    def _chunks_in(self, file_id: int, spans: list[tuple[int, int]]) -> list[tuple[int, int, int | None]]:
        """(id, seq, page) of one file's chunks within these seq spans (first, last), in order."""
        sql = "SELECT id, seq, page FROM chunks WHERE file_id = ? AND seq BETWEEN ? AND ? ORDER BY seq"
        return [(int(r[0]), int(r[1]), r[2]) for first, last in spans for r in self._conn.execute(sql, (file_id, first, last))]


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching (first, last) ranges joined, in order."""
    ranges = sorted(ranges)
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        first, last = merged[-1]
        if start <= last + 1:
            merged[-1] = (first, max(last, end))
        else:
            merged.append((start, end))
    return merged


class IndexReader:
    """A reader that sees one committed generation at a time and follows new commits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest = Manifest.load(folder)
        if not has_database(folder):
            raise damaged(folder, f"{DATABASE} missing", repairable=False)
        with guarded(folder, writing=False):
            self._conn = schema.connect(folder, readonly=True)
        self._vectors: "VectorIndex | None" = None
        self.generation = -1
        try:
            with self._transaction():  # the cheap checks, now rather than at the first question
                pass
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A read transaction; vectors are (re)loaded, and checked against the rows, when a newer
        generation was committed."""
        with guarded(self.folder, writing=False):
            self._conn.execute("BEGIN")
            try:
                meta = committed_meta(self._conn, self.folder)
                generation = int(meta["generation"])
                if generation != self.generation:
                    vectors = open_vectors(self.folder, generation, self.manifest.dimension, mmap=True)
                    check_counts(self.folder, meta, vectors.ntotal, chunk_count(self._conn))
                    self._vectors, self.generation = vectors, generation
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """The committed generation, held until the block ends (a commit meanwhile is not seen)."""
        with self._transaction() as conn:
            assert self._vectors is not None
            yield Snapshot(conn, self._vectors)

    def search(self, vector: "np.ndarray", k: int, nprobe: int = DEFAULT_NPROBE) -> list[tuple[ChunkRow, float]]:
        """The k nearest chunks with their cosine scores (vector search only)."""
        with self.snapshot() as snap:
            found = snap.nearest(vector, k, nprobe)
            rows = snap.rows([i for i, _ in found])
        return [(rows[i], s) for i, s in found if i in rows]

    def neighbours(self, file_id: int, seqs: Iterable[int]) -> dict[int, str]:
        seqs = list(seqs)
        marks = ",".join("?" * len(seqs))
        with self._transaction() as conn:
            sql = f"SELECT seq, text FROM chunks WHERE file_id=? AND seq IN ({marks})"
            return {r[0]: r[1] for r in conn.execute(sql, [file_id, *seqs])}

    def stats(self) -> dict[str, Any]:
        with self._transaction() as conn:
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
        with self._transaction() as conn:
            return schema.sources(conn)

    def verify(self) -> list[str]:
        """Problems in the committed state (kbcli.store.check.consistency); empty when consistent."""
        with self._transaction() as conn:
            assert self._vectors is not None
            return consistency(conn, self._vectors.ids())

    def files(self, status: str | None = None) -> list[FileRecord]:
        with self._transaction() as conn:
            return schema.files(conn, status)
