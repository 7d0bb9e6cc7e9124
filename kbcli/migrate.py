"""`kbcli migrate`: copy an index to another store (the kbcli home's folders, or PostgreSQL) with
its vectors, so nothing is embedded again.

Everything goes through the store seam: the source's reader (one snapshot, while its writer lock
keeps refreshes out) and the target's writer, which commits the whole copy once. The manifest is
copied as it is (model spec, dimension, probe vectors), so the target is queried with the same
model and refuses a changed one alike. Chunks keep their relative order (and so their ties),
every column of their rows (section_seq / section_start too, where both stores keep them) and
their keyword fields: read back from the embedded store's FTS table, or, from PostgreSQL (which
keeps only lexemes), rebuilt from the rows as `kbcli repair` rebuilds them. Text is copied as it
is, but for NUL characters (PostgreSQL refuses them), which become spaces. A copy that fails
removes the half-made target; the source is never changed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kbcli.chunking import page_lead, running_lines
from kbcli.errors import IndexExists, UsageError
from kbcli.keywords import name_words, segment
from kbcli.readers import display_name
from kbcli.store.copying import KeywordRow, chunk_extras, keyword_rows, writers_held
from kbcli.store.location import Location, PgLocation, create, delete, is_pg, is_pg_url, open_reader, open_writer, redact, shown
from kbcli.store.reader import Snapshot
from kbcli.store.schema import ChunkRow, FileRecord

if TYPE_CHECKING:
    from kbcli.kb import KnowledgeBase
    from kbcli.store.location import Writer

EMBEDDED = "embedded"  # `--to embedded`: the kbcli home's folders
Progress = Callable[[int, int, int], None]  # (files copied, files in all, chunks copied)

# ChunkRow fields that come from the file or the store, not from the chunk itself.
_NOT_CHUNK_COLUMNS = {"id", "file_id", "path", "source", "title"}
# FileRecord fields the writer sets itself.
_NOT_FILE_COLUMNS = {"id", "chunks", "status", "reason", "indexed_at"}


@dataclass
class MigrateReport:
    index: str
    source: str  # where it was copied from, without a password
    target: str
    files: int
    failed: int  # files recorded as unreadable, copied as such
    chunks: int
    sources: int
    dimension: int
    model: str
    generation: int  # the target's
    seconds: float

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("source", "target")}
        return {"index": self.index, "from": self.source, "to": self.target, **data}


def locations(kb: "KnowledgeBase", name: str, to: str) -> tuple[Location, Location]:
    """(source, target) of `kbcli migrate NAME --to TO`: the source in the invocation's store
    (the home, or --store), the target in the store TO names."""
    to = to.strip()
    if to.lower() == EMBEDDED:
        if not kb.store:
            raise UsageError(f"index {name!r} is already in the embedded store; give --store URL to copy one out of PostgreSQL")
        return kb.require(name), kb.folder(name)
    if not is_pg_url(to):
        raise UsageError(f"--to takes a postgresql:// connection string or '{EMBEDDED}', not {redact(to)!r}")
    if kb.store and kb.store.strip() == to:
        raise UsageError(f"index {name!r} is already in {redact(to)}: --to names the store it is in")
    return kb.require(name), PgLocation(to, name)


def migrate(source: Location, target: Location, *, wait: float = 0.0, progress: Progress | None = None) -> MigrateReport:
    """Copy the index at `source` to `target` (which must not hold one yet) in one commit."""
    started = time.monotonic()
    reader = open_reader(source)
    try:
        with writers_held(source, wait):
            manifest = reader.manifest
            _create(target, manifest)
            try:
                report = _copy(reader, target, progress)
            except BaseException:
                delete(target)  # only what this run made: never the source
                raise
    finally:
        reader.close()
    report.seconds = round(time.monotonic() - started, 2)
    report.source = shown(source)
    return report


def _create(target: Location, manifest: Any) -> None:
    try:
        create(target, manifest)
    except IndexExists:
        where = "the kbcli home" if not is_pg(target) else redact(target.url)  # type: ignore[union-attr]
        raise IndexExists(
            f"index {manifest.name!r} already exists in {where}: migrate copies into a store that does not have it"
            " (remove it there first, or keep both)"
        ) from None


def _copy(reader: Any, target: Location, progress: Progress | None) -> MigrateReport:
    files = reader.files()
    sources = reader.sources()
    writer = open_writer(target)
    try:
        for source in sources:
            writer.add_source(source.path, source.include, source.exclude)
        chunks = 0
        with reader.snapshot() as snap:
            order = _file_order(snap)
            ok = sorted((f for f in files if f.status == "ok"), key=lambda f: order.get(f.id, float("inf")))
            failed = [f for f in files if f.status != "ok"]
            for record in failed:
                writer.put_failure(_file_values(record), record.reason or "damaged", record.detail or "")
            for done, record in enumerate(ok, 1):
                chunks += _copy_file(snap, writer, record)
                if progress is not None:
                    progress(done + len(failed), len(files), chunks)
        writer.mark_changed()
        writer.commit()
        manifest = writer.manifest
        return MigrateReport(
            index=manifest.name, source="", target=shown(target), files=len(files), failed=len(failed), chunks=chunks,
            sources=len(sources), dimension=manifest.dimension, model=manifest.spec or manifest.fingerprint,
            generation=writer.generation, seconds=0.0,
        )
    finally:
        writer.close()


def _file_order(snap: Snapshot) -> dict[int, int]:
    """File id -> its smallest chunk id: files are copied in that order, so the copies' chunk ids
    keep the source's order (ranking breaks ties by id)."""
    ids = snap.chunk_ids()
    first: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        for chunk_id, (file_id, _, _) in snap.places(ids[start : start + 5000]).items():
            first[file_id] = min(first.get(file_id, chunk_id), chunk_id)
    return first


def _file_values(record: FileRecord) -> dict[str, Any]:
    return {k: _storable(v) for k, v in asdict(record).items() if k not in _NOT_FILE_COLUMNS}


def _storable(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL, which some PDFs' text layers carry (3 of FinanceBench's
    9,325 chunks): it becomes a space, a separator to both keyword tokenizers alike."""
    return value.replace("\x00", " ") if isinstance(value, str) else value


def _copy_file(snap: Snapshot, writer: "Writer", record: FileRecord) -> int:
    import numpy as np

    rows = snap.file_chunks(record.id, -(2**31), 2**31 - 1)
    ids = [row.id for row in rows]
    vectors = snap.vectors(ids)
    if len(vectors) != len(ids):
        from kbcli.errors import DamagedIndex

        raise DamagedIndex(f"{record.path}: {len(ids) - len(vectors)} chunk(s) without a vector; run 'kbcli check'")
    words = keyword_rows(snap, ids) or rebuilt_keywords(rows)
    extras = chunk_extras(snap, ids)
    chunks = [{**_chunk_values(row, words[row.id]), **extras.get(row.id, {})} for row in rows]
    matrix = np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, writer.manifest.dimension), dtype=np.float32)
    writer.put_file(_file_values(record), chunks, matrix)
    return len(chunks)


def _chunk_values(row: ChunkRow, words: KeywordRow) -> dict[str, Any]:
    values = {k: _storable(v) for k, v in asdict(row).items() if k not in _NOT_CHUNK_COLUMNS}
    values["ocr"] = bool(values.get("ocr"))
    values["keywords"] = {"name": _storable(words[0]), "heading": _storable(words[1]), "body": _storable(words[2])}
    return values


def rebuilt_keywords(rows: Sequence[ChunkRow]) -> dict[int, KeywordRow]:
    """One file's keyword fields rebuilt from its rows in seq order, as kbcli.repair does: name and
    title; heading and page lead (from the page's first chunk); the segmented text."""
    first_of_page: dict[int, str] = {}
    for row in rows:
        if row.page is not None:
            first_of_page.setdefault(row.page, row.text)
    running = running_lines(first_of_page.values())
    leads: dict[int, str] = defaultdict(str)
    found: dict[int, KeywordRow] = {}
    for row in rows:
        if row.page is not None and row.page not in leads:
            leads[row.page] = page_lead(first_of_page[row.page], running)
        lead = leads[row.page] if row.page is not None else ""
        context = " ".join(p for p in (row.heading, lead) if p)
        found[row.id] = (name_words(display_name(Path(row.path).name), row.title), segment(context), segment(row.text))
    return found
