"""`local:DIR`: a sentence-transformers / Hugging Face model folder already on this machine.

Everything that decides the vectors is read from the folder's own files: the modules and pooling
(`modules.json`, `1_Pooling/config.json`), prompts (`config_sentence_transformers.json`), the
token limit (`sentence_bert_config.json`, `tokenizer_config.json`, `config.json`) and the
languages of its model card (`README.md`). A folder that does not say how to pool is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from kbcli.errors import UsageError
from kbcli.models.spec import ModelSpec

_KNOWN_MODULES = ("Transformer", "Pooling", "Normalize")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "onnx/model.onnx")
_LANGUAGES = re.compile(r"^language:[ \t]*(\S*)[ \t]*((?:\n[ \t]*-[ \t]*\S+)*)", re.MULTILINE)


def _json(folder: Path, name: str, required: bool = False) -> dict[str, Any] | list[Any] | None:
    path = folder / name
    if not path.is_file():
        if required:
            raise UsageError(f"model folder {folder}: no {name}, so kbcli cannot tell how it pools (is it a sentence-transformers model?)")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"model folder {folder}: {name} is unreadable: {err}") from None


def pooling_of(folder: Path) -> str:
    """mean | cls, from modules.json and its Pooling module's config; refuse anything else."""
    modules = _json(folder, "modules.json", required=True)
    if not isinstance(modules, list):
        raise UsageError(f"model folder {folder}: modules.json is not a list of modules")
    pooling_dir = None
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind not in _KNOWN_MODULES:
            raise UsageError(f"model folder {folder}: module {kind or '?'} is not supported (only {', '.join(_KNOWN_MODULES)})")
        if kind == "Pooling":
            pooling_dir = str(module.get("path", ""))
    if pooling_dir is None:
        raise UsageError(f"model folder {folder}: modules.json names no Pooling module")
    config = _json(folder / pooling_dir, "config.json", required=True)
    modes = {k for k, v in dict(config or {}).items() if k.startswith("pooling_mode_") and v is True}
    if modes == {"pooling_mode_mean_tokens"}:
        return "mean"
    if modes == {"pooling_mode_cls_token"}:
        return "cls"
    raise UsageError(f"model folder {folder}: pooling {sorted(modes) or 'none'} is not supported (mean or cls)")


def _token_limit(folder: Path) -> int:
    st = _json(folder, "sentence_bert_config.json") or {}
    tok = _json(folder, "tokenizer_config.json") or {}
    config = _json(folder, "config.json") or {}
    for value in (st.get("max_seq_length"), tok.get("model_max_length")):  # type: ignore[union-attr]
        if isinstance(value, int) and 0 < value < 100_000:
            return value
    positions = config.get("max_position_embeddings")  # type: ignore[union-attr]
    if isinstance(positions, int) and positions > 0:
        return positions - 2 if config.get("model_type") in ("roberta", "xlm-roberta") else positions  # type: ignore[union-attr]
    raise UsageError(f"model folder {folder}: no token limit in sentence_bert_config.json, tokenizer_config.json or config.json")


def _prompts(folder: Path) -> tuple[str, str]:
    prompts = (_json(folder, "config_sentence_transformers.json") or {}).get("prompts") or {}  # type: ignore[union-attr]
    query = prompts.get("query", "")
    passage = next((prompts[k] for k in ("passage", "document", "doc") if k in prompts), "")
    return str(query), str(passage)


def languages(folder: Path) -> list[str]:
    """The `language:` of the model card's front matter (a value or a list), else []."""
    card = folder / "README.md"
    if not card.is_file():
        return []
    text = card.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    found = _LANGUAGES.search(text.split("\n---", 1)[0])
    if not found:
        return []
    inline = [found.group(1)] if found.group(1) else []
    listed = re.findall(r"-\s*(\S+)", found.group(2) or "")
    return [x.strip("'\"") for x in inline + listed if x]


def weights_stamp(folder: Path) -> str:
    """Changes when the weights do (size and time of the weight files): names the cached export."""
    stats = [(n, (folder / n).stat()) for n in _WEIGHTS if (folder / n).is_file()]
    if not stats:
        raise UsageError(f"model folder {folder}: no weights ({', '.join(_WEIGHTS)})")
    text = ";".join(f"{n}:{s.st_size}:{s.st_mtime_ns}" for n, s in stats)
    return hashlib.sha256(f"{folder}|{text}".encode()).hexdigest()[:16]


def folder_spec(folder: Path) -> ModelSpec:
    folder = folder.resolve()
    if not folder.is_dir():
        raise UsageError(f"model folder {folder}: no such folder")
    pooling_of(folder)  # refuse early what cannot be loaded
    if not (folder / "tokenizer.json").is_file():
        raise UsageError(f"model folder {folder}: no tokenizer.json (kbcli needs a fast tokenizer)")
    config = _json(folder, "config.json") or {}
    query, passage = _prompts(folder)
    langs = languages(folder)
    return ModelSpec(
        spec=f"local:{folder}", kind="local", id=folder.name,
        token_limit=_token_limit(folder), dimension=config.get("hidden_size"),  # type: ignore[union-attr]
        multilingual=langs != ["en"], query_prefix=query, passage_prefix=passage, target=str(folder),
    )


def load_folder(spec: ModelSpec, cache: Path, *, spin: bool = True):
    from kbcli.models.onnx import OnnxEmbedder, exported_model
    from kbcli.models.tokens import HfTokenizer

    folder = Path(spec.target)
    pooling = pooling_of(folder)
    path = folder / "onnx" / "model.onnx"
    if not path.is_file():
        stamp = weights_stamp(folder)
        path = exported_model(cache / "models" / f"local--{folder.name}-{stamp}", folder, "fp32", pooling, {"model": str(folder)})
    tokenizer = HfTokenizer(folder / "tokenizer.json", spec.token_limit, spec.passage_prefix)
    return OnnxEmbedder(spec, path, tokenizer, pooling, spin=spin)
