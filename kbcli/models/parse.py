"""Parsing a model spec string (the syntax is described in kbcli.models.spec)."""

from __future__ import annotations

from pathlib import Path

from kbcli.errors import UsageError
from kbcli.models.local import folder_spec
from kbcli.models.spec import AUTO, BUILTIN, ModelSpec, server_spec, spec_options, with_options


def parse_spec(text: str) -> ModelSpec:
    """A ModelSpec from its string; folders' config files are read here, nothing is loaded."""
    head, _, rest = text.strip().partition(";")
    options = spec_options(rest, text)
    kind, sep, target = head.partition(":")
    if not sep and head in BUILTIN:
        spec = BUILTIN[head]
    elif head == AUTO:
        raise UsageError(f"model {AUTO!r} chooses a new index's model from its documents; here name one (see kbcli models)")
    elif kind == "local" and target:
        spec = folder_spec(Path(target).expanduser())
    elif kind in ("openai", "ollama") and target:
        spec = server_spec(kind, target)
    else:
        choices = ", ".join(BUILTIN) + ", local:DIR, openai:MODEL@URL, ollama:MODEL[@URL]"
        raise UsageError(f"unknown model {text!r}: choose {choices} (see kbcli models)")
    return with_options(spec, options) if options else spec
