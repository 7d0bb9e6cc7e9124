"""Open searchers per index, one per concurrent request, sharing one loaded model.

A `Searcher` holds one SQLite connection and its read transaction, so two threads must never use
the same one at once: each request borrows a searcher from its index's pool and gives it back.
New commits are followed by each reader itself (IndexReader.snapshot); an index removed and built
again under the same name is a new database file (or manifest): its pool is retired and rebuilt.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from kbcli.errors import KbError
from kbcli.session import open_searcher
from kbcli.store.location import identity

if TYPE_CHECKING:
    from kbcli.kb import KnowledgeBase
    from kbcli.search import Searcher


class IndexUnreadable(KbError):
    """Reading an index failed in SQLite or FAISS (damaged, or replaced mid-read)."""


class _IndexPool:
    def __init__(self, name: str, identity: tuple[int, int, int]) -> None:
        self.name = name
        self.identity = identity
        self.free: list["Searcher"] = []
        self.retired = False


class SearcherPools:
    """Searchers by index name; thread-safe. Their settings (reranker, thesaurus) are `kb`'s."""

    def __init__(self, kb: "KnowledgeBase") -> None:
        self.kb = kb
        self._pools: dict[str, _IndexPool] = {}
        self._lock = threading.Lock()
        self._donor: "Searcher | None" = None  # the model (and reranker) every new searcher reuses
        self._opening = threading.Lock()  # one model load at a time, not one per thread

    @contextmanager
    def borrow(self, name: str) -> Iterator["Searcher"]:
        """A searcher of `name` for this thread alone; reopened first if the index was rebuilt."""
        pool = self._current(name)
        searcher = self._take(pool)
        try:
            yield searcher
        except KbError:
            self._give(pool, searcher)
            raise
        except Exception as err:
            searcher.close()  # a failed read may leave it mid-transaction: never reuse it
            self.retire(name)
            raise IndexUnreadable(f"index {name!r} cannot be read: {err}") from err
        except BaseException:
            searcher.close()
            raise
        else:
            self._give(pool, searcher)

    def retire(self, name: str) -> None:
        """Drop `name`'s searchers (after an unexpected failure): the next request opens afresh."""
        free: list["Searcher"] = []
        with self._lock:
            pool = self._pools.pop(name, None)
            if pool is not None:
                pool.retired = True
                free, pool.free = pool.free, []
        for searcher in free:
            searcher.close()  # its model stays loaded: the donor's embedder is shared, not owned

    def close(self) -> None:
        for name in list(self._pools):
            self.retire(name)

    def _current(self, name: str) -> _IndexPool:
        now = identity(self.kb.require(name))  # checks the name, says which indexes there are
        with self._lock:
            pool = self._pools.get(name)
            if pool is not None and pool.identity == now:
                return pool
        self.retire(name)
        with self._lock:
            pool = self._pools.get(name)
            if pool is None or pool.identity != now:
                pool = self._pools[name] = _IndexPool(name, now)
            return pool

    def _take(self, pool: _IndexPool) -> "Searcher":
        with self._lock:
            if pool.free:
                return pool.free.pop()
        with self._opening:
            try:
                folder = self.kb.require(pool.name)
                searcher = open_searcher(self.kb.settings, folder, pool.name, spin=False, reuse=self._donor)
            except KbError:
                raise
            except Exception as err:  # a damaged database or vector file
                raise IndexUnreadable(f"index {pool.name!r} cannot be read: {err}") from err
            if self._donor is None:
                self._donor = searcher
        return searcher

    def _give(self, pool: _IndexPool, searcher: "Searcher") -> None:
        with self._lock:
            if not pool.retired:
                pool.free.append(searcher)
                return
        searcher.close()
