"""What a search returns: hits with their citations and scores, and their JSON."""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Explanation:
    vector_rank: int | None
    vector_score: float | None
    keyword_rank: int | None
    keyword_score: float | None
    fused: float
    context_score: float | None = None  # cosine of the passage around the chunk (vector side)


@dataclass
class Hit:
    rank: int
    score: float
    file: str  # absolute path
    source: str  # the source root the file was found under
    page: int | None
    page_label: str | None
    heading: str | None
    text: str
    chunk_id: int
    title: str | None = None
    file_id: int = 0
    seqs: list[int] = field(default_factory=list)  # the chunks this hit covers (merged neighbours)
    explain: Explanation | None = None
    ocr: bool = False  # the passage was recognised from a scanned page (may hold OCR errors)
    rerank_score: float | None = None  # the cross-encoder's, when reranking is on

    @property
    def relative(self) -> str:
        path, root = Path(self.file), Path(self.source)
        if path == root:
            return path.name
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return self.file

    def to_json(self, explain: bool = False) -> dict:
        data = asdict(self)
        for key in ("source", "title", "file_id", "seqs", "explain"):
            data.pop(key)
        if self.rerank_score is None:
            data.pop("rerank_score")
        if explain and self.explain is not None:
            data["explain"] = asdict(self.explain)
        return data


@dataclass
class QueryResult:
    index: str
    query: str
    mode: str = "hybrid"
    hits: list[Hit] = field(default_factory=list)
    seconds: float = 0.0
    expanded: list[str] = field(default_factory=list)  # thesaurus phrases searched besides the query

    def to_json(self, explain: bool = False) -> dict:
        return {
            "index": self.index,
            "query": self.query,
            "mode": self.mode,
            "expanded": self.expanded,
            "hits": [h.to_json(explain) for h in self.hits],
            "seconds": self.seconds,  # search time in the process (no start-up, no printing)
        }


def matches_glob(hit: Hit, glob: str) -> bool:
    """The --include/--exclude rule of `kbcli index`, plus the absolute path (the shell's
    :filter, the servers' file_glob)."""
    return any(fnmatch.fnmatch(candidate, glob) for candidate in (hit.relative, hit.relative.rsplit("/", 1)[-1], hit.file))
