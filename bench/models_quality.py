#!/usr/bin/env python3
"""Embedding models side by side: bench/quality.py once per model, in one run, one table.

Each model gets its own KBCLI_HOME (HOME/<model>) and builds its own indexes with
`KBCLI_MODEL=<model>`; every other setting is the default. The table puts the headline metric of
every set and the indexing throughput (chunks per second of the whole `kbcli index` run) of every
model next to each other; the JSON keeps each model's full quality.py report.

    .venv/bin/python bench/models_quality.py --models minilm,e5-small --home /tmp/mq --json mq.json
    .venv/bin/python bench/models_quality.py --models minilm,e5-small --sets cmrc,cmrc_para --limit 50

Exit code: 0 when every model ran every set, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROWS = [  # (set, metric) pairs shown in the table; the JSON has all of them
    ("financebench", "page_recall@1"), ("financebench", "page_recall@5"), ("financebench", "page_recall@10"),
    ("financebench", "doc_recall@5"),
    ("financebench_zh", "page_recall@1"), ("financebench_zh", "page_recall@5"), ("financebench_zh", "page_recall@10"),
    ("financebench_zh", "doc_recall@5"),
    ("cmrc", "doc_recall@1"), ("cmrc", "doc_recall@5"),
    ("cmrc_para", "doc_recall@1"), ("cmrc_para", "doc_recall@5"), ("cmrc_para", "doc_recall@10"),
]


def run_model(model: str, home: Path, passthrough: list[str]) -> dict:
    """One quality.py run with KBCLI_MODEL=model; its JSON report (or an error record)."""
    with tempfile.TemporaryDirectory(prefix="kbcli-mq-") as tmp:
        out = Path(tmp) / "report.json"
        env = {**os.environ, "KBCLI_MODEL": model}
        command = [sys.executable, str(BENCH / "quality.py"), "--home", str(home / model), "--json", str(out), *passthrough]
        print(f"== {model}: {' '.join(command)}", file=sys.stderr, flush=True)
        code = subprocess.run(command, env=env).returncode
        report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {"sets": {}}
        report["exit_code"] = code
        return report


def throughput(report: dict) -> dict[str, float | None]:
    """Chunks per second of each index build in this report (None when the index was reused)."""
    rates: dict[str, float | None] = {}
    for result in report.get("sets", {}).values():
        build = result.get("index_build") or {}
        if build.get("shared_with"):
            continue
        seconds, summary = build.get("seconds"), build.get("summary") or {}
        chunks = summary.get("chunks_added")
        rates[result["index"]] = round(chunks / seconds, 2) if seconds and chunks else None
        rates[result["index"] + " seconds"] = seconds
    return rates


def print_table(models: list[str], reports: dict[str, dict]) -> None:
    width = max(12, *(len(m) for m in models))
    print(f"{'set':<17}{'metric':<17}" + "".join(f"{m:>{width + 2}}" for m in models))
    for key, metric in ROWS:
        values = [reports[m].get("sets", {}).get(key, {}).get("metrics", {}).get(metric) for m in models]
        if all(v is None for v in values):
            continue
        print(f"{key:<17}{metric:<17}" + "".join(f"{'-' if v is None else f'{v:.3f}':>{width + 2}}" for v in values))
    rates = {m: throughput(reports[m]) for m in models}
    for name in sorted({n for r in rates.values() for n in r}):
        label = "index s" if name.endswith(" seconds") else "chunks/s"
        values = [rates[m].get(name) for m in models]
        print(f"{name.removesuffix(' seconds'):<17}{label:<17}" + "".join(f"{'-' if v is None else v:>{width + 2}}" for v in values))
    loads = [reports[m].get("settings", {}).get("loadavg_1_5_15_after") for m in models]
    print("load average (1, 5, 15 min) after each model: " + "; ".join(f"{m} {l}" for m, l in zip(models, loads)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="Other options are passed to quality.py (e.g. --sets, --limit, --reuse).",
    )
    parser.add_argument("--models", default="minilm,e5-small", help="comma-separated model specs (default: minilm,e5-small)")
    parser.add_argument("--home", type=Path, default=BENCH / ".models-home", help="one KBCLI_HOME per model under it")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="write every model's report to OUT")
    args, passthrough = parser.parse_known_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    reports = {m: run_model(m, args.home.resolve(), passthrough) for m in models}
    print_table(models, reports)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["exit_code"] == 0 for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
