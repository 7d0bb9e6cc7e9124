"""Answering questions: embed the query, find the nearest chunks, return hits with citations."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kbcli.errors import ModelMismatch
from kbcli.store import ChunkRow, IndexReader, Manifest

if TYPE_CHECKING:
    from kbcli.embedding import Embedder, ModelSpec


@dataclass
class Hit:
    rank: int
    score: float
    file: str  # absolute path
    source: str  # the source root the file was found under
    page: int | None
    page_label: str | None
    heading: str | None
    text: str
    chunk_id: int
    title: str | None = None
    file_id: int = 0
    seqs: list[int] = field(default_factory=list)  # the chunks this hit covers, in file order

    @property
    def relative(self) -> str:
        path, root = Path(self.file), Path(self.source)
        if path == root:
            return path.name
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return self.file

    def to_json(self) -> dict:
        data = asdict(self)
        for key in ("source", "title", "file_id", "seqs"):
            data.pop(key)
        return data


@dataclass
class QueryResult:
    index: str
    query: str
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"index": self.index, "query": self.query, "hits": [h.to_json() for h in self.hits]}


def model_spec_for(manifest: Manifest) -> "ModelSpec":
    """The embedding model an index must be used with; refuse one this kbcli cannot reproduce."""
    from kbcli.embedding import MODELS

    spec = MODELS.get(manifest.precision)
    if spec is None or spec.id != manifest.model or spec.dimension != manifest.dimension:
        available = ", ".join(m.fingerprint for m in MODELS.values())
        raise ModelMismatch(
            f"index {manifest.name!r} was built with {manifest.fingerprint} ({manifest.dimension} dims), "
            f"but this kbcli embeds with {available}: remove it (kbcli remove {manifest.name}) and index again"
        )
    return spec


def _to_hit(rank: int, row: ChunkRow, score: float) -> Hit:
    return Hit(
        rank=rank,
        score=round(score, 4),
        file=row.path,
        source=row.source,
        page=row.page,
        page_label=row.page_label,
        heading=row.heading,
        text=row.text,
        chunk_id=row.id,
        title=row.title,
        file_id=row.file_id,
        seqs=[row.seq],
    )


class Searcher:
    """Holds an open index and its model; reuse it for many queries (batch mode, the shell)."""

    def __init__(self, name: str, reader: IndexReader, embedder: "Embedder") -> None:
        self.name = name
        self.reader = reader
        self.embedder = embedder

    def search(self, query: str, top_k: int = 5) -> QueryResult:
        started = time.perf_counter()
        vector = self.embedder.embed_query(query)
        found = self.reader.search(vector, top_k)
        hits = [_to_hit(rank, row, score) for rank, (row, score) in enumerate(found, start=1)]
        return QueryResult(self.name, query, hits, round(time.perf_counter() - started, 4))

    def close(self) -> None:
        self.reader.close()
