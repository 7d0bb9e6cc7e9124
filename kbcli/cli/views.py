"""How the commands other than query look on a terminal: index/refresh summaries, list, info,
sources, eval scores, and watch's one line per refresh. JSON shapes live in kbcli/shapes.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kbcli.facts import INCOMPATIBLE, OK, FileStatus, IndexInfo, IndexSummary, SourceStatus
from kbcli.readers import display_name

if TYPE_CHECKING:  # the views of the write side and of eval: types only, not loaded by `query`
    from kbcli.evaluate import EvalReport, Question
    from kbcli.indexer import Failure, Partial, SyncReport


def render_sync(console: Console, name: str, report: SyncReport) -> None:
    table = Table(title=f"index {name!r}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, Any]] = [
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
    if report.chunks_total is not None:
        rows.append(("chunks in index", report.chunks_total))
    rows += [("failures", len(report.failed)), ("seconds", f"{report.seconds:.1f}")]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    if report.model_choice:
        console.print(Text(report.model_choice + " (--model names another; kbcli models)"))
    render_failures(console, report.failed)
    render_partial(console, report.partial)
    for source in report.missing_sources:
        console.print(
            Text(f"source missing: {source} (its files were kept; --prune-missing-sources removes them)", style="yellow")
        )


def watch_line(name: str, report: SyncReport) -> str:
    """`kbcli watch`: one log line per refresh."""
    return (
        f"refreshed {name}: {report.added} added, {report.modified} modified, {report.removed} removed, "
        f"{report.moved} moved, {len(report.failed)} failed, {report.seconds:.1f}s"
    )


def render_failures(console: Console, failures: Iterable[Failure]) -> None:
    _failure_table(console, [(f.file, f.reason, f.detail) for f in failures])


def _failure_table(console: Console, failures: list[tuple[str, str, str | None]]) -> None:
    """(file, reason, detail) rows."""
    if not failures:
        return
    table = Table(title="files not indexed", title_justify="left", title_style="bold red")
    table.add_column("file", overflow="fold")
    table.add_column("reason", style="red")
    table.add_column("detail", overflow="fold")
    for file, reason, detail in failures:  # Text(): a file name is never read as markup
        table.add_row(Text(display_name(file)), Text(reason), Text(display_name(detail or "")))
    console.print(table)


def render_partial(console: Console, partial: list[Partial]) -> None:
    """Files indexed only in part: pages OCR could not read, repaired damage."""
    if not partial:
        return
    table = Table(title="indexed, with notes", title_justify="left", title_style="bold yellow")
    table.add_column("file", overflow="fold")
    table.add_column("note", overflow="fold")
    for p in partial:
        table.add_row(Text(display_name(p.file)), Text(display_name(p.note)))
    console.print(table)


def render_list(console: Console, summaries: list[IndexSummary]) -> None:
    if not summaries:
        console.print("No indexes yet. Create one with: kbcli index FOLDER --name NAME")
        return
    table = Table()
    for col in ("name", "files", "chunks", "failed", "updated", "path"):
        table.add_column(col, justify="right" if col in ("files", "chunks", "failed") else "left")
    for s in summaries:
        if s.status != OK or s.stats is None:
            problem = "needs rebuilding" if s.status == INCOMPATIBLE else "damaged"
            table.add_row(s.name, "", "", "", Text(problem, style="yellow"), str(s.path))
        else:
            stats = s.stats
            table.add_row(s.name, str(stats.files), str(stats.chunks), str(stats.files_failed), str(stats.updated_at), str(s.path))
    console.print(table)
    for s in summaries:
        if s.reason:
            console.print(Text(s.reason, style="yellow"))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render_info(console: Console, info: IndexInfo) -> None:
    m, stats = info.manifest, info.stats
    table = Table(title=f"index {info.name!r}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("path", info.path),
        ("model", (f"{m.spec}: " if m.spec else "") + f"{m.model} ({m.precision}, {m.dimension} dims, {m.token_limit} tokens)"),
        *([("model chosen", m.model_choice.removeprefix(f"model {m.spec} chosen "))] if m.model_choice else []),
        ("chunking", ", ".join(f"{k}={v}" for k, v in m.chunking.items())),
        ("files", f"{stats.files_ok} indexed, {stats.files_failed} failed"),
        ("pages", stats.pages),
        ("chunks", stats.chunks),
        ("disk", _size(stats.disk_bytes)),
        ("created", stats.created_at),
        ("updated", stats.updated_at),
        ("generation", stats.generation),
        ("access", "the PostgreSQL roles allowed into its schema" if isinstance(info.path, str)
         else "owner only (folder 0700, files 0600)" if info.owner_only
         else "readable by other users: kbcli tightens it to owner-only on the next write (refresh)"),
    ]
    for s in info.sources:
        rows.append(("source", s.path + ("" if s.exists else "  (missing)")))
    for label, value in rows:
        table.add_row(label, Text(str(value)))
    console.print(table)


def render_file_failures(console: Console, failed: list[FileStatus]) -> None:
    _failure_table(console, [(f.path, f.reason or "", f.detail) for f in failed])


def render_files(console: Console, files: list[FileStatus]) -> None:
    table = Table("file", "status", "pages", "chunks")
    for f in files:
        table.add_row(Text(f.path), f.status, str(f.pages), str(f.chunks))
    console.print(table)


def render_sources(console: Console, sources: list[SourceStatus]) -> None:
    for s in sources:
        flags = "" if s.exists else "  [missing]"
        patterns = " ".join([*(f"--include {p}" for p in s.include), *(f"--exclude {p}" for p in s.exclude)])
        console.print(f"{s.path}{flags}" + (f"  ({patterns})" if patterns else ""), highlight=False, markup=False)


def render_eval(out: Console, name: str, report: EvalReport, questions: list[Question], top_k: int) -> None:
    """The scores as a table, then each question without a right hit and what came first."""
    cut = min(10, top_k)
    table = Table(title=f"{name}: {len(questions)} questions, top-k {top_k}, mode {report.mode}", title_justify="left")
    for header in ("level", "recall@1", "recall@5", "recall@10", f"MRR@{cut}", f"nDCG@{cut}"):
        table.add_column(header, justify="left" if header == "level" else "right")
    for level_name, s in report.scores.items():
        recalls = ["-" if v is None else f"{v:.3f}" for v in s.recall.values()]
        table.add_row(level_name, *recalls, f"{s.mrr:.3f}", f"{s.ndcg:.3f}")
    out.print(table)
    misses = report.misses
    out.print(f"{len(misses)} of {len(questions)} questions have no right {report.level} in the top {top_k}" + (":" if misses else "."), highlight=False)
    expected = {q.id: q.expected for q in questions}
    for miss in misses:
        first = " p.".join(str(part) for part in miss.found[0] if part is not None) if miss.found else "nothing"
        out.print(f"  {miss.id}: {miss.question[:100]}\n    expected {', '.join(expected[miss.id])}; first hit {first}",
                  highlight=False, markup=False, soft_wrap=True)
