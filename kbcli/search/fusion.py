"""Fusing the vector and keyword candidate lists into one ranking."""

from __future__ import annotations

from kbcli.search.results import Explanation
from kbcli.settings import SearchSettings


def fuse(
    vector: list[tuple[int, float]],
    keyword: list[tuple[int, float]],
    settings: SearchSettings,
    context: dict[int, float] | None = None,
) -> list[tuple[int, Explanation]]:
    """Weighted reciprocal-rank fusion: robust to the two sides' incomparable score scales.
    `context`: chunk id -> its passage's cosine, recorded in the explanation."""
    table: dict[int, Explanation] = {}
    for rank, (cid, score) in enumerate(vector, start=1):
        table[cid] = Explanation(rank, round(score, 4), None, None, settings.vector_weight / (settings.rrf_k + rank))
    for rank, (cid, score) in enumerate(keyword, start=1):
        entry = table.setdefault(cid, Explanation(None, None, None, None, 0.0))
        entry.keyword_rank, entry.keyword_score = rank, round(score, 4)
        entry.fused += settings.keyword_weight / (settings.rrf_k + rank)
    for cid, why in table.items():
        why.context_score = (context or {}).get(cid)
    return sorted(table.items(), key=lambda item: item[1].fused, reverse=True)
