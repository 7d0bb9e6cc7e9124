"""From fused chunks to hits: one per page (or run of neighbours), scored, named files raised."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kbcli.search.results import Explanation, Hit
from kbcli.search.terms import name_words, query_terms
from kbcli.settings import SearchSettings
from kbcli.store import ChunkRow

_WORD = re.compile(r"\w+")


def overlap(first: str, second: str) -> int:
    """How many leading characters of `second` repeat the end of `first` (neighbouring chunks
    overlap by a few dozen tokens); 0 when they do not."""
    for size in range(min(len(first), len(second), 600), 10, -1):
        if first.endswith(second[:size]):
            return size
    return 0


def stitch(first: str, second: str) -> str:
    """Join two overlapping passages, dropping the repeated part."""
    size = overlap(first, second)
    return first + second[size:] if size else first + "\n" + second


def vector_score(why: Explanation, settings: SearchSettings) -> float | None:
    """What vector mode ranks by, on the cosine scale: the chunk's and its passage's cosines, weighted."""
    if why.vector_score is None or why.context_score is None:
        return why.vector_score
    return (why.vector_score + settings.context_weight * why.context_score) / (1 + settings.context_weight)


@dataclass
class Unit:
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
            text = stitch(text, after.text) if after.seq == before.seq + 1 else text + "\n…\n" + after.text
        score = vector_score(why, settings) if settings.mode == "vector" else why.keyword_score if settings.mode == "keyword" else self.score
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


def group(candidates: list[tuple[ChunkRow, Explanation]], settings: SearchSettings) -> list[Unit]:
    """Fold candidates (best first) into hits: one per page, so no passage is shown twice."""
    units: list[Unit] = []
    for row, why in candidates:
        unit = next((u for u in units if u.takes(row, settings)), None)
        if unit is None:
            units.append(Unit([(row, why)]))
        else:
            unit.members.append((row, why))
    return _joined_runs(units) if settings.merge_adjacent else units


def _joined_runs(units: list[Unit]) -> list[Unit]:
    """Runs of neighbours that grew until they touch become one hit: two hits would otherwise
    share the text that neighbouring chunks overlap by. The earlier (better) unit absorbs."""
    merged: list[Unit] = []
    for unit in units:
        head = unit.first
        seqs = [r.seq for r, _ in unit.members]
        touching = next((
            m for m in merged
            if head.page is None and m.first.page is None and m.first.file_id == head.file_id
            and (max(r.seq for r, _ in m.members) + 1 == min(seqs) or min(r.seq for r, _ in m.members) - 1 == max(seqs))
        ), None)
        if touching is None:
            merged.append(unit)
        else:
            touching.members.extend(unit.members)
    return merged


def score_units(units: list[Unit], settings: SearchSettings) -> None:
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


def name_prior(units: list[Unit], query: str, settings: SearchSettings) -> None:
    """Raise hits from files whose name holds the question's words (hybrid mode only).

    The keyword side weighs file names too, but per chunk, among other words; this lifts every
    hit of a file that the question names, so the right filing's pages beat a similar one's.
    Only the name the user gave the file counts, not the title inside it: titles are often
    tool residue ("Microsoft Word - F20_10K_VFinal"), or name an entity that many related
    documents share words with (CMRC's Wikipedia titles: hit@1 0.98 -> 0.94 when they counted).
    """
    terms = _name_terms(query)
    share = settings.name_weight / (settings.rrf_k + 1)
    matches: dict[int, int] = {}
    for unit in units:
        row = unit.first
        if row.file_id not in matches:
            found = terms & set(_WORD.findall(name_words(row.path, None).lower()))
            # A number alone does not name a file (DEV_1644.docx, scan_2021.pdf): a word must match.
            matches[row.file_id] = len(found) if any(not w.isdigit() for w in found) else 0
        unit.score += share * matches[row.file_id]


def _name_terms(query: str) -> set[str]:
    """The question's words, and each two neighbouring words written as one: file names often
    run a name together ('CVS Health' -> CVSHEALTH_2022_10K.pdf, 'Johnson & Johnson')."""
    words = query_terms(query)
    joined = {a + b for a, b in zip(words, words[1:]) if a.isascii() and b.isascii() and a.isalpha() and b.isalpha()}
    return set(words) | joined


def page_hits(
    query: str, fused: list[tuple[int, Explanation]], rows: dict[int, ChunkRow], top_k: int, settings: SearchSettings
) -> list[Hit]:
    """Candidates folded into page hits, scored, with the files the question names raised."""
    units = group([(rows[cid], why) for cid, why in fused if cid in rows], settings)
    score_units(units, settings)
    if settings.name_weight and settings.mode == "hybrid":
        name_prior(units, query, settings)
    units.sort(key=lambda u: u.score, reverse=True)
    return [unit.hit(rank, settings) for rank, unit in enumerate(units[:top_k], start=1)]
