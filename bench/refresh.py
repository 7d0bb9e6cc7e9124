#!/usr/bin/env python3
"""Refresh costs on a real corpus: what cron pays when little has changed.

Copies the corpus to a scratch folder, indexes it through the CLI, then times `kbcli refresh`
after each of: nothing changed; every file touched (new mtime, same bytes); one PDF modified
(re-saved by PyMuPDF with a new title: new bytes, same text); one PDF deleted; one PDF renamed.
Each row gives the wall time and the refresh's own summary (what it classified, chunks added).

    .venv/bin/python bench/refresh.py                         # FinanceBench dev (19 PDFs)
    .venv/bin/python bench/refresh.py --corpus DIR --json bench/results/refresh.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "pdfs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench" / ".cache", help="KBCLI_CACHE (model export)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    kbcli = str(Path(sys.executable).with_name("kbcli"))

    with tempfile.TemporaryDirectory(prefix="kbcli-refresh-") as tmp:
        docs = Path(tmp) / "docs"
        shutil.copytree(args.corpus, docs)
        env = {**os.environ, "KBCLI_HOME": str(Path(tmp) / "home"), "KBCLI_CACHE": str(args.cache)}

        def run(*cli_args: str) -> tuple[float, dict]:
            started = time.perf_counter()
            proc = subprocess.run([kbcli, *cli_args, "--json", "--quiet"], env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if proc.returncode not in (0, 3):
                sys.exit(f"kbcli {' '.join(cli_args)} failed ({proc.returncode}): {proc.stderr[-500:]}")
            return seconds, json.loads(proc.stdout)

        pdfs = sorted(docs.glob("*.pdf"), key=lambda p: p.stat().st_size)
        victim, doomed, moved = pdfs[len(pdfs) // 2], pdfs[0], pdfs[-1]  # a mid-sized one to re-embed
        rows = [("index (all files)", *run("index", str(docs), "--name", "r"))]
        rows.append(("refresh, nothing changed", *run("refresh", "r")))
        for path in docs.iterdir():
            os.utime(path)
        rows.append(("refresh, every file touched", *run("refresh", "r")))
        _resave(victim)
        rows.append((f"refresh, 1 PDF modified ({victim.name})", *run("refresh", "r")))
        doomed.unlink()
        rows.append((f"refresh, 1 PDF deleted ({doomed.name})", *run("refresh", "r")))
        moved.rename(moved.with_name("renamed_" + moved.name))
        rows.append((f"refresh, 1 PDF renamed ({moved.name})", *run("refresh", "r")))

    print(f"{'step':<58} {'seconds':>8}  classified")
    for step, seconds, summary in rows:
        counts = ", ".join(f"{summary.get(k, 0)} {k}" for k in ("added", "modified", "removed", "moved", "unchanged"))
        print(f"{step:<58} {seconds:>8.2f}  {counts}; {summary.get('chunks_added', 0)} chunks embedded")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([{"step": s, "seconds": t, "summary": m} for s, t, m in rows], indent=2))


def _resave(path: Path) -> None:
    """New bytes, same text: what a PDF tool re-exporting a file does."""
    import pymupdf

    with pymupdf.open(path) as doc:
        doc.set_metadata({"title": "revised"})
        doc.save(path.with_suffix(".tmp"), garbage=1)
    path.with_suffix(".tmp").replace(path)


if __name__ == "__main__":
    main()
