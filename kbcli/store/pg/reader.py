"""Reading an index kept in PostgreSQL: the same questions as kbcli.store.reader, answered by SQL.

Each snapshot is one REPEATABLE READ, READ ONLY transaction: every answer inside it comes from
the same commit, whatever a writer commits meanwhile.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from kbcli.errors import DamagedIndex, IndexNotFound
from kbcli.store.manifest import Manifest
from kbcli.store.pg.connection import PgLocation, clean_message, connect, unreachable
from kbcli.store.pg.schema import registry_row, schema_of
from kbcli.store.pg.words import query_lexemes
from kbcli.store.reader import Snapshot
from kbcli.store.schema import ChunkRow, FileRecord, Source

if TYPE_CHECKING:
    import numpy as np
    import psycopg

EF_SEARCH_MAX = 1000  # pgvector's limit
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's
_CHUNK_COLUMNS = "c.id, c.file_id, f.path, f.source, f.title, c.seq, c.page, c.page_label, c.heading, c.text, c.ocr"


# FTS5's BM25 over the postings: `q` holds each query phrase's distinct lexemes (phrase number,
# lexeme, whether it is the phrase's first, how many it has); `hit`: the chunks holding every
# lexeme of a phrase, with the weighted count of its first; idf from how many chunks each
# phrase hits (0 or below becomes 1e-6, as in FTS5).
_BM25 = """
WITH q AS (SELECT * FROM unnest(%s::int[], %s::text[], %s::bool[], %s::int[]) AS t(phrase, lexeme, lead, size)),
hit AS (SELECT q.phrase, p.chunk_id, p.len,
               max(CASE WHEN q.lead THEN p.name_tf * %s + p.heading_tf * %s + p.body_tf * %s END) AS tf
        FROM q JOIN {s}.postings p ON p.lexeme = q.lexeme
        GROUP BY q.phrase, p.chunk_id, p.len HAVING count(*) = max(q.size)),
idf AS (SELECT phrase, ln((%s - count(*) + 0.5) / (count(*) + 0.5)) AS idf FROM hit GROUP BY phrase)
SELECT hit.chunk_id, sum(CASE WHEN idf.idf > 0 THEN idf.idf ELSE 1e-6 END
                         * hit.tf * %s / (hit.tf + %s * (1 - %s + %s * hit.len / %s))) AS score
FROM hit JOIN idf USING (phrase)
GROUP BY hit.chunk_id ORDER BY score DESC, hit.chunk_id LIMIT %s"""


def not_found(location: PgLocation) -> IndexNotFound:
    return IndexNotFound(f"no index named {location.name!r} in the PostgreSQL store {location.shown.split(' (')[0]}")


def damaged_in_database(location: PgLocation, err: BaseException) -> DamagedIndex:
    name = location.name
    return DamagedIndex(
        f"index {name!r} in the PostgreSQL store cannot be read ({clean_message(location.url, err)}):"
        f" kbcli remove {name} --yes --store URL, then index again"
    )


def load_manifest(location: PgLocation, registry: dict[str, Any]) -> Manifest:
    return Manifest.from_json(Path(location.name), registry["manifest"])  # the name is all it uses


def registry_id(location: PgLocation, conn: "psycopg.Connection[Any] | None" = None) -> int:
    """The registry id of index `location.name` (a rebuild gets a new one); IndexNotFound if none.
    `conn`: an idle connection to ask on (else a short one is opened)."""
    own = conn is None
    conn = connect(location.url) if conn is None else conn
    try:
        row = registry_row(conn, location.name, laid_out=not own)
    finally:
        if own:
            conn.close()
    if row is None:
        raise IndexNotFound(f"index {location.name!r} is gone")
    return int(row["id"])


class PgSnapshot(Snapshot):
    """One committed generation of a PostgreSQL index (see kbcli.store.reader.Snapshot)."""

    def __init__(self, conn: "psycopg.Connection[Any]", schema: str, registry: dict[str, Any], ef_search: int) -> None:
        self._conn = conn  # type: ignore[assignment]
        self._schema = schema
        self._registry = registry
        self._ef_search = ef_search

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql.replace("{s}", self._schema), args).fetchall()  # type: ignore[attr-defined]

    def nearest(self, vector: "np.ndarray", k: int, nprobe: int = 0) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the k nearest chunks, by the HNSW index."""
        import numpy as np

        ef = min(max(self._ef_search, k), EF_SEARCH_MAX)
        self._conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")  # type: ignore[attr-defined]
        if k > EF_SEARCH_MAX:  # more than one HNSW pass can return: let it scan on (pgvector 0.8)
            self._conn.execute("SET LOCAL hnsw.iterative_scan = strict_order")  # type: ignore[attr-defined]
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        sql = "SELECT id, 1 - (embedding <=> %s) FROM {s}.chunks ORDER BY embedding <=> %s LIMIT %s"
        return [(int(r[0]), round(float(r[1]), 6)) for r in self._rows(sql, (query, query, k))]

    def keyword_matches(self, terms: Sequence[str], k: int, weights: tuple[float, float, float]) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the k best chunks holding any of `terms`: FTS5's bm25()
        (k1 1.2, b 0.75, idf log((N-n+0.5)/(n+0.5)), column weights on term counts), from the
        postings in one query. A term of several words matches the chunks holding them all and
        counts as its first word (FTS5 asks for them in a row: such terms are rare, 'a_b')."""
        phrases = query_lexemes(terms)
        chunks, tokens = int(self._registry["chunks"]), int(self._registry["tokens"])
        if not phrases or not chunks:
            return []
        wanted = [(n, lexeme, lexeme == words[0], len(set(words))) for n, words in enumerate(phrases) for lexeme in dict.fromkeys(words)]
        columns = [list(c) for c in zip(*wanted)]
        args = (*columns, *map(float, weights), float(chunks), BM25_K1 + 1, BM25_K1, BM25_B, BM25_B, (tokens / chunks) or 1.0, k)
        return [(int(r[0]), float(r[1])) for r in self._rows(_BM25, args)]

    def rows(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        sql = f"SELECT {_CHUNK_COLUMNS} FROM {{s}}.chunks c JOIN {{s}}.files f ON f.id = c.file_id WHERE c.id = ANY(%s)"
        return {int(r[0]): ChunkRow(*r) for r in self._rows(sql, (list(ids),))}

    def vectors(self, ids: list[int]) -> dict[int, "np.ndarray"]:
        import numpy as np

        found = self._rows("SELECT id, embedding FROM {s}.chunks WHERE id = ANY(%s)", (list(ids),))
        return {int(r[0]): np.asarray(r[1].to_numpy() if hasattr(r[1], "to_numpy") else r[1], dtype=np.float32) for r in found}

    def chunk_ids(self) -> list[int]:
        return [int(r[0]) for r in self._rows("SELECT id FROM {s}.chunks ORDER BY id")]

    def places(self, ids: Sequence[int]) -> dict[int, tuple[int, int, int | None]]:
        found = self._rows("SELECT id, file_id, seq, page FROM {s}.chunks WHERE id = ANY(%s)", (list(ids),))
        return {int(r[0]): (int(r[1]), int(r[2]), r[3]) for r in found}

    def file_chunks(self, file_id: int, first_seq: int, last_seq: int) -> list[ChunkRow]:
        sql = "SELECT id FROM {s}.chunks WHERE file_id = %s AND seq BETWEEN %s AND %s ORDER BY seq"
        return self._ordered([int(r[0]) for r in self._rows(sql, (file_id, first_seq, last_seq))])

    def page_chunks(self, file_id: int, page: int) -> list[ChunkRow]:
        sql = "SELECT id FROM {s}.chunks WHERE file_id = %s AND page = %s ORDER BY seq"
        return self._ordered([int(r[0]) for r in self._rows(sql, (file_id, page))])

    def _ordered(self, ids: list[int]) -> list[ChunkRow]:
        rows = self.rows(ids)
        return [rows[i] for i in ids if i in rows]

    def _nearby(self, spans: dict[int, list[tuple[int, int]]]) -> dict[int, list[tuple[int, int, int | None]]]:
        """File id -> (id, seq, page) of its chunks within its seq spans, in order: one round trip for all."""
        flat = [(file_id, first, last) for file_id, ranges in spans.items() for first, last in ranges]
        if not flat:
            return {}
        sql = (
            "SELECT c.file_id, c.id, c.seq, c.page FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS s(file_id, first, last)"
            " JOIN {s}.chunks c ON c.file_id = s.file_id AND c.seq BETWEEN s.first AND s.last ORDER BY c.file_id, c.seq"
        )
        found: dict[int, list[tuple[int, int, int | None]]] = {file_id: [] for file_id in spans}
        for r in self._rows(sql, tuple(list(column) for column in zip(*flat))):
            found[int(r[0])].append((int(r[1]), int(r[2]), r[3]))
        return found


class PgReader:
    """An index in PostgreSQL, read one committed generation at a time (as IndexReader)."""

    def __init__(self, location: PgLocation, ef_search: int = 200) -> None:
        self.location = location
        self.folder = None
        self._ef_search = ef_search
        self._conn = connect(location.url)
        try:
            _up_to_date(location, self._conn)
            registry = self._registry()
            self.manifest = load_manifest(location, registry)
            self.identity = int(registry["id"])
            self.generation = int(registry["generation"])
            self._check_tables()
        except BaseException:
            self._conn.close()
            raise

    def _check_tables(self) -> None:
        """The cheap check of every open: the index's tables are all there."""
        schema = schema_of(self.identity)
        names = ("sources", "files", "chunks")
        found = self._conn.execute("SELECT " + ", ".join(["to_regclass(%s)"] * 3), [f"{schema}.{n}" for n in names]).fetchone()
        missing = [n for n, there in zip(names, found or ()) if there is None]
        if missing:
            raise damaged_in_database(self.location, RuntimeError(f"table {schema}.{missing[0]} is missing"))

    def _registry(self) -> dict[str, Any]:
        registry = registry_row(self._conn, self.location.name, laid_out=hasattr(self, "identity"))
        if registry is None:
            raise not_found(self.location)
        return registry

    def close(self) -> None:
        self._conn.close()

    @property
    def connection(self) -> "psycopg.Connection[Any]":
        return self._conn

    @contextmanager
    def snapshot(self) -> Iterator[PgSnapshot]:
        """The committed generation, held until the block ends (a commit meanwhile is not seen)."""
        import psycopg

        try:
            self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.OperationalError as err:
            raise unreachable(self.location.url, err) from None
        try:
            registry = self._registry()
            if int(registry["id"]) != self.identity:
                raise IndexNotFound(f"index {self.location.name!r} was removed")
            self.generation = int(registry["generation"])
            yield PgSnapshot(self._conn, schema_of(self.identity), registry, self._ef_search)
        except psycopg.OperationalError as err:
            raise unreachable(self.location.url, err) from None
        except psycopg.Error as err:  # its tables dropped or changed behind kbcli's back
            raise damaged_in_database(self.location, err) from None
        finally:
            if not self._conn.closed and not self._conn.broken:
                self._conn.execute("ROLLBACK")

    def search(self, vector: "np.ndarray", k: int, nprobe: int = 0) -> list[tuple[ChunkRow, float]]:
        with self.snapshot() as snap:
            found = snap.nearest(vector, k)
            rows = snap.rows([i for i, _ in found])
        return [(rows[i], s) for i, s in found if i in rows]

    def neighbours(self, file_id: int, seqs: Iterable[int]) -> dict[int, str]:
        with self.snapshot() as snap:
            sql = "SELECT seq, text FROM {s}.chunks WHERE file_id = %s AND seq = ANY(%s)"
            return {int(r[0]): r[1] for r in snap._rows(sql, (file_id, list(seqs)))}

    def stats(self) -> dict[str, Any]:
        with self.snapshot() as snap:
            counts = snap._rows(
                "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status = 'failed'),"
                " COALESCE(sum(pages), 0), COALESCE(sum(chunks), 0) FROM {s}.files"
            )[0]
            size = snap._rows(
                "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (snap._schema,),
            )[0][0]
            registry = snap._registry
        files, ok, failed, pages, chunks = (int(v) for v in counts)
        return {
            "generation": int(registry["generation"]), "created_at": registry["created_at"],
            "updated_at": registry["updated_at"], "files": files, "files_ok": ok, "files_failed": failed,
            "pages": pages, "chunks": chunks, "vectors": int(registry["chunks"]), "disk_bytes": int(size),
        }

    def sources(self) -> list[Source]:
        with self.snapshot() as snap:
            return sources_of(snap._rows("SELECT path, include, exclude, added_at FROM {s}.sources ORDER BY path"))

    def files(self, status: str | None = None) -> list[FileRecord]:
        with self.snapshot() as snap:
            return files_of(snap._rows, status)

    def verify(self) -> list[str]:
        """Problems in the committed state; empty when consistent (the database keeps vectors and
        rows together, so only the counts can disagree)."""
        with self.snapshot() as snap:
            chunks = int(snap._rows("SELECT count(*) FROM {s}.chunks")[0][0])
            recorded = int(snap._registry["chunks"])
        return [] if chunks == recorded else [f"{chunks} chunks, the registry records {recorded}"]


def _up_to_date(location: PgLocation, conn: "psycopg.Connection[Any]") -> None:
    """An index laid out by an older kbcli is migrated when first read (a fresh database is left
    alone: reading lays nothing out). The role needs the rights a writer has."""
    import psycopg

    from kbcli.errors import StorageFailure
    from kbcli.store.pg.schema import LAYOUT_VERSION, known_layout, migrate

    version = known_layout(conn)
    if 0 < version < LAYOUT_VERSION:
        try:
            migrate(conn)
        except psycopg.Error as err:
            raise StorageFailure(
                f"the PostgreSQL store has kbcli's layout {version}, this kbcli reads layout {LAYOUT_VERSION}, and migrating"
                f" it failed ({clean_message(location.url, err)}): run 'kbcli list --store URL' once as a role that may alter it"
            ) from None


def sources_of(rows: list[tuple[Any, ...]]) -> list[Source]:
    import json

    return [Source(r[0], tuple(json.loads(r[1])), tuple(json.loads(r[2])), r[3]) for r in rows]


_FILE_COLUMNS = "id, path, source, size, mtime_ns, sha256, title, pages, chunks, status, reason, detail, indexed_at"


def files_of(run: Any, status: str | None) -> list[FileRecord]:
    if status:
        return [FileRecord(*r) for r in run(f"SELECT {_FILE_COLUMNS} FROM {{s}}.files WHERE status = %s ORDER BY path", (status,))]
    return [FileRecord(*r) for r in run(f"SELECT {_FILE_COLUMNS} FROM {{s}}.files ORDER BY path")]
