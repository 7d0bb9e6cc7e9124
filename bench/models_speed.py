"""Chunks per second of the built-in models, on the same real chunks (README: Models).

    python bench/models_speed.py [--chunks 200] [--cache DIR]

Half the chunks from FinanceBench 10-K pages (English), half from CMRC2018 documents (Chinese),
cut once with minilm's tokenizer so every model embeds exactly the same texts. One run each,
after one warm-up batch; model loading is not counted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kbcli.chunking import ChunkSettings, chunk_document
from kbcli.models import load_model, parse_spec
from kbcli.readers import read_document

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def real_chunks(n: int, tokenizer) -> list[str]:
    english: list[str] = []
    for pdf in sorted((EVAL / "financebench_dev" / "pdfs").glob("*.pdf"))[:2]:
        english += [c.embed_text for c in chunk_document(read_document(pdf), tokenizer, ChunkSettings())]
    chinese: list[str] = []
    for doc in sorted((EVAL / "cmrc2018" / "docs").glob("*.docx")):
        chinese += [c.embed_text for c in chunk_document(read_document(doc), tokenizer, ChunkSettings())]
        if len(chinese) >= n // 2:
            break
    return english[100 : 100 + n // 2] + chinese[: n // 2]  # past the cover pages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "kbcli-bench")
    args = parser.parse_args()
    models = {spec: load_model(parse_spec(spec), args.cache) for spec in ("minilm", "minilm-int8", "e5-small")}
    texts = real_chunks(args.chunks, models["minilm"].tokenizer)
    print(f"{len(texts)} chunks, {sum(map(len, texts)) // len(texts)} characters on average")
    for spec, model in models.items():
        model.embed(texts[:32])
        started = time.perf_counter()
        model.embed(texts)
        seconds = time.perf_counter() - started
        print(f"{spec:<12} {len(texts) / seconds:6.1f} chunks/s  ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
