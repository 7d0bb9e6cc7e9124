"""Answering questions: vector and keyword (BM25) candidates, fused, merged, with citations."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kbcli.errors import ModelMismatch, UsageError
from kbcli.keywords import fts_query
from kbcli.store import ChunkRow, IndexReader, Manifest

if TYPE_CHECKING:
    from kbcli.embedding import Embedder, ModelSpec

MODES = ("hybrid", "vector", "keyword")


@dataclass(frozen=True)
class SearchSettings:
    """How candidates are found and fused; defaults chosen with bench/quality.py (README: Ranking)."""

    mode: str = "hybrid"
    candidates: int = 50  # from each side, before fusion
    rrf_k: float = 60.0  # reciprocal-rank fusion constant
    vector_weight: float = 1.0  # weight of the vector side's reciprocal ranks
    keyword_weight: float = 1.0
    # An English-only model embeds Chinese/Japanese/Korean questions poorly: let keywords lead.
    foreign_vector_weight: float = 0.02
    field_weights: tuple[float, float, float] = (4.0, 2.0, 1.0)  # BM25 weights: file name+title, heading, text
    merge_adjacent: bool = True  # neighbouring chunks of one page become one hit

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown search mode {self.mode!r}: choose {', '.join(MODES)}")

    @classmethod
    def from_env(cls, mode: str | None = None) -> "SearchSettings":
        """Defaults, with KBCLI_RRF_K / KBCLI_VECTOR_WEIGHT / KBCLI_KEYWORD_WEIGHT / KBCLI_CANDIDATES for tuning."""
        env = os.environ
        return cls(
            mode=mode or env.get("KBCLI_SEARCH_MODE", "hybrid"),
            candidates=int(env.get("KBCLI_CANDIDATES", "50")),
            rrf_k=float(env.get("KBCLI_RRF_K", "60")),
            vector_weight=float(env.get("KBCLI_VECTOR_WEIGHT", "1")),
            keyword_weight=float(env.get("KBCLI_KEYWORD_WEIGHT", "1")),
        )


@dataclass
class Explanation:
    vector_rank: int | None
    vector_score: float | None
    keyword_rank: int | None
    keyword_score: float | None
    fused: float


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
    seqs: list[int] = field(default_factory=list)  # the chunks this hit covers (merged neighbours)
    explain: Explanation | None = None
    ocr: bool = False  # the passage was recognised from a scanned page (may hold OCR errors)

    @property
    def relative(self) -> str:
        path, root = Path(self.file), Path(self.source)
        if path == root:
            return path.name
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return self.file

    def to_json(self, explain: bool = False) -> dict:
        data = asdict(self)
        for key in ("source", "title", "file_id", "seqs", "explain"):
            data.pop(key)
        if explain and self.explain is not None:
            data["explain"] = asdict(self.explain)
        return data


@dataclass
class QueryResult:
    index: str
    query: str
    mode: str = "hybrid"
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self, explain: bool = False) -> dict:
        return {
            "index": self.index,
            "query": self.query,
            "mode": self.mode,
            "hits": [h.to_json(explain) for h in self.hits],
            "seconds": self.seconds,  # search time in the process (no start-up, no printing)
        }


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


def fuse(
    vector: list[tuple[int, float]], keyword: list[tuple[int, float]], settings: SearchSettings
) -> list[tuple[int, Explanation]]:
    """Weighted reciprocal-rank fusion: robust to the two sides' incomparable score scales."""
    table: dict[int, Explanation] = {}
    for rank, (cid, score) in enumerate(vector, start=1):
        table[cid] = Explanation(rank, round(score, 4), None, None, settings.vector_weight / (settings.rrf_k + rank))
    for rank, (cid, score) in enumerate(keyword, start=1):
        entry = table.setdefault(cid, Explanation(None, None, None, None, 0.0))
        entry.keyword_rank, entry.keyword_score = rank, round(score, 4)
        entry.fused += settings.keyword_weight / (settings.rrf_k + rank)
    return sorted(table.items(), key=lambda item: item[1].fused, reverse=True)


def _stitch(first: str, second: str) -> str:
    """Join two overlapping passages, dropping the repeated part."""
    for size in range(min(len(first), len(second), 600), 10, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return first + "\n" + second


class Searcher:
    """Holds an open index and its model; reuse it for many queries (batch mode, the shell)."""

    def __init__(self, name: str, reader: IndexReader, embedder: "Embedder | None" = None) -> None:
        self.name = name
        self.reader = reader
        self.embedder = embedder
        self.modes = MODES

    def search(self, query: str, top_k: int = 5, settings: SearchSettings | None = None) -> QueryResult:
        settings = self._adapt(settings or SearchSettings.from_env(), query)
        started = time.perf_counter()
        pool = max(settings.candidates, top_k * 4)
        vector_side: list[tuple[int, float]] = []
        keyword_side: list[tuple[int, float]] = []
        embedded = None
        if settings.mode != "keyword":
            assert self.embedder is not None, "vector search needs the embedding model"
            embedded = self.embedder.embed_query(query)
        match = fts_query(query) if settings.mode != "vector" else None
        with self.reader.snapshot() as conn:
            if embedded is not None:
                vector_side = self.reader.vector_search(conn, embedded, pool)
            if match:
                keyword_side = self.reader.keyword_search(conn, match, pool, settings.field_weights)
            fused = fuse(vector_side, keyword_side, settings)
            rows = self.reader.rows(conn, [cid for cid, _ in fused[: pool * 2]])
        hits = self._hits(fused, rows, top_k, settings)
        return QueryResult(self.name, query, settings.mode, hits, round(time.perf_counter() - started, 4))

    def _adapt(self, settings: SearchSettings, query: str) -> SearchSettings:
        """Down-weight the vector side for questions in a script the model was not trained on."""
        from dataclasses import replace

        from kbcli.keywords import cjk_share

        multilingual = self.embedder is not None and self.embedder.spec.multilingual
        if settings.mode == "hybrid" and not multilingual and cjk_share(query) > 0.3:
            return replace(settings, vector_weight=settings.vector_weight * settings.foreign_vector_weight)
        return settings

    def _hits(
        self, fused: list[tuple[int, Explanation]], rows: dict[int, ChunkRow], top_k: int, settings: SearchSettings
    ) -> list[Hit]:
        hits: list[Hit] = []
        for cid, why in fused:
            row = rows.get(cid)
            if row is None:
                continue
            if settings.merge_adjacent and self._merge(hits, row):
                continue
            if len(hits) == top_k:
                continue  # later candidates may still merge into the hits we have
            score = why.vector_score if settings.mode == "vector" else why.keyword_score if settings.mode == "keyword" else why.fused
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    score=round(float(score or 0.0), 4),
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
                    explain=why,
                    ocr=bool(row.ocr),
                )
            )
        return hits

    @staticmethod
    def _merge(hits: list[Hit], row: ChunkRow) -> bool:
        """Fold a chunk into an earlier hit it continues on the same page: no passage twice."""
        for hit in hits:
            if hit.file_id != row.file_id or hit.page != row.page:
                continue
            if row.seq == hit.seqs[-1] + 1:
                hit.text, hit.seqs = _stitch(hit.text, row.text), hit.seqs + [row.seq]
                return True
            if row.seq == hit.seqs[0] - 1:
                hit.text, hit.seqs = _stitch(row.text, hit.text), [row.seq] + hit.seqs
                return True
        return False

    def close(self) -> None:
        self.reader.close()
