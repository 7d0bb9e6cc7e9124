"""kbcli indexes as LlamaIndex objects, for programs that build on LlamaIndex.

    from kbcli.llama import open_llama_index
    index = open_llama_index("work")                 # a llama_index VectorStoreIndex
    nodes = index.as_retriever(similarity_top_k=5).retrieve("notice period")

The index's vector store is `KbcliVectorStore`: a LlamaIndex vector store (it stores the text
too, so no separate docstore is needed) over kbcli's SQLite + FAISS store, answering vector
queries and, with `vector_store_query_mode="hybrid"`, kbcli's fused vector + BM25 search. It is
read-only: kbcli's own `index` / `refresh` write, with the atomic commits and locking they need.
Replacing FAISS by a server-backed store (pgvector, Qdrant) means implementing this same
interface over that server; see README "Design".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from kbcli.search import Hit, Searcher, SearchSettings


class KbcliEmbedding(BaseEmbedding):
    """The index's own embedding model (ONNX, offline) as a LlamaIndex embedding."""

    _searcher: Searcher = PrivateAttr()

    def __init__(self, searcher: Searcher, **kwargs: Any) -> None:
        super().__init__(model_name=searcher.reader.manifest.model, embed_batch_size=32, **kwargs)
        self._searcher = searcher

    def _embed(self, texts: list[str]) -> list[list[float]]:
        assert self._searcher.embedder is not None
        return self._searcher.embedder.embed(texts).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        assert self._searcher.embedder is not None
        return self._searcher.embedder.embed_query(query).tolist()  # the model's query prefix, if any

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)


def _node(hit: Hit) -> TextNode:
    return TextNode(
        id_=str(hit.chunk_id),
        text=hit.text,
        metadata={"file": hit.file, "page": hit.page, "page_label": hit.page_label, "heading": hit.heading},
        excluded_embed_metadata_keys=["file", "page", "page_label", "heading"],
        excluded_llm_metadata_keys=["page_label"],
    )


class KbcliVectorStore(BasePydanticVectorStore):
    stores_text: bool = True
    is_embedding_query: bool = True
    _searcher: Searcher = PrivateAttr()

    def __init__(self, searcher: Searcher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._searcher = searcher

    @property
    def client(self) -> Any:
        return self._searcher

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        raise NotImplementedError("kbcli indexes are written by `kbcli index` / `kbcli refresh`")

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        raise NotImplementedError("kbcli indexes are written by `kbcli index` / `kbcli refresh`")

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        k = query.similarity_top_k
        if query.mode == VectorStoreQueryMode.HYBRID and query.query_str:
            hits = self._searcher.search(query.query_str, k, SearchSettings(mode="hybrid")).hits
        else:
            reader = self._searcher.reader
            found = reader.search(query.query_embedding, k)
            hits = [
                Hit(rank=i, score=s, file=r.path, source=r.source, page=r.page, page_label=r.page_label,
                    heading=r.heading, text=r.text, chunk_id=r.id)
                for i, (r, s) in enumerate(found, start=1)
            ]
        return VectorStoreQueryResult(
            nodes=[_node(h) for h in hits], similarities=[h.score for h in hits], ids=[str(h.chunk_id) for h in hits]
        )


def open_llama_index(name: str, home: Path | None = None):
    """The kbcli index NAME as a LlamaIndex `VectorStoreIndex` (no LLM, no network)."""
    from llama_index.core import VectorStoreIndex

    from kbcli.config import kbcli_home
    from kbcli.kb import KnowledgeBase

    searcher = KnowledgeBase(kbcli_home(home)).searcher(name)
    return VectorStoreIndex.from_vector_store(KbcliVectorStore(searcher), embed_model=KbcliEmbedding(searcher))
