"""Re-cutting an index's stored chunks for another model, without reading its files again.

Each chunk records the ordinal of its reader Section within its file (`section_seq`) and where
its passage starts in that section's text (`section_start`): a passage is the slice
`section.text[start:start + len(text)]`. Consecutive chunks of a section overlap or abut, so
laying them at their offsets gives the section's text back; the rare gap between two that do not
overlap held only what no token covers (whitespace) and comes back as spaces. The rebuilt
documents are then cut by kbcli.chunking exactly as `kbcli index` cuts what the readers give it.
Readers drop empty sections and strip their text, so nothing outside the chunks is lost.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from kbcli.chunking import ChunkSettings, TokenCounter, chunk_document
from kbcli.errors import IncompatibleIndex
from kbcli.indexer import chunk_records
from kbcli.keywords import name_words
from kbcli.readers import Document, Section, display_name
from kbcli.store import schema


def chunk_size(chunking: dict[str, int], token_limit: int) -> int:
    """The embedded tokens per chunk chunking chooses for a model with this limit."""
    return min(ChunkSettings(**chunking).max_tokens, token_limit)


def recut(
    conn: sqlite3.Connection, tokenizer: TokenCounter, settings: ChunkSettings, name: str, spec: str
) -> tuple[list[int], list[str], int]:
    """Replace every file's chunks in `conn` (inside its open transaction) by the new model's cut:
    returns the new chunk ids, their embedded texts, and how many chunks there were before."""
    by_file = schema.recut_rows(conn)
    if any(row["section_seq"] is None or row["section_start"] is None for rows in by_file.values() for row in rows):
        raise IncompatibleIndex(
            f"index {name!r} was built before kbcli recorded what re-cutting needs, and {spec!r} needs its chunks "
            f"re-cut: run 'kbcli index' again (a new index, or after 'kbcli remove {name} --yes') with --model {spec!r}"
        )
    ids: list[int] = []
    texts: list[str] = []
    before = 0
    for record in schema.files(conn, "ok"):
        rows = by_file.get(record.id)
        if not rows:
            continue
        before += len(rows)
        chunks = chunk_document(_document(record, rows), tokenizer, settings)
        names = name_words(display_name(Path(record.path).name), record.title)
        ids += schema.replace_chunks(conn, record.id, chunk_records(chunks, names))
        texts += [c.embed_text for c in chunks]
    return ids, texts, before


def _document(record: schema.FileRecord, rows: list[sqlite3.Row]) -> Document:
    """The file as its reader gave it, as far as its chunks hold it (in seq order)."""
    parts: dict[int, list[sqlite3.Row]] = defaultdict(list)
    for row in rows:
        parts[row["section_seq"]].append(row)
    sections = []
    for ordinal in sorted(parts):
        first = parts[ordinal][0]
        text = section_text((r["section_start"], r["text"]) for r in parts[ordinal])
        sections.append(Section(text=text, page=first["page"], page_label=first["page_label"],
                                heading=first["heading"], ocr=bool(first["ocr"])))
    return Document(path=Path(record.path), title=record.title or "", pages=record.pages, sections=sections)


def section_text(passages: Iterable[tuple[int, str]]) -> str:
    """A section's text from its chunks' (start offset, text), overlaps laid over each other."""
    pieces: list[str] = []
    end = 0
    for start, text in sorted(passages, key=lambda p: p[0]):
        if start > end:
            pieces.append(" " * (start - end))  # no overlap: only what no token covered lay here
            end = start
        if start + len(text) > end:
            pieces.append(text[end - start :])
            end = start + len(text)
    return "".join(pieces).lstrip()
