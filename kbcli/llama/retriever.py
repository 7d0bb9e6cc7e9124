"""kbcli's one search (`Searcher.search`: hybrid, vector or keyword, with the thesaurus, passage
context, page grouping and the tuned settings) as a LlamaIndex retriever.

    from kbcli.llama import open_retriever
    retriever = open_retriever("work", mode="hybrid", top_k=5)
    nodes = retriever.retrieve("notice period")      # what `kbcli query work "notice period"` returns

There is no second ranking path: the nodes are kbcli's hits, in kbcli's order, with its scores.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters

from kbcli.kb import KnowledgeBase
from kbcli.llama.filters import compile_filters
from kbcli.llama.nodes import hit_node
from kbcli.search import Searcher
from kbcli.settings import MODES, SearchSettings, Settings, resolve

# With a filter, kbcli searches this many hits and keeps those that pass: a match ranked below
# them is not returned (a filter narrows kbcli's ranking; it does not search the subset alone).
FILTER_POOL = 200


class KbcliRetriever(BaseRetriever):
    """Retrieves through `searcher.search(query, top_k, settings)`; the query is embedded by the
    index's own model (a `QueryBundle`'s embedding is not used: kbcli embeds the query together
    with its thesaurus expansion). `filters`: `file` (exact path or glob) and `page` only; see
    FILTER_POOL for their limit."""

    def __init__(
        self,
        searcher: Searcher,
        settings: SearchSettings | None = None,
        mode: str | None = None,
        top_k: int = 5,
        filters: MetadataFilters | None = None,
        filter_pool: int = FILTER_POOL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        search = settings if settings is not None else SearchSettings()
        if mode is not None:
            if mode not in MODES:
                raise ValueError(f"unknown search mode {mode!r}: choose {', '.join(MODES)}")
            search = replace(search, mode=mode)
        self.searcher = searcher
        self.search_settings = search
        self.top_k = top_k
        self.filter_pool = max(filter_pool, top_k)
        self._keep = compile_filters(filters)  # an unsupported filter fails here, before any search

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        wanted = self.top_k if self._keep is None else self.filter_pool
        result = self.searcher.search(query_bundle.query_str, wanted, self.search_settings)
        nodes = [NodeWithScore(node=hit_node(hit), score=hit.score) for hit in result.hits]
        if self._keep is not None:
            nodes = [n for n in nodes if self._keep(n.node.metadata)]
        return nodes[: self.top_k]

    def close(self) -> None:
        self.searcher.close()


def open_retriever(
    name: str,
    settings: Settings | None = None,
    mode: str | None = None,
    top_k: int = 5,
    filters: MetadataFilters | None = None,
) -> KbcliRetriever:
    """A retriever over the kbcli index NAME. `settings`: as the CLI resolves them (environment,
    `.env`) when not given; `mode` overrides `settings.search.mode`. Close it when done."""
    settings = settings if settings is not None else resolve()
    search = settings.search if mode is None else replace(settings.search, mode=mode)
    searcher = KnowledgeBase(settings).searcher(name, load_model=search.mode != "keyword", settings=search)
    try:
        return KbcliRetriever(searcher, search, top_k=top_k, filters=filters)
    except BaseException:
        searcher.close()
        raise
