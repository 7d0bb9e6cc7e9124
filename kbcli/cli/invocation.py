"""What one invocation carries from the root callback to its command: the resolved settings
(`settings.resolve()`, once) and the one `Output`."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from kbcli.cli.output import Output
from kbcli.kb import KnowledgeBase
from kbcli.settings import Settings, with_overrides


@dataclass
class Invocation:
    settings: Settings
    output: Output

    def kb(self, **search: object) -> KnowledgeBase:
        """The knowledge base, with the command line's search options (None: not given) over
        the settings."""
        given = {key: value for key, value in search.items() if value is not None}
        return KnowledgeBase(with_overrides(self.settings, search=given) if given else self.settings)


def current(ctx: typer.Context) -> Invocation:
    obj = ctx.find_root().obj
    assert isinstance(obj, Invocation), "the root callback sets up the invocation"
    return obj
