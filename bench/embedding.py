#!/usr/bin/env python3
"""Embedding throughput: the same chunks through torch (sentence-transformers, the baseline a
user gets), kbcli's ONNX fp32 export and its dynamic int8 export. Interleaved rounds, so a
machine that gets busier mid-run hurts every runtime alike; the table gives medians.

The chunks are real: FinanceBench pages cut by kbcli's own chunker (<= 256 tokens with the
title/heading prefix), so the token counts are those indexing embeds.

    .venv/bin/python bench/embedding.py                    # 256 chunks, 3 rounds
    .venv/bin/python bench/embedding.py --chunks 512 --rounds 5 --json bench/results/embedding.json

Also prints the cosine between fp32 and int8 vectors of the same chunk (min / median).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PDFS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "pdfs"


def real_chunks(count: int) -> list[str]:
    from kbcli.chunking import ChunkSettings, chunk_document
    from kbcli.embedding import DEFAULT_MODEL, Tokenizer, packaged_model_dir
    from kbcli.readers import ReadOptions, read_document

    tokenizer = Tokenizer(packaged_model_dir(), DEFAULT_MODEL.token_limit)
    texts: list[str] = []
    for pdf in sorted(PDFS.glob("*.pdf")):
        try:
            document = read_document(pdf, ReadOptions())
        except Exception:  # an unreadable filing is simply not used here
            continue
        texts.extend(c.embed_text for c in chunk_document(document, tokenizer, ChunkSettings()))
        if len(texts) >= count * 4:
            break
    # every 4th chunk: a spread across pages rather than one filing's opening pages
    return texts[::4][:count]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from sentence_transformers import SentenceTransformer

    from kbcli.embedding import DEFAULT_MODEL, INT8_MODEL, Embedder, Tokenizer, packaged_model_dir

    texts = real_chunks(args.chunks)
    tokens = [Tokenizer(packaged_model_dir(), 512).count(t) for t in texts]
    torch_model = SentenceTransformer(str(packaged_model_dir()), device="cpu")
    runtimes = {
        "torch fp32 (sentence-transformers)": lambda batch: torch_model.encode(batch, batch_size=32, normalize_embeddings=True),
        "kbcli ONNX fp32": Embedder(args.cache, DEFAULT_MODEL).embed,
        "kbcli ONNX int8": Embedder(args.cache, INT8_MODEL).embed,
    }
    for embed in runtimes.values():
        embed(texts[:8])  # load, export if needed, warm up
    rates: dict[str, list[float]] = {name: [] for name in runtimes}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, embed in runtimes.items():
            started = time.perf_counter()
            vectors[name] = np.asarray(embed(texts))
            rates[name].append(len(texts) / (time.perf_counter() - started))

    base = statistics.median(rates["torch fp32 (sentence-transformers)"])
    print(f"{len(texts)} chunks, median {statistics.median(tokens):.0f} tokens (max {max(tokens)}), {args.rounds} rounds")
    print(f"{'runtime':<36} {'chunks/s (median)':>18} {'vs torch':>9}")
    for name, values in rates.items():
        print(f"{name:<36} {statistics.median(values):>18.1f} {statistics.median(values) / base:>8.2f}x")
    fp32, int8 = vectors["kbcli ONNX fp32"], vectors["kbcli ONNX int8"]
    cosines = np.sum(fp32 * int8, axis=1)
    agreement = np.sum(fp32 * vectors["torch fp32 (sentence-transformers)"], axis=1)
    print(f"cosine fp32 vs int8: min {cosines.min():.4f}, median {np.median(cosines):.4f}; "
          f"ONNX fp32 vs torch: min {agreement.min():.6f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"chunks": len(texts), "median_tokens": statistics.median(tokens),
                                         "rates": rates, "int8_cosine_min": float(cosines.min())}, indent=2))


if __name__ == "__main__":
    main()
