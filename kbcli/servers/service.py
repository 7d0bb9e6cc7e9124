"""The search core that the MCP server and the HTTP API share: plain dicts in, plain dicts out.

`IndexService` holds the loaded model and open searchers (kbcli.servers.pool), checks and bounds
every request, and answers search / passage / page / document / info. It is thread-safe and never
prints; its errors are KbErrors whose messages are the CLI's one-liners. All text comes from the
index's stored chunks, never from the file system: nothing outside the indexed files is readable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import quote, unquote

from kbcli.errors import IndexNotFound, KbError, UsageError
from kbcli.search import QueryResult, SearchSettings, overlap
from kbcli.search.results import matches_glob
from kbcli.servers.pool import IndexUnreadable, SearcherPools
from kbcli.shapes import result_json as query_json
from kbcli.snippets import Snippet, snippet, trim

if TYPE_CHECKING:
    from kbcli.kb import KnowledgeBase
    from kbcli.store import ChunkRow, FileRecord, IndexReader

SCHEME = "kbcli"


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; sized so that an answer fits in a model's context."""

    max_top_k: int = 50
    max_query_chars: int = 2000
    default_max_chars: int = 8000  # ~2,000 tokens: room for a model's own reasoning besides
    max_chars: int = 100_000
    min_chars_per_hit: int = 200  # below this a hit says nothing: fewer hits are returned instead
    max_neighbours: int = 10
    max_fetch: int = 2000  # with a file filter, hits asked of the searcher before filtering


def uri_for(index: str, path: str, page: int | None = None) -> str:
    """kbcli://INDEX/PATH[#page=N]: PATH is the file's absolute path without its leading '/'."""
    uri = f"{SCHEME}://{index}/{quote(path.lstrip('/'))}"
    return f"{uri}#page={page}" if page else uri


def parse_uri(uri: str) -> tuple[str, str, int | None]:
    """(index, absolute path, page or None) of a kbcli:// address."""
    prefix = f"{SCHEME}://"
    if not uri.startswith(prefix) or "/" not in uri[len(prefix):]:
        raise UsageError(f"not a kbcli resource: {uri!r} (expected {prefix}INDEX/PATH[#page=N])")
    rest, _, fragment = uri[len(prefix):].partition("#")
    index, _, path = rest.partition("/")
    page = None
    if fragment:
        key, _, value = fragment.partition("=")
        if key != "page" or not value.isdigit():
            raise UsageError(f"unknown fragment #{fragment} in {uri!r}: use #page=N")
        page = int(value)
    return index, "/" + unquote(path), page


class IndexService:
    """The indexes `names` (all, when empty) of one kbcli home, for many concurrent requests."""

    def __init__(self, kb: "KnowledgeBase", names: Sequence[str] = (), *, limits: Limits = Limits()) -> None:
        self.kb = kb
        self.limits = limits
        self.only = tuple(names)
        for name in self.only:
            kb.reader(name).close()  # fail at start, with the CLI's message, on a bad name
        self.pools = SearcherPools(kb)

    def close(self) -> None:
        self.pools.close()

    def warm_up(self) -> None:
        """Load the model and open the first index that opens, now rather than on the first
        request. One that does not open is left to answer its requests with the error."""
        import faiss

        faiss.omp_set_num_threads(1)  # one thread per query: requests run side by side instead
        for name in self.names():
            try:
                with self.pools.borrow(name) as searcher:
                    searcher.search("warm up", 1)
                return
            except KbError:
                continue

    # -- which indexes --
    def names(self) -> list[str]:
        return [n for n in self.kb.names() if not self.only or n in self.only]

    def resolve(self, index: str | None) -> str:
        """The index a request names; it may be left out when only one is served."""
        served = self.names()
        if not index:
            if len(served) == 1:
                return served[0]
            raise UsageError(f"name an index: {', '.join(served) or 'none is indexed yet'}")
        if self.only and index not in self.only:
            raise IndexNotFound(f"index {index!r} is not served here (serving: {', '.join(self.only)})")
        return index

    def list_indexes(self) -> list[dict[str, Any]]:
        rows = []
        for name in self.names():
            try:
                rows.append(self.info(name, files=False))
            except KbError as err:
                rows.append({"name": name, "error": str(err)})
        return rows

    def info(self, index: str | None, files: bool = True) -> dict[str, Any]:
        name = self.resolve(index)
        with self.pools.borrow(name) as searcher:
            reader = searcher.reader
            data: dict[str, Any] = {"name": name, "model": reader.manifest.fingerprint, **reader.stats()}
            data["sources"] = [s.path for s in reader.sources()]
            if files:
                data["files_list"] = [
                    {"path": f.path, "uri": uri_for(name, f.path), "pages": f.pages, "chunks": f.chunks,
                     "title": f.title} for f in reader.files("ok")
                ]
        return data

    # -- searching --
    def search(
        self, query: str, index: str | None = None, top_k: int = 5, mode: str | None = None,
        file_glob: str | None = None,
    ) -> QueryResult:
        """The hits `kbcli query --json` gives for the same question, optionally only from files
        matching `file_glob` (the shell's :filter rule)."""
        name = self.resolve(index)
        query = self._check_query(query)
        top_k = _bounded("top_k", top_k, 1, self.limits.max_top_k)
        settings = replace(self.kb.settings.search, mode=mode) if mode else self.kb.settings.search
        if not file_glob:
            return self._search(name, query, top_k, settings)
        fetch = min(max(top_k * 10, 50), self.limits.max_fetch)
        while True:
            result = self._search(name, query, fetch, settings)
            kept = [hit for hit in result.hits if matches_glob(hit, file_glob)]
            if len(kept) >= top_k or len(result.hits) < fetch or fetch >= self.limits.max_fetch:
                break
            fetch = min(fetch * 4, self.limits.max_fetch)
        result.hits = kept[:top_k]
        for rank, hit in enumerate(result.hits, start=1):
            hit.rank = rank
        return result

    def _search(self, name: str, query: str, top_k: int, settings: SearchSettings) -> QueryResult:
        try:
            with self.pools.borrow(name) as searcher:
                return searcher.search(query, top_k, settings)
        except IndexUnreadable:  # a commit or rebuild underneath: open afresh and try once more
            with self.pools.borrow(name) as searcher:
                return searcher.search(query, top_k, settings)

    def _check_query(self, query: str) -> str:
        if not query or not query.strip():
            raise UsageError("the question is empty")
        if len(query) > self.limits.max_query_chars:
            raise UsageError(f"the question is {len(query)} characters long: at most {self.limits.max_query_chars}")
        return query.strip()

    def budget(self, max_chars: int | None) -> int:
        if max_chars is None:
            return self.limits.default_max_chars
        return _bounded("max_chars", max_chars, self.limits.min_chars_per_hit, self.limits.max_chars)

    def result_json(self, result: QueryResult, max_chars: int | None = None, full_text: bool = False) -> dict[str, Any]:
        """`kbcli query --json`'s object, each hit with its `uri`, `snippet` (its best sentences
        within an equal share of `max_chars`) and `highlight` words. `full_text=False` (MCP): the
        hit's `text` is the snippet, so the whole answer stays within the budget."""
        budget = self.budget(max_chars)
        data = query_json(result)
        hits = data["hits"]
        room = max(1, budget // self.limits.min_chars_per_hit)
        if len(hits) > room:
            data["omitted"] = f"{len(hits) - room} more hits left out to stay within max_chars={budget}"
            data["hits"] = hits = hits[:room]
        share = budget // max(1, len(hits))
        for hit, shown in zip(hits, result.hits):
            cut = snippet(shown.text, result.query, share)
            hit["uri"] = uri_for(result.index, shown.file, shown.page)
            hit["snippet"] = cut.text
            hit["highlight"] = list(cut.terms)
            hit["cut"] = cut.note()
            if not full_text:
                hit["text"] = cut.text
                del hit["snippet"]
        return data

    # -- reading stored text --
    def passage(self, chunk_id: int, index: str | None = None, neighbours: int = 1, max_chars: int | None = None) -> dict[str, Any]:
        """A chunk with `neighbours` chunks either side, stitched; the chunk itself is kept
        first, the context around it is cut at sentence ends to fit `max_chars`."""
        name = self.resolve(index)
        span = _bounded("neighbours", neighbours, 0, self.limits.max_neighbours)
        budget = self.budget(max_chars)
        with self.pools.borrow(name) as searcher:
            with searcher.reader.snapshot() as snap:
                row = snap.rows([chunk_id]).get(chunk_id)
                if row is None:
                    raise UsageError(f"no chunk {chunk_id} in index {name!r} (ids change when a file is indexed again: search again)")
                ordered = snap.file_chunks(row.file_id, row.seq - span, row.seq + span)
        before = _stitched([r.text for r in ordered if r.seq < row.seq])
        after = _stitched([r.text for r in ordered if r.seq > row.seq])
        before = before[: len(before) - overlap(before, row.text)] if before else before
        after = after[overlap(row.text, after):] if after else after
        centre = trim(row.text, budget, keep="head")
        rest = max(0, budget - len(centre.text))
        head = trim(before, rest // 2, keep="tail") if before and rest // 2 else None
        tail = trim(after, rest - (len(head.text) if head else 0), keep="head") if after and rest else None
        pieces = [p for p in (head, centre, tail) if p is not None and p.text]
        return {
            "index": name, "chunk_id": chunk_id, **_place(name, row),
            "pages": sorted({r.page for r in ordered if r.page is not None}),
            "before": head.text if head else "", "text": centre.text, "after": tail.text if tail else "",
            "cut": _cut_note(pieces, [before, row.text, after]),
        }

    def page(self, file: str, page: int, index: str | None = None, max_chars: int | None = None) -> dict[str, Any]:
        """A PDF page's stored text, by the file (path, path below its source, or file name)."""
        name = self.resolve(index)
        budget = self.budget(max_chars)
        with self.pools.borrow(name) as searcher:
            record = _find_file(searcher.reader.files("ok"), file, name)
            if record.pages <= 0:
                raise UsageError(f"{file} has no pages (not a PDF): use get_passage with a chunk_id from search")
            if not 1 <= page <= record.pages:
                raise UsageError(f"page {page} is out of range: {file} has {record.pages} pages")
            rows = _page_rows(searcher.reader, record, page)
        if not rows:
            raise UsageError(f"page {page} of {file} holds no text in the index (blank, or an image without OCR)")
        text = trim(_stitched([r.text for r in rows]), budget, keep="head")
        return {"index": name, **_place(name, rows[0]), "pages": record.pages, "text": text.text, "cut": text.note(),
                "chunk_ids": [r.id for r in rows]}

    def document(self, uri: str, max_chars: int | None = None) -> str:
        """A resource's text: the page it names, else the file's beginning (never a whole file)."""
        index, path, page = parse_uri(uri)
        if page is not None:
            found = self.page(path, page, index, max_chars)
            return found["text"] + (f"\n\n[{found['cut']}]" if found["cut"] else "")
        name = self.resolve(index)
        budget = self.budget(max_chars)
        with self.pools.borrow(name) as searcher:
            record = _find_file(searcher.reader.files("ok"), path, name)
            rows = _head_rows(searcher.reader, record, budget + 1)
        text = trim(_stitched([r.text for r in rows]), budget, keep="head")
        more = text.cut or len(rows) < record.chunks
        hint = f"\n\n[the beginning only: read pages as {uri}#page=N, or use search]" if more else ""
        return text.text + hint

    def documents(self) -> list[dict[str, Any]]:
        """Every indexed file of the served indexes, as resources: uri, name, title, pages."""
        found: list[dict[str, Any]] = []
        for name in self.names():
            try:
                records = self._files(name)
            except KbError:
                continue  # a damaged index lists nothing; its requests answer with the error
            for record in records:
                found.append({"uri": uri_for(name, record.path), "name": f"{name}: {Path(record.path).name}",
                              "title": record.title, "pages": record.pages, "path": record.path})
        return found

    def _files(self, name: str) -> list["FileRecord"]:
        with self.pools.borrow(name) as searcher:
            return searcher.reader.files("ok")


def _bounded(field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{field} must be a whole number from {low} to {high} (got {value!r})")
    return value


def _stitched(texts: list[str]) -> str:
    joined = ""
    for text in texts:
        joined = joined + text[overlap(joined, text):] if joined else text
    return joined


def _place(index: str, row: "ChunkRow") -> dict[str, Any]:
    return {"file": row.path, "page": row.page, "page_label": row.page_label, "heading": row.heading,
            "uri": uri_for(index, row.path, row.page)}


def _cut_note(pieces: list[Snippet], wholes: list[str]) -> str | None:
    cut = sum(len(w) for w in wholes) - sum(p.total_chars - p.chars_cut for p in pieces)
    return f"cut {cut} characters of context to fit max_chars (marked …)" if cut > 0 else None


def _find_file(records: list["FileRecord"], wanted: str, index: str) -> "FileRecord":
    """The indexed file `wanted` names: its path, its path below its source, or its file name."""
    wanted = wanted.strip()
    exact = [r for r in records if r.path == wanted]
    if exact:
        return exact[0]
    below = [r for r in records if _relative(r) == wanted.lstrip("./")]
    named = below or [r for r in records if Path(r.path).name == wanted]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise UsageError(f"{wanted!r} names {len(named)} files in index {index!r}: give the full path")
    raise UsageError(f"no file {wanted!r} in index {index!r} (give a file as search results name it)")


def _relative(record: "FileRecord") -> str:
    try:
        return Path(record.path).relative_to(record.source).as_posix()
    except ValueError:
        return record.path


def _page_rows(reader: "IndexReader", record: "FileRecord", page: int) -> list["ChunkRow"]:
    with reader.snapshot() as snap:
        return snap.page_chunks(record.id, page)


def _head_rows(reader: "IndexReader", record: "FileRecord", stop_chars: int) -> list["ChunkRow"]:
    """A file's first stored chunks in order, read a window at a time, until `stop_chars`."""
    found: list["ChunkRow"] = []
    size, start, window = 0, 0, 16
    while size < stop_chars:
        with reader.snapshot() as snap:
            rows = snap.file_chunks(record.id, start, start + window - 1)
        if not rows:
            break
        found += rows
        size += sum(len(row.text) for row in rows)
        start += window
    return found
