"""Finding the files to index below the source roots."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

SUPPORTED_SUFFIXES = (".pdf", ".docx")


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute
    root: Path  # the source root it was found under
    size: int
    mtime_ns: int

    @property
    def relative(self) -> str:
        if self.path == self.root:
            return self.path.name
        return self.path.relative_to(self.root).as_posix()


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not _matches(rel, include):
        return False
    return not _matches(rel, exclude)


def crawl(
    root: Path,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    skipped: list[Skipped] | None = None,
) -> Iterator[FoundFile]:
    """Yield supported files under `root` (or `root` itself), sorted, skipping hidden entries.

    Patterns match the path relative to the root or the bare file name (`*.pdf`, `reports/2023/*`).
    Unreadable folders are recorded in `skipped` instead of stopping the crawl.
    """
    root = root.absolute()
    if root.is_file():
        if is_supported(root):
            st = root.stat()
            yield FoundFile(root, root, st.st_size, st.st_mtime_ns)
        return

    def on_error(err: OSError) -> None:
        if skipped is not None and err.filename:
            skipped.append(Skipped(Path(err.filename), f"unreadable: {err.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if not is_supported(path):
                continue
            rel = path.relative_to(root).as_posix()
            if not _selected(rel, include, exclude):
                continue
            try:
                st = path.stat()
            except OSError as err:
                if skipped is not None:
                    skipped.append(Skipped(path, f"unreadable: {err.strerror}"))
                continue
            yield FoundFile(path, root, st.st_size, st.st_mtime_ns)
