"""The command line: parse arguments, call the core, render. Nothing here knows FAISS."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer
from typer.exceptions import TyperException
from typer.core import TyperGroup

from kbcli import __version__
from kbcli.errors import ExitCode, IncompatibleIndex, KbError, UsageError


class _Group(TyperGroup):
    """The one place where domain errors become a one-line message and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KbError as err:
            _fail(str(err), err.exit_code)
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as err:
            if (ctx.obj or {}).get("debug"):
                raise
            _fail(f"unexpected {type(err).__name__}: {err} (run with --debug for the traceback)", ExitCode.ERROR)


def _fail(message: str, code: int) -> None:
    typer.echo(f"kbcli: error: {message}", err=True)
    raise typer.Exit(int(code))


app = typer.Typer(
    cls=_Group,
    name="kbcli",
    help=(
        "Private, offline search over your PDFs and Word files.\n\n"
        "Index folders once, then ask questions and get back the passages that answer them, "
        "with file, page and section. Nothing leaves this machine.\n\n"
        "Start with:  kbcli index ~/Documents/reports --name reports\n\n"
        "Then:        kbcli query reports \"What was revenue in 2023?\""
    ),
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

# -- shared options -----------------------------------------------------------------------------
NameArg = Annotated[str, typer.Argument(help="Name of the index.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only (and the --json summary).")]
WaitOpt = Annotated[
    float, typer.Option("--wait", metavar="SECONDS", help="Wait this long for another writer to finish (exit 4 if it does not).")
]
LogFileOpt = Annotated[
    Optional[Path], typer.Option("--log-file", metavar="FILE", help="Also append the run's log lines to FILE.")
]
# How files are read: shared by index and refresh, shown in their own --help panel.
_READING = "Reading files"
PasswordOpt = Annotated[
    Optional[str],
    typer.Option("--password", metavar="PASSWORD", rich_help_panel=_READING,
                 help="Password to try on encrypted PDF and Word files ($KBCLI_PASSWORD does the same, unseen by ps)."),
]
PasswordsFileOpt = Annotated[
    Optional[Path],
    typer.Option("--passwords-file", metavar="FILE", rich_help_panel=_READING,
                 help="Lines 'GLOB PASSWORD': try PASSWORD on files whose name or path matches GLOB."),
]
OcrOpt = Annotated[
    str,
    typer.Option("--ocr", metavar="auto|off|force", rich_help_panel=_READING,
                 help="OCR with Tesseract: pages without a usable text layer (auto), none (off) or every page (force)."),
]
ConvertLegacyOpt = Annotated[
    bool,
    typer.Option("--convert-legacy", rich_help_panel=_READING,
                 help="Convert .doc, .rtf and .odt files with LibreOffice (headless) to index them."),
]
MaxFileSizeOpt = Annotated[
    str,
    typer.Option("--max-file-size", metavar="SIZE", rich_help_panel=_READING,
                 help="Report larger files as 'too large' without reading them (e.g. 50MB, 1GB; 0: no limit)."),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", metavar="SECONDS", rich_help_panel=_READING,
                 help="Time limit for reading one file; slower files are stopped and reported 'timed out'."),
]


def _read_options(password, passwords_file, ocr, convert_legacy, max_file_size, timeout):  # type: ignore[no-untyped-def]
    from kbcli.readers import build_read_options

    try:
        return build_read_options(password, passwords_file, ocr, convert_legacy, max_file_size, timeout)
    except ValueError as err:
        raise UsageError(str(err)) from None


RerankOpt = Annotated[
    Optional[Path],
    typer.Option("--rerank-model", metavar="DIR", envvar="KBCLI_RERANK_MODEL", show_default=False,
                 help="Rescore the top hits with a cross-encoder from this local folder (never downloaded)."),
]
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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kbcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        Optional[Path],
        typer.Option("--home", metavar="DIR", help="Where indexes live (default: $KBCLI_HOME, else your user data folder)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = {"home": home, "debug": debug}


def _kb(ctx: typer.Context):
    from kbcli.config import kbcli_home
    from kbcli.kb import KnowledgeBase

    return KnowledgeBase(kbcli_home((ctx.obj or {}).get("home")))


def _consoles():
    from rich.console import Console

    return Console(), Console(stderr=True)


def _observer(err_console, quiet: bool, as_json: bool, log_file: Path | None):
    """A progress bar for a person at a terminal, plain log lines otherwise."""
    from kbcli.render import LogLines, RichProgress

    if log_file is not None:
        return _Tee(LogLines(sys.stderr, quiet=quiet or as_json), log_file)
    if err_console.is_terminal and not quiet and not as_json:
        return RichProgress(err_console)
    return LogLines(sys.stderr, quiet=quiet or as_json)


class _Tee:
    """Log lines to stderr and to a file."""

    def __new__(cls, inner, path: Path):  # type: ignore[no-untyped-def]
        from kbcli.render import LogLines

        class Both(LogLines):
            def log(self, message: str, error: bool = False) -> None:
                super().log(message, error)
                with open(path, "a", encoding="utf-8") as fh:
                    from datetime import datetime

                    fh.write(f"{datetime.now().astimezone().isoformat(timespec='seconds')} {message}\n")

        return Both(inner.stream, inner.quiet)


def _finish_sync(ctx: typer.Context, name: str, report, as_json: bool, quiet: bool) -> None:
    from kbcli.render import print_json, render_sync, sync_json

    out, _ = _consoles()
    if as_json:
        print_json(sync_json(name, report))
    elif not quiet:
        total = _kb(ctx).reader(name)
        try:
            chunks = total.stats()["chunks"]
        finally:
            total.close()
        render_sync(out, name, report, chunks)
    if report.failed:
        raise typer.Exit(ExitCode.PARTIAL)


# -- commands -------------------------------------------------------------------------------------
@app.command()
def index(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index (folders are crawled recursively).", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the index to create or add to.", show_default=False)],
    include: Annotated[
        Optional[list[str]], typer.Option("--include", metavar="GLOB", help="Only files matching GLOB (repeatable), e.g. '*.pdf' or 'reports/*'.")
    ] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", metavar="GLOB", help="Skip files matching GLOB (repeatable).")] = None,
    precision: Annotated[
        str, typer.Option("--precision", help="Embedding runtime for a new index: fp32 (exact) or int8 (faster, slightly less accurate).")
    ] = "fp32",
    vector_index: Annotated[
        str,
        typer.Option("--vector-index", help="For a new index: flat (exact), ivf (approximate, for very large indexes) or auto (flat, then ivf past 200k chunks)."),
    ] = "auto",
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
    password: PasswordOpt = None,
    passwords_file: PasswordsFileOpt = None,
    ocr: OcrOpt = "auto",
    convert_legacy: ConvertLegacyOpt = False,
    max_file_size: MaxFileSizeOpt = "200MB",
    timeout: TimeoutOpt = 300.0,
) -> None:
    """Index PDF, Word, text and Markdown files into NAME, creating it if needed.

    On an existing index, PATHs are added as sources and the whole index is refreshed.
    Hidden files and folders are skipped. Exit code 3 if some files could not be read.
    Scanned pages are OCR'd when Tesseract is installed.

    Example:  kbcli index ~/contracts ~/reports/2023.pdf --name work --exclude 'drafts/*'

    Example:  kbcli index ~/scans --name scans --passwords-file ~/.kbcli-passwords --timeout 600
    """
    from kbcli.kb import IndexOptions

    kb = _kb(ctx)
    _, err = _consoles()
    read = _read_options(password, passwords_file, ocr, convert_legacy, max_file_size, timeout)
    options = IndexOptions(
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        precision=precision,
        vector_index=vector_index,
        wait=wait,
        read=read,
    )
    observer = _observer(err, quiet, as_json, log_file)
    with observer:
        report = kb.index(name, paths, options, observer)
    _finish_sync(ctx, name, report, as_json, quiet)


@app.command()
def refresh(
    ctx: typer.Context,
    name: NameArg,
    wait: WaitOpt = 0.0,
    prune_missing_sources: Annotated[
        bool, typer.Option("--prune-missing-sources", help="Remove the files of source folders that no longer exist.")
    ] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
    password: PasswordOpt = None,
    passwords_file: PasswordsFileOpt = None,
    ocr: OcrOpt = "auto",
    convert_legacy: ConvertLegacyOpt = False,
    max_file_size: MaxFileSizeOpt = "200MB",
    timeout: TimeoutOpt = 300.0,
) -> None:
    """Bring NAME up to date with its sources: only new and changed files are read.

    Safe from cron: no progress bar when not on a terminal, one writer at a time (exit 4 if busy).
    Passwords are never stored: give them again (a passwords file suits cron). A file that failed
    as encrypted is retried when a password is given for it.

    Example crontab line:  */30 * * * * kbcli refresh work --quiet --log-file ~/kbcli.log
    """
    from kbcli.kb import IndexOptions

    kb = _kb(ctx)
    _, err = _consoles()
    read = _read_options(password, passwords_file, ocr, convert_legacy, max_file_size, timeout)
    observer = _observer(err, quiet, as_json, log_file)
    with observer:
        report = kb.refresh(name, IndexOptions(wait=wait, prune_missing_sources=prune_missing_sources, read=read), observer)
    _finish_sync(ctx, name, report, as_json, quiet)


@app.command()
def watch(
    ctx: typer.Context,
    name: NameArg,
    debounce: Annotated[
        float, typer.Option("--debounce", metavar="SECONDS", help="Refresh once changes have been quiet this long.")
    ] = 2.0,
    wait: WaitOpt = 60.0,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
) -> None:
    """Keep NAME current: refresh now, then whenever files in its sources change (Ctrl-C stops).

    For a live folder rather than cron. Each refresh logs one summary line.

    Example:  kbcli watch work --debounce 5 --log-file ~/kbcli-watch.log
    """
    from kbcli.kb import IndexOptions
    from kbcli.render import LogLines
    from kbcli.watch import watch as watch_sources

    kb = _kb(ctx)
    roots = [Path(s.path) for s in kb.sources(name)]
    observer = _observer(_consoles()[1], True, False, log_file) if log_file else LogLines(sys.stderr, quiet=True)
    log = LogLines(sys.stderr, quiet=quiet)

    def refresh() -> None:
        try:
            report = kb.refresh(name, IndexOptions(wait=wait), observer)
        except KbError as err:  # a busy lock or a vanished index: say so and keep watching
            log.log(f"refresh failed: {err}", error=True)
            return
        log.log(
            f"refreshed {name}: {report.added} added, {report.modified} modified, {report.removed} removed, "
            f"{report.moved} moved, {len(report.failed)} failed, {report.seconds:.1f}s",
            error=bool(report.failed),
        )

    log.log(f"watching {len(roots)} source(s) of {name!r}; Ctrl-C to stop")
    try:
        watch_sources(roots, refresh, debounce=debounce)
    except KeyboardInterrupt:
        log.log("stopped")


def _questions(question: str | None, from_file: Path | None) -> Iterable[str]:
    if question is not None and from_file is not None:
        raise UsageError("give a QUESTION or --from-file, not both")
    if question is not None:
        if not question.strip():
            raise UsageError("the question is empty")
        return [question]
    if from_file is None:
        raise UsageError("give a QUESTION, or --from-file FILE (one question a line, '-' for stdin)")
    if str(from_file) == "-":
        lines: Iterable[str] = sys.stdin
    else:
        try:
            lines = from_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise UsageError(f"cannot read {from_file}: {err.strerror}") from err
    return (line.strip() for line in lines if line.strip())


@app.command()
def query(
    ctx: typer.Context,
    name: NameArg,
    question: Annotated[Optional[str], typer.Argument(help="What to look for, in your own words.", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many passages to return.")] = 5,
    from_file: Annotated[
        Optional[Path], typer.Option("--from-file", "-f", metavar="FILE", help="Batch mode: one question a line ('-' for stdin); the model loads once.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="hybrid (meaning + exact words, fused), vector (meaning) or keyword (BM25).")
    ] = "hybrid",
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
    from kbcli.render import print_json, render_result
    from kbcli.settings import resolve, with_overrides

    settings = with_overrides(resolve(), search={"mode": mode} if mode else {}).search
    questions = _questions(question, from_file)
    answerer = _answerer(answer, llm_provider, llm_model, llm_base_url)
    searcher = _kb(ctx).searcher(name, load_model=settings.mode != "keyword", rerank_model=rerank_model)
    out, _ = _consoles()
    batch = from_file is not None
    try:
        for text in questions:
            result = searcher.search(text, top_k, settings)
            if answer:
                _answer(out, result, answerer, as_json, batch, explain)
            elif as_json:
                print_json(result.to_json(explain), pretty=not batch)
            else:
                render_result(out, result, show_query=batch, explain=explain)
    finally:
        searcher.close()


def _answerer(answer: bool, provider: str | None, model: str | None, base_url: str | None):
    """The LLM client for --answer; None (after a hint) when no provider is configured."""
    if not answer:
        if provider or model or base_url:
            raise UsageError("--llm-provider, --llm-model and --llm-base-url need --answer")
        return None
    from kbcli.answer import CONFIGURE_HINT, Answerer, resolve_config

    config = resolve_config(provider, model, base_url)
    if config is None:
        typer.echo(f"kbcli: {CONFIGURE_HINT}", err=True)
        return None
    return Answerer(config)


def _answer(out, result, answerer, as_json: bool, batch: bool, explain: bool = False) -> None:
    """The answer, then the passages it cites as [n]; a provider failure is raised only after the
    passages are out, so they are never lost."""
    from kbcli.answer import LlmUnavailable, cited_numbers, passages_sent
    from kbcli.render import print_json, render_answered, render_query

    if not as_json:
        if batch:
            render_query(out, result.query)
        failure = render_answered(out, result, answerer, explain)
    else:
        text, failure = None, None
        if answerer is not None:
            try:
                text = answerer.answer(result.query, result.hits)
            except LlmUnavailable as err:
                failure = err
        cited = cited_numbers(text, passages_sent(result.hits)) if text is not None else []
        print_json({**result.to_json(explain), "answer": text, "cited": cited}, pretty=not batch)
    if failure is not None:
        raise failure


@app.command()
def shell(
    ctx: typer.Context,
    name: NameArg,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many passages per question (:k N changes it).")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print answers as JSON, one object a line (:json on|off changes it).")] = False,
    rerank_model: RerankOpt = None,
) -> None:
    """Ask NAME many questions in one session: the model loads once, answers take milliseconds.

    Type a question, or a command (:help lists them, Tab completes): :k N, :filter GLOB, :more N,
    :open N, :json on|off, :index OTHER, :info, :quit. Ctrl-C abandons the line or a running
    search, Ctrl-D leaves. History is kept per index. A refresh committed while the shell is open
    is used by the next question.

    With stdin not a terminal it reads one question (or command) a line and prints no prompt.

    Examples:
      kbcli shell work
      kbcli shell work --json < questions.txt > answers.jsonl
    """
    from kbcli.shell import ShellSession
    from kbcli.shell_ui import run_script, run_terminal

    session = ShellSession(_kb(ctx), name, k=top_k, as_json=as_json, rerank_model=rerank_model)
    out, err = _consoles()
    try:
        if sys.stdin.isatty():
            code = run_terminal(session, out, err, debug=bool((ctx.obj or {}).get("debug")))
        else:
            code = run_script(session, sys.stdin, out, err)
    finally:
        session.close()
    if code:
        raise typer.Exit(code)


@app.command("list")
def list_indexes(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the indexes in the kbcli home."""
    from kbcli.render import print_json, render_list

    kb = _kb(ctx)
    rows = []
    for name in kb.names():
        try:
            reader = kb.reader(name)
        except IncompatibleIndex as err:  # listed, so that it can be found and removed
            rows.append({"name": name, "path": str(kb.folder(name)), "problem": str(err)})
            continue
        try:
            rows.append({"name": name, "path": str(reader.folder), **reader.stats()})
        finally:
            reader.close()
    if as_json:
        print_json({"home": str(kb.home), "indexes": rows}, pretty=True)
    else:
        render_list(_consoles()[0], rows)


@app.command()
def info(
    ctx: typer.Context,
    name: NameArg,
    failed: Annotated[bool, typer.Option("--failed", help="List the files that could not be indexed, and why.")] = False,
    files: Annotated[bool, typer.Option("--files", help="List every file with its status.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show an index's model, settings, sources, size and files."""
    from kbcli.indexer import Failure
    from kbcli.render import print_json, render_failures, render_info

    data = _kb(ctx).info(name)
    out, _ = _consoles()
    detail = data.pop("files_detail")
    failures = [f for f in detail if f["status"] == "failed"]
    if as_json:
        data["failed"] = [{"file": f["path"], "reason": f["reason"], "error": f"{f['reason']}: {f['detail']}"} for f in failures]
        if files:
            data["files_detail"] = detail
        print_json(data, pretty=True)
        return
    if not failed:
        render_info(out, data)
    if failed or files:
        render_failures(out, [Failure(f["path"], f["reason"], f["detail"] or "") for f in failures])
        if failed and not failures:
            out.print("No failed files.")
    if files:
        from rich.table import Table
        from rich.text import Text

        table = Table("file", "status", "pages", "chunks")
        for f in detail:
            table.add_row(Text(f["path"]), f["status"], str(f["pages"]), str(f["chunks"]))
        out.print(table)


@app.command()
def sources(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """List the folders and files NAME indexes, and whether they still exist."""
    from kbcli.render import print_json

    data = _kb(ctx).info(name)["sources"]
    if as_json:
        print_json(data, pretty=True)
        return
    out, _ = _consoles()
    for s in data:
        flags = "" if s["exists"] else "  [missing]"
        patterns = " ".join([*(f"--include {p}" for p in s["include"]), *(f"--exclude {p}" for p in s["exclude"])])
        out.print(f"{s['path']}{flags}" + (f"  ({patterns})" if patterns else ""), highlight=False, markup=False)


@app.command()
def remove(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the index NAME (your documents are not touched)."""
    kb = _kb(ctx)
    folder = kb.folder(name)
    if not kb.exists(name):
        kb.reader(name)  # raises the helpful "no index named" error
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("refusing to delete without confirmation: pass --yes")
        typer.confirm(f"Delete index {name!r} at {folder}?", abort=True)
    kb.remove(name)
    typer.echo(f"Removed index {name!r}.", err=True)


@app.command("export")
def export_llama_index(
    ctx: typer.Context,
    name: NameArg,
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A new (or empty) folder to write.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Write NAME as a standard LlamaIndex persist folder (FAISS vector store, docstore, index store).

    Plain LlamaIndex code then opens it with load_index_from_storage; queries must be embedded
    with the index's model (named in DIR/kbcli_export.json). Nothing is re-embedded; DIR is
    written beside itself and renamed into place, so it is complete or absent.

    Example:  kbcli export work ~/work-llamaindex
    """
    from kbcli.llama.export import export_index
    from kbcli.render import print_json

    reader = _kb(ctx).reader(name)
    try:
        report = export_index(reader, folder)
    finally:
        reader.close()
    if as_json:
        print_json(report.to_json(), pretty=True)
    else:
        typer.echo(f"Exported {name!r}: {report.nodes} nodes, {report.dimension} dims, "
                   f"{report.bytes / 2**20:.1f} MiB to {report.folder} in {report.seconds:.1f}s")


@app.command("eval")
def eval_questions(
    ctx: typer.Context,
    name: NameArg,
    questions_file: Annotated[Path, typer.Argument(metavar="QUESTIONS.jsonl", help="One JSON object a line: 'question' and 'evidence' [{doc, page_1based}] or 'gold_docs'.", show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="Hits per question (recall@k needs k <= top-k).")] = 10,
    mode: Annotated[str, typer.Option("--mode", "-m", help="hybrid, vector or keyword.")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Score search on your own questions: recall@1/5/10, MRR@10 and nDCG@10, and list the misses.

    A question set with 'evidence' pages is scored by page (and by document); one with
    'gold_docs' by document. Example:  kbcli eval reports questions.jsonl --top-k 10
    """
    from rich.table import Table

    from kbcli.evaluate import evaluate, load_questions
    from kbcli.render import print_json
    from kbcli.settings import resolve, with_overrides

    settings = with_overrides(resolve(), search={"mode": mode} if mode else {}).search
    questions, level = load_questions(questions_file)
    searcher = _kb(ctx).searcher(name, load_model=settings.mode != "keyword")
    try:
        report = evaluate(searcher, questions, level, top_k, settings, str(questions_file))
    finally:
        searcher.close()
    if as_json:
        print_json(report.to_json(), pretty=True)
        return
    out, _ = _consoles()
    cut = min(10, top_k)
    table = Table(title=f"{name}: {len(questions)} questions, top-k {top_k}, mode {report.mode}", title_justify="left")
    for header in ("level", "recall@1", "recall@5", "recall@10", f"MRR@{cut}", f"nDCG@{cut}"):
        table.add_column(header, justify="left" if header == "level" else "right")
    for level_name, s in report.scores.items():
        recalls = ["-" if v is None else f"{v:.3f}" for v in s.recall.values()]
        table.add_row(level_name, *recalls, f"{s.mrr:.3f}", f"{s.ndcg:.3f}")
    out.print(table)
    misses = report.misses
    out.print(f"{len(misses)} of {len(questions)} questions have no right {level} in the top {top_k}" + (":" if misses else "."), highlight=False)
    expected = {q.id: q.expected for q in questions}
    for miss in misses:
        first = " p.".join(str(part) for part in miss.found[0] if part is not None) if miss.found else "nothing"
        out.print(f"  {miss.id}: {miss.question[:100]}\n    expected {', '.join(expected[miss.id])}; first hit {first}", highlight=False, markup=False, soft_wrap=True)

def main() -> None:
    from kbcli.config import load_dotenv_file

    load_dotenv_file()
    app()


if __name__ == "__main__":
    main()
