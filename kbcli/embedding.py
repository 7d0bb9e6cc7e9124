"""The names of the former single-model module, kept for benches and older callers.

The model layer is kbcli.models; this maps the old names onto it (all-MiniLM-L6-v2 by precision).
"""

from __future__ import annotations

from pathlib import Path

from kbcli.errors import KbError
from kbcli.models import Embedder as BaseEmbedder
from kbcli.models import ModelSpec, load_model, spec_of
from kbcli.models.onnx import packaged_model_dir
from kbcli.models.spec import MINILM, MINILM_INT8
from kbcli.models.tokens import HfTokenizer

__all__ = ["DEFAULT_MODEL", "INT8_MODEL", "MODELS", "Embedder", "ModelSpec", "Tokenizer", "model_for", "model_spec_for", "packaged_model_dir"]

DEFAULT_MODEL = MINILM
INT8_MODEL = MINILM_INT8
MODELS = {m.precision: m for m in (MINILM, MINILM_INT8)}
model_spec_for = spec_of


def model_for(precision: str) -> ModelSpec:
    try:
        return MODELS[precision]
    except KeyError:
        raise KbError(f"unknown embedding precision {precision!r}: choose {', '.join(MODELS)}") from None


def Embedder(cache: Path, spec: ModelSpec = DEFAULT_MODEL, *, spin: bool = True) -> BaseEmbedder:  # noqa: N802 (was a class)
    return load_model(spec, cache, spin=spin)


def Tokenizer(model_dir: Path, token_limit: int) -> HfTokenizer:  # noqa: N802 (was a class)
    return HfTokenizer(model_dir / "tokenizer.json", token_limit)
