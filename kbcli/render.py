"""Everything kbcli shows a person or a script: Rich on a terminal, JSON when asked."""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TextIO

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kbcli.indexer import Failure, Observer, SyncReport
from kbcli.readers import display_name
from kbcli.search import QueryResult

if TYPE_CHECKING:
    from kbcli.answer import Answerer, LlmUnavailable

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
    if getattr(hit, "ocr", False):
        parts.append("OCR")  # recognised from a scan: expect some misread characters
    return "  ·  ".join(parts)


def _explanation(hit) -> Text:
    why = hit.explain
    parts = []
    if why.vector_rank:
        around = f", passage {why.context_score:.3f}" if why.context_score is not None else ""
        parts.append(f"vector #{why.vector_rank} ({why.vector_score:.3f}{around})")
    else:
        parts.append("vector —")
    parts.append(f"keyword #{why.keyword_rank} ({why.keyword_score:.2f})" if why.keyword_rank else "keyword —")
    parts.append(f"fused {why.fused:.4f}")
    if hit.rerank_score is not None:
        parts.append(f"reranked {hit.rerank_score:.3f}")
    if len(hit.seqs) > 1:
        parts.append(f"{len(hit.seqs)} chunks of one page or passage merged")
    return Text("why: " + " · ".join(parts) + "\n", style="dim")


_SENTENCE_END = tuple(".!?:;。！？：；…")


def reflow(text: str) -> str:
    """Extracted lines joined into paragraphs for the terminal: PDF text and tables come one line
    or one cell per line. A line break is kept only after the end of a sentence (JSON keeps the
    text as stored)."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and not out[-1].endswith(_SENTENCE_END) and line:
            glue = "" if _is_cjk(out[-1][-1]) and _is_cjk(line[0]) else " "
            out[-1] += glue + line
        else:
            out.append(line)
    return "\n".join(out)


def _is_cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uac00" <= ch <= "\ud7af"


def render_query(console: Console, query: str) -> None:
    console.print(Text(f"» {query}", style="bold"))


def render_result(
    console: Console, result: QueryResult, show_query: bool = False, cited: set[int] | None = None, explain: bool = False
) -> None:
    """The hits as panels; `cited` marks the ones an answer above refers to as [n] (n = rank)."""
    if show_query:
        render_query(console, result.query)
    if explain and result.expanded:
        console.print(Text(f"also searched (thesaurus): {'; '.join(result.expanded)}", style="dim"))
    if not result.hits:
        console.print(Text("No matching passages.", style="yellow"))
        return
    terms = query_terms(result.query)
    for hit in result.hits:
        title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), (f"  score {hit.score:.3f}", "dim"))
        if cited and hit.rank in cited:
            title.append(f"  cited [{hit.rank}]", style="bold green")
        body = Text()
        if explain and hit.explain is not None:
            body.append_text(_explanation(hit))
        if hit.heading:
            body.append(f"§ {hit.heading}\n", style="italic magenta")
        passage = Text(reflow(hit.text))
        if terms:
            passage.highlight_words(terms, style="bold yellow", case_sensitive=False)
        body.append_text(passage)
        console.print(Panel(body, title=title, title_align="left", border_style="cyan", padding=(0, 1)))


def render_answered(
    console: Console, result: QueryResult, answerer: "Answerer | None", explain: bool = False
) -> "LlmUnavailable | None":
    """`query --answer` and the shell's answer mode: the answer streamed as it arrives, then the
    passages, numbered to match its [n]. With no answerer (no LLM configured), the passages only.
    A provider failure is returned, for the caller to report, once the passages are shown."""
    from kbcli.answer import LlmUnavailable, cited_numbers, passages_sent

    text, failure = None, None
    if answerer is not None:
        try:
            text = render_answer(console, answerer.stream(result.query, result.hits), answerer.config.label)
        except LlmUnavailable as err:
            failure = err
            console.print()
    cited = cited_numbers(text, passages_sent(result.hits)) if text else []
    render_result(console, result, cited=set(cited), explain=explain)
    return failure


def render_answer(console: Console, deltas: Iterable[str], source: str) -> str:
    """Stream an LLM answer as it arrives, as plain text (nothing in it is taken for markup or
    emoji codes); returns the whole text."""
    console.print(Text.assemble(("Answer", "bold green"), (f"  from {source}", "dim")), highlight=False)
    parts: list[str] = []
    for delta in deltas:
        parts.append(delta)
        console.print(delta, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
        console.file.flush()
    text = "".join(parts)
    if not text.strip():
        console.print(Text("(the model returned an empty answer)", style="yellow"), end="")
    console.print("\n")
    return text


def render_context(console: Console, hit, before: str, after: str, query: str) -> None:
    """A hit with the passages around it (`:more` in the shell): the neighbours dimmed."""
    title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), ("  with the passages around it", "dim"))
    body = Text()
    if hit.heading:
        body.append(f"§ {hit.heading}\n", style="italic magenta")
    if before:
        body.append(f"{before}\n\n", style="dim")
    passage = Text(reflow(hit.text))
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
        "notes": [{"file": n.file, "note": n.detail} for n in report.notes],
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
    render_notes(console, report.notes)
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
    for f in failures:  # Text(): a file name is never read as markup
        table.add_row(Text(display_name(f.file)), Text(f.reason), Text(display_name(f.detail or "")))
    console.print(table)


def render_notes(console: Console, notes: list[Failure]) -> None:
    """Files indexed only in part: pages OCR could not read, repaired damage."""
    if not notes:
        return
    table = Table(title="indexed, with notes", title_justify="left", title_style="bold yellow")
    table.add_column("file", overflow="fold")
    table.add_column("note", overflow="fold")
    for n in notes:
        table.add_row(Text(display_name(n.file)), Text(display_name(n.detail)))
    console.print(table)


def render_list(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("No indexes yet. Create one with: kbcli index FOLDER --name NAME")
        return
    table = Table()
    for col in ("name", "files", "chunks", "failed", "updated", "path"):
        table.add_column(col, justify="right" if col in ("files", "chunks", "failed") else "left")
    for r in rows:
        if "problem" in r:
            table.add_row(r["name"], "", "", "", Text("needs rebuilding", style="yellow"), r["path"])
        else:
            table.add_row(r["name"], str(r["files"]), str(r["chunks"]), str(r["files_failed"]), str(r["updated_at"]), r["path"])
    console.print(table)
    for r in rows:
        if "problem" in r:
            console.print(Text(r["problem"], style="yellow"))


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
        ("model", (f"{m['spec']}: " if m.get("spec") else "") + f"{m['model']} ({m['precision']}, {m['dimension']} dims, {m['token_limit']} tokens)"),
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


def render_models(console: Console, models: list[dict[str, Any]], routes: list[dict[str, str]], measured: str) -> None:
    table = Table("model", "languages", "dims", "tokens", "chunks/s", "size", "runtime", title="built-in embedding models", title_justify="left")
    for m in models:
        speed = "?" if m["chunks_per_s"] is None else str(m["chunks_per_s"])
        name = m["spec"] + (" (default)" if m["default"] else "")
        table.add_row(name, m["languages"], str(m["dimension"]), str(m["token_limit"]), speed, m["size"], m["runtime"])
    console.print(table)
    console.print(Text(f"chunks/s: {measured}"))
    for route in routes:
        console.print(Text(f"{route['spec']:<20} {route['what']}"))


@contextmanager
def embedding_progress(console: Console, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A chunk bar on a terminal, a log line per ~10% otherwise, nothing when quiet."""
    if quiet:
        yield None
        return
    if not console.is_terminal:
        step = [0]

        def log(done: int, total: int) -> None:
            if done * 10 // max(total, 1) > step[0] or done == total:
                step[0] = done * 10 // max(total, 1)
                print(f"embedded {done}/{total} chunks", file=sys.stderr, flush=True)

        yield log
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("embedding", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


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
        self.progress.update(self.files, detail=display_name(path.name))

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None:
        self.progress.advance(self.files)
        if failure:
            self.progress.console.print(Text(f"✗ {display_name(failure.file)}: {failure.error}", style="red"))

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
            self.log(f"failed {display_name(failure.file)}: {display_name(failure.error)}", error=True)
        else:
            self.log(f"[{self.done}/{self.total}] {display_name(str(path))} ({chunks} chunks)")

    def committed(self, generation: int) -> None:
        self.log(f"committed generation {generation}")

    def file_removed(self, path: str) -> None:
        self.log(f"removed {path}")

    def file_moved(self, old: str, new: str) -> None:
        self.log(f"moved {old} -> {new}")

    def finished(self, report: SyncReport) -> None:
        self.log(
            f"done: {report.added} added, {report.modified} modified, {report.removed} removed, "
            f"{report.moved} moved, {report.unchanged} unchanged, {len(report.failed)} failed, "
            f"{report.chunks_added} chunks added, {report.chunks_removed} removed in {report.seconds:.1f}s"
        )
