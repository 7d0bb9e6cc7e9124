"""Answering questions: expand, find candidates on both sides, fuse, fold into page hits, rerank."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from kbcli.search.candidates import keyword_candidates, vector_candidates
from kbcli.search.expansion import expand
from kbcli.search.fusion import fuse
from kbcli.search.grouping import page_hits
from kbcli.search.rerank import Reranker
from kbcli.search.results import QueryResult
from kbcli.search.terms import cjk_share, query_terms
from kbcli.settings import MODES, SearchSettings
from kbcli.store.location import Reader
from kbcli.thesaurus import Thesaurus, named_query

if TYPE_CHECKING:
    import numpy as np

    from kbcli.models import Embedder


class Searcher:
    """Holds an open index and its model; reuse it for many queries (batch mode, the shell)."""

    def __init__(
        self,
        name: str,
        reader: Reader,
        embedder: "Embedder | None" = None,
        reranker: Reranker | None = None,
        thesaurus: Thesaurus | None = None,
        settings: SearchSettings = SearchSettings(),
    ) -> None:
        self.name = name
        self.reader = reader
        self.embedder = embedder
        self.reranker = reranker
        self.thesaurus = thesaurus
        self.settings = settings
        self.modes = MODES

    def search(self, query: str, top_k: int = 5, settings: SearchSettings | None = None) -> QueryResult:
        """The top_k hits for `query`; `settings`: this query's (None: the searcher's own)."""
        asked = settings or self.settings
        settings = self._adapt(asked, query)
        started = time.perf_counter()
        # With a reranker, more hits than shown are rescored and the best top_k kept.
        wanted = max(top_k, settings.rerank_candidates) if self.reranker is not None else top_k
        pool = max(settings.candidates, wanted * 4)
        expanded, searched = expand(query, self.thesaurus, settings)  # both sides see the other names too
        embedded, terms = self._embed_and_split(searched, settings)
        with self.reader.snapshot() as snap:
            vector_side, context = vector_candidates(snap, embedded, pool, settings) if embedded is not None else ([], {})
            keyword_side = keyword_candidates(snap, terms, pool, settings)
            if not keyword_side and embedded is None and settings.mode == "hybrid" and asked.vector_weight:
                # No word matched and the vector side was off (an English-only model, a CJK
                # question): its nearest chunks still beat an empty answer.
                settings = asked
                vector_side, context = vector_candidates(snap, self._embed(searched, asked), pool, asked)
            fused = fuse(vector_side, keyword_side, settings, context)
            rows = snap.rows([cid for cid, _ in fused])
        named = named_query(query, self.thesaurus if settings.expand else None)  # 亚马逊 names AMAZON_...
        hits = page_hits(named, fused, rows, wanted, settings)
        if self.reranker is not None:
            hits = self.reranker.rerank(query, hits)[:top_k]
        return QueryResult(self.name, query, settings.mode, hits, round(time.perf_counter() - started, 4), expanded)

    def _embed_and_split(self, searched: str, settings: SearchSettings) -> tuple["np.ndarray | None", list[str]]:
        """The question's vector and its keyword terms. The model runs in a thread meanwhile (its
        native code releases the GIL): a process's first query pays for the model's first run
        and, in Chinese, for loading the word dictionary, and these overlap (0.1-0.2 s of a cold query)."""
        if settings.mode != "hybrid":
            return self._embed(searched, settings), query_terms(searched) if settings.mode == "keyword" else []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kbcli-embed") as pool:
            vector = pool.submit(self._embed, searched, settings)
            terms = query_terms(searched)
            return vector.result(), terms

    def _embed(self, searched: str, settings: SearchSettings) -> "np.ndarray | None":
        if settings.mode == "keyword" or (settings.mode == "hybrid" and not settings.vector_weight):
            return None  # no vector side: the model is not needed (nor loaded: models.OnDemand)
        assert self.embedder is not None, "vector search needs the embedding model"
        return self.embedder.embed_query(searched)

    def _adapt(self, settings: SearchSettings, query: str) -> SearchSettings:
        """Down-weight the vector side for questions in a script the model was not trained on."""
        multilingual = self.embedder is not None and self.embedder.spec.multilingual
        if settings.mode == "hybrid" and not multilingual and cjk_share(query) > 0.3:
            return replace(settings, vector_weight=settings.vector_weight * settings.foreign_vector_weight)
        return settings

    def close(self) -> None:
        self.reader.close()
