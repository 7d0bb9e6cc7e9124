"""How hits and answers look on a terminal, shared by `kbcli query` and `kbcli shell` (JSON:
kbcli/shapes.py; the other commands' tables: kbcli/cli/views.py). Nothing here calls the network:
an answer arrives as text pieces that are only printed."""

from __future__ import annotations

from typing import Iterable

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from kbcli.answer import Answered, Answering
from kbcli.keywords import query_terms
from kbcli.search import Hit, QueryResult
from kbcli.snippets import snippet

SNIPPET_LINES = 6  # a terminal hit shows about this many lines of its best sentences (--full: all)


def _highlight(passage: Text, terms: Iterable[str]) -> Text:
    words = sorted(set(terms), key=len, reverse=True)  # longest first, so parts do not split a word
    if words:
        passage.highlight_words(words, style="bold yellow", case_sensitive=False)
    return passage


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
    console: Console, result: QueryResult, show_query: bool = False, cited: set[int] | None = None, explain: bool = False,
    full: bool = False,
) -> None:
    """The hits as panels; `cited` marks the ones an answer above refers to as [n] (n = rank).
    Each shows its best sentences in about SNIPPET_LINES lines, or (`full`) the whole passage."""
    if show_query:
        render_query(console, result.query)
    if explain and result.expanded:
        console.print(Text(f"also searched (thesaurus): {'; '.join(result.expanded)}", style="dim"))
    if not result.hits:
        console.print(Text("No matching passages.", style="yellow"))
        return
    for hit in result.hits:
        title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), (f"  score {hit.score:.3f}", "dim"))
        if cited and hit.rank in cited:
            title.append(f"  cited [{hit.rank}]", style="bold green")
        body = Text()
        if explain and hit.explain is not None:
            body.append_text(_explanation(hit))
        if hit.heading:
            body.append(f"§ {hit.heading}\n", style="italic magenta")
        body.append_text(_passage(console, hit, result.query, full))
        console.print(Panel(body, title=title, title_align="left", border_style="cyan", padding=(0, 1)))


def _passage(console: Console, hit: Hit, query: str, full: bool) -> Text:
    text = reflow(hit.text)
    if full:
        return _highlight(Text(text), query_terms(query))
    cut = snippet(text, query, max_lines=SNIPPET_LINES, width=max(40, console.width - 4))
    passage = _highlight(Text(cut.text), cut.terms)
    if cut.cut:
        shown = cut.total_chars - cut.chars_cut
        passage.append(f"\n[best {shown} of {cut.total_chars} characters; --full or the shell's :more {hit.rank} shows all]", style="dim")
    return passage


def render_outcome(
    console: Console, result: QueryResult, answering: Answering | None = None, show_query: bool = False,
    explain: bool = False, full: bool = False,
) -> Answered | None:
    """A question's outcome: the answer streamed as it arrives (when one is on its way), then the
    passages, numbered to match its [n]. Returns the Answered; a provider failure in it is for
    the caller to report, once the passages are out."""
    if show_query:
        render_query(console, result.query)
    answered = stream_answer(console, answering) if answering is not None else None
    render_result(console, result, cited=set(answered.cited) if answered else None, explain=explain, full=full)
    return answered


def stream_answer(console: Console, answering: Answering) -> Answered:
    """Print an answer's pieces as they arrive, as plain text (nothing in it is taken for markup
    or emoji codes)."""
    console.print(Text.assemble(("Answer", "bold green"), (f"  from {answering.source}", "dim")), highlight=False)
    for piece in answering:
        console.print(piece, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
        console.file.flush()
    answered = answering.answered
    if answered.text is not None and not answered.text.strip():
        console.print(Text("(the model returned an empty answer)", style="yellow"), end="")
    console.print("\n" if answered.failure is None else "")
    return answered


def render_context(console: Console, hit: Hit, before: str, after: str, query: str) -> None:
    """A hit with the passages around it (`:more` in the shell): the neighbours dimmed."""
    title = Text.assemble((f"#{hit.rank} ", "bold cyan"), (_citation(hit), "bold"), ("  with the passages around it", "dim"))
    body = Text()
    if hit.heading:
        body.append(f"§ {hit.heading}\n", style="italic magenta")
    if before:
        body.append(f"{before}\n\n", style="dim")
    body.append_text(_highlight(Text(reflow(hit.text)), query_terms(query)))
    if after:
        body.append(f"\n\n{after}", style="dim")
    console.print(Panel(body, title=title, title_align="left", border_style="cyan", padding=(0, 1)))
