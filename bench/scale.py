#!/usr/bin/env python3
"""Scale benchmark: synthetic indexes of N chunks (random unit vectors + generated text).

Vectors are drawn around the real chunk embeddings of a FinanceBench index (see file_vectors),
so the set is clustered like real text and the approximate index's recall means something.
Builds each index through kbcli's own store (the same code `kbcli index` uses, minus parsing and
embedding), then measures in fresh processes:
  - open + first query, cold (a new process; the OS page cache is whatever it is, noted),
  - warm query latency p50/p95 over 50 queries in one process (vector and hybrid modes),
  - disk size and peak RSS of the querying process,
  - for the approximate vector index: recall@10 against exact search on the same vectors.

    .venv/bin/python bench/scale.py --sizes 100000,1000000 [--home /tmp/kbcli-scale] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
CHUNKS_PER_FILE = 100
WORDS = (
    "revenue income growth margin cash flow capital expenditure dividend tax liability asset equity debt "
    "interest segment customer supplier contract lease pension inventory goodwill impairment risk market "
    "currency exchange rate share buyback acquisition merger litigation regulation compliance audit "
    "subsidiary operating expense depreciation amortization research development product service region"
).split()
QUESTIONS = [
    "capital expenditure in the cash flow statement",
    "goodwill impairment test for the segment",
    "currency exchange rate risk",
    "dividend paid per share",
    "lease liability maturity",
]


def _text(rng: random.Random, n: int = 120) -> str:
    # Zipf-like word frequencies, so BM25 sees common and rare terms as in real text
    return " ".join(WORDS[min(int(rng.paretovariate(1.2)) - 1, len(WORDS) - 1)] for _ in range(n)) + f" doc{rng.randint(0, 10**9)}"


REAL_QUESTIONS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "questions.jsonl"


def real_vectors(index_folder: Path | None):
    """Unit vectors of a real index (its newest vectors file), or None for plain random vectors."""
    if index_folder is None:
        return None
    import faiss

    newest = max(index_folder.glob("vectors-*.faiss"), key=lambda p: p.stat().st_mtime)
    index = faiss.read_index(str(newest))
    inner = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    return inner.reconstruct_n(0, inner.ntotal)


def file_vectors(gen, seeds):
    """One synthetic file's vectors: near-copies of real chunk embeddings (cosine ~0.93 to their
    seed) when seeds are given, so the set is clustered like real text; else random."""
    import numpy as np

    if seeds is None:
        vectors = gen.standard_normal((CHUNKS_PER_FILE, DIM), dtype=np.float32)
    else:
        picks = seeds[gen.integers(0, len(seeds), CHUNKS_PER_FILE)]
        vectors = picks + gen.normal(0, 0.02, (CHUNKS_PER_FILE, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(home: Path, name: str, n: int, vector_index: str, seeds=None) -> float:
    import numpy as np

    from kbcli.chunking import ChunkSettings
    from kbcli.embedding import DEFAULT_MODEL
    from kbcli.store import IndexWriter, Manifest, create_index

    folder = home / "indexes" / name
    manifest = Manifest(
        name=name, model=DEFAULT_MODEL.id, precision="fp32", dimension=DIM, token_limit=256,
        chunking=ChunkSettings().as_dict(), vector_index=vector_index,
    )
    started = time.perf_counter()
    create_index(folder, manifest)
    writer = IndexWriter(folder)
    rng = random.Random(1)
    gen = np.random.default_rng(1)
    try:
        for f in range(n // CHUNKS_PER_FILE):
            vectors = file_vectors(gen, seeds)
            chunks = [
                {"seq": i, "page": i // 4 + 1, "page_label": None, "heading": None, "text": _text(rng)}
                for i in range(CHUNKS_PER_FILE)
            ]
            path = f"/synthetic/file{f:07d}.pdf"
            writer.put_file({"path": path, "source": "/synthetic", "size": 1, "mtime_ns": 1, "sha256": str(f), "title": path, "pages": 25}, chunks, vectors)
        writer.commit()
    finally:
        writer.close()
    return time.perf_counter() - started


PROBE = r"""
import json, resource, statistics, sys, time
t0 = time.perf_counter()
from kbcli.kb import KnowledgeBase
from kbcli.search import SearchSettings
from pathlib import Path
kb = KnowledgeBase(Path(sys.argv[1]))
searcher = kb.searcher(sys.argv[2])
t_open = time.perf_counter()
mode = sys.argv[3]
questions = json.loads(sys.argv[4])
settings = SearchSettings(mode=mode)
first = searcher.search(questions[0], 10, settings)
t_first = time.perf_counter()
lat = []
for i in range(50):
    t = time.perf_counter(); searcher.search(questions[i % len(questions)] + f" q{i}", 10, settings); lat.append(time.perf_counter() - t)
lat.sort()
print(json.dumps({"open_s": t_open - t0, "open_first_s": t_first - t0, "p50_ms": 1000 * lat[len(lat)//2],
                  "p95_ms": 1000 * lat[int(len(lat)*0.95)], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def probe(home: Path, name: str, mode: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROBE, str(home), name, mode, json.dumps(QUESTIONS)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "KBCLI_HOME": str(home)})
    if out.returncode:
        raise SystemExit(out.stderr)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["process_wall_s"] = time.perf_counter() - started
    return data


def ivf_recall(home: Path, n: int, cache: Path) -> float:
    """Recall@10 of the IVF index against exact search over the same vectors, for the FinanceBench
    questions embedded by kbcli's model (vectors drawn around real embeddings: see file_vectors)."""
    from kbcli.embedding import Embedder
    from kbcli.kb import KnowledgeBase
    from kbcli.settings import resolve

    nprobe = resolve().search.nprobe  # KBCLI_NPROBE, as kbcli query would use it
    questions = [json.loads(line)["question"] for line in REAL_QUESTIONS.read_text().splitlines() if line.strip()]
    embedder = Embedder(cache)
    kb = KnowledgeBase(home)
    exact, approx = kb.reader(f"synthetic-{n}-flat"), kb.reader(f"synthetic-{n}-ivf")
    try:
        found = 0
        with exact.snapshot() as exact_snap, approx.snapshot() as approx_snap:
            for question in questions:
                q = embedder.embed_query(question)
                truth = {i for i, _ in exact_snap.nearest(q, 10, nprobe)}
                found += len(truth & {i for i, _ in approx_snap.nearest(q, 10, nprobe)})
        return found / (10 * len(questions))
    finally:
        exact.close()
        approx.close()


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--home", type=Path, default=Path("/tmp/kbcli-scale"))
    ap.add_argument("--vector-index", default="flat,ivf", help="flat, ivf or both (recall of ivf needs both)")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache", help="KBCLI_CACHE (model export)")
    ap.add_argument("--seed-index", type=Path, default=ROOT / "bench" / ".home" / "indexes" / "bench-financebench",
                    help="draw vectors around this index's real embeddings ('' for plain random vectors)")
    args = ap.parse_args()
    rows = []
    kinds = args.vector_index.split(",")
    seeds = real_vectors(args.seed_index) if str(args.seed_index) else None
    os.environ["KBCLI_CACHE"] = str(args.cache)
    for n in (int(s) for s in args.sizes.split(",")):
        for kind in kinds:
            name = f"synthetic-{n}-{kind}"
            folder = args.home / "indexes" / name
            build_s = None
            if not (args.reuse and (folder / "manifest.json").exists()):
                if folder.exists():
                    import shutil
                    shutil.rmtree(folder)
                build_s = build(args.home, name, n, kind, seeds)
            row = {"chunks": n, "vector_index": kind, "build_s": build_s, "disk_mb": disk_mb(folder)}
            for mode in ("vector", "hybrid"):
                row[mode] = probe(args.home, name, mode)
            if kind == "ivf" and "flat" in kinds:
                row["recall_at_10_vs_exact"] = ivf_recall(args.home, n, args.cache)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print(f"{'chunks':>9} {'index':>6} {'disk MB':>8} {'mode':>7} {'open s':>7} {'open+1st s':>10} {'p50 ms':>7} {'p95 ms':>7} {'peak MB':>8}")
    for r in rows:
        for mode in ("vector", "hybrid"):
            m = r[mode]
            print(f"{r['chunks']:>9} {r['vector_index']:>6} {r['disk_mb']:>8.0f} {mode:>7} {m['open_s']:>7.2f} {m['open_first_s']:>10.2f} "
                  f"{m['p50_ms']:>7.1f} {m['p95_ms']:>7.1f} {m['peak_rss_mb']:>8.0f}")
        if "recall_at_10_vs_exact" in r:
            print(f"{'':>9} {'':>6} IVF recall@10 against exact search: {r['recall_at_10_vs_exact']:.3f}")


if __name__ == "__main__":
    main()
