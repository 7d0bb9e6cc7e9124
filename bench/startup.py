#!/usr/bin/env python3
"""Start-up and per-question latency of the CLI, on an index that already exists.

  help      `kbcli --help`, RUNS separate processes (wall time each)
  cold      `kbcli query NAME "question" --json`, RUNS separate processes, one question each
            (process start, imports, model load, index open, search, output)
  batch     one `kbcli query NAME --from-file Q --json` over every question PASSES times: the
            `seconds` kbcli reports for each question (embed + search + fetch; the first question
            of the run is left out as warm-up), and the whole run's wall time per question
  refresh   `kbcli refresh NAME --json` with nothing changed, RUNS times (wall time each)

Medians and nearest-rank percentiles, all from this one run.

    .venv/bin/python bench/quality.py --sets financebench          # builds bench-financebench once
    .venv/bin/python bench/startup.py                              # then this
    .venv/bin/python bench/startup.py --home /tmp/h --name fb --runs 5
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "questions.jsonl"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timed(args: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, input=stdin, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 3):
        sys.exit(f"{' '.join(args[:4])} ... failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, default=ROOT / "bench" / ".home", help="KBCLI_HOME holding the index")
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache", help="KBCLI_CACHE (model export)")
    ap.add_argument("--name", default="bench-financebench", help="the index to query and refresh")
    ap.add_argument("--questions", type=Path, default=QUESTIONS, help="JSON lines with a 'question' field")
    ap.add_argument("--runs", type=int, default=10, help="processes per cold measurement")
    ap.add_argument("--passes", type=int, default=3, help="passes over the questions in batch mode")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args()

    kbcli = str(Path(sys.executable).with_name("kbcli"))
    env = {**os.environ, "KBCLI_HOME": str(args.home), "KBCLI_CACHE": str(args.cache)}
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    timed([kbcli, "query", args.name, "warm the page cache", "--json"], env)

    help_runs = [timed([kbcli, "--help"], env)[0] for _ in range(args.runs)]
    cold_runs = [timed([kbcli, "query", args.name, q, "--json"], env)[0] for q in questions[: args.runs]]

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(questions * args.passes) + "\n")
    batch_wall, out = timed([kbcli, "query", args.name, "--from-file", handle.name, "--json"], env)
    os.unlink(handle.name)
    per_question = [json.loads(line)["seconds"] for line in out.splitlines() if line.strip()][1:]

    refresh_runs = []
    for _ in range(max(3, args.runs // 2)):
        seconds, out = timed([kbcli, "refresh", args.name, "--json", "--quiet"], env)
        summary = json.loads(out)
        assert summary["added"] == summary["modified"] == summary["removed"] == 0, summary
        refresh_runs.append(seconds)
    info = json.loads(timed([kbcli, "info", args.name, "--json"], env)[1])

    rows = [
        ("kbcli --help (cold process)", f"median {statistics.median(help_runs):.3f} s", f"{len(help_runs)} runs"),
        ("kbcli query (cold process)", f"median {statistics.median(cold_runs):.3f} s",
         f"{len(cold_runs)} runs, max {max(cold_runs):.3f} s"),
        ("batch query, per question (in process)",
         f"p50 {percentile(per_question, 50) * 1000:.1f} ms, p95 {percentile(per_question, 95) * 1000:.1f} ms",
         f"{len(per_question)} questions"),
        ("batch query, wall per question", f"{batch_wall / (len(per_question) + 1) * 1000:.0f} ms",
         "incl. one start-up and printing"),
        ("refresh, nothing changed", f"median {statistics.median(refresh_runs):.3f} s", f"{len(refresh_runs)} runs"),
    ]
    print(f"index {args.name!r}: {info.get('files')} files, {info.get('chunks')} chunks, {os.cpu_count()} CPUs")
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<28}  {note}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "index": args.name, "files": info.get("files"), "chunks": info.get("chunks"),
            "help_s": help_runs, "cold_query_s": cold_runs, "batch_question_s": per_question,
            "batch_wall_s": batch_wall, "refresh_unchanged_s": refresh_runs,
        }, indent=2))


if __name__ == "__main__":
    main()
