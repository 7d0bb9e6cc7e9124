#!/usr/bin/env python3
"""Retrieval-quality benchmark for kbcli, run through the real command line.

Builds (or reuses) one index per corpus in an isolated KBCLI_HOME and scores each question set
with `kbcli eval NAME QUESTIONS.jsonl --json --top-k K` (kbcli/evaluate.py does the scoring):

  financebench     FinanceBench questions on 19 SEC filings: page recall@1/5/10 (file name AND
                   1-based page match an evidence item), document recall@1/5/10, MRR@10, nDCG@10
  financebench_zh  the same questions in Chinese, on the same index (cross-lingual)
  cmrc             CMRC2018 Chinese questions: hit@1/5/10, MRR@10, nDCG@10 by document (gold_docs)
  cmrc_para        100 of them reworded to avoid the document's words, on the same index

A question counts once per metric however many of its hits match (hits may repeat a page).
A kbcli without `eval` (an older one, for a baseline) is asked in one batch call instead
(`kbcli query NAME --from-file FILE --json`) and its hits are scored by the same code.

    .venv/bin/python bench/quality.py --sets financebench,financebench_zh --json bench/results/fb.json
    .venv/bin/python bench/quality.py --sets cmrc,cmrc_para --reuse --limit 50

Exit code: 0 when every set ran, 1 when the CLI failed or answered with malformed output for
some set (the reason is printed, and recorded under "error" in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
CUTOFFS = (1, 5, 10)
MRR_CUTOFF = 10


class CliError(RuntimeError):
    """kbcli misbehaved: non-zero exit, traceback, or output that is not what it promises."""


# -- the evaluation sets --------------------------------------------------------------------------
@dataclass
class Question:
    id: str
    text: str  # as sent to kbcli: one line, stripped
    raw: dict[str, Any]


@dataclass
class EvalSet:
    key: str
    index_name: str  # sets asking about the same documents share one index
    folder: str  # under the eval root: its questions.jsonl
    corpus: str  # the folder to index, under the eval root
    metric_names: list[str]

    def questions_file(self, eval_root: Path) -> Path:
        return eval_root / self.folder / "questions.jsonl"

    def corpus_dir(self, eval_root: Path) -> Path:
        return eval_root / self.corpus


SETS: dict[str, EvalSet] = {
    "financebench": EvalSet("financebench", "bench-financebench", "financebench_dev", "financebench_dev/pdfs", ["page", "doc"]),
    "financebench_zh": EvalSet("financebench_zh", "bench-financebench", "financebench_dev_zh", "financebench_dev/pdfs", ["page", "doc"]),
    "cmrc": EvalSet("cmrc", "bench-cmrc", "cmrc2018", "cmrc2018/docs", ["doc"]),
    "cmrc_para": EvalSet("cmrc_para", "bench-cmrc", "cmrc2018_paraphrase", "cmrc2018/docs", ["doc"]),
}


def _evaluate_module():
    """kbcli.evaluate: the scoring that `kbcli eval` uses. Read from this tree when the kbcli on
    the path is an older one without it (a baseline run), so both are scored alike."""
    try:
        from kbcli import evaluate
    except ImportError:
        import importlib.util

        spec = importlib.util.spec_from_file_location("kbcli_bench_evaluate", ROOT / "kbcli" / "evaluate.py")
        assert spec is not None and spec.loader is not None
        evaluate = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = evaluate  # dataclasses look their module up there
        spec.loader.exec_module(evaluate)
    return evaluate


EVALUATE = _evaluate_module()


def one_line(text: str) -> str:
    """kbcli reads --from-file with str.splitlines() and strips each line: join every kind of line break."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip()).strip()


def load_questions(path: Path, limit: int | None) -> list[Question]:
    questions = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            raw = json.loads(line)
            text = one_line(raw["question"])
            if not text:
                raise SystemExit(f"{path}: question {raw.get('id')!r} is empty")
            questions.append(Question(str(raw.get("id", len(questions))), text, raw))
            if limit is not None and len(questions) >= limit:
                break
    return questions


# -- running kbcli --------------------------------------------------------------------------------
@dataclass
class Kbcli:
    command: list[str]
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*self.command, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, encoding="utf-8"
        )
        if proc.returncode not in ok or "Traceback (most recent call last)" in proc.stderr:
            raise CliError(_describe(self, args, proc.returncode, proc.stderr, proc.stdout))
        return proc

    def json(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[Any, subprocess.CompletedProcess]:
        proc = self.run(*args, ok=ok)
        try:
            return json.loads(proc.stdout), proc
        except ValueError as err:
            raise CliError(f"{_cmdline(self, args)}: stdout is not one JSON document ({err}):\n{_tail(proc.stdout)}") from None


def _cmdline(cli: Kbcli, args: tuple[str, ...] | list[str]) -> str:
    import shlex

    return shlex.join([*cli.command, *args])


def _tail(text: str, lines: int = 25) -> str:
    parts = text.rstrip().splitlines()
    return "\n".join(parts[-lines:]) if parts else "(empty)"


def _describe(cli: Kbcli, args, code: int, stderr: str, stdout: str) -> str:
    return (
        f"`{_cmdline(cli, args)}` exited {code} (KBCLI_HOME={cli.env['KBCLI_HOME']}, KBCLI_CACHE={cli.env['KBCLI_CACHE']})\n"
        f"--- stderr (tail) ---\n{_tail(stderr)}\n--- stdout (tail) ---\n{_tail(stdout, 5)}"
    )


def find_kbcli(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    for candidate in (Path(sys.executable).parent / "kbcli", ROOT / ".venv" / "bin" / "kbcli"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which("kbcli")
    if found:
        return [found]
    raise SystemExit("kbcli not found: run with the project's venv (.venv/bin/python) or pass --kbcli PATH")


def index_names(cli: Kbcli) -> set[str]:
    data, _ = cli.json("list", "--json")
    return {row["name"] for row in data.get("indexes", [])}


def build_index(
    cli: Kbcli, spec: EvalSet, corpus: Path, reuse: bool, log: Callable[[str], None], precision: str | None = None
) -> dict[str, Any]:
    exists = spec.index_name in index_names(cli)
    if exists and reuse:
        log(f"[{spec.key}] reusing index {spec.index_name!r}")
        return {"reused": True, "seconds": None, "summary": None, "exit_code": None}
    if exists:
        log(f"[{spec.key}] removing old index {spec.index_name!r}")
        cli.run("remove", spec.index_name, "--yes")
    log(f"[{spec.key}] indexing {corpus} into {spec.index_name!r} ...")
    started = time.perf_counter()
    # exit 3 = some files could not be read (the summary lists them); anything else is a failure
    extra = ("--precision", precision) if precision else ()
    summary, proc = cli.json("index", str(corpus), "--name", spec.index_name, "--json", *extra, ok=(0, 3))
    seconds = time.perf_counter() - started
    for key in ("files", "pages", "chunks_added", "failed"):
        if key not in summary:
            raise CliError(f"`kbcli index --json` summary has no {key!r}: {proc.stdout.strip()[:500]}")
    if (proc.returncode == 3) != bool(summary["failed"]):
        raise CliError(f"`kbcli index` exited {proc.returncode} but its summary lists {len(summary['failed'])} failed file(s)")
    log(
        f"[{spec.key}] indexed in {seconds:.1f} s: {summary['files']} files, {summary['pages']} pages, "
        f"{summary['chunks_added']} chunks, {len(summary['failed'])} failed"
    )
    return {"reused": False, "seconds": round(seconds, 2), "summary": summary, "exit_code": proc.returncode}


@dataclass
class QueryRun:
    answers: list[dict]
    seconds: float  # wall time of the whole batch process (start-up + model load + all questions)
    first_seconds: float | None  # until the first answer line arrived
    stderr: str = ""


def run_queries(cli: Kbcli, spec: EvalSet, questions: list[Question], top_k: int, mode: str | None) -> QueryRun:
    with tempfile.TemporaryDirectory(prefix="kbcli-bench-") as tmp:
        qfile = Path(tmp) / "questions.txt"
        qfile.write_text("".join(q.text + "\n" for q in questions), encoding="utf-8")
        args = ["query", spec.index_name, "--from-file", str(qfile), "--json", "--top-k", str(top_k)]
        if mode is not None:
            args += ["--mode", mode]
        errfile = Path(tmp) / "stderr.txt"
        lines: list[str] = []
        first = None
        started = time.perf_counter()
        with errfile.open("w+", encoding="utf-8") as err:
            proc = subprocess.Popen(
                [*cli.command, *args], env=cli.env, cwd=cli.cwd, stdout=subprocess.PIPE, stderr=err,
                text=True, encoding="utf-8",
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                if first is None:
                    first = time.perf_counter() - started
                lines.append(line)
            code = proc.wait()
            seconds = time.perf_counter() - started
            err.seek(0)
            stderr = err.read()
    if code != 0 or "Traceback (most recent call last)" in stderr:
        raise CliError(_describe(cli, args, code, stderr, "".join(lines)))
    answers = []
    for number, line in enumerate(lines, start=1):
        try:
            answers.append(json.loads(line))
        except ValueError as err:
            raise CliError(f"`kbcli query --from-file --json`: stdout line {number} is not JSON ({err}): {line[:300]!r}") from None
    check_answers(answers, questions, top_k)
    return QueryRun(answers, seconds, first, stderr)


def check_answers(answers: list[dict], questions: list[Question], top_k: int) -> None:
    """The batch output must be one object per question, in order, each with at most top_k ranked hits."""
    if len(answers) != len(questions):
        raise CliError(f"`kbcli query --from-file`: {len(questions)} questions but {len(answers)} answer lines")
    for n, (answer, q) in enumerate(zip(answers, questions), start=1):
        if not isinstance(answer, dict) or not isinstance(answer.get("hits"), list):
            raise CliError(f"answer {n} has no 'hits' list: {json.dumps(answer, ensure_ascii=False)[:300]}")
        if answer.get("query") != q.text:
            raise CliError(f"answer {n} is for {answer.get('query')!r}, expected question {q.id} {q.text!r}")
        hits = answer["hits"]
        if len(hits) > top_k:
            raise CliError(f"answer {n} has {len(hits)} hits for --top-k {top_k}")
        ranks = [h.get("rank") for h in hits]
        if ranks != list(range(1, len(hits) + 1)):
            raise CliError(f"answer {n} ({q.id}) has ranks {ranks}, expected 1..{len(hits)}")
        scores = [h.get("score") for h in hits]
        if any(not isinstance(s, (int, float)) for s in scores) or any(a < b for a, b in zip(scores, scores[1:])):
            raise CliError(f"answer {n} ({q.id}) has scores not in descending order: {scores}")
        for h in hits:
            if not h.get("file"):
                raise CliError(f"answer {n} ({q.id}) has a hit without 'file': {json.dumps(h, ensure_ascii=False)[:300]}")


def run_eval(cli: Kbcli, spec: EvalSet, questions: list[Question], top_k: int, mode: str | None) -> tuple[dict, QueryRun]:
    """`kbcli eval NAME FILE --json`: the scores of the (possibly --limit-ed) questions."""
    with tempfile.TemporaryDirectory(prefix="kbcli-bench-") as tmp:
        qfile = Path(tmp) / "questions.jsonl"
        qfile.write_text("".join(json.dumps(q.raw, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
        args = ["eval", spec.index_name, str(qfile), "--json", "--top-k", str(top_k), *(["--mode", mode] if mode else [])]
        started = time.perf_counter()
        report, proc = cli.json(*args)
        seconds = time.perf_counter() - started
    if not isinstance(report, dict) or report.get("questions") != len(questions) or "metrics" not in report:
        raise CliError(f"`kbcli eval --json` did not report {len(questions)} questions: {proc.stdout[:300]!r}")
    return report, QueryRun([], seconds, None, proc.stderr)


def report_from_hits(spec: EvalSet, questions: list[Question], answers: list[dict], top_k: int, mode: str | None) -> dict:
    """What `kbcli eval --json` would say, from `kbcli query --from-file --json` answers."""
    parsed = [EVALUATE.parse_question(q.raw, n) for n, q in enumerate(questions, start=1)]
    level = "page" if all(p.pages for p in parsed) else "doc"
    found = [[(str(h.get("file") or ""), h.get("page")) for h in a["hits"]] for a in answers]
    scores, results = EVALUATE.score(parsed, found, level, top_k)
    return EVALUATE.EvalReport(spec.index_name, "", level, top_k, mode or "hybrid", scores, results).to_json()


# -- metrics --------------------------------------------------------------------------------------
def metrics_for(spec: EvalSet, report: dict, top_k: int) -> tuple[dict, list[dict]]:
    """An eval report's numbers in this bench's layout: {level}_recall@k, {level}_mrr@10, {level}_ndcg@10."""
    cut = min(MRR_CUTOFF, top_k)
    metrics: dict[str, float | None] = {}
    for level in spec.metric_names:
        scores = report["metrics"][level]
        for k in CUTOFFS:
            metrics[f"{level}_recall@{k}"] = scores[f"recall@{k}"]
        metrics[f"{level}_mrr@{MRR_CUTOFF}"] = scores[f"mrr@{cut}"]
        metrics[f"{level}_ndcg@{MRR_CUTOFF}"] = scores[f"ndcg@{cut}"]
    per_question = [
        {"id": row["id"], **{f"{level}_rank": row.get(f"{level}_rank") for level in spec.metric_names}, "hits": len(row["hits"])}
        for row in report["per_question"]
    ]
    return metrics, per_question


# -- one set end to end ---------------------------------------------------------------------------
def run_set(cli: Kbcli, spec: EvalSet, args, log: Callable[[str], None]) -> dict[str, Any]:
    corpus = spec.corpus_dir(args.eval_dir)
    qpath = spec.questions_file(args.eval_dir)
    result: dict[str, Any] = {"index": spec.index_name, "corpus": str(corpus), "questions_file": str(qpath)}
    try:
        questions = load_questions(qpath, args.limit)
        result["questions"] = len(questions)
        if spec.index_name in args.built:  # another set of this run asks about the same documents
            result["index_build"] = {"reused": True, "shared_with": args.built[spec.index_name], "seconds": None, "summary": None, "exit_code": None}
        else:
            result["index_build"] = build_index(cli, spec, corpus, args.reuse, log, args.precision)
            args.built[spec.index_name] = spec.key
        info, _ = cli.json("info", spec.index_name, "--json")
        manifest = info.get("manifest", {})
        result["manifest"] = manifest
        result["index_stats"] = {k: info.get(k) for k in ("files", "files_ok", "files_failed", "pages", "chunks", "vectors", "disk_bytes")}
        result["failed_files"] = info.get("failed", [])
        log(f"[{spec.key}] asking {len(questions)} questions (top-k {args.top_k}{', mode ' + args.mode if args.mode else ''}) ...")
        if args.has_eval:
            report, run = run_eval(cli, spec, questions, args.top_k, args.mode)
        else:
            run = run_queries(cli, spec, questions, args.top_k, args.mode)
            report = report_from_hits(spec, questions, run.answers, args.top_k, args.mode)
        n = len(questions)
        result["query"] = {
            "command": "eval" if args.has_eval else "query --from-file",
            "seconds_total": round(run.seconds, 3),
            "seconds_per_question": round(run.seconds / n, 4) if n else None,
            "seconds_to_first_answer": round(run.first_seconds, 3) if run.first_seconds is not None else None,
        }
        metrics, per_question = metrics_for(spec, report, args.top_k)
        result["metrics"] = metrics
        result["per_question"] = per_question
        log(f"[{spec.key}] done in {run.seconds:.1f} s")
    except CliError as err:
        result["error"] = str(err)
        log(f"[{spec.key}] kbcli misbehaved (details below the table)")
    return result


# -- reporting ------------------------------------------------------------------------------------
def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "mrr":
        return f"{value:.3f}"
    if kind == "s":
        if value < 1:
            return f"{1000 * value:.0f} ms"
        return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
    return str(value)


def _index_seconds(build: dict) -> str:
    if build.get("shared_with"):
        return f"= {build['shared_with']}"
    return "reused" if build["reused"] else _fmt(build["seconds"], "s")


def table_rows(results: dict[str, dict]) -> list[tuple[str, dict[str, str]]]:
    """(label, {set: cell}) rows: settings, index, timings, then metrics."""

    def cell(get: Callable[[dict], Any], kind: str = "") -> dict[str, str]:
        out = {}
        for key, r in results.items():
            try:
                out[key] = _fmt(get(r), kind)
            except (KeyError, TypeError):
                out[key] = "-"
        return out

    def chunking(r: dict) -> str:
        c = r["manifest"]["chunking"]
        return ", ".join(f"{k}={v}" for k, v in c.items()) if isinstance(c, dict) else str(c)

    rows = [
        ("index name", cell(lambda r: r["index"])),
        ("model", cell(lambda r: f"{r['manifest']['model'].rsplit('/', 1)[-1]}@{r['manifest']['precision']}, {r['manifest']['dimension']}d")),
        ("token limit", cell(lambda r: r["manifest"]["token_limit"])),
        ("chunking", cell(chunking)),
        ("kbcli version (index)", cell(lambda r: r["manifest"].get("kbcli_version") or None)),
        ("files (ok / failed)", cell(lambda r: f"{r['index_stats']['files']} ({r['index_stats']['files_ok']} / {r['index_stats']['files_failed']})")),
        ("pages", cell(lambda r: r["index_stats"]["pages"])),
        ("chunks", cell(lambda r: r["index_stats"]["chunks"])),
        ("index seconds", cell(lambda r: _index_seconds(r["index_build"]))),
        ("questions", cell(lambda r: r["questions"])),
        ("query seconds (total)", cell(lambda r: r["query"]["seconds_total"], "s")),
        ("  to first answer", cell(lambda r: r["query"]["seconds_to_first_answer"], "s")),
        ("  per question", cell(lambda r: r["query"]["seconds_per_question"], "s")),
    ]
    labels = {"page": "page", "doc": "doc"}
    for level in ("page", "doc"):
        for k in CUTOFFS:
            rows.append((f"{labels[level]} recall@{k}", cell(lambda r, key=f"{level}_recall@{k}": r["metrics"][key], "pct")))
        rows.append((f"{labels[level]} MRR@{MRR_CUTOFF}", cell(lambda r, key=f"{level}_mrr@{MRR_CUTOFF}": r["metrics"][key], "mrr")))
        rows.append((f"{labels[level]} nDCG@{MRR_CUTOFF}", cell(lambda r, key=f"{level}_ndcg@{MRR_CUTOFF}": r["metrics"][key], "mrr")))
    # drop metric rows no set has (e.g. page metrics when only cmrc ran)
    return [(label, cells) for label, cells in rows if any(v != "-" for v in cells.values()) or not any(m in label for m in ("recall", "MRR", "nDCG"))]


def print_report(report: dict[str, Any]) -> None:
    results = report["sets"]
    rows = table_rows(results)
    settings = report["settings"]
    caption = (
        f"top-k {settings['top_k']}, mode {settings['mode'] or '(default)'}, limit {settings['limit'] or 'all'}, "
        f"home {settings['home']}  |  cmrc 'doc recall@k' = hit@k; a question counts once"
        f"  |  scored by {'kbcli eval' if settings.get('kbcli_eval') else 'kbcli query --from-file (no eval command)'}"
    )
    load = settings["loadavg_1_5_15_after"][1]
    if load > 0.75 * (os.cpu_count() or 1) + 1:
        caption += f"  |  busy machine (5-min load {load} on {os.cpu_count()} CPUs): timings are inflated"
    if settings["kbcli_env"]:
        caption += "  |  environment: " + " ".join(f"{k}={v}" for k, v in settings["kbcli_env"].items())
    if not settings["model_cache_warm"]:
        caption += "  |  model cache was cold: the first index time includes the ONNX export"
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        width = max(len(label) for label, _ in rows)
        cols = {k: max([len(k)] + [len(c[k]) for _, c in rows]) for k in results}
        print("kbcli retrieval quality")
        print(" " * width + "  " + "  ".join(k.rjust(cols[k]) for k in results))
        for label, cells in rows:
            print(label.ljust(width) + "  " + "  ".join(cells[k].rjust(cols[k]) for k in results))
        print(caption)
    else:
        table = Table(title="kbcli retrieval quality", title_justify="left")
        table.add_column("", style="bold")
        for key in results:
            table.add_column(key, justify="right")
        for label, cells in rows:
            table.add_row(label, *(cells[k] for k in results))
        console = Console(width=max(100, shutil.get_terminal_size().columns))
        console.print(table)
        console.print(caption, highlight=False, soft_wrap=True)
    for key, r in results.items():
        if r.get("error"):
            print(f"\n[{key}] ERROR: {r['error']}", file=sys.stderr)
        if r.get("failed_files"):
            print(f"\n[{key}] {len(r['failed_files'])} file(s) failed to index:", file=sys.stderr)
            for f in r["failed_files"][:20]:
                print(f"  {f.get('file')}: {f.get('error')}", file=sys.stderr)


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kbcli"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated: {', '.join(SETS)} (default: all)")
    parser.add_argument("--home", type=Path, default=BENCH / ".home", help="isolated KBCLI_HOME (default: bench/.home)")
    parser.add_argument("--cache", type=Path, default=BENCH / ".cache", help="KBCLI_CACHE, the shared ONNX export (default: bench/.cache)")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL, help=f"evaluation data (default: {DEFAULT_EVAL})")
    parser.add_argument("--reuse", action="store_true", help="reuse an existing index instead of rebuilding it")
    parser.add_argument(
        "--fresh", action="store_true",
        help="delete the whole bench home first (its indexes only; e.g. after an index format change)",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions of each set")
    parser.add_argument("--precision", default=None, help="pass --precision (fp32|int8) to `kbcli index` (use another --home)")
    parser.add_argument("--mode", default=None, help="pass --mode MODE to `kbcli query` (omitted by default)")
    parser.add_argument("--top-k", type=int, default=10, help="hits per question (default 10; recall@k needs k <= top-k)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT", help="also write the numbers as JSON to OUT")
    parser.add_argument("--kbcli", default=None, metavar="PATH", help="the kbcli executable (default: the one next to this Python)")
    args = parser.parse_args(argv)

    keys = [k.strip() for k in args.sets.split(",") if k.strip()]
    unknown = [k for k in keys if k not in SETS]
    if unknown or not keys:
        parser.error(f"unknown set(s) {unknown}; choose from {', '.join(SETS)}")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.top_k < 1:
        parser.error("--top-k must be at least 1")
    args.eval_dir = args.eval_dir.resolve()
    home, cache = args.home.resolve(), args.cache.resolve()
    if args.reuse and args.fresh:
        parser.error("--fresh and --reuse exclude each other")
    if args.fresh and home.exists():
        if home in (ROOT, Path.home(), Path("/")) or not (home / "indexes").is_dir() and any(home.iterdir()):
            parser.error(f"--fresh: {home} does not look like a kbcli bench home; delete it yourself")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    cache_was_warm = any(cache.iterdir())  # if not, the first index build includes the ONNX export

    env = {**os.environ, "KBCLI_HOME": str(home), "KBCLI_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
    # cwd = the bench home: kbcli reads `.env` from its working directory; keep the run isolated from one
    cli = Kbcli(find_kbcli(args.kbcli), env, home)

    def log(message: str) -> None:
        print(f"{datetime.now().strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)

    version = cli.run("--version").stdout.strip()
    if args.mode is not None and "--mode" not in cli.run("query", "--help").stdout:
        # fail before spending minutes on indexing
        print(f"{version} has no `kbcli query --mode` option; run without --mode", file=sys.stderr)
        return 2
    args.has_eval = cli.run("eval", "--help", ok=(0, 2)).returncode == 0  # older kbcli: batch query instead
    args.built = {}  # index name -> the set that built (or reused) it in this run
    log(f"{version} ({' '.join(cli.command)}), KBCLI_HOME={home}, KBCLI_CACHE={cache}")
    started = datetime.now().astimezone()
    load_before = os.getloadavg()
    results = {key: run_set(cli, SETS[key], args, log) for key in keys}
    load_after = os.getloadavg()
    report = {
        "settings": {
            "started_at": started.isoformat(timespec="seconds"),
            "kbcli": version,
            "kbcli_command": cli.command,
            "git_commit": git_commit(),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
            "loadavg_1_5_15_after": [round(x, 2) for x in load_after],
            # tuning knobs inherited from the caller's environment (e.g. KBCLI_SEARCH_MODE, KBCLI_RRF_K)
            "kbcli_env": {k: v for k, v in sorted(env.items()) if k.startswith("KBCLI_") and k not in ("KBCLI_HOME", "KBCLI_CACHE")},
            "sets": keys,
            "home": str(home),
            "cache": str(cache),
            "model_cache_warm": cache_was_warm,
            "eval_dir": str(args.eval_dir),
            "reuse": args.reuse,
            "limit": args.limit,
            "mode": args.mode,
            "top_k": args.top_k,
            "kbcli_eval": args.has_eval,
            "cutoffs": list(CUTOFFS),
            "mrr_cutoff": min(MRR_CUTOFF, args.top_k),
        },
        "sets": results,
    }
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 1 if any(r.get("error") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
