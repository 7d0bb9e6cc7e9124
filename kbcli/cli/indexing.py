"""`kbcli index`, `refresh` and `watch`: bring an index up to date with its sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kbcli.cli.invocation import Invocation, current
from kbcli.cli.options import FollowLinksOpt, JsonOpt, LogFileOpt, NameArg, QuietOpt, ReadingArgs, WaitOpt, reading_options
from kbcli.cli.progress import LogLines, RichProgress, TeeLines
from kbcli.cli.views import render_sync, watch_line
from kbcli.errors import ExitCode, KbError
from kbcli.indexer import IndexOptions, SyncReport
from kbcli.shapes import sync_json
from kbcli.watch import watch as watch_sources


def _observer(run: Invocation, quiet: bool, as_json: bool, log_file: Path | None) -> LogLines | RichProgress:
    """A progress bar for a person at a terminal, plain log lines otherwise."""
    output = run.output
    if log_file is not None:
        return TeeLines(output.stderr, log_file, quiet=quiet or as_json)
    if output.stderr_is_terminal and not quiet and not as_json:
        return RichProgress(output.err)
    return LogLines(output.stderr, quiet=quiet or as_json)


def _finish_sync(run: Invocation, name: str, report: SyncReport, as_json: bool, quiet: bool) -> None:
    if as_json:
        run.output.json(sync_json(name, report))
    elif not quiet:
        render_sync(run.output.out, name, report)
    if report.failed:
        raise typer.Exit(ExitCode.PARTIAL)


@reading_options
def index(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index (folders are crawled recursively).", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the index to create or add to.", show_default=False)],
    include: Annotated[
        Optional[list[str]], typer.Option("--include", metavar="GLOB", help="Only files matching GLOB (repeatable), e.g. '*.pdf' or 'reports/*'.")
    ] = None,
    exclude: Annotated[Optional[list[str]], typer.Option("--exclude", metavar="GLOB", help="Skip files matching GLOB (repeatable).")] = None,
    model: Annotated[
        Optional[str],
        typer.Option("--model", metavar="SPEC", help="Embedding model of a new index: auto (the default: minilm for English documents, e5-small for Chinese ones), minilm, minilm-int8, e5-small (multilingual), local:DIR, openai:MODEL@URL, ollama:MODEL[@URL]; default $KBCLI_MODEL, else auto. See kbcli models."),
    ] = None,
    precision: Annotated[
        Optional[str], typer.Option("--precision", help="Older spelling: fp32 = --model minilm, int8 = --model minilm-int8.")
    ] = None,
    vector_index: Annotated[
        str,
        typer.Option("--vector-index", help="For a new index: flat (exact), ivf (approximate, for very large indexes) or auto (flat, then ivf past 200k chunks)."),
    ] = "auto",
    wait: WaitOpt = 0.0,
    follow_links: FollowLinksOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
    *,
    reading: ReadingArgs,
) -> None:
    """Index PDF, Word, text and Markdown files into NAME, creating it if needed.

    On an existing index, PATHs are added as sources and the whole index is refreshed.
    Hidden files and folders are skipped. Exit code 3 if some files could not be read.
    Scanned pages are OCR'd when Tesseract is installed.

    Example:  kbcli index ~/contracts ~/reports/2023.pdf --name work --exclude 'drafts/*'

    Example:  kbcli index ~/scans --name scans --passwords-file ~/.kbcli-passwords --timeout 600
    """
    run = current(ctx)
    options = IndexOptions(
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        precision=precision,
        model=model,
        vector_index=vector_index,
        wait=wait,
        follow_links=follow_links,
        read=reading.read_options(run.settings.reading),
    )
    with _observer(run, quiet, as_json, log_file) as observer:
        report = run.kb().index(name, paths, options, observer)
    _finish_sync(run, name, report, as_json, quiet)


@reading_options
def refresh(
    ctx: typer.Context,
    name: NameArg,
    wait: WaitOpt = 0.0,
    prune_missing_sources: Annotated[
        bool, typer.Option("--prune-missing-sources", help="Remove the files of source folders that no longer exist.")
    ] = False,
    follow_links: FollowLinksOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
    *,
    reading: ReadingArgs,
) -> None:
    """Bring NAME up to date with its sources: only new and changed files are read.

    Safe from cron: no progress bar when not on a terminal, one writer at a time (exit 4 if busy).
    Passwords are never stored: give them again (a passwords file suits cron). A file that failed
    as encrypted is retried when a password is given for it.

    Example crontab line:  */30 * * * * kbcli refresh work --quiet --log-file ~/kbcli.log
    """
    run = current(ctx)
    options = IndexOptions(
        wait=wait, prune_missing_sources=prune_missing_sources, follow_links=follow_links,
        read=reading.read_options(run.settings.reading),
    )
    with _observer(run, quiet, as_json, log_file) as observer:
        report = run.kb().refresh(name, options, observer)
    _finish_sync(run, name, report, as_json, quiet)


@reading_options
def watch(
    ctx: typer.Context,
    name: NameArg,
    debounce: Annotated[
        float, typer.Option("--debounce", metavar="SECONDS", help="Refresh once changes have been quiet this long.")
    ] = 2.0,
    wait: WaitOpt = 60.0,
    follow_links: FollowLinksOpt = False,
    quiet: QuietOpt = False,
    log_file: LogFileOpt = None,
    *,
    reading: ReadingArgs,
) -> None:
    """Keep NAME current: refresh now, then whenever files in its sources change (Ctrl-C stops).

    For a live folder rather than cron. Each refresh logs one summary line.

    Example:  kbcli watch work --debounce 5 --log-file ~/kbcli-watch.log
    """
    run = current(ctx)
    kb = run.kb()
    options = IndexOptions(wait=wait, follow_links=follow_links, read=reading.read_options(run.settings.reading))
    roots = [Path(s.path) for s in kb.sources(name)]
    stderr = run.output.stderr
    observer = TeeLines(stderr, log_file, quiet=True) if log_file else LogLines(stderr, quiet=True)
    log = LogLines(stderr, quiet=quiet)

    def refresh_once() -> None:
        try:
            report = kb.refresh(name, options, observer)
        except KbError as err:  # a busy lock or a vanished index: say so and keep watching
            log.log(f"refresh failed: {err}", error=True)
            return
        log.log(watch_line(name, report), error=bool(report.failed))

    log.log(f"watching {len(roots)} source(s) of {name!r}; Ctrl-C to stop")
    try:
        watch_sources(roots, refresh_once, debounce=debounce)
    except KeyboardInterrupt:
        log.log("stopped")
