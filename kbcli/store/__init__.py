"""The on-disk index: one folder per index, written by one process at a time, read by many.

`layout` (files, durable writes, the writer's lock), `manifest` (fixed settings), `schema` (SQLite
tables and records), `reader` (snapshots that answer with data), `writer` (atomic commits).
`location` is the seam to the other store, `pg` (PostgreSQL + pgvector): the same reader and
writer methods, chosen by where an index lives (a folder or a `PgLocation`).
"""

from kbcli.store.check import CheckReport, check_index
from kbcli.store.integrity import damaged, has_database
from kbcli.store.layout import DATABASE, FORMAT_VERSION, LOCK, MANIFEST, now_iso, write_atomic
from kbcli.store.manifest import Manifest
from kbcli.store.reader import IndexReader, Snapshot
from kbcli.store.schema import ChunkRow, FileRecord, Source
from kbcli.store.writer import IndexWriter, create_index, delete_index

__all__ = [
    "CheckReport", "check_index", "damaged", "has_database", "DATABASE", "FORMAT_VERSION", "LOCK", "MANIFEST", "ChunkRow", "FileRecord", "IndexReader", "IndexWriter",
    "Manifest", "Snapshot", "Source", "create_index", "delete_index", "now_iso", "write_atomic",
]
