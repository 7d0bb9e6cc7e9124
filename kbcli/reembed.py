"""`kbcli reembed`: an index's stored chunks embedded with another model, swapped in atomically.

The new index is built aside (`<home>/.reembed/<name>`): a copy of the SQLite store at the next
generation, the new vectors, the new manifest, and a hard link to the current vector file. One
`renameat2(RENAME_EXCHANGE)` then swaps the two folders. Until that swap nothing in the index
changed; after it the new one is complete. A kill at any moment leaves one of the two whole, and
the leftover aside folder is removed by the next reembed. A reader that opened the old index keeps
its open database and finds the old generation's vectors through the link, so it answers with the
old model until it is reopened. The writer lock is held throughout: no refresh runs meanwhile.

Chunks keep their text and ids; what was embedded with them (`title | heading | page lead`) is
rebuilt from the stored rows as chunking built it. Chunks are not re-cut: a model whose token
limit is below the stored chunks is refused (index again with it instead).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Callable

from kbcli.chunking import embed_prefix, page_lead, running_lines
from kbcli.errors import KbError, UsageError
from kbcli.models import Embedder, model_record
from kbcli.store import DATABASE, MANIFEST, IndexWriter, Manifest, now_iso, write_atomic
from kbcli.store.layout import fsync_dir  # fsyncs a file as well as a folder

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def embedded_texts(conn: sqlite3.Connection, embedder: Embedder) -> tuple[list[int], list[str]]:
    """Every chunk's id and the text its model sees, rebuilt as kbcli.chunking builds it."""
    rows = conn.execute(
        "SELECT c.id, c.file_id, c.page, c.heading, c.text, f.title FROM chunks c JOIN files f ON f.id = c.file_id"
        " ORDER BY c.file_id, c.seq"
    ).fetchall()
    by_file: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_file[row[1]].append(tuple(row))
    ids: list[int] = []
    texts: list[str] = []
    tokenizer = embedder.tokenizer
    for chunks in by_file.values():
        first_of_page: dict[int, str] = {}
        for _, _, page, _, text, _ in chunks:  # a page's first chunk opens with its lines
            if page is not None:
                first_of_page.setdefault(page, text)
        running = running_lines(first_of_page.values())
        for cid, _, page, heading, text, title in chunks:
            lead = page_lead(first_of_page[page], running) if page is not None else ""
            prefix = embed_prefix(title or "", " | ".join(p for p in (heading, lead) if p), tokenizer)
            embedded = f"{prefix}\n{text}" if prefix else text
            if tokenizer.count(embedded) > tokenizer.token_limit:
                embedded = text  # chunking drops the prefix when it leaves too little room
            if tokenizer.count(embedded) > tokenizer.token_limit:
                raise UsageError(
                    f"a chunk has more tokens than {embedder.spec.spec!r} takes ({tokenizer.token_limit}): "
                    "reembed does not re-cut chunks; index the files again with --model under another name"
                )
            ids.append(cid)
            texts.append(embedded)
    return ids, texts


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
        ids, vectors = _copy_and_embed(folder / DATABASE, aside / DATABASE, embedder, generation + 1, on_batch, manifest)
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
            "generation": generation + 1}


def _copy_and_embed(source_db: Path, target_db: Path, embedder: Embedder, generation: int, on_batch, manifest: Manifest):  # type: ignore[no-untyped-def]
    """Copy the committed database, embed its chunks, and record the new generation in the copy
    (with what kbcli.store.integrity checks on open: the counts and the manifest's copy)."""
    source = sqlite3.connect(f"file:{source_db}?mode=ro", uri=True)
    copy = sqlite3.connect(target_db)
    try:
        source.backup(copy)
        ids, texts = embedded_texts(copy, embedder)
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
    return ids, vectors


def _counter(total: int, on_batch: Callable[[int, int], None] | None) -> Callable[[int], None] | None:
    if on_batch is None:
        return None
    done = [0]

    def count(n: int) -> None:
        done[0] += n
        on_batch(done[0], total)

    return count
