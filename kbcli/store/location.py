"""Where an index lives: a folder (the embedded store) or a PostgreSQL database (`PgLocation`).

The rest of kbcli opens, creates, removes and follows an index through these functions, and
gets a reader or writer with the same methods whichever store holds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Union

from kbcli.errors import IndexNotFound
from kbcli.store.layout import DATABASE, MANIFEST
from kbcli.store.pg.connection import PgLocation, is_pg_url, redact

if TYPE_CHECKING:
    from kbcli.store.manifest import Manifest
    from kbcli.store.pg.reader import PgReader
    from kbcli.store.pg.writer import PgWriter
    from kbcli.store.reader import IndexReader
    from kbcli.store.writer import IndexWriter

Location = Union[Path, PgLocation]
Reader = Union["IndexReader", "PgReader"]
Writer = Union["IndexWriter", "PgWriter"]

__all__ = [
    "Location", "PgLocation", "Reader", "Writer", "create", "delete", "identity", "is_pg", "is_pg_url", "open_reader",
    "open_writer", "pg_names", "redact", "shown",
]


def is_pg(location: Location) -> bool:
    return isinstance(location, PgLocation)


def shown(location: Location) -> str:
    """The location for people: a folder, or the database without its password."""
    return location.shown if isinstance(location, PgLocation) else str(location)


def open_reader(location: Location, ef_search: int = 200) -> Reader:
    """A reader of the committed generation that follows new commits."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.reader import PgReader

        return PgReader(location, ef_search=ef_search)
    from kbcli.store.reader import IndexReader

    return IndexReader(location)


def open_writer(location: Location, wait: float = 0.0) -> Writer:
    """The one writer (LockBusy, exit 4, after `wait` seconds when another one holds the index)."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.writer import PgWriter

        return PgWriter(location, wait=wait)
    from kbcli.store.writer import IndexWriter

    return IndexWriter(location, wait=wait)


def create(location: Location, manifest: "Manifest") -> None:
    """A new empty index (generation 0); IndexExists if there is one."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.writer import create_pg_index

        return create_pg_index(location, manifest)
    from kbcli.store.writer import create_index

    return create_index(location, manifest)


def delete(location: Location, wait: float = 0.0) -> None:
    """Remove an index whole, never under a running writer."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.writer import delete_pg_index

        return delete_pg_index(location, wait)
    from kbcli.store.writer import delete_index

    return delete_index(location, wait)


def identity(location: Location, reader: Reader | None = None) -> tuple[int, int, int]:
    """What changes when an index is removed and built again under its name; IndexNotFound
    when it is gone. `reader`: an open reader of it, whose connection can ask (PostgreSQL)."""
    if isinstance(location, PgLocation):
        from kbcli.store.pg.reader import registry_id

        return registry_id(location, getattr(reader, "connection", None)), 0, 0
    try:
        database, manifest = os.stat(location / DATABASE), os.stat(location / MANIFEST)
    except FileNotFoundError:
        raise IndexNotFound(f"index {location.name!r} is gone") from None
    return database.st_ino, manifest.st_ino, manifest.st_mtime_ns


def pg_names(url: str) -> list[str]:
    """The kbcli indexes in the database at `url` (none before the first `kbcli index` there)."""
    from kbcli.store.pg.connection import connect
    from kbcli.store.pg.schema import index_names

    conn = connect(url)
    try:
        return index_names(conn)
    finally:
        conn.close()
