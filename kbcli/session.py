"""An index kept open for many questions: the query command's batch, the shell's session.

`IndexSession` owns what a long-lived reader needs: the loaded model (kept when `switch` opens
another index embedded with the same one), reopening an index that was removed and built again
under the same name, and the passages around a hit. New commits need nothing: the store's reader
follows them by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from kbcli.errors import IndexNotFound, UsageError
from kbcli.facts import IndexStats
from kbcli.search import MODES, Hit, QueryResult, Searcher, overlap
from kbcli.search.rerank import Reranker
from kbcli.settings import SearchSettings, Settings
from kbcli.store.location import Location, identity, open_reader
from kbcli.thesaurus import load_configured

if TYPE_CHECKING:
    from kbcli.models import Embedder

MAX_CONTEXT_CHUNKS = 10


@dataclass(frozen=True)
class Around:
    """A hit's neighbouring text, its own overlap with them removed."""

    before: str
    after: str


def open_searcher(
    settings: Settings, location: Location, name: str, *, load_model: bool = True, spin: bool = True,
    reuse: Searcher | None = None,
) -> Searcher:
    """A Searcher over the index at `location`: its model (the one of `reuse` when it fits), the
    reranker and thesaurus the search settings name. `spin=False`: ONNX threads sleep between
    queries (see Embedder)."""
    from kbcli.models import OnDemand, spec_of

    reader = open_reader(location, ef_search=settings.search.ef_search)
    try:
        spec = spec_of(reader.manifest)
        search = settings.search
        embedder = reuse.embedder if reuse is not None and reuse.embedder is not None and reuse.embedder.spec.spec == spec.spec else None
        if embedder is None and load_model:
            embedder = OnDemand(reader.manifest, settings.paths.cache, spin=spin)
        reranker = reuse.reranker if reuse is not None else None
        if reranker is None and search.rerank_model is not None:
            reranker = Reranker(search.rerank_model)
        return Searcher(name, reader, embedder, reranker, load_configured(search.thesaurus), search)
    except BaseException:
        reader.close()
        raise


class IndexSession:
    """`locate(name)`: where an index is, IndexNotFound if there is none (KnowledgeBase.require)."""

    def __init__(
        self, settings: Settings, locate: Callable[[str], Location], name: str, load_model: bool = True, interactive: bool = False
    ) -> None:
        self.settings = settings
        self._locate = locate
        self.modes = MODES
        self._load_model = load_model
        self._interactive = interactive
        self._searcher: Searcher | None = None
        self._database: tuple[int, int, int] = (0, 0, 0)  # store.location.identity: a rebuild changes it
        self.name = name
        if interactive:
            _one_search_thread()
        self.switch(name)

    @property
    def embedder(self) -> "Embedder | None":
        return self._searcher.embedder if self._searcher is not None else None

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def switch(self, name: str) -> None:
        """Open `name` instead, keeping the loaded model when that index uses the same one."""
        folder = self._locate(name)
        searcher = open_searcher(
            self.settings, folder, name, load_model=self._load_model, spin=not self._interactive, reuse=self._searcher
        )
        try:
            database = identity(folder)
            if self._interactive:
                searcher.search("warm up", 1, self.settings.search)  # loads the vectors, runs the model once
        except BaseException:
            searcher.close()
            raise
        self.close()
        self._searcher, self.name, self._database = searcher, name, database

    def reopen(self) -> None:
        """A fresh reader (after an interrupted search, so no half-finished read is left)."""
        self.switch(self.name)

    def search(self, question: str, top_k: int = 5, settings: SearchSettings | None = None) -> QueryResult:
        self._follow()
        assert self._searcher is not None
        return self._searcher.search(question, top_k, settings or self.settings.search)

    def _follow(self) -> None:
        """An index removed and built again under the same name is a new database: reopen."""
        try:
            reader = self._searcher.reader if self._searcher is not None else None
            # A database index is asked on the reader's own connection, not found anew each question.
            location = getattr(reader, "location", None) or self._locate(self.name)
            now = identity(location, reader)
        except IndexNotFound:
            raise IndexNotFound(f"index {self.name!r} was removed") from None
        if now != self._database:
            self.switch(self.name)

    def stats(self) -> IndexStats:
        assert self._searcher is not None
        return IndexStats(**self._searcher.reader.stats())

    def around(self, hit: Hit, span: int = 1) -> Around:
        """The text of up to `span` chunks on each side of `hit`; a UsageError when the file
        changed in the index since the hit was found."""
        assert self._searcher is not None
        first, last = hit.seqs[0], hit.seqs[-1]
        before_seqs = list(range(max(0, first - span), first))
        after_seqs = list(range(last + 1, last + 1 + span))
        texts = self._searcher.reader.neighbours(hit.file_id, [*before_seqs, *hit.seqs, *after_seqs])
        if len(hit.seqs) == 1 and texts.get(first) != hit.text:
            raise UsageError(f"{hit.relative} changed in the index since this answer: ask again")
        before = _join([texts[s] for s in before_seqs if s in texts])
        after = _join([texts[s] for s in after_seqs if s in texts])
        return Around(_trim_tail_overlap(before, hit.text), _trim_head_overlap(hit.text, after))


def _one_search_thread() -> None:
    """One query at a time: FAISS's OpenMP threads cost more in wake-up and contention with the
    model's threads than they save. With `Embedder(spin=False)`, on 2 cores, p50 went from 44 to
    10 ms on a busy machine and from 9-16 to 8 ms on a quiet one (financebench, 9k chunks)."""
    import faiss

    faiss.omp_set_num_threads(1)


def _join(texts: list[str]) -> str:
    joined = ""
    for text in texts:
        joined = joined + text[overlap(joined, text):] if joined else text
    return joined


def _trim_tail_overlap(before: str, text: str) -> str:
    """`before` without its end where the hit's own text starts again."""
    size = overlap(before, text)
    return before[:-size].rstrip() if size else before


def _trim_head_overlap(text: str, after: str) -> str:
    return after[overlap(text, after):].lstrip()
