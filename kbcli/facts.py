"""What the facade answers about indexes: typed records, for the CLI to render and shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kbcli.store import Manifest

@dataclass(frozen=True)
class IndexStats:
    generation: int
    created_at: str | None
    updated_at: str | None
    files: int
    files_ok: int
    files_failed: int
    pages: int
    chunks: int
    vectors: int
    disk_bytes: int


@dataclass(frozen=True)
class SourceStatus:
    path: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    exists: bool  # a missing source (an unmounted disk) keeps its files in the index


@dataclass(frozen=True)
class FileStatus:
    path: str
    size: int
    mtime_ns: int
    sha256: str
    pages: int
    chunks: int
    status: str  # ok | failed
    reason: str | None  # for failed files: one of the documented reasons
    detail: str | None
    indexed_at: str


@dataclass(frozen=True)
class IndexInfo:
    name: str
    path: Path | str  # a folder, or a PostgreSQL index shown without its password
    manifest: Manifest
    stats: IndexStats
    sources: list[SourceStatus]
    files: list[FileStatus]
    owner_only: bool = True  # the folder 0700 and its files 0600 (else tightened on the next write)

    @property
    def failed(self) -> list[FileStatus]:
        return [f for f in self.files if f.status == "failed"]


OK, INCOMPATIBLE, DAMAGED = "ok", "incompatible", "damaged"


@dataclass(frozen=True)
class IndexSummary:
    """One line of `kbcli list`: every index folder, also those that cannot be opened, so that
    they can be found and removed."""

    name: str
    path: Path | str  # a folder, or a PostgreSQL index shown without its password
    status: str  # ok | incompatible (another on-disk format) | damaged (cannot be opened)
    reason: str | None = None
    stats: IndexStats | None = None
