"""Answering questions: vector and keyword (BM25) candidates, fused, merged, with citations."""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kbcli.errors import ModelMismatch, UsageError
from kbcli.keywords import fts_query, name_words, query_terms
from kbcli.store import ChunkRow, IndexReader, Manifest
from kbcli.thesaurus import named_query

if TYPE_CHECKING:
    from kbcli.embedding import Embedder, ModelSpec
    from kbcli.rerank import Reranker
    from kbcli.thesaurus import Thesaurus

MODES = ("hybrid", "vector", "keyword")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchSettings:
    """How candidates are found and fused; defaults chosen with bench/quality.py (README: Ranking)."""

    mode: str = "hybrid"
    candidates: int = 50  # from each side, before fusion
    # Reciprocal-rank fusion constant: small, so a page's few top-ranked chunks outweigh many weak
    # ones (with 60, 1/(60+1) and 1/(60+20) differ by a quarter and page sums became chunk counts).
    rrf_k: float = 10.0
    vector_weight: float = 1.5  # weight of the vector side's reciprocal ranks (it finds the page more often)
    keyword_weight: float = 1.0
    # An English-only model embeds Chinese/Japanese/Korean questions poorly: let keywords lead.
    foreign_vector_weight: float = 0.02
    field_weights: tuple[float, float, float] = (4.0, 2.0, 1.0)  # BM25 weights: file name+title, heading, text
    merge_adjacent: bool = True  # neighbouring chunks without pages (DOCX, text) become one hit
    group_pages: bool = True  # all candidate chunks of one PDF page become one hit
    # Share of a page's next best chunks' fused scores added to its best one's. 0: a page of several
    # weak matches must not outrank a passage that is first on both sides (0.3 did, for +2
    # FinanceBench questions at R@5 and none at R@1 or R@10).
    page_extra: float = 0.0
    chunks_per_hit: int = 3  # a page hit shows (and is scored by) at most this many of its best chunks
    # Credit per query word in a hit's file name, as a share of a rank-1 chunk's: reports
    # are often named for what they hold (ACME_2022_10K.pdf), and questions name them.
    # 0.6, not 0.3, since the thesaurus: its added statement names match every filing's statements
    # alike, so the filing the question names needs a firmer lead (FinanceBench R@10 0.84 -> 0.90).
    name_weight: float = 0.6
    expand: bool = True  # also search the thesaurus's other names for what the question names
    # Vector side: a chunk's cosine plus this share of its passage's (the mean vector of its page's
    # chunks, or of it and its neighbours without pages). A row of figures says little alone; the
    # page it sits on (the statement's title, the other rows) says what it is. 0 turns it off.
    context_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown search mode {self.mode!r}: choose {', '.join(MODES)}")

    @classmethod
    def from_env(cls, mode: str | None = None) -> "SearchSettings":
        """Defaults, with KBCLI_RRF_K / _VECTOR_WEIGHT / _KEYWORD_WEIGHT / _CANDIDATES / _PAGE_EXTRA for tuning."""
        env, default = os.environ, cls()
        return cls(
            mode=mode or env.get("KBCLI_SEARCH_MODE", default.mode),
            candidates=int(env.get("KBCLI_CANDIDATES", default.candidates)),
            rrf_k=float(env.get("KBCLI_RRF_K", default.rrf_k)),
            vector_weight=float(env.get("KBCLI_VECTOR_WEIGHT", default.vector_weight)),
            keyword_weight=float(env.get("KBCLI_KEYWORD_WEIGHT", default.keyword_weight)),
            page_extra=float(env.get("KBCLI_PAGE_EXTRA", default.page_extra)),
            expand=env.get("KBCLI_EXPAND", "1").strip().lower() not in ("0", "off", "no", "false"),
            context_weight=float(env.get("KBCLI_CONTEXT_WEIGHT", default.context_weight)),
            name_weight=float(env.get("KBCLI_NAME_WEIGHT", default.name_weight)),
        )


@dataclass
class Explanation:
    vector_rank: int | None
    vector_score: float | None
    keyword_rank: int | None
    keyword_score: float | None
    fused: float
    context_score: float | None = None  # cosine of the passage around the chunk (vector side)


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
    rerank_score: float | None = None  # the cross-encoder's, when reranking is on

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
        if self.rerank_score is None:
            data.pop("rerank_score")
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
    expanded: list[str] = field(default_factory=list)  # thesaurus phrases searched besides the query

    def to_json(self, explain: bool = False) -> dict:
        return {
            "index": self.index,
            "query": self.query,
            "mode": self.mode,
            "expanded": self.expanded,
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


def overlap(first: str, second: str) -> int:
    """How many leading characters of `second` repeat the end of `first` (neighbouring chunks
    overlap by a few dozen tokens); 0 when they do not."""
    for size in range(min(len(first), len(second), 600), 10, -1):
        if first.endswith(second[:size]):
            return size
    return 0


def _stitch(first: str, second: str) -> str:
    """Join two overlapping passages, dropping the repeated part."""
    size = overlap(first, second)
    return first + second[size:] if size else first + "\n" + second


@dataclass
class _Unit:
    """One hit in the making: the candidate chunks of one page (or one run of neighbours)."""

    members: list[tuple[ChunkRow, Explanation]]  # best first
    score: float = 0.0

    @property
    def first(self) -> ChunkRow:
        return self.members[0][0]

    def takes(self, row: ChunkRow, settings: SearchSettings) -> bool:
        """Whether `row` belongs to this hit: the same page, or (no pages) a neighbouring chunk."""
        head = self.first
        if head.file_id != row.file_id or head.page != row.page:
            return False
        if row.page is not None and settings.group_pages:
            return True
        if not settings.merge_adjacent:
            return False
        seqs = [r.seq for r, _ in self.members]
        return row.seq in (min(seqs) - 1, max(seqs) + 1)

    def shown(self, settings: SearchSettings) -> list[ChunkRow]:
        """The chunks whose text the hit shows, in reading order: a bounded part of a long page."""
        rows = [r for r, _ in self.members]
        if self.first.page is not None:
            rows = rows[: settings.chunks_per_hit]
        return sorted(rows, key=lambda r: r.seq)

    def hit(self, rank: int, settings: SearchSettings) -> Hit:
        row, why = self.members[0]
        shown = self.shown(settings)
        text = shown[0].text
        for before, after in zip(shown, shown[1:]):
            text = _stitch(text, after.text) if after.seq == before.seq + 1 else text + "\n…\n" + after.text
        score = _vector_score(why, settings) if settings.mode == "vector" else why.keyword_score if settings.mode == "keyword" else self.score
        return Hit(
            rank=rank,
            score=round(float(score or 0.0), 4),
            file=row.path,
            source=row.source,
            page=row.page,
            page_label=row.page_label,
            heading=row.heading,
            text=text,
            chunk_id=row.id,
            title=row.title,
            file_id=row.file_id,
            seqs=[r.seq for r in shown],
            explain=why,
            ocr=bool(row.ocr),
        )


PAGE_REACH = 15  # chunks either side looked at for a page's other chunks (longer pages: a part)


def _passages(reader: IndexReader, conn, places: dict[int, tuple[int, int, int | None]]) -> dict[int, tuple[int, ...]]:
    """Chunk id -> the ids of the passage around it: the chunks of its page (within PAGE_REACH),
    or, for chunks without pages (DOCX, text), it and its two neighbours. `places`: chunk id ->
    (file id, seq, page). One query per run of overlapping reaches in a file, not one per chunk."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for file_id, seq, page in places.values():
        reach = PAGE_REACH if page is not None else 1
        spans.setdefault(file_id, []).append((seq - reach, seq + reach))
    nearby: dict[int, list[tuple[int, int, int | None]]] = {}
    for file_id, ranges in spans.items():
        ranges.sort()
        first, last = ranges[0]
        for start, end in ranges[1:] + [(None, None)]:
            if start is not None and start <= last + 1:
                last = max(last, end)
                continue
            nearby.setdefault(file_id, []).extend(reader.chunks_between(conn, file_id, first, last))
            if start is not None:
                first, last = start, end
    passages: dict[int, tuple[int, ...]] = {}
    for chunk_id, (file_id, seq, page) in places.items():
        reach = PAGE_REACH if page is not None else 1
        passages[chunk_id] = tuple(
            cid for cid, other, other_page in nearby.get(file_id, []) if other_page == page and abs(other - seq) <= reach
        )
    return passages


def _vector_score(why: Explanation, settings: SearchSettings) -> float | None:
    """What vector mode ranks by, on the cosine scale: the chunk's and its passage's cosines, weighted."""
    if why.vector_score is None or why.context_score is None:
        return why.vector_score
    return (why.vector_score + settings.context_weight * why.context_score) / (1 + settings.context_weight)


def _with_context(nearest: list[tuple[int, float]], context: dict[int, float], weight: float) -> list[tuple[int, float]]:
    """The vector side re-ordered by cosine + weight x passage cosine (scores stay the cosines)."""
    return sorted(nearest, key=lambda item: item[1] + weight * context.get(item[0], item[1]), reverse=True)


def _group(candidates: list[tuple[ChunkRow, Explanation]], settings: SearchSettings) -> list[_Unit]:
    """Fold candidates (best first) into hits: one per page, so no passage is shown twice."""
    units: list[_Unit] = []
    for row, why in candidates:
        unit = next((u for u in units if u.takes(row, settings)), None)
        if unit is None:
            units.append(_Unit([(row, why)]))
        else:
            unit.members.append((row, why))
    return units


def _score(units: list[_Unit], settings: SearchSettings) -> None:
    """A hit's score: its best chunk's, plus (pages) a share of the page's next best chunks'.

    A page that answers usually matches in more than one chunk (a statement's title in one, its
    rows in the next); a lone chunk that matches well is more often a passing mention. Only the
    shown chunks count, so a long page cannot win by its length. Runs of neighbours without pages
    get no such credit: they grow with the document, and summing them favoured long documents
    (cmrc hit@1 0.98 -> 0.60). One side alone (vector or keyword mode) keeps its own score.
    """
    extra = settings.page_extra if settings.mode == "hybrid" else 0.0
    for unit in units:
        scores = [why.fused for _, why in unit.members]
        unit.score = scores[0] + (extra * sum(scores[1 : settings.chunks_per_hit]) if unit.first.page is not None else 0.0)


def _name_prior(units: list[_Unit], query: str, settings: SearchSettings) -> None:
    """Raise hits from files whose name holds the question's words (hybrid mode only).

    The keyword side weighs file names too, but per chunk, among other words; this lifts every
    hit of a file that the question names, so the right filing's pages beat a similar one's.
    Only the name the user gave the file counts, not the title inside it: titles are often
    tool residue ("Microsoft Word - F20_10K_VFinal"), or name an entity that many related
    documents share words with (CMRC's Wikipedia titles: hit@1 0.98 -> 0.94 when they counted).
    """
    terms = set(query_terms(query))
    share = settings.name_weight / (settings.rrf_k + 1)
    matches: dict[int, int] = {}
    for unit in units:
        row = unit.first
        if row.file_id not in matches:
            found = terms & set(_WORD.findall(name_words(row.path, None).lower()))
            # A number alone does not name a file (DEV_1644.docx, scan_2021.pdf): a word must match.
            matches[row.file_id] = len(found) if any(not w.isdigit() for w in found) else 0
        unit.score += share * matches[row.file_id]


class Searcher:
    """Holds an open index and its model; reuse it for many queries (batch mode, the shell)."""

    def __init__(
        self,
        name: str,
        reader: IndexReader,
        embedder: "Embedder | None" = None,
        reranker: "Reranker | None" = None,
        thesaurus: "Thesaurus | None" = None,
    ) -> None:
        self.name = name
        self.reader = reader
        self.embedder = embedder
        self.reranker = reranker
        self.thesaurus = thesaurus
        self.modes = MODES

    def search(self, query: str, top_k: int = 5, settings: SearchSettings | None = None) -> QueryResult:
        settings = self._adapt(settings or SearchSettings.from_env(), query)
        started = time.perf_counter()
        wanted = top_k
        if self.reranker is not None:  # rescore more hits than shown, keep the best top_k
            from kbcli.rerank import rerank_candidates

            wanted = max(top_k, rerank_candidates())
        pool = max(settings.candidates, wanted * 4)
        vector_side: list[tuple[int, float]] = []
        keyword_side: list[tuple[int, float]] = []
        expanded = self.thesaurus.expand(query) if self.thesaurus is not None and settings.expand else []
        searched = " ".join([query, *expanded])  # both sides see the other names too
        embedded = None
        if settings.mode != "keyword":
            assert self.embedder is not None, "vector search needs the embedding model"
            embedded = self.embedder.embed_query(searched)
        match = fts_query(searched) if settings.mode != "vector" else None
        with self.reader.snapshot() as conn:
            context: dict[int, float] = {}
            if embedded is not None:
                if settings.context_weight:  # rescore twice as many, keep the best `pool`
                    nearest = self.reader.vector_search(conn, embedded, 2 * pool)
                    context = self._context_scores(conn, embedded, nearest)
                    vector_side = _with_context(nearest, context, settings.context_weight)[:pool]
                else:
                    vector_side = self.reader.vector_search(conn, embedded, pool)
            if match:
                keyword_side = self.reader.keyword_search(conn, match, pool, settings.field_weights)
            fused = fuse(vector_side, keyword_side, settings)
            for cid, why in fused:
                why.context_score = context.get(cid)
            rows = self.reader.rows(conn, [cid for cid, _ in fused])
        named = named_query(query, self.thesaurus if settings.expand else None)  # 亚马逊 names AMAZON_...
        hits = self._hits(named, fused, rows, wanted, settings)
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits)[:top_k]
        return QueryResult(self.name, query, settings.mode, hits, round(time.perf_counter() - started, 4), expanded)

    def _context_scores(self, conn, embedded, nearest: list[tuple[int, float]]) -> dict[int, float]:
        """Each chunk's passage (its page, or it and its neighbours) as the cosine of their mean vector."""
        import numpy as np

        passages = _passages(self.reader, conn, self.reader.places(conn, [cid for cid, _ in nearest]))
        vectors = self.reader.vectors(sorted({m for members in passages.values() for m in members}))
        cosines: dict[tuple[int, ...], float] = {}  # chunks of one page share their passage
        scores: dict[int, float] = {}
        for cid, members in passages.items():
            if members not in cosines:
                found = [vectors[m] for m in members if m in vectors]
                if not found:
                    continue
                mean = np.mean(found, axis=0)
                cosines[members] = round(float(mean @ embedded) / (float(np.linalg.norm(mean)) or 1.0), 4)
            scores[cid] = cosines[members]
        return scores

    def _adapt(self, settings: SearchSettings, query: str) -> SearchSettings:
        """Down-weight the vector side for questions in a script the model was not trained on."""
        from dataclasses import replace

        from kbcli.keywords import cjk_share

        multilingual = self.embedder is not None and self.embedder.spec.multilingual
        if settings.mode == "hybrid" and not multilingual and cjk_share(query) > 0.3:
            return replace(settings, vector_weight=settings.vector_weight * settings.foreign_vector_weight)
        return settings

    def _hits(
        self, query: str, fused: list[tuple[int, Explanation]], rows: dict[int, ChunkRow], top_k: int, settings: SearchSettings
    ) -> list[Hit]:
        """Candidates folded into page hits, scored, with the files the question names raised."""
        units = _group([(rows[cid], why) for cid, why in fused if cid in rows], settings)
        _score(units, settings)
        if settings.name_weight and settings.mode == "hybrid":
            _name_prior(units, query, settings)
        units.sort(key=lambda u: u.score, reverse=True)
        return [unit.hit(rank, settings) for rank, unit in enumerate(units[:top_k], start=1)]

    def close(self) -> None:
        self.reader.close()
