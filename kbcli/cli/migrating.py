"""`kbcli migrate`: copy an index to another store (PostgreSQL, or back to the kbcli home)."""

from __future__ import annotations

from typing import Annotated, Callable

import typer

from kbcli.cli.invocation import current
from kbcli.cli.options import JsonOpt, NameArg, QuietOpt, WaitOpt
from kbcli.migrate import Progress, locations, migrate as copy_index


def migrate(
    ctx: typer.Context,
    name: NameArg,
    to: Annotated[str, typer.Option(
        "--to", metavar="URL|embedded", show_default=False,
        help="The store to copy NAME into: a postgresql:// connection string, or 'embedded' (the kbcli home).",
    )],
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy NAME, vectors and all (nothing is embedded again), into another store; the source stays.

    NAME is read from the kbcli home, or from the PostgreSQL store given with --store
    (or $KBCLI_STORE). The target must not have an index of that name yet.

    Examples:  kbcli migrate work --to postgresql://kb@db.lan/kbcli

               kbcli migrate work --store postgresql://kb@db.lan/kbcli --to embedded
    """
    run = current(ctx)
    kb = run.kb()
    source, target = locations(kb, name, to)
    report = copy_index(source, target, wait=wait, progress=None if quiet or as_json else _progress(run.output.note))
    if as_json:
        run.output.json(report.to_json())
    elif not quiet:
        run.output.note(
            f"Copied {name!r}: {report.files} files ({report.failed} unreadable), {report.chunks} chunks with their"
            f" vectors, {report.sources} sources, to {report.target} in {report.seconds:.1f}s (generation {report.generation})."
        )


def _progress(note: Callable[[str], None]) -> Progress:
    """A line on stderr about every 10% of the files."""
    shown = [-1]

    def report(done: int, total: int, chunks: int) -> None:
        step = done * 10 // max(total, 1)
        if step > shown[0] or done == total:
            shown[0] = step
            note(f"copied {done}/{total} files, {chunks} chunks")

    return report
