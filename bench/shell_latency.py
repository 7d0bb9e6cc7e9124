#!/usr/bin/env python3
"""Warm query latency in `kbcli shell` beside the cold start of `kbcli query`.

Builds (or reuses) an index of the FinanceBench filings in an isolated KBCLI_HOME, then:

  warm  one `kbcli shell NAME --json` process; its stdin gets `:info` (the answer line means the
        model and index are loaded), then every question, PASSES times over. Each question is
        timed from writing its line to reading its answer line (client), and by the shell itself
        (the `seconds` field of each answer: search and filter, no rendering).
  cold  `kbcli query NAME "question" --json` as separate processes, RUNS of them (the first RUNS
        questions), wall time each: process start, imports, model load, search, output.

Percentiles are nearest-rank.

    .venv/bin/python bench/shell_latency.py                      # index into bench/.home if needed
    .venv/bin/python bench/shell_latency.py --home /tmp/h --reuse --json bench/results/shell.json

kbcli runs as `python -m kbcli` with this checkout first on PYTHONPATH, so the code measured is
the code next to this script, whatever the venv has installed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def load_questions(path: Path) -> list[str]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            text = " ".join(json.loads(line)["question"].split())
            questions.append(text)
    return questions


class Runner:
    def __init__(self, home: Path, cache: Path) -> None:
        self.env = {
            **os.environ,
            "KBCLI_HOME": str(home),
            "KBCLI_CACHE": str(cache),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.cwd = home  # not the checkout: a .env there must not change the settings
        self.command = [sys.executable, "-m", "kbcli"]

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.command, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True)
        if proc.returncode not in ok:
            raise SystemExit(f"kbcli {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*self.command, *args], env=self.env, cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )


def ensure_index(runner: Runner, name: str, corpus: Path, reuse: bool) -> dict[str, Any]:
    names = {row["name"] for row in json.loads(runner.run("list", "--json").stdout)["indexes"]}
    if name in names and reuse:
        return {"reused": True}
    if name in names:
        runner.run("remove", name, "--yes")
    started = time.perf_counter()
    report = json.loads(runner.run("index", str(corpus), "--name", name, "--json", "--quiet", ok=(0, 3)).stdout)
    return {"reused": False, "seconds": round(time.perf_counter() - started, 1), "chunks": report["chunks_added"]}


def warm(runner: Runner, name: str, questions: list[str], top_k: int, passes: int) -> dict[str, Any]:
    started = time.perf_counter()
    shell = runner.popen("shell", name, "--json", "-k", str(top_k))
    assert shell.stdin and shell.stdout

    def ask(line: str) -> dict:
        shell.stdin.write(line + "\n")
        shell.stdin.flush()
        answer = shell.stdout.readline()
        if not answer:
            raise SystemExit(f"the shell ended early:\n{shell.stderr.read()[-2000:] if shell.stderr else ''}")
        return json.loads(answer)

    info = ask(":info")
    ready = time.perf_counter() - started
    client, inside, first_hit_files = [], [], []
    for _ in range(passes):
        for question in questions:
            sent = time.perf_counter()
            answer = ask(question)
            client.append(time.perf_counter() - sent)
            inside.append(answer["seconds"])
            if answer["query"] != question or len(answer["hits"]) != top_k:
                raise SystemExit(f"unexpected answer for {question!r}: {str(answer)[:300]}")
            first_hit_files.append(Path(answer["hits"][0]["file"]).name)
    shell.stdin.close()
    code = shell.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"the shell exited {code}: {shell.stderr.read()[-2000:] if shell.stderr else ''}")
    return {
        "ready_seconds": round(ready, 2),
        "chunks": info["chunks"],
        "files": info["files_ok"],
        "client": summary(client),
        "inside": summary(inside),
    }


def cold(runner: Runner, name: str, questions: list[str], top_k: int, runs: int) -> dict[str, Any]:
    times = []
    for question in questions[:runs]:
        started = time.perf_counter()
        answer = json.loads(runner.run("query", name, question, "--json", "-k", str(top_k)).stdout)
        times.append(time.perf_counter() - started)
        if len(answer["hits"]) != top_k:
            raise SystemExit(f"cold query returned {len(answer['hits'])} hits")
    return {"runs": runs, "median_s": round(statistics.median(times), 2), "min_s": round(min(times), 2), "max_s": round(max(times), 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=BENCH / ".home", help="isolated KBCLI_HOME (default: bench/.home)")
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache", help="KBCLI_CACHE, the ONNX export (default: bench/.cache)")
    parser.add_argument("--name", default="bench-financebench", help="the index name (default: bench-financebench)")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL, help=f"evaluation data (default: {DEFAULT_EVAL})")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing index instead of rebuilding it")
    parser.add_argument("--top-k", type=int, default=5, help="hits per question (default 5, as `kbcli query`)")
    parser.add_argument("--passes", type=int, default=3, help="times the shell asks every question (default 3)")
    parser.add_argument("--runs", type=int, default=5, help="cold `kbcli query` processes (default 5)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers as JSON to OUT")
    args = parser.parse_args(argv)

    folder = args.eval_dir / "financebench_dev"
    questions = load_questions(folder / "questions.jsonl")
    args.home.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.home.resolve(), args.cache.resolve())
    index = ensure_index(runner, args.name, folder / "pdfs", args.reuse)
    warm_numbers = warm(runner, args.name, questions, args.top_k, args.passes)
    cold_numbers = cold(runner, args.name, questions, args.top_k, args.runs)
    report = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "index": {"name": args.name, **index},
        "questions": len(questions),
        "top_k": args.top_k,
        "passes": args.passes,
        "warm": warm_numbers,
        "cold": cold_numbers,
    }
    w, c = warm_numbers, cold_numbers
    print(f"index {args.name!r}: {w['files']} files, {w['chunks']} chunks; {len(questions)} questions x {args.passes} passes, k={args.top_k}")
    print(f"shell ready after            {w['ready_seconds']:.2f} s (start-up, model and index load)")
    print(f"warm, question to answer     p50 {w['client']['p50_ms']:.1f} ms   p95 {w['client']['p95_ms']:.1f} ms   max {w['client']['max_ms']:.1f} ms")
    print(f"warm, inside the shell       p50 {w['inside']['p50_ms']:.1f} ms   p95 {w['inside']['p95_ms']:.1f} ms")
    print(f"cold `kbcli query` (x{c['runs']})     median {c['median_s']:.2f} s   (min {c['min_s']:.2f}, max {c['max_s']:.2f})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
