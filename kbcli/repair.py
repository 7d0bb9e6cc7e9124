"""`kbcli repair`: rebuild what can be rebuilt from what survives, committed like any change.

The database's rows are the truth: the manifest comes back from its copy in the database's
meta, the vectors from the stored chunk texts (re-embedded with the index's model, as chunking
embedded them: `title | heading | page lead` before the passage), and the keyword rows from the
chunks. The result is a new generation, written atomically. A database that is itself corrupt
cannot be rebuilt from: that is said plainly, with the commands that start over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

from kbcli.chunking import TokenCounter, embedded_texts
from kbcli.errors import DamagedIndex
from kbcli.keywords import name_words, segment
from kbcli.readers import display_name
from kbcli.store import MANIFEST, IndexWriter, Manifest, check_index, damaged, write_atomic
from kbcli.store.integrity import guarded

if TYPE_CHECKING:
    import numpy as np


class Embedder(Protocol):
    """What repair needs of the index's model (kbcli.embedding's, loaded only when needed)."""

    tokenizer: TokenCounter

    def embed(self, texts: Sequence[str]) -> "np.ndarray": ...

EmbeddingRow = tuple[int, int, "int | None", "str | None", str, "str | None", str]


@dataclass
class RepairReport:
    name: str
    found: list[str] = field(default_factory=list)  # the problems before
    done: list[str] = field(default_factory=list)  # what was rebuilt, one line each
    generation: int = 0
    chunks: int = 0


def restore_manifest(folder: Path, stored: str | None) -> Manifest | None:
    """The manifest rewritten from the database's copy when the file is gone or unreadable;
    None when the file is fine."""
    try:
        Manifest.load(folder)
        return None
    except DamagedIndex:  # missing or unreadable; another format's is IncompatibleIndex, said as it is
        if not stored:
            raise damaged(folder, "manifest missing and the database holds no copy of it", repairable=False) from None
    manifest = Manifest.from_json(folder, json.loads(stored))
    write_atomic(folder / MANIFEST, manifest.to_bytes())
    return manifest


def repair(folder: Path, embedder_factory: Callable[[Manifest], Embedder], wait: float = 0.0) -> RepairReport:
    """Bring the index in `folder` back to a consistent committed state, or say why it cannot be."""
    before = check_index(folder)
    report = RepairReport(folder.name, found=list(before.problems))
    if before.healthy:
        report.generation, report.chunks = before.generation or 0, before.chunks or 0
        return report
    if before.generation is None:  # the database itself did not pass: nothing to rebuild from
        raise damaged(folder, before.problems[-1], repairable=False)
    stored = _stored_manifest(folder)
    manifest = restore_manifest(folder, stored)
    if manifest is not None:
        report.done.append(f"{MANIFEST} restored from the database")
    writer = IndexWriter(folder, wait=wait, lenient=True)
    try:
        with guarded(folder, writing=True):
            _rebuild(writer, embedder_factory, report)
            writer.mark_changed()  # a new generation, even when only the manifest came back
            writer.commit()
        report.generation, report.chunks = writer.generation, len(writer.chunk_ids())
    finally:
        writer.close()
    return report


def _stored_manifest(folder: Path) -> str | None:
    from kbcli.store import schema

    conn = schema.connect(folder, readonly=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key='manifest'").fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()


def _rebuild(writer: IndexWriter, embedder_factory: Callable[[Manifest], Embedder], report: RepairReport) -> None:
    orphans = writer.drop_orphans()
    if orphans:
        report.done.append(f"{orphans} chunks without a file removed")
    counts = writer.fix_file_counts()
    if counts:
        report.done.append(f"{counts} file records' chunk counts corrected")
    chunk_ids, vector_ids = writer.chunk_ids(), writer.vector_ids()
    stray = sorted(vector_ids - chunk_ids)
    writer.drop_vectors(stray)
    if stray:
        report.done.append(f"{len(stray)} vectors without a chunk removed")
    missing = sorted(chunk_ids - vector_ids)
    keywords_missing = sorted(chunk_ids - writer.keyword_ids())
    keywords_stray = sorted(writer.keyword_ids() - chunk_ids)
    if keywords_stray and not keywords_missing:
        writer.put_keywords([], keywords_stray)
        report.done.append(f"keyword index rebuilt ({len(keywords_stray)} stray rows removed)")
    if not (missing or keywords_missing):
        return
    rows = writer.embedding_rows()
    embedder = embedder_factory(writer.manifest)  # the model: only when something must be embedded
    wanted = set(missing) | set(keywords_missing)
    texts = embedded_texts([r for r in rows if r[1] in {w[1] for w in rows if w[0] in wanted}], embedder.tokenizer)
    if missing:
        vectors = embedder.embed([texts[i].text for i in missing])
        writer.add_vectors(vectors, missing)
        report.done.append(f"{len(missing)} vectors re-embedded from the stored chunks")
    by_id = {r[0]: r for r in rows}
    if keywords_missing:
        writer.put_keywords([_keyword_row(by_id[i], texts[i].lead) for i in keywords_missing], keywords_stray)
        report.done.append(f"keyword index rebuilt ({len(keywords_missing)} rows restored)")


def _keyword_row(row: EmbeddingRow, lead: str) -> tuple[int, str, str, str]:
    cid, _, _, heading, text, title, path = row
    context = " ".join(p for p in (heading, lead) if p)
    return cid, name_words(display_name(Path(path).name), title), segment(context), segment(text)
