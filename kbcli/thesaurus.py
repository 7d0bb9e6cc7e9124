"""Query expansion: a question that names a thing in one way is also searched in the others.

Filings say "statements of operations" where analysts say "income statement", and "purchases of
property, plant and equipment" where they say "capex"; a small embedding model and BM25 both miss
such pairs. A thesaurus (a text file, see kbcli/thesauri/finance.txt) adds the other names to the
question before it is searched, on both the vector and the keyword side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kbcli.errors import UsageError

BUILT_IN = Path(__file__).with_name("thesauri") / "finance.txt"
_SEPARATORS = re.compile(r"[\s\-_/,.']+")


def normalize(text: str) -> str:
    """Lower case, with hyphens, commas and apostrophes as spaces: 'Capital-intensive' -> 'capital intensive'."""
    return _SEPARATORS.sub(" ", text.lower()).strip()


@dataclass(frozen=True)
class Entry:
    triggers: tuple[str, ...]  # normalized phrases that call for the expansion
    adds: tuple[str, ...]  # phrases added to the question (as written in the file)


def _pattern(phrase: str) -> re.Pattern[str]:
    """A whole-phrase match that also takes a plural ending: 'balance sheet' finds 'balance sheets'."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(rf"(?<![\w&]){body}(?:s|es)?(?![\w&])")


class Thesaurus:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        phrases = {t for e in entries for t in e.triggers} | {normalize(a) for e in entries for a in e.adds}
        self._patterns = {phrase: _pattern(phrase) for phrase in phrases}

    @classmethod
    def parse(cls, text: str, origin: str = "thesaurus") -> "Thesaurus":
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            left, arrow, right = line.partition("=>")
            triggers = [p.strip() for p in left.split(",") if normalize(p)]
            adds = [p.strip() for p in right.split(",") if normalize(p)] if arrow else triggers
            if not triggers or not adds:
                raise UsageError(f"{origin}:{number}: expected 'a, b' or 'a, b => x, y', got {line!r}")
            entries.append(Entry(tuple(normalize(t) for t in triggers), tuple(adds)))
        return cls(entries)

    @classmethod
    def load(cls, paths: list[Path]) -> "Thesaurus":
        entries: list[Entry] = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise UsageError(f"cannot read thesaurus {path}: {err.strerror}") from err
            entries.extend(cls.parse(text, str(path)).entries)
        return cls(entries)

    def expand(self, question: str) -> list[str]:
        """The phrases to search for besides the question's own words, in thesaurus order."""
        said = normalize(question)
        added: dict[str, None] = {}
        for entry in self.entries:
            if any(self._patterns[t].search(said) for t in entry.triggers):
                for phrase in entry.adds:
                    if not self._patterns[normalize(phrase)].search(said):
                        added.setdefault(phrase, None)
        return list(added)


def thesaurus_paths(setting: str | None) -> list[Path]:
    """KBCLI_THESAURUS: unset = the built-in finance thesaurus; 'off' = none; else files joined by
    os.pathsep, with 'builtin' standing for the built-in one (e.g. 'builtin:~/legal.txt')."""
    if setting is None or not setting.strip():
        return [BUILT_IN]
    if setting.strip().lower() in ("off", "none", "0"):
        return []
    return [BUILT_IN if part == "builtin" else Path(part).expanduser() for part in setting.split(os.pathsep) if part]


@lru_cache(maxsize=8)
def load_configured(setting: str | None) -> Thesaurus:
    """The thesaurus a KBCLI_THESAURUS value (SearchSettings.thesaurus) asks for, loaded once per value."""
    return Thesaurus.load(thesaurus_paths(setting))
