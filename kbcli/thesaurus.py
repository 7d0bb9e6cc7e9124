"""Query expansion: a question that names a thing in one way is also searched in the others.

Filings say "statements of operations" where analysts say "income statement", and "purchases of
property, plant and equipment" where they say "capex"; a small embedding model and BM25 both miss
such pairs. A thesaurus (text files, see kbcli/thesauri/) adds the other names to the question
before it is searched, on both the vector and the keyword side. A Chinese question about English
filings gets the English names (资本支出 => capital expenditure, 亚马逊 => Amazon), and those are
expanded once more by the English entries. Entries after a `[names]` line name companies (or
other things files are named for): what they add also counts for the file-name boost.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kbcli.errors import UsageError
from kbcli.keywords import fold, has_cjk

# The built-in thesaurus: every .txt file in this folder (finance terms in English and Chinese,
# company names in Chinese). A folder named in KBCLI_THESAURUS is read the same way.
BUILT_IN = Path(__file__).with_name("thesauri")
_SEPARATORS = re.compile(r"[\s\-_/,.']+")
_CJK = r"\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
# A Latin word's edges: not next to another letter or digit (or '&': 'r&d'), but Chinese text
# writes English words with no space around them ('3M的PP&E净额'), so a CJK neighbour is an edge.
_BEFORE = rf"(?<![^\W{_CJK}])(?<!&)"
_AFTER = rf"(?![^\W{_CJK}])(?!&)"


def normalize(text: str) -> str:
    """Folded (full-width, traditional Chinese) and lower case, with hyphens, commas and apostrophes
    as spaces: 'Capital-intensive' -> 'capital intensive', '資本支出' -> '资本支出'."""
    return _spaced(fold(text))


def _spaced(folded: str) -> str:
    return _SEPARATORS.sub(" ", folded.lower()).strip()


@dataclass(frozen=True)
class Entry:
    triggers: tuple[str, ...]  # normalized phrases that call for the expansion
    adds: tuple[str, ...]  # phrases added to the question (as written in the file)
    names: bool = False  # from a [names] section: the adds also name files (the file-name boost)


def _pattern(phrase: str) -> re.Pattern[str]:
    """A whole-phrase match that also takes a plural ending: 'balance sheet' finds 'balance sheets'.
    Chinese has no spaces and no plurals: its characters match anywhere, spaces between them or not."""
    if has_cjk(phrase):
        body = r"\s*".join(re.escape(ch) for ch in phrase if not ch.isspace())
        before = _BEFORE if phrase[0].isascii() else ""
        after = _AFTER if phrase[-1].isascii() else ""
        return re.compile(before + body + after)
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(rf"{_BEFORE}{body}(?:s|es)?{_AFTER}")


class Thesaurus:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        # Compiled on first need: the edge classes make each pattern cost milliseconds, and a
        # question calls for few of the thousand-odd phrases (compiling all took 6 s per start).
        self._patterns: dict[str, re.Pattern[str]] = {}

    @classmethod
    def parse(cls, text: str, origin: str = "thesaurus") -> "Thesaurus":
        entries = []
        names = False
        # Folded once for the whole file: phrase by phrase, OpenCC took most of a cold query's 60 ms here.
        for number, line in enumerate(fold(text).splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                names = line[1:-1].strip().lower() == "names"  # [names] ... [terms]
                continue
            left, arrow, right = line.partition("=>")
            triggers = [p.strip() for p in left.split(",") if _spaced(p)]
            adds = [p.strip() for p in right.split(",") if _spaced(p)] if arrow else triggers
            if not triggers or not adds:
                raise UsageError(f"{origin}:{number}: expected 'a, b' or 'a, b => x, y', got {line!r}")
            entries.append(Entry(tuple(_spaced(t) for t in triggers), tuple(adds), names))
        return cls(entries)

    @classmethod
    def load(cls, paths: list[Path]) -> "Thesaurus":
        entries: list[Entry] = []
        for path in paths:
            files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
            for file in files:
                try:
                    text = file.read_text(encoding="utf-8")
                except OSError as err:
                    raise UsageError(f"cannot read thesaurus {file}: {err.strerror}") from err
                entries.extend(cls.parse(text, str(file)).entries)
        return cls(entries)

    def _said(self, phrase: str, said: str) -> bool:
        # The phrase's first word (Chinese: character) must occur as it is: a cheap test first.
        lead = phrase[0] if has_cjk(phrase[:1]) else phrase.split(" ", 1)[0]
        if lead not in said:
            return False
        pattern = self._patterns.get(phrase)
        if pattern is None:
            pattern = self._patterns[phrase] = _pattern(phrase)
        return pattern.search(said) is not None

    def _matched(self, said: str) -> list[tuple[Entry, bool]]:
        """The entries a (normalized) text calls for, each with whether a Chinese trigger did."""
        found = []
        for entry in self.entries:
            hits = [t for t in entry.triggers if self._said(t, said)]
            if hits:
                found.append((entry, any(has_cjk(t) for t in hits)))
        return found

    def expand(self, question: str) -> list[str]:
        """The phrases to search for besides the question's own words, in thesaurus order.

        What a Chinese trigger adds (资本支出 => capital expenditure) is looked up once more, so it
        gets the other English names too (purchases of property, plant and equipment, ...)."""
        said = normalize(question)
        matched = self._matched(said)
        bridged = " | ".join(normalize(a) for entry, cjk in matched if cjk for a in entry.adds if not has_cjk(a))
        if bridged:
            seen = {id(entry) for entry, _ in matched}
            matched += [(e, False) for e, _ in self._matched(bridged) if id(e) not in seen]
        added: dict[str, None] = {}
        for entry, _ in matched:
            for phrase in entry.adds:
                if not self._said(normalize(phrase), said):
                    added.setdefault(phrase, None)
        return list(added)

    def names(self, question: str) -> list[str]:
        """What the question's names stand for in [names] entries ('亚马逊' -> 'Amazon')."""
        said = normalize(question)
        return [a for e in self.entries if e.names and any(self._said(t, said) for t in e.triggers) for a in e.adds]


def named_query(query: str, thesaurus: Thesaurus | None) -> str:
    """The question plus the names its [names] entries give: what the file-name boost looks for."""
    return " ".join([query, *thesaurus.names(query)]) if thesaurus is not None else query


def thesaurus_paths(setting: str | None) -> list[Path]:
    """KBCLI_THESAURUS: unset = the built-in thesaurus (the folder kbcli/thesauri); 'off' = none;
    else files or folders joined by os.pathsep, with 'builtin' standing for the built-in one
    (e.g. 'builtin:~/legal.txt')."""
    if setting is None or not setting.strip():
        return [BUILT_IN]
    if setting.strip().lower() in ("off", "none", "0"):
        return []
    return [BUILT_IN if part == "builtin" else Path(part).expanduser() for part in setting.split(os.pathsep) if part]


@lru_cache(maxsize=8)
def load_configured(setting: str | None) -> Thesaurus:
    """The thesaurus a KBCLI_THESAURUS value (SearchSettings.thesaurus) asks for, loaded once per value."""
    return Thesaurus.load(thesaurus_paths(setting))
