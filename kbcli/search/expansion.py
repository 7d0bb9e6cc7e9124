"""Query expansion: the thesaurus's other names for what the question names, searched with it."""

from __future__ import annotations

from kbcli.settings import SearchSettings
from kbcli.thesaurus import Thesaurus


def expand(query: str, thesaurus: Thesaurus | None, settings: SearchSettings) -> tuple[list[str], str]:
    """(the phrases added, the text both sides search: the question and those phrases)."""
    added = thesaurus.expand(query) if thesaurus is not None and settings.expand else []
    return added, " ".join([query, *added])
