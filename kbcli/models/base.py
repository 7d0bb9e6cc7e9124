"""What the rest of kbcli sees of a model: texts in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from kbcli.models.spec import ModelSpec

if TYPE_CHECKING:
    from kbcli.chunking import TokenCounter


class Embedder:
    """Chunks are embedded with `embed` (the model's passage prefix), questions with `embed_query`.
    Vectors are L2-normalised, so the store's inner product is a cosine."""

    spec: ModelSpec
    tokenizer: "TokenCounter"
    batch_size = 32
    version = ""  # the installed package and export of a built-in model (cheap re-check)

    def embed(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Batch texts of similar length together: padding is wasted compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._passages([texts[i] for i in rows])
            if on_batch:
                on_batch(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._queries([text])[0]

    @property
    def dimension(self) -> int:
        assert self.spec.dimension is not None
        return self.spec.dimension

    def _passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
