"""The seam to LlamaIndex: any `BaseEmbedding` serves as kbcli's model (`LlamaEmbedder`).

kbcli's own servers (`openai:`, `ollama:`) are built on it; a program can plug in any other
LlamaIndex embedding integration the same way:

    from kbcli.models import LlamaEmbedder, ModelSpec
    embedder = LlamaEmbedder(MyEmbedding(...), ModelSpec(...))

Built-in models (minilm, e5-small) implement kbcli's small `Embedder` directly instead: importing
llama_index.core costs 1.4 s, which every cold query would pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from kbcli.errors import KbError
from kbcli.models.base import Embedder, normalised
from kbcli.models.spec import ModelSpec
from kbcli.models.tokens import ApproxTokenizer

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding


class LlamaEmbedder(Embedder):
    """A LlamaIndex embedding as kbcli's model; vectors are L2-normalised here."""

    def __init__(self, embedding: "BaseEmbedding", spec: ModelSpec, tokenizer: Any = None) -> None:
        self.embedding = embedding
        self.spec = spec
        # The server's tokenizer is out of sight: count approximately (see ApproxTokenizer).
        self.tokenizer = tokenizer or ApproxTokenizer(spec.token_limit, spec.passage_prefix)
        if spec.dimension is None:  # ask the model once
            self.spec = ModelSpec(**{**spec.__dict__, "dimension": int(self._queries(["dimension"]).shape[1])})

    def _call(self, what: str, fn: Any, arg: Any) -> np.ndarray:
        try:
            return normalised(np.atleast_2d(np.asarray(fn(arg), dtype=np.float32)))
        except KbError:
            raise
        except Exception as err:  # clients raise their own types (openai, httpx, ollama)
            where = self.spec.target or self.spec.id
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise KbError(f"embedding model {self.spec.spec!r} at {where} failed while embedding {what}: {message}") from err

    def _passages(self, texts: list[str]) -> np.ndarray:
        prefixed = [self.spec.passage_prefix + t for t in texts]
        return self._call("chunks", self.embedding.get_text_embedding_batch, prefixed)

    def _queries(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._call("a question", self.embedding.get_query_embedding, self.spec.query_prefix + t) for t in texts])


def server_embedder(spec: ModelSpec) -> LlamaEmbedder:
    """`openai:MODEL@URL` (OpenAILikeEmbedding) or `ollama:MODEL@URL` (OllamaEmbedding)."""
    try:
        if spec.kind == "openai":
            from llama_index.embeddings.openai_like import OpenAILikeEmbedding

            embedding = OpenAILikeEmbedding(
                model_name=spec.id, api_base=spec.target, api_key="not-needed", max_retries=1, timeout=120.0, embed_batch_size=32
            )
        else:
            from llama_index.embeddings.ollama import OllamaEmbedding

            embedding = OllamaEmbedding(model_name=spec.id, base_url=spec.target, embed_batch_size=32)
    except ImportError as err:
        raise KbError(f"the {spec.kind} embedding route needs {err.name} (run `make install`)") from err
    return LlamaEmbedder(embedding, spec)
