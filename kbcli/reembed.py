"""`kbcli reembed`: an index's stored chunks embedded with another model, swapped in atomically.

The new index is built aside (`<home>/.reembed/<name>`): a copy of the SQLite store at the next
generation, the new vectors, the new manifest, and a hard link to the current vector file. One
`renameat2(RENAME_EXCHANGE)` then swaps the two folders. Until that swap nothing in the index
changed; after it the new one is complete. A kill at any moment leaves one of the two whole, and
the leftover aside folder is removed by the next reembed. A reader that opened the old index keeps
its open database and finds the old generation's vectors through the link, so it answers with the
old model until it is reopened. The writer lock is held throughout: no refresh runs meanwhile.

Chunks keep their text and ids when the new model takes them as they are; what was embedded with
them (`title | heading | page lead`) is rebuilt from the stored rows as chunking built it. When
its chunk size differs from the old model's, or a stored chunk does not fit it, the copy's chunks
are re-cut from the stored sections (kbcli.recut), as `kbcli index` would cut them: new chunk ids,
keyword rows and file counts, all in the copy, so the kill guarantee above holds for them too.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kbcli.chunking import ChunkSettings, embedded_texts
from kbcli.errors import KbError
from kbcli.models import Embedder, model_record
from kbcli.recut import chunk_size, recut
from kbcli.store import DATABASE, MANIFEST, IndexWriter, Manifest, now_iso, schema, write_atomic
from kbcli.store.layout import fsync_dir  # fsyncs a file as well as a folder

if TYPE_CHECKING:
    import numpy as np

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _chunks_to_embed(conn: sqlite3.Connection, old: Manifest, embedder: Embedder) -> tuple[list[int], list[str], int | None]:
    """The new generation's chunk ids and embedded texts, and how many chunks there were before
    when they were re-cut (else None). They are the stored ones as they are, or re-cut
    (kbcli.recut) when the new model's chunk size differs from the old one's or one does not fit it."""
    tokenizer = embedder.tokenizer
    settings = ChunkSettings(**old.chunking)
    if chunk_size(old.chunking, old.token_limit) == chunk_size(old.chunking, tokenizer.token_limit):
        texts = embedded_texts(schema.embedding_rows(conn), tokenizer)
        if all(e.fits for e in texts.values()):
            return list(texts), [e.text for e in texts.values()], None
    return recut(conn, tokenizer, settings, old.name, embedder.spec.spec)


def _exchange(a: Path, b: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise KbError(f"could not swap {a} and {b} atomically: {os.strerror(err)}")


def reembed(
    folder: Path, embedder: Embedder, aside: Path, *, wait: float = 0.0, on_batch: Callable[[int, int], None] | None = None
) -> dict[str, object]:
    """Re-embed the index in `folder` with `embedder`; `on_batch(done, total)` reports progress."""
    from kbcli.vectors import VectorIndex

    writer = IndexWriter(folder, wait=wait)  # the lock, held until the swap is done
    try:
        old: Manifest = writer.manifest
        generation = writer.generation
        if aside.exists():
            shutil.rmtree(aside)  # a killed run's leftovers
        aside.mkdir(parents=True)
        manifest = Manifest(**{**old.to_json(), **model_record(embedder)})
        ids, vectors, recut_from = _copy_and_embed(folder / DATABASE, aside / DATABASE, embedder, (old, manifest), generation + 1, on_batch)
        index = VectorIndex.empty(embedder.dimension)
        if ids:
            index.add(vectors, ids)
        index.settle(old.vector_index)
        index.save(aside / f"vectors-{generation + 1}.faiss")
        current = folder / f"vectors-{generation}.faiss"
        if current.exists():  # readers of the old database still find their generation
            os.link(current, aside / current.name)
        write_atomic(aside / MANIFEST, json.dumps(manifest.to_json(), indent=2).encode())
        for path in aside.iterdir():
            fsync_dir(path)
        fsync_dir(aside)
        _exchange(aside, folder)
        fsync_dir(folder.parent)
    finally:
        writer.close()
        shutil.rmtree(aside, ignore_errors=True)  # the old index once swapped; else a partial new one
    return {"name": old.name, "from": old.spec or old.fingerprint, "to": embedder.spec.spec, "chunks": len(ids),
            "generation": generation + 1, "recut": None if recut_from is None else {"from": recut_from, "to": len(ids)}}


def _copy_and_embed(
    source_db: Path, target_db: Path, embedder: Embedder, manifests: tuple[Manifest, Manifest], generation: int,
    on_batch: Callable[[int, int], None] | None,
) -> tuple[list[int], "np.ndarray", int | None]:
    """Copy the committed database, re-cut and embed its chunks, and record the next generation in
    the copy (with what kbcli.store.integrity checks on open: the counts and the manifest's copy)."""
    source = sqlite3.connect(f"file:{source_db}?mode=ro", uri=True)
    copy = sqlite3.connect(target_db)
    copy.row_factory = sqlite3.Row
    try:
        source.backup(copy)
        schema.migrate(copy)
        old, manifest = manifests
        ids, texts, recut_from = _chunks_to_embed(copy, old, embedder)
        vectors = embedder.embed(texts, on_batch=_counter(len(texts), on_batch))
        copy.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("generation", str(generation)), ("updated_at", now_iso()), ("vectors", str(len(ids))),
             ("chunks", str(len(ids))), ("manifest", manifest.to_bytes().decode())],
        )
        copy.commit()
    finally:
        copy.close()
        source.close()
    return ids, vectors, recut_from


def _counter(total: int, on_batch: Callable[[int, int], None] | None) -> Callable[[int], None] | None:
    if on_batch is None:
        return None
    done = [0]

    def count(n: int) -> None:
        done[0] += n
        on_batch(done[0], total)

    return count
