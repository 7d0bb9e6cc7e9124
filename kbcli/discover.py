"""Finding the files to index below the source roots."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kbcli.readers import SUPPORTED_SUFFIXES, display_name

NOT_REGULAR = "not a regular file (a FIFO, device or socket): never opened"
LINK_LEAVES = "link leaves the source folder (pass --follow-links to follow it)"


@dataclass(frozen=True)
class FoundFile:
    path: Path  # absolute
    root: Path  # the source root it was found under
    size: int
    mtime_ns: int

    @property
    def key(self) -> str:
        """The path as the index stores and shows it (undecodable bytes and control characters
        escaped, so any name can be stored, printed and matched again on the next refresh)."""
        return display_name(str(self.path))

    @property
    def relative(self) -> str:
        if self.path == self.root:
            return self.path.name
        return self.path.relative_to(self.root).as_posix()


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str  # the detail of an "unreadable" failure, e.g. "Permission denied"

    @property
    def key(self) -> str:
        return display_name(str(self.path))


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def _selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not _matches(rel, include):
        return False
    return not _matches(rel, exclude)


def _inside(path: Path, roots: tuple[Path, ...]) -> Path | None:
    """The first of `roots` that `path` lies in (or is), else None."""
    return next((r for r in roots if path == r or path.is_relative_to(r)), None)


def crawl(
    root: Path,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    skipped: list[Skipped] | None = None,
    link_roots: tuple[Path, ...] | None = (),
) -> Iterator[FoundFile]:
    """Yield supported files under `root` (or `root` itself), sorted, skipping hidden entries.

    Patterns match the path relative to the root or the bare file name (`*.pdf`, `reports/2023/*`).
    Unreadable folders are recorded in `skipped` instead of stopping the crawl.
    A link to a file is followed only when its target lies inside one of `link_roots` (the
    index's resolved source roots; `root` always counts) and is then yielded under the target's
    own path, so it is indexed once; a link leading elsewhere is recorded in `skipped` (a link
    inside a source must not publish /etc/passwd). `link_roots=None` follows every link.
    Folder links are never followed.
    """
    root = root.absolute()
    if root.is_file():
        if is_supported(root):
            st = root.stat()
            yield FoundFile(root, root, st.st_size, st.st_mtime_ns)
        return

    def on_error(err: OSError) -> None:
        if skipped is not None and err.filename:
            skipped.append(Skipped(Path(err.filename), err.strerror or str(err)))

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
            if path.is_symlink():
                path, within = _link_target(path, root, link_roots, skipped)
                if path is None:
                    continue
            else:
                within = root
            try:
                st = path.stat()  # follows symlinks: a dangling link or a loop fails here
            except OSError as err:
                if skipped is not None:
                    detail = "vanished before it could be read" if isinstance(err, FileNotFoundError) and not path.is_symlink() else err.strerror
                    skipped.append(Skipped(path, (detail or str(err)) + (" (symbolic link)" if path.is_symlink() else "")))
                continue
            if not stat.S_ISREG(st.st_mode):  # reading a FIFO would block the run forever
                if skipped is not None:
                    skipped.append(Skipped(path, NOT_REGULAR))
                continue
            yield FoundFile(path, within, st.st_size, st.st_mtime_ns)


def _link_target(
    link: Path, root: Path, link_roots: tuple[Path, ...] | None, skipped: list[Skipped] | None
) -> tuple[Path | None, Path]:
    """(the path to read, the root it counts under) for a file link, or (None, root) when the
    link is dangling, loops or leaves the sources (then recorded in `skipped`)."""
    if link_roots is None:
        return link, root
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError) as err:
        if skipped is not None:
            skipped.append(Skipped(link, f"{getattr(err, 'strerror', None) or err} (symbolic link)"))
        return None, root
    allowed = (root.resolve(), *link_roots)
    within = _inside(target, allowed)
    if within is None:
        if skipped is not None:
            skipped.append(Skipped(link, LINK_LEAVES))
        return None, root
    return target, within
