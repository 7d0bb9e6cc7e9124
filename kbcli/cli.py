"""The command line: parse arguments, call the core, render. Nothing here knows FAISS."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer
from typer.exceptions import TyperException
from typer.core import TyperGroup

from kbcli import __version__
from kbcli.errors import ExitCode, KbError, UsageError


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
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
) -> None:
    """Index PDF and Word files into NAME, creating it if needed.

    On an existing index, PATHs are added as sources and the whole index is refreshed.
    Hidden files and folders are skipped. Exit code 3 if some files could not be read.

    Example:  kbcli index ~/contracts ~/reports/2023.pdf --name work --exclude 'drafts/*'
    """
    from kbcli.kb import IndexOptions

    kb = _kb(ctx)
    _, err = _consoles()
    options = IndexOptions(include=tuple(include or ()), exclude=tuple(exclude or ()), precision=precision, wait=wait)
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
) -> None:
    """Bring NAME up to date with its sources: only new and changed files are read.

    Safe from cron: no progress bar when not on a terminal, one writer at a time (exit 4 if busy).

    Example crontab line:  */30 * * * * kbcli refresh work --quiet --log-file ~/kbcli.log
    """
    from kbcli.kb import IndexOptions

    kb = _kb(ctx)
    _, err = _consoles()
    observer = _observer(err, quiet, as_json, log_file)
    with observer:
        report = kb.refresh(name, IndexOptions(wait=wait, prune_missing_sources=prune_missing_sources), observer)
    _finish_sync(ctx, name, report, as_json, quiet)


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
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object a line in batch mode).")] = False,
) -> None:
    """Find the passages in NAME that answer a question, with file, page and section.

    Examples:
      kbcli query work "notice period for terminating the lease"
      kbcli query work "capital expenditure 2023" --top-k 10 --json
      kbcli query work --from-file questions.txt --json > answers.jsonl
    """
    from kbcli.render import print_json, render_result

    questions = _questions(question, from_file)
    searcher = _kb(ctx).searcher(name)
    out, _ = _consoles()
    batch = from_file is not None
    try:
        for text in questions:
            result = searcher.search(text, top_k)
            if as_json:
                print_json(result.to_json(), pretty=not batch)
            else:
                render_result(out, result, show_query=batch)
    finally:
        searcher.close()


@app.command()
def shell(
    ctx: typer.Context,
    name: NameArg,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many passages per question (:k N changes it).")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print answers as JSON, one object a line (:json on|off changes it).")] = False,
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

    session = ShellSession(_kb(ctx), name, k=top_k, as_json=as_json)
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
        reader = kb.reader(name)
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

        table = Table("file", "status", "pages", "chunks")
        for f in detail:
            table.add_row(f["path"], f["status"], str(f["pages"]), str(f["chunks"]))
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


def main() -> None:
    from kbcli.config import load_dotenv_file

    load_dotenv_file()
    app()


if __name__ == "__main__":
    main()
