"""kbcli's tables in PostgreSQL: a registry schema `kbcli` and one schema per index.

`kbcli.meta` records the layout version; `migrate` brings an older database up to date, one
numbered step at a time, under a transaction lock so two first runs do not race.
`kbcli.indexes` is the registry: name, manifest, committed generation and the keyword
statistics of that generation. Each index's rows live in its own schema `kbcli_<id>` (an id,
not the name: names may hold '.', '-' and 64 characters): sources, files and chunks, the
chunk's vector in a `vector(d)` column with an HNSW index (cosine), and its keywords as rows
of `postings` (lexeme, chunk, count in each keyword field, the chunk's length: BM25 reads
these rows alone). Dropping an index is `DROP SCHEMA ... CASCADE`: nothing of it is left.

Layouts: 1 kept each chunk's keywords in tsvectors with a GIN index, and BM25 unnested every
matching chunk's tsvector (0.4-2.8 s a FinanceBench question); 2 keeps postings instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import psycopg

LAYOUT_VERSION = 2
MIGRATION_LOCK = 0x6B62_0001

# Step N brings layout N-1 to N (SQL, or a function of the connection for steps that visit
# every index's schema); a new layout appends a step and bumps LAYOUT_VERSION.
MIGRATIONS: dict[int, "str | Callable[[psycopg.Connection[Any]], None]"] = {
    1: """
    CREATE SCHEMA IF NOT EXISTS kbcli;
    CREATE TABLE IF NOT EXISTS kbcli.meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE IF NOT EXISTS kbcli.indexes (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        manifest jsonb NOT NULL,
        generation bigint NOT NULL DEFAULT 0,
        created_at text NOT NULL,
        updated_at text NOT NULL,
        chunks bigint NOT NULL DEFAULT 0,        -- of the committed generation
        tokens bigint NOT NULL DEFAULT 0);       -- keyword tokens of all its chunks (BM25's average length)
    """,
}

# One row per (lexeme, chunk): its count in each keyword field and the chunk's length, so
# BM25 needs no other table. The writer deletes a chunk's rows with the chunk (no foreign key:
# its check per row slowed bulk writes; the (chunk_id) index serves those deletes).
POSTINGS = """
CREATE TABLE {schema}.postings (
    lexeme text NOT NULL,
    chunk_id bigint NOT NULL,
    name_tf integer NOT NULL,
    heading_tf integer NOT NULL,
    body_tf integer NOT NULL,
    len integer NOT NULL,                      -- name_tokens + text_tokens of the chunk
    PRIMARY KEY (lexeme, chunk_id));
CREATE INDEX ON {schema}.postings (chunk_id);
"""
HNSW = "CREATE INDEX IF NOT EXISTS chunks_embedding_idx ON {schema}.chunks USING hnsw (embedding vector_cosine_ops)"

# Layout 1 -> 2: postings from the tsvectors (each position's weight says its field: A name,
# B heading, C body), then the tsvectors and their GIN index go.
_POSTINGS_FROM_TSVECTORS = """
INSERT INTO {schema}.postings(lexeme, chunk_id, name_tf, heading_tf, body_tf, len)
SELECT u.lexeme, c.id, count(*) FILTER (WHERE w = 'A'), count(*) FILTER (WHERE w = 'B'),
       count(*) FILTER (WHERE w = 'C'), c.name_tokens + c.text_tokens
FROM {schema}.chunks c, unnest(c.words) AS u, unnest(u.weights) AS w
GROUP BY c.id, u.lexeme;
ALTER TABLE {schema}.chunks DROP COLUMN words, DROP COLUMN name_words, DROP COLUMN text_words;
"""


def _layout_2(conn: "psycopg.Connection[Any]") -> None:
    for (index_id,) in conn.execute("SELECT id FROM kbcli.indexes ORDER BY id").fetchall():
        schema = schema_of(int(index_id))
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.chunks",)).fetchone()[0] is None:  # type: ignore[index]
            continue  # a damaged index (its tables dropped by hand): nothing to convert
        conn.execute((POSTINGS + _POSTINGS_FROM_TSVECTORS).format(schema=schema))  # type: ignore[arg-type]
        conn.execute(f"ANALYZE {schema}.postings")


MIGRATIONS[2] = _layout_2


INDEX_TABLES = """
CREATE SCHEMA {schema};
CREATE TABLE {schema}.sources (
    path text PRIMARY KEY, include text NOT NULL, exclude text NOT NULL, added_at text NOT NULL);
CREATE TABLE {schema}.files (
    id bigserial PRIMARY KEY,
    path text NOT NULL UNIQUE,
    source text NOT NULL,
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    sha256 text NOT NULL,
    title text,
    pages integer NOT NULL DEFAULT 0,
    chunks integer NOT NULL DEFAULT 0,
    status text NOT NULL,
    reason text,
    detail text,
    indexed_at text NOT NULL);
CREATE TABLE {schema}.chunks (
    id bigserial PRIMARY KEY,                  -- never reused: ids stay stable across commits
    file_id bigint NOT NULL REFERENCES {schema}.files(id) ON DELETE CASCADE,
    seq integer NOT NULL,
    page integer,
    page_label text,
    heading text,
    text text NOT NULL,
    ocr boolean,
    section_seq integer,                       -- the reader's Section within the file (re-cutting)
    section_start integer,                     -- where the text starts in that section's text
    embedding vector({dimension}) NOT NULL,    -- its HNSW index: made by the first commit with chunks
    name_tokens integer NOT NULL,              -- keyword words in the name+title field
    text_tokens integer NOT NULL);             -- in the heading and body fields
CREATE INDEX ON {schema}.chunks (file_id, seq);
CREATE INDEX ON {schema}.chunks (file_id, page);
""" + POSTINGS


def schema_of(index_id: int) -> str:
    return f"kbcli_{int(index_id)}"


def ensure_extension(conn: "psycopg.Connection[Any]") -> None:
    """pgvector, created when missing (that needs a role allowed to; readers find it there)."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def layout_version(conn: "psycopg.Connection[Any]") -> int:
    if conn.execute("SELECT to_regclass('kbcli.meta')").fetchone()[0] is None:  # type: ignore[index]
        return 0
    row = conn.execute("SELECT value FROM kbcli.meta WHERE key = 'layout'").fetchone()
    return int(row[0]) if row else 0


def known_layout(conn: "psycopg.Connection[Any]") -> int:
    """The layout version (0: none yet); IncompatibleIndex when a newer kbcli laid it out."""
    from kbcli.errors import IncompatibleIndex

    version = layout_version(conn)
    if version > LAYOUT_VERSION:
        raise IncompatibleIndex(
            f"the PostgreSQL store was laid out by a newer kbcli (layout {version}, this one knows {LAYOUT_VERSION})"
        )
    return version


def migrate(conn: "psycopg.Connection[Any]") -> int:
    """Apply the missing steps (autocommit connection); returns the layout version."""
    if known_layout(conn) == LAYOUT_VERSION:  # the usual case: no lock taken
        return LAYOUT_VERSION
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = known_layout(conn)
        for step in range(version + 1, LAYOUT_VERSION + 1):
            change = MIGRATIONS[step]
            if callable(change):
                change(conn)
            else:
                conn.execute(change)  # type: ignore[arg-type]
            conn.execute(
                "INSERT INTO kbcli.meta(key, value) VALUES ('layout', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(step),),
            )
    return LAYOUT_VERSION


def registry_row(conn: "psycopg.Connection[Any]", name: str, laid_out: bool = False) -> dict[str, Any] | None:
    """The registry's row of index `name` (None if there is none, or no kbcli layout yet).
    `laid_out`: the layout is known to be there (an open reader's), so it is not looked up again."""
    if not laid_out and known_layout(conn) == 0:
        return None
    cur = conn.execute(
        "SELECT id, name, manifest, generation, created_at, updated_at, chunks, tokens FROM kbcli.indexes WHERE name = %s",
        (name,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([c.name for c in cur.description], row))  # type: ignore[union-attr]


def index_names(conn: "psycopg.Connection[Any]") -> list[str]:
    if known_layout(conn) == 0:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM kbcli.indexes ORDER BY name")]


def create_tables(conn: "psycopg.Connection[Any]", index_id: int, dimension: int) -> None:
    """An index's tables, empty. No HNSW index yet: the first commit with chunks builds it over
    them at once (PgWriter.commit), which is far faster than growing it a row at a time."""
    conn.execute(INDEX_TABLES.format(schema=schema_of(index_id), dimension=int(dimension)))  # type: ignore[arg-type]
