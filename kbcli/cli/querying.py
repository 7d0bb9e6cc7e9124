"""`kbcli query` and `kbcli shell`: questions in, passages (and optionally an answer) out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Iterable, Optional

import typer

from kbcli.answer import CONFIGURE_HINT, Answered, Answerer, resolve_config
from kbcli.cli.invocation import Invocation, current
from kbcli.cli.options import RerankOpt, TopKOpt
from kbcli.cli.shell_ui import run_script, run_terminal
from kbcli.errors import UsageError
from kbcli.render import render_outcome
from kbcli.search import QueryResult
from kbcli.shapes import answer_json
from kbcli.shell import ShellSession

AnswerOpt = Annotated[
    bool,
    typer.Option("--answer", "-a", help="Also write an answer from the passages with the LLM configured in .env (cites them as \\[n])."),
]
LlmProviderOpt = Annotated[
    Optional[str],
    typer.Option("--llm-provider", metavar="NAME", help="openai-compatible or ollama (default: $KBCLI_LLM_PROVIDER).", show_default=False),
]
LlmModelOpt = Annotated[
    Optional[str], typer.Option("--llm-model", metavar="MODEL", help="Model name (default: $KBCLI_LLM_MODEL).", show_default=False)
]
LlmUrlOpt = Annotated[
    Optional[str],
    typer.Option("--llm-base-url", metavar="URL", help="Server address (default: $KBCLI_LLM_BASE_URL).", show_default=False),
]


def _questions(run: Invocation, question: str | None, from_file: Path | None) -> Iterable[str]:
    if question is not None and from_file is not None:
        raise UsageError("give a QUESTION or --from-file, not both")
    if question is not None:
        if not question.strip():
            raise UsageError("the question is empty")
        return [question]
    if from_file is None:
        raise UsageError("give a QUESTION, or --from-file FILE (one question a line, '-' for stdin)")
    if str(from_file) == "-":
        lines: Iterable[str] = run.output.stdin
    else:
        try:
            lines = from_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise UsageError(f"cannot read {from_file}: {err.strerror}") from err
    return (line.strip() for line in lines if line.strip())


def query(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the index.", show_default=False)],
    question: Annotated[Optional[str], typer.Argument(help="What to look for, in your own words.", show_default=False)] = None,
    top_k: TopKOpt = 5,
    from_file: Annotated[
        Optional[Path], typer.Option("--from-file", "-f", metavar="FILE", help="Batch mode: one question a line ('-' for stdin); the model loads once.")
    ] = None,
    mode: Annotated[
        Optional[str],
        typer.Option("--mode", "-m", show_default=False,
                     help="hybrid (meaning + exact words, fused; the default, or $KBCLI_SEARCH_MODE), vector (meaning) or keyword (BM25)."),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Show each hit's whole passage, not just its best sentences (about six lines).")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show why each hit ranked (vector, passage and keyword scores) and what the thesaurus added.")] = False,
    rerank_model: RerankOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object a line in batch mode).")] = False,
    answer: AnswerOpt = False,
    llm_provider: LlmProviderOpt = None,
    llm_model: LlmModelOpt = None,
    llm_base_url: LlmUrlOpt = None,
) -> None:
    """Find the passages in NAME that answer a question, with file, page and section.

    With --answer, an LLM you configured (see .env.example) also writes an answer from those
    passages only, citing them as \\[n]; exit 1 if it cannot be reached (the passages still print).

    Examples:
      kbcli query work "notice period for terminating the lease"
      kbcli query work "capital expenditure 2023" --top-k 10 --json
      kbcli query work "INV-2023-0042" --mode keyword --explain
      kbcli query work --from-file questions.txt --json > answers.jsonl
      kbcli query work "Who may terminate, and how?" --answer
    """
    run = current(ctx)
    kb = run.kb(mode=mode, rerank_model=rerank_model)
    questions = _questions(run, question, from_file)
    answerer = _answerer(run, answer, llm_provider, llm_model, llm_base_url)
    session = kb.session(name, load_model=kb.settings.search.mode != "keyword")
    batch = from_file is not None
    try:
        for text in questions:
            _show(run, session.search(text, top_k), answer, answerer, as_json, batch, explain, full)
    finally:
        session.close()


def _answerer(run: Invocation, answer: bool, provider: str | None, model: str | None, base_url: str | None) -> Answerer | None:
    """The LLM client for --answer; None (after a hint) when no provider is configured."""
    if not answer:
        if provider or model or base_url:
            raise UsageError("--llm-provider, --llm-model and --llm-base-url need --answer")
        return None
    config = resolve_config(run.settings.llm, provider, model, base_url)
    if config is None:
        run.output.error(CONFIGURE_HINT)
        return None
    return Answerer(config)


def _show(
    run: Invocation, result: QueryResult, answer: bool, answerer: Answerer | None, as_json: bool, batch: bool, explain: bool,
    full: bool = False,
) -> None:
    """The outcome of one question; with an answer, the passages it cites as [n]. A provider
    failure is raised only after the passages are out, so they are never lost."""
    answering = answerer.respond(result, stream=not as_json) if answerer is not None else None
    if as_json:
        answered = answering.answered if answering is not None else Answered(result) if answer else None
        run.output.json(answer_json(result, answered, explain), pretty=not batch)
    else:
        answered = render_outcome(run.output.out, result, answering, show_query=batch, explain=explain, full=full)
    if answered is not None and answered.failure is not None:
        raise answered.failure


def shell(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the index.", show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many passages per question (:k N changes it).")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print answers as JSON, one object a line (:json on|off changes it).")] = False,
    rerank_model: RerankOpt = None,
) -> None:
    """Ask NAME many questions in one session: the model loads once, answers take milliseconds.

    Type a question, or a command (:help lists them, Tab completes): :k N, :filter GLOB, :more N,
    :open N, :json on|off, :index OTHER, :info, :answer on|off, :quit. Ctrl-C abandons the line or
    a running search, Ctrl-D leaves. History is kept per index. A refresh committed while the shell
    is open is used by the next question.

    With stdin not a terminal it reads one question (or command) a line and prints no prompt.

    Examples:
      kbcli shell work
      kbcli shell work --json < questions.txt > answers.jsonl
    """
    run = current(ctx)
    session = ShellSession(run.kb(rerank_model=rerank_model), name, k=top_k, as_json=as_json)
    try:
        if run.output.stdin_is_terminal:
            code = run_terminal(session, run.output, debug=run.settings.debug)
        else:
            code = run_script(session, run.output.stdin, run.output)
    finally:
        session.close()
    if code:
        raise typer.Exit(code)
