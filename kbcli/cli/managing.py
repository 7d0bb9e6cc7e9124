"""`kbcli list`, `info`, `sources`, `remove` and `export`: look after the indexes themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kbcli.cli.invocation import current
from kbcli.cli.options import JsonOpt, NameArg
from kbcli.cli.views import render_file_failures, render_files, render_info, render_list, render_sources
from kbcli.errors import UsageError
from kbcli.shapes import info_json, list_json, source_json


def list_indexes(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the indexes in the kbcli home (or, with --store / $KBCLI_STORE, in that database)."""
    run = current(ctx)
    kb = run.kb()
    summaries = kb.list()
    if as_json:
        run.output.json(list_json(kb.home, summaries, kb.store_shown), pretty=True)
    else:
        render_list(run.output.out, summaries)


def info(
    ctx: typer.Context,
    name: NameArg,
    failed: Annotated[bool, typer.Option("--failed", help="List the files that could not be indexed, and why.")] = False,
    files: Annotated[bool, typer.Option("--files", help="List every file with its status.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show an index's model, settings, sources, size and files."""
    run = current(ctx)
    about = run.kb().info(name)
    if as_json:
        run.output.json(info_json(about, files=files), pretty=True)
        return
    out = run.output.out
    if not failed:
        render_info(out, about)
    if failed or files:
        render_file_failures(out, about.failed)
        if failed and not about.failed:
            out.print("No failed files.")
    if files:
        render_files(out, about.files)


def sources(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """List the folders and files NAME indexes, and whether they still exist."""
    run = current(ctx)
    found = run.kb().sources(name)
    if as_json:
        run.output.json([source_json(s) for s in found], pretty=True)
    else:
        render_sources(run.output.out, found)


def remove(
    ctx: typer.Context,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the index NAME (your documents are not touched), whole, damaged or half-created."""
    run = current(ctx)
    kb = run.kb()
    folder = kb.locate(name)
    if not yes:
        if not run.output.stdin_is_terminal:
            raise UsageError("refusing to delete without confirmation: pass --yes")
        typer.confirm(f"Delete index {name!r} at {folder}?", abort=True)
    kb.remove(name)
    run.output.note(f"Removed index {name!r}.")


def export(
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
    from kbcli.llama.export import export_index  # LlamaIndex and FAISS: only for this command

    run = current(ctx)
    reader = run.kb().reader(name)
    try:
        report = export_index(reader, folder)
    finally:
        reader.close()
    if as_json:
        run.output.json(report.to_json(), pretty=True)
    else:
        run.output.out.print(
            f"Exported {name!r}: {report.nodes} nodes, {report.dimension} dims, "
            f"{report.bytes / 2**20:.1f} MiB to {report.folder} in {report.seconds:.1f}s",
            highlight=False, markup=False,
        )
