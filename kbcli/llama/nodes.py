"""kbcli's hits and chunks as LlamaIndex nodes, with the metadata a citation needs."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import TextNode

# Embeddings were made from "title | heading" and the passage (kbcli.chunking), so those two stay
# in what LlamaIndex embeds if a program re-embeds; the rest would only add noise.
CITATION_KEYS = ("file", "page", "page_label", "heading", "title")
EMBED_EXCLUDED = ["file", "page", "page_label", "chunk_id", "seqs", "ocr", "kbcli_score", "source"]
# What an LLM sees: where the passage is from, not kbcli's bookkeeping.
LLM_EXCLUDED = ["page_label", "chunk_id", "seqs", "ocr", "kbcli_score", "source"]


def text_node(node_id: str, text: str, metadata: dict[str, Any]) -> TextNode:
    return TextNode(
        id_=node_id,
        text=text,
        metadata=metadata,
        excluded_embed_metadata_keys=list(EMBED_EXCLUDED),
        excluded_llm_metadata_keys=list(LLM_EXCLUDED),
    )


def hit_node(hit) -> TextNode:
    """One kbcli hit (`kbcli.search.Hit`: a page, or a run of neighbouring chunks) as a node whose
    id is the hit's best chunk's id, as `kbcli query --json` reports it."""
    metadata = {
        "file": hit.file,
        "page": hit.page,
        "page_label": hit.page_label,
        "heading": hit.heading,
        "title": hit.title,
        "source": hit.source,
        "chunk_id": hit.chunk_id,
        "seqs": list(hit.seqs),
        "ocr": bool(hit.ocr),
        "kbcli_score": hit.score,
    }
    return text_node(str(hit.chunk_id), hit.text, metadata)
