"""The FAISS side of the store: exact (flat) or approximate (IVF) inner-product search by chunk id.

`flat` scans every vector: exact, and fast enough up to a few hundred thousand chunks. `ivf`
clusters vectors into lists and scans only the `nprobe` nearest lists (given per search, from
SearchSettings.nprobe): approximate, for large indexes. `auto` (the default) stays flat until
AUTO_IVF_AT vectors, then switches at a commit.
Both support real deletion by id, so removed chunks never come back.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from kbcli.settings import SearchSettings

KINDS = ("auto", "flat", "ivf")
AUTO_IVF_AT = 200_000
MIN_IVF_TRAIN = 20_000  # below this an IVF index is not worth training: stay flat
TRAIN_SAMPLE = 100_000
DEFAULT_NPROBE = SearchSettings.nprobe


class VectorIndex:
    def __init__(self, index: faiss.Index, dimension: int) -> None:
        self.index = index
        self.dimension = dimension

    @classmethod
    def empty(cls, dimension: int) -> "VectorIndex":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dimension)), dimension)

    @classmethod
    def load(cls, path: Path, dimension: int, mmap: bool) -> "VectorIndex":
        if not path.exists():
            return cls.empty(dimension)
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError:  # an index type that cannot be memory-mapped
            index = faiss.read_index(str(path))
        return cls(index, dimension)

    def _ivf(self):
        try:
            return faiss.extract_index_ivf(self.index)
        except RuntimeError:
            return None

    @property
    def kind(self) -> str:
        return "ivf" if self._ivf() is not None else "flat"

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: list[int]) -> None:
        self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, vector: np.ndarray, k: int, nprobe: int = DEFAULT_NPROBE) -> list[tuple[int, float]]:
        """(id, inner product) of the k nearest; an IVF index scans the `nprobe` nearest lists."""
        if self.ntotal == 0 or k <= 0:
            return []
        ivf = self._ivf()
        if ivf is not None:
            ivf.nprobe = min(nprobe, ivf.nlist)
        scores, ids = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these chunk ids (those it holds). An IVF index first builds a
        hash map from id to list position (once per load; without it FAISS cannot look ids up)."""
        ivf = self._ivf()
        if ivf is not None and ivf.direct_map.type != faiss.DirectMap.Hashtable:
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        found: dict[int, np.ndarray] = {}
        for chunk_id in ids:
            try:
                found[chunk_id] = self.index.reconstruct(int(chunk_id))
            except RuntimeError:  # not in the index (a concurrent refresh removed it)
                continue
        return found

    def ids(self) -> set[int]:
        ivf = self._ivf()
        if ivf is None:
            return set(faiss.vector_to_array(self.index.id_map).tolist()) if self.ntotal else set()
        lists = ivf.invlists
        found: set[int] = set()
        for list_no in range(ivf.nlist):
            size = lists.list_size(list_no)
            if size:
                found.update(faiss.rev_swig_ptr(lists.get_ids(list_no), size).tolist())
        return found

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        vectors = self.index.index.reconstruct_n(0, self.ntotal)
        return vectors, ids

    def settle(self, kind: str) -> None:
        """Before a commit: switch a flat index to IVF when `kind` asks for it and it is big enough."""
        if self.kind == "ivf" or kind == "flat":
            return
        threshold = AUTO_IVF_AT if kind == "auto" else MIN_IVF_TRAIN
        if self.ntotal < threshold:
            return
        vectors, ids = self._all_vectors()
        nlist = int(min(65536, max(64, 4 * math.sqrt(len(ids)))))
        sample = vectors[np.random.default_rng(0).permutation(len(ids))[: max(TRAIN_SAMPLE, 40 * nlist)]]
        quantizer = faiss.IndexFlatIP(self.dimension)
        ivf = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(sample)
        ivf.add_with_ids(vectors, ids)
        self.index = ivf

    def save(self, path: Path) -> None:
        faiss.write_index(self.index, str(path))
