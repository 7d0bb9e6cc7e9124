"""The embedding model layer: spec strings -> models -> vectors, and an index's record of its model.

An index knows its model: the manifest records the spec, dimension, token limit, prefixes and
the vectors of a few fixed probe sentences. Loading the model for an index re-embeds the probes
(folders and servers always; built-ins when their package or export changed) and refuses a
model that gives other vectors than it gave when the index was built.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from kbcli.errors import KbError, ModelMismatch
from kbcli.models.base import Embedder
from kbcli.models.catalogue import CATALOGUE
from kbcli.models.parse import parse_spec
from kbcli.models.spec import AUTO, BUILTIN, DEFAULT_SPEC, PRECISIONS, ModelSpec, choose_spec

if TYPE_CHECKING:
    import numpy as np

    from kbcli.chunking import TokenCounter
    from kbcli.store import Manifest

__all__ = [
    "AUTO", "BUILTIN", "CATALOGUE", "DEFAULT_SPEC", "Embedder", "ModelSpec", "choose_spec", "load_for_index",
    "OnDemand", "load_model", "model_record", "parse_spec", "spec_of", "import_onnxruntime",
]

# Probes: English prose, Chinese, codes and figures. Their first PROBE_DIMS components are recorded.
PROBES = (
    "The quarterly revenue grew by 12 percent to $4.2 billion.",
    "合同的终止通知期为三十天。",
    "Error E03: descale the machine every 90 days.",
)
PROBE_DIMS = 16
PROBE_TOLERANCE = 0.01  # float noise across runs is ~1e-6; another model differs by ~0.05 per component


def import_onnxruntime() -> Any:
    from kbcli.models.onnx import import_onnxruntime as load

    return load()


def load_model(spec: ModelSpec, cache: Path, *, spin: bool = True) -> Embedder:
    """The model a spec names, loaded (folders exported to ONNX on first use; servers asked once
    for their dimension). `spin=False`: ONNX threads sleep between queries (the shell)."""
    if spec.kind == "onnx-builtin":
        from kbcli.models.onnx import minilm

        return minilm(spec, cache, spin=spin)
    if spec.kind == "e5":
        from kbcli.models.e5 import E5Embedder

        return E5Embedder(spec)
    if spec.kind == "local":
        from kbcli.models.local import load_folder

        return load_folder(spec, cache, spin=spin)
    from kbcli.models.seam import server_embedder

    return server_embedder(spec)


def probe_vectors(embedder: Embedder) -> list[list[float]]:
    return [[round(float(x), 4) for x in row[:PROBE_DIMS]] for row in embedder.embed(list(PROBES))]


def model_record(embedder: Embedder) -> dict[str, Any]:
    """The manifest's fields about its model, for a new index."""
    spec = embedder.spec
    return {
        "model": spec.id, "precision": spec.precision, "dimension": embedder.dimension, "token_limit": spec.token_limit,
        "spec": spec.spec, "multilingual": spec.multilingual, "model_version": embedder.version,
        "prefixes": {"query": spec.query_prefix, "passage": spec.passage_prefix}, "probe": probe_vectors(embedder),
    }


def spec_of(manifest: "Manifest") -> ModelSpec:
    """The model an index must be used with; refuse one this kbcli cannot reproduce."""
    recorded = manifest.spec or PRECISIONS.get(manifest.precision, "")  # older indexes: minilm's precision
    try:
        spec = parse_spec(recorded) if recorded else None
    except KbError as err:
        raise ModelMismatch(f"index {manifest.name!r} needs its model {recorded!r}: {err}") from None
    if spec is None or spec.id != manifest.model or spec.dimension not in (None, manifest.dimension):
        available = ", ".join(m.fingerprint for m in BUILTIN.values())
        raise ModelMismatch(
            f"index {manifest.name!r} was built with {manifest.fingerprint} ({manifest.dimension} dims), "
            f"but this kbcli embeds with {available}: remove it (kbcli remove {manifest.name}) and index again"
        )
    return spec


def load_for_index(manifest: "Manifest", cache: Path, *, spin: bool = True) -> Embedder:
    """The index's model, checked: same dimension, and the same vectors for the probes."""
    embedder = load_model(spec_of(manifest), cache, spin=spin)
    if embedder.dimension != manifest.dimension:
        raise ModelMismatch(_changed(manifest, f"it now gives {embedder.dimension}-dimensional vectors, not {manifest.dimension}"))
    builtin = embedder.spec.kind in ("onnx-builtin", "e5")
    if manifest.probe and not (builtin and embedder.version == manifest.model_version):
        now = probe_vectors(embedder)
        worst = max((abs(a - b) for old, new in zip(manifest.probe, now) for a, b in zip(old, new)), default=0.0)
        if worst > PROBE_TOLERANCE or len(now) != len(manifest.probe):
            raise ModelMismatch(_changed(manifest, f"it now embeds the probe sentences differently (by up to {worst:.3f})"))
    return embedder


class OnDemand(Embedder):
    """The index's model, loaded and checked (load_for_index) when a question first needs its
    vectors: a Chinese question to an English-only model is answered by keywords alone, and its
    process never pays the model's 0.3 s. The spec is known at once."""

    def __init__(self, manifest: "Manifest", cache: Path, *, spin: bool = True) -> None:
        self.spec = spec_of(manifest)
        self._load = lambda: load_for_index(manifest, cache, spin=spin)
        self._model: Embedder | None = None
        self._lock = threading.Lock()  # the shell and the servers search from several threads

    @property
    def model(self) -> Embedder:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    @property
    def tokenizer(self) -> "TokenCounter":  # type: ignore[override]
        return self.model.tokenizer

    @property
    def version(self) -> str:  # type: ignore[override]
        return self.model.version

    @property
    def dimension(self) -> int:
        return self.model.dimension

    def embed(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> "np.ndarray":
        return self.model.embed(texts, on_batch)

    def embed_query(self, text: str) -> "np.ndarray":
        return self.model.embed_query(text)


def _changed(manifest: "Manifest", what: str) -> str:
    return (
        f"index {manifest.name!r} was built with the model {manifest.spec!r}, but {what}: the model changed behind the "
        f"same name. Put the original model back, or re-embed with the new one: kbcli reembed {manifest.name} --model SPEC"
    )
