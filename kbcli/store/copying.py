"""What copying an index to another store needs beyond the reader and writer: holding off the
source's writers while it is read, and the embedded store's keyword rows as they were written."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from kbcli.store.integrity import guarded
from kbcli.store.layout import acquire_lock
from kbcli.store.location import Location, PgLocation
from kbcli.store.reader import Snapshot

KeywordRow = tuple[str, str, str]  # the name+title, heading+lead and body fields of one chunk
# Chunk columns beyond ChunkRow's, copied when the source store has them: where the passage lies
# in its reader section (what re-cutting needs; kbcli.recut).
EXTRA_CHUNK_COLUMNS = ("section_seq", "section_start")


@contextmanager
def writers_held(location: Location, wait: float = 0.0) -> Iterator[None]:
    """The index's writer lock, held for the block, so nothing commits while it is copied
    (LockBusy, exit 4, after `wait` seconds when a refresh holds it). Nothing is written."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.connection import acquire_lock as pg_lock, connect, release_lock

        conn = connect(location.url)
        try:
            pg_lock(conn, location.name, wait)
            try:
                yield
            finally:
                release_lock(conn, location.name)
        finally:
            conn.close()
        return
    with guarded(location, writing=False):
        lock = acquire_lock(location, wait)
    try:
        yield
    finally:
        lock.close()


def keyword_rows(snapshot: Snapshot, ids: Sequence[int]) -> dict[int, KeywordRow] | None:
    """Chunk id -> its keyword fields as the embedded store holds them (FTS5 keeps the words);
    None for the PostgreSQL store, which keeps only their lexemes: the caller rebuilds them."""
    if type(snapshot) is not Snapshot:
        return None
    found: dict[int, KeywordRow] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        sql = f"SELECT rowid, name, heading, body FROM chunks_fts WHERE rowid IN ({','.join('?' * len(part))})"
        found.update({int(r[0]): (r[1], r[2], r[3]) for r in snapshot._conn.execute(sql, part)})
    return found


def chunk_extras(snapshot: Snapshot, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Chunk id -> its EXTRA_CHUNK_COLUMNS that the source's table has (none: empty dicts)."""
    pg = type(snapshot) is not Snapshot
    if pg:
        sql = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'chunks'"
        present = {r[0] for r in snapshot._rows(sql, (snapshot._schema,))}  # type: ignore[attr-defined]
    else:
        present = {r[1] for r in snapshot._conn.execute("PRAGMA table_info(chunks)")}
    columns = [c for c in EXTRA_CHUNK_COLUMNS if c in present]
    if not columns:
        return {i: {} for i in ids}
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        if pg:
            rows = snapshot._rows(f"SELECT id, {', '.join(columns)} FROM {{s}}.chunks WHERE id = ANY(%s)", (part,))  # type: ignore[attr-defined]
        else:
            sql = f"SELECT id, {', '.join(columns)} FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            rows = snapshot._conn.execute(sql, part).fetchall()
        found.update({int(r[0]): dict(zip(columns, r[1:])) for r in rows})
    return found
