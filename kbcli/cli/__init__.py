"""The command line: parse arguments, call the core, render. Nothing here knows FAISS or SQL.

The root callback resolves the settings once (command line, environment, `.env`) and sets up the
one `Output`; each command module takes them from there (`kbcli.cli.invocation.current`).
A command's module is imported when that command runs or shows its help (`COMMANDS`), so that
`kbcli query` does not load the indexing, serving and evaluation code: a cold query is the
command people wait for.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Optional

import click
import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from kbcli import __version__
from kbcli.cli.invocation import Invocation
from kbcli.cli.options import store_option
from kbcli.cli.output import Output
from kbcli.errors import ExitCode, KbError, os_error_sentence
from kbcli.settings import resolve


# Command name -> (module in kbcli.cli, function, takes --store), in the order `--help` lists them.
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "index": ("indexing", "index", True),
    "refresh": ("indexing", "refresh", True),
    "watch": ("indexing", "watch", True),
    "query": ("querying", "query", True),
    "shell": ("querying", "shell", True),
    "list": ("managing", "list_indexes", True),
    "info": ("managing", "info", True),
    "sources": ("managing", "sources", True),
    "remove": ("managing", "remove", True),
    "check": ("repairing", "check", True),
    "repair": ("repairing", "repair", True),
    "export": ("managing", "export", True),
    "migrate": ("migrating", "migrate", True),
    "models": ("modelling", "models", False),
    "reembed": ("modelling", "reembed", True),
    "eval": ("evaluating", "eval_questions", True),
    "mcp": ("serving", "mcp", True),
    "serve": ("serving", "serve", True),
}


@cache
def _command(name: str) -> click.Command:
    """The click command `name`, its module imported now."""
    module, function, takes_store = COMMANDS[name]
    callback = getattr(importlib.import_module(f"kbcli.cli.{module}"), function)
    single = typer.Typer(rich_markup_mode="rich", pretty_exceptions_enable=False)
    single.command(name)(store_option(callback) if takes_store else callback)
    return typer.main.get_command(single)


class _Group(TyperGroup):
    """Commands loaded on demand; the one place where domain errors become a one-line message and
    an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # type: ignore[override]
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # type: ignore[override]
        return _command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KbError as err:
            _fail(str(err), err.exit_code)
        except (TyperException, typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except OSError as err:  # disk full, read-only, permission: a sentence, not a traceback
            sentence = os_error_sentence(err)
            if sentence is None or ctx.params.get("debug"):
                raise
            _fail(sentence, ExitCode.ERROR)
        except Exception as err:
            if ctx.params.get("debug"):
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
    os.umask(0o077)  # indexes, caches, history and logs hold private text: owner-only files
    ctx.obj = Invocation(resolve(home=home, debug=debug), Output())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
