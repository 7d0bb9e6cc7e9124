"""The two candidate lists, each (chunk id, score) best first: nearest vectors and BM25 matches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from kbcli.settings import SearchSettings
from kbcli.store import Snapshot

if TYPE_CHECKING:
    import numpy as np

PAGE_REACH = 15  # chunks either side looked at for a page's other chunks (longer pages: a part)


def vector_candidates(
    snap: Snapshot, embedded: "np.ndarray", pool: int, settings: SearchSettings
) -> tuple[list[tuple[int, float]], dict[int, float]]:
    """The `pool` nearest chunks, and chunk id -> its passage's cosine (empty without context).

    With passage context, twice as many are rescored by cosine + context_weight x passage
    cosine and the best `pool` kept; the scores stay the chunks' own cosines.
    """
    if not settings.context_weight:
        return snap.nearest(embedded, pool, settings.nprobe), {}
    nearest = snap.nearest(embedded, 2 * pool, settings.nprobe)
    context = context_scores(snap, embedded, nearest)
    return with_context(nearest, context, settings.context_weight)[:pool], context


def context_scores(snap: Snapshot, embedded: "np.ndarray", nearest: list[tuple[int, float]]) -> dict[int, float]:
    """Each chunk's passage (its page, or it and its neighbours) as the cosine of their mean vector."""
    import numpy as np

    passages = snap.passages([cid for cid, _ in nearest], PAGE_REACH)
    vectors = snap.vectors(sorted({m for members in passages.values() for m in members}))
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


def with_context(nearest: list[tuple[int, float]], context: dict[int, float], weight: float) -> list[tuple[int, float]]:
    """The vector side re-ordered by cosine + weight x passage cosine (scores stay the cosines)."""
    return sorted(nearest, key=lambda item: item[1] + weight * context.get(item[0], item[1]), reverse=True)


def keyword_candidates(snap: Snapshot, terms: Sequence[str], pool: int, settings: SearchSettings) -> list[tuple[int, float]]:
    """The `pool` best BM25 matches of any of the query's words (none without words: only stop words)."""
    return snap.keyword_matches(terms, pool, settings.field_weights) if terms else []
