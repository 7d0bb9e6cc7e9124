"""README.md documents the command line as it is: every command and every option of the Typer
app (read from the app itself, so a new option without documentation fails here)."""

from __future__ import annotations

import re

from typing import Any

import pytest
import typer

from conftest import ROOT
from kbcli.cli import app

README = (ROOT / "README.md").read_text(encoding="utf-8")
_TYPER_OWN = {"--help", "--install-completion", "--show-completion"}


def _commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}  # type: ignore[attr-defined]


def _options(command: Any) -> list[str]:
    names = [name for param in command.params if param.param_type_name == "option" for name in param.opts]
    return [name for name in names if name.startswith("--") and name not in _TYPER_OWN]


def _mentioned(word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", README) is not None


def test_the_app_has_the_commands_this_test_reads() -> None:
    assert {"index", "query", "shell", "list", "remove"} <= set(_commands())
    assert "--name" in _options(_commands()["index"])


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_is_documented(name: str) -> None:
    assert f"kbcli {name}" in README, f"README.md never shows `kbcli {name}`"


@pytest.mark.parametrize(
    "command, option",
    [("kbcli", o) for o in _options(typer.main.get_command(app))]
    + [(name, o) for name, command in sorted(_commands().items()) for o in _options(command)],
)
def test_every_option_is_documented(command: str, option: str) -> None:
    assert _mentioned(option), f"{option} of {command} is not in README.md"
