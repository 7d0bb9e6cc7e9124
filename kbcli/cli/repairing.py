"""`kbcli check` and `kbcli repair`: is an index whole, and bring it back when it is not."""

from __future__ import annotations

import typer

from kbcli.cli.invocation import current
from kbcli.cli.options import JsonOpt, NameArg, WaitOpt
from kbcli.errors import ExitCode


def check(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Read all of NAME and compare its parts: database pages, vectors, chunks, keywords, files.

    Exit 0 when healthy, 1 when something is wrong (each problem one line; then: kbcli repair NAME).

    Example:  kbcli check work
    """
    run = current(ctx)
    report = run.kb().check(name)
    if as_json:
        run.output.json(
            {"name": report.name, "healthy": report.healthy, "problems": report.problems,
             "generation": report.generation, "chunks": report.chunks, "vectors": report.vectors},
            pretty=True,
        )
    elif report.healthy:
        run.output.out.print(
            f"Index {name!r} is healthy: generation {report.generation}, {report.chunks} chunks, "
            f"{report.vectors} vectors.", highlight=False, markup=False, soft_wrap=True,
        )
    else:
        for problem in report.problems:
            run.output.out.print(f"{name}: {problem}", highlight=False, markup=False, soft_wrap=True)
        run.output.note(f"Index {name!r} has {len(report.problems)} problem(s): run 'kbcli repair {name}'.")
    if not report.healthy:
        raise typer.Exit(int(ExitCode.ERROR))


def repair(ctx: typer.Context, name: NameArg, wait: WaitOpt = 0.0, as_json: JsonOpt = False) -> None:
    """Rebuild what NAME lost from what survives: the manifest and keyword index from the database,
    vectors by re-embedding the stored chunks. Committed atomically, as a new generation.

    A corrupt database cannot be rebuilt from: kbcli says so, with the commands to start over.

    Example:  kbcli repair work
    """
    run = current(ctx)
    report = run.kb().repair(name, wait=wait)
    if as_json:
        run.output.json(
            {"name": report.name, "found": report.found, "repaired": report.done,
             "generation": report.generation, "chunks": report.chunks},
            pretty=True,
        )
        return
    if not report.found:
        run.output.out.print(f"Index {name!r} is healthy: nothing to repair.", highlight=False, markup=False, soft_wrap=True)
        return
    for line in report.done:
        run.output.out.print(f"{name}: {line}", highlight=False, markup=False, soft_wrap=True)
    run.output.out.print(
        f"Repaired {name!r}: generation {report.generation}, {report.chunks} chunks.", highlight=False, markup=False, soft_wrap=True
    )
