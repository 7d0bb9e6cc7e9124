"""A hit's best-matching sentences within a budget: one function for every surface.

`snippet(text, query, max_chars=...)` keeps the sentences that hold the most query words, in
reading order, marks every cut with "…", and reports the query words found (to highlight). Pure:
no I/O, no state; MCP and the HTTP API use it for `max_chars`, the terminal for its few lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kbcli.keywords import has_cjk, query_terms

ELLIPSIS = "…"
# A sentence ends at . ! ? (and their CJK forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|(?<=[。！？；])|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_STEM = 4  # 'revenue' matches 'revenues', 'rev' matches nothing but 'rev'


@dataclass(frozen=True)
class Snippet:
    text: str  # the kept sentences in order, "…" where something was left out
    cut: bool  # whether anything was left out
    chars_cut: int  # characters of `text`'s source that were left out
    total_chars: int  # length of the whole source text
    terms: tuple[str, ...]  # query words that occur in the kept text (highlight these)

    def note(self) -> str | None:
        """A one-line note of what was cut, for a reader who may want the rest."""
        if not self.cut:
            return None
        return f"cut {self.chars_cut} of {self.total_chars} characters (marked …)"


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the text's sentences, blank ones dropped."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = max(start, match.end())
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _matches(term: str, word: str) -> bool:
    if word == term:
        return True
    if len(term) >= _MIN_STEM and len(word) >= _MIN_STEM:
        return word.startswith(term) or term.startswith(word)
    return False


def found_terms(text: str, terms: list[str]) -> list[str]:
    """The query terms that occur in `text` (whole words, a shared stem, or inside CJK text)."""
    words = {w.lower() for w in _WORD.findall(text)}
    lowered = text.lower()
    found = []
    for term in terms:
        if has_cjk(term):
            if term in lowered:
                found.append(term)
        elif any(_matches(term, word) for word in words):
            found.append(term)
    return found


def snippet(
    text: str, query: str, max_chars: int | None = None, *, max_lines: int | None = None, width: int = 100
) -> Snippet:
    """The best sentences of `text` for `query` within `max_chars` (or `max_lines` of `width`
    characters; the smaller wins). No budget, or a text that fits: the text unchanged."""
    budget = _budget(max_chars, max_lines, width)
    terms = query_terms(query)
    if budget is None or len(text) <= budget:
        return Snippet(text, False, 0, len(text), tuple(found_terms(text, terms)))
    spans = sentences(text)
    chosen = _choose(text, spans, terms, budget)
    if chosen:
        kept = _assemble(text, spans, chosen)
    else:  # even the best sentence is longer than the budget: a window around its first match
        kept = _window(text, best_sentence(text, spans, terms), terms, budget)
    kept_chars = sum(len(part) for part in kept.split(ELLIPSIS))
    return Snippet(kept, True, max(0, len(text) - kept_chars), len(text), tuple(found_terms(kept, terms)))


def _budget(max_chars: int | None, max_lines: int | None, width: int) -> int | None:
    limits = [n for n in (max_chars, max_lines * width if max_lines is not None else None) if n is not None]
    return max(1, min(limits)) if limits else None


def _choose(text: str, spans: list[tuple[int, int]], terms: list[str], budget: int) -> list[int]:
    """Indexes of the sentences to keep: most query words first (ties: earlier), while they fit.
    Empty when the best sentence alone does not fit (the caller then cuts a window of it)."""
    scores = [len(found_terms(text[a:b], terms)) for a, b in spans]
    order = sorted(range(len(spans)), key=lambda i: (-scores[i], i))
    chosen: list[int] = []
    used = -1  # n sentences need at most 3n-1 characters of ellipses and separators
    for i in order:
        if scores[i] == 0 and chosen:
            break  # sentences without a query word only fill in when nothing matched
        a, b = spans[i]
        cost = len(text[a:b].strip()) + 3  # room for a ' … ' separator
        if used + cost <= budget:
            chosen.append(i)
            used += cost
        elif not chosen:
            return []
    return sorted(chosen)


def best_sentence(text: str, spans: list[tuple[int, int]], terms: list[str]) -> tuple[int, int]:
    scores = [len(found_terms(text[a:b], terms)) for a, b in spans]
    return spans[max(range(len(spans)), key=lambda i: (scores[i], -i))] if spans else (0, len(text))


def _assemble(text: str, spans: list[tuple[int, int]], chosen: list[int]) -> str:
    parts: list[str] = [ELLIPSIS] if chosen[0] > 0 else []
    for previous, i in zip([None, *chosen], chosen):
        if previous is not None:
            parts.append(" " if i == previous + 1 else f" {ELLIPSIS} ")
        a, b = spans[i]
        parts.append(text[a:b].strip())
    if chosen[-1] < len(spans) - 1:
        parts.append(ELLIPSIS)
    return "".join(parts)


def _window(text: str, sentence: tuple[int, int], terms: list[str], budget: int) -> str:
    """`budget` characters around the first query word of `sentence` (else its start), cut between words."""
    lowered = text.lower()
    hits = [found for t in terms if 0 <= (found := lowered.find(t, *sentence)) < sentence[1]]
    centre = min(hits) if hits else sentence[0]
    room = max(1, budget - 2)
    start = max(0, min(centre - room // 3, len(text) - room))
    end = min(len(text), start + room)
    if start > 0:
        space = text.find(" ", start, start + 20)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(start + 1, end - 20), end)
        end = space if space > start else end
    body = text[start:end].strip()
    return (ELLIPSIS if start > 0 else "") + body + (ELLIPSIS if end < len(text) else "")



def trim(text: str, max_chars: int, keep: str = "head") -> Snippet:
    """`text` cut to `max_chars` at a sentence end: its beginning (`keep="head"`) or its end
    (`keep="tail"`), with "…" where it was cut. For passages read in order, not by query."""
    if keep not in ("head", "tail"):
        raise ValueError(f"keep must be 'head' or 'tail', not {keep!r}")
    if len(text) <= max_chars:
        return Snippet(text, False, 0, len(text), ())
    spans = sentences(text)
    order = spans if keep == "head" else spans[::-1]
    chosen: list[tuple[int, int]] = []
    used = 1  # the ellipsis
    for a, b in order:
        if used + (b - a) + 1 > max_chars:
            break
        chosen.append((a, b))
        used += (b - a) + 1
    if chosen:
        first, last = min(a for a, _ in chosen), max(b for _, b in chosen)
        body = text[first:last].strip()
    else:  # the first sentence alone is too long: cut it between words
        body = _cut_words(text, max(0, max_chars - 1), keep)
    kept = body + ELLIPSIS if keep == "head" else ELLIPSIS + body
    return Snippet(kept, True, len(text) - len(body), len(text), ())


def _cut_words(text: str, size: int, keep: str) -> str:
    if keep == "head":
        part = text[:size]
        space = part.rfind(" ")
        return (part[:space] if space > size // 2 else part).rstrip()
    part = text[len(text) - size:] if size else ""
    space = part.find(" ")
    return (part[space + 1:] if 0 <= space < size // 2 else part).lstrip()
