#!/usr/bin/env python3
"""Warm search latency through `kbcli mcp` (stdio, the SDK's own client) and `kbcli serve` (HTTP),
and each server's peak memory, on an existing index. Compare with bench/shell_latency.py's warm
numbers on the same index, in the same run.

    .venv/bin/python bench/servers_latency.py --home bench/.home --index bench-financebench --passes 3

Questions: FinanceBench's 31 (../shared/eval/financebench_dev/questions.jsonl), top_k 10.
Each call is timed at the client, from sending the request to having the whole answer.
Percentiles are nearest-rank. kbcli runs as `python -m kbcli` with this checkout first on
PYTHONPATH. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "questions.jsonl"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "KBCLI_HOME": str(home), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _mcp(home: Path, index: str, questions: list[str], passes: int) -> tuple[list[float], float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "kbcli", "mcp", index], env=_env(home))
    times: list[float] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("search", {"query": questions[0], "index": index, "top_k": 10})  # warm-up
        for _ in range(passes):
            for q in questions:
                started = time.perf_counter()
                result = await session.call_tool("search", {"query": q, "index": index, "top_k": 10})
                times.append(time.perf_counter() - started)
                assert not result.is_error, result.content[0].text
        pids = subprocess.run(["pgrep", "-f", f"kbcli mcp {index}"], capture_output=True, text=True).stdout.split()
        peak = max((_peak_mb(int(p)) for p in pids), default=float("nan"))
    return times, peak


def _http(home: Path, index: str, questions: list[str], passes: int) -> tuple[list[float], float]:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "kbcli", "serve", "--port", str(port)], env=_env(home),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        times: list[float] = []
        with httpx.Client(timeout=60) as client:
            client.post(f"{base}/v1/indexes/{index}/search", json={"query": questions[0], "top_k": 10})  # warm-up
            for _ in range(passes):
                for q in questions:
                    started = time.perf_counter()
                    response = client.post(f"{base}/v1/indexes/{index}/search", json={"query": q, "top_k": 10})
                    times.append(time.perf_counter() - started)
                    response.raise_for_status()
        return times, _peak_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="KBCLI_HOME holding the index")
    parser.add_argument("--index", default="bench-financebench")
    parser.add_argument("--passes", type=int, default=3, help="times over the question set")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args()
    questions = [json.loads(line)["question"].replace("\n", " ") for line in QUESTIONS.read_text().splitlines() if line.strip()]
    results = {}
    for label, run in (("mcp (stdio)", lambda: asyncio.run(_mcp(args.home, args.index, questions, args.passes))),
                       ("http", lambda: _http(args.home, args.index, questions, args.passes))):
        times, peak = run()
        results[label] = {"calls": len(times), "p50_ms": round(_pct(times, 50) * 1000, 1),
                          "p95_ms": round(_pct(times, 95) * 1000, 1), "peak_rss_mb": round(peak, 1)}
        print(f"{label:12s} {len(times)} calls  p50 {results[label]['p50_ms']} ms  p95 {results[label]['p95_ms']} ms  "
              f"peak RSS {results[label]['peak_rss_mb']} MB", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"loadavg": os.getloadavg(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
