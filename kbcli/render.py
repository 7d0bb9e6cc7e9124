"""Everything kbcli shows a person or a script: Rich on a terminal, JSON when asked."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kbcli.indexer import Failure, Observer, SyncReport
from kbcli.search import QueryResult

_STOPWORDS = set(
    "a an and are as at be by did do does for from has have how in is it its of on or the this that to "
    "was were what when where which who why will with give response question relying details shown".split()
)
_WORD = re.compile(r"[\w$%.,-]+", re.UNICODE)


def print_json(data: Any, stream: TextIO | None = None, pretty: bool = False) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None) + "\n")
    out.flush()


def query_terms(query: str) -> list[str]:
    """Words worth highlighting: not stopwords, at least 3 characters (or any CJK run)."""
    terms = []
    for raw in _WORD.findall(query):
        word = raw.strip(".,-")
        if word.lower() in _STOPWORDS:
            continue
        if len(word) >= 3 or any(ord(ch) > 0x2E80 for ch in word):
            terms.append(word)
    return sorted(set(terms), key=len, reverse=True)


def _citation(hit) -> str:
    parts = [hit.relative]
    if hit.page is not None:
        page = f"p. {hit.page}"
        if hit.page_label:
            page += f" (printed {hit.page_label})"
        parts.append(page)
    return "  ·  ".join(parts)


def render_result(console: Console, result: QueryResult, show_query: bool = False) -> None:
    if show_query:
        console.print(Text(f"» {result.query}", style="bold"))
    if not result.hits:
        console.print(Text("No matching passages.", style="yellow"))
        return
    terms = query_terms(result.query)
    for hit in result.hits:
        title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), (f"  score {hit.score:.3f}", "dim"))
        body = Text()
        if hit.heading:
            body.append(f"§ {hit.heading}\n", style="italic magenta")
        passage = Text(hit.text)
        if terms:
            passage.highlight_words(terms, style="bold yellow", case_sensitive=False)
        body.append_text(passage)
        console.print(Panel(body, title=title, title_align="left", border_style="cyan", padding=(0, 1)))


def render_context(console: Console, hit, before: str, after: str, query: str) -> None:
    """A hit with the passages around it (`:more` in the shell): the neighbours dimmed."""
    title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), ("  with the passages around it", "dim"))
    body = Text()
    if hit.heading:
        body.append(f"§ {hit.heading}\n", style="italic magenta")
    if before:
        body.append(f"{before}\n\n", style="dim")
    passage = Text(hit.text)
    terms = query_terms(query)
    if terms:
        passage.highlight_words(terms, style="bold yellow", case_sensitive=False)
    body.append_text(passage)
    if after:
        body.append(f"\n\n{after}", style="dim")
    console.print(Panel(body, title=title, title_align="left", border_style="cyan", padding=(0, 1)))


def sync_json(name: str, report: SyncReport) -> dict[str, Any]:
    return {
        "index": name,
        "added": report.added,
        "modified": report.modified,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "moved": report.moved,
        "files": report.files,
        "pages": report.pages,
        "failed": [{"file": f.file, "reason": f.reason, "error": f.error} for f in report.failed],
        "chunks_added": report.chunks_added,
        "chunks_removed": report.chunks_removed,
        "missing_sources": report.missing_sources,
        "seconds": report.seconds,
    }


def render_sync(console: Console, name: str, report: SyncReport, chunks_total: int | None = None) -> None:
    table = Table(title=f"index {name!r}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("files seen", report.files),
        ("added", report.added),
        ("modified", report.modified),
        ("removed", report.removed),
        ("moved", report.moved),
        ("unchanged", report.unchanged),
        ("pages read", report.pages),
        ("chunks added", report.chunks_added),
        ("chunks removed", report.chunks_removed),
    ]
    if chunks_total is not None:
        rows.append(("chunks in index", chunks_total))
    rows += [("failures", len(report.failed)), ("seconds", f"{report.seconds:.1f}")]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    render_failures(console, report.failed)
    for source in report.missing_sources:
        console.print(
            Text(f"source missing: {source} (its files were kept; --prune-missing-sources removes them)", style="yellow")
        )


def render_failures(console: Console, failures: list[Failure]) -> None:
    if not failures:
        return
    table = Table(title="files not indexed", title_justify="left", title_style="bold red")
    table.add_column("file", overflow="fold")
    table.add_column("reason", style="red")
    table.add_column("detail", overflow="fold")
    for f in failures:
        table.add_row(f.file, f.reason, f.detail)
    console.print(table)


def render_list(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("No indexes yet. Create one with: kbcli index FOLDER --name NAME")
        return
    table = Table()
    for col in ("name", "files", "chunks", "failed", "updated", "path"):
        table.add_column(col, justify="right" if col in ("files", "chunks", "failed") else "left")
    for r in rows:
        table.add_row(r["name"], str(r["files"]), str(r["chunks"]), str(r["files_failed"]), str(r["updated_at"]), r["path"])
    console.print(table)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render_info(console: Console, info: dict[str, Any]) -> None:
    m = info["manifest"]
    table = Table(title=f"index {info['name']!r}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("path", info["path"]),
        ("model", f"{m['model']} ({m['precision']}, {m['dimension']} dims, {m['token_limit']} tokens)"),
        ("chunking", ", ".join(f"{k}={v}" for k, v in m["chunking"].items())),
        ("files", f"{info['files_ok']} indexed, {info['files_failed']} failed"),
        ("pages", info["pages"]),
        ("chunks", info["chunks"]),
        ("disk", _size(info["disk_bytes"])),
        ("created", info["created_at"]),
        ("updated", info["updated_at"]),
        ("generation", info["generation"]),
    ]
    for s in info["sources"]:
        rows.append(("source", s["path"] + ("" if s["exists"] else "  (missing)")))
    for label, value in rows:
        table.add_row(label, Text(str(value)))
    console.print(table)


class RichProgress(Observer):
    """A progress bar over files and chunks, on stderr, for a person at a terminal."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}", style="dim"),
            console=console,
            transient=True,
        )
        self.files = self.progress.add_task("files", total=None, detail="")
        self.chunks = self.progress.add_task("chunks embedded", total=None, detail="")

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, to_process: int, total: int) -> None:
        self.progress.update(self.files, total=to_process)

    def file_started(self, path: Path) -> None:
        self.progress.update(self.files, detail=path.name)

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None:
        self.progress.advance(self.files)
        if failure:
            self.progress.console.print(Text(f"✗ {failure.file}: {failure.error}", style="red"))

    def chunks_embedded(self, count: int) -> None:
        self.progress.advance(self.chunks, count)


class LogLines(Observer):
    """Plain timestamped lines instead of a bar, for cron and pipes."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.done = 0
        self.total = 0

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def log(self, message: str, error: bool = False) -> None:
        if self.quiet and not error:
            return
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        self.stream.write(f"{stamp} {message}\n")
        self.stream.flush()

    def planned(self, to_process: int, total: int) -> None:
        self.total = to_process
        self.log(f"{total} files in sources, {to_process} to read")

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None:
        self.done += 1
        if failure:
            self.log(f"failed {failure.file}: {failure.error}", error=True)
        else:
            self.log(f"[{self.done}/{self.total}] {path} ({chunks} chunks)")

    def committed(self, generation: int) -> None:
        self.log(f"committed generation {generation}")
