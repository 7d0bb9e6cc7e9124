"""Optional reranking with a cross-encoder from a local model folder (never downloaded).

A cross-encoder reads the question and a passage together, which judges relevance better than
comparing two separate embeddings, but it is far slower: only the top fused hits are rescored
(SearchSettings.rerank_candidates). torch and transformers are imported here only, when a model
folder is configured.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from kbcli.errors import UsageError
from kbcli.search.results import Hit
from kbcli.settings import prepare_offline_runtime


class Reranker:
    """A sequence-classification model (one relevance logit, or the last of several) on disk."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise UsageError(f"rerank model folder {folder} does not exist")
        prepare_offline_runtime()  # a local folder only: never the hub
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging

        logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(str(folder), local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UsageError(f"{folder} is not a cross-encoder (sequence-classification) model folder: {reason}") from None
        self.folder = folder

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        import torch

        if not texts:
            return []
        batch = self.tokenizer([query] * len(texts), list(texts), truncation=True, max_length=512, padding=True, return_tensors="pt")
        with torch.no_grad():
            logits = self.model(**batch).logits
        return logits[:, -1].tolist()  # one logit, or the "relevant" class of a two-class model

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """New hits, reordered by the model's score (kept on each), ranks renumbered; `hits` stay as they were."""
        scored = sorted(zip(hits, self.scores(query, [h.text for h in hits])), key=lambda pair: pair[1], reverse=True)
        return [replace(hit, rank=rank, rerank_score=round(float(score), 4)) for rank, (hit, score) in enumerate(scored, start=1)]
