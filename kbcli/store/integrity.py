"""Is an index whole? The cheap checks made on every open and commit, and the disk's refusals
(full, read-only, not ours) said as one sentence each instead of a library's error.

What must agree: the manifest (fixed settings, also kept in the database's meta as `manifest`),
the database's meta (`generation`, and since this version `vectors` and `chunks` of that commit),
and `vectors-<generation>.faiss`, which holds exactly one vector per chunk row.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kbcli.errors import DamagedIndex, StorageFailure
from kbcli.store.layout import DATABASE, load_vectors, vector_file

if TYPE_CHECKING:
    from kbcli.vectors import VectorIndex


def damaged(folder: Path, problem: str, repairable: bool = True) -> DamagedIndex:
    name = folder.name
    if repairable:
        return DamagedIndex(f"index {name!r} is damaged and cannot be read ({problem}): run 'kbcli repair {name}'")
    return DamagedIndex(
        f"index {name!r} is damaged and cannot be read ({problem}); nothing is left to rebuild it from: "
        f"run 'kbcli remove {name} --yes', then 'kbcli index' its folders again"
    )


def manifest_missing(folder: Path) -> DamagedIndex:
    return damaged(folder, "manifest missing")


def has_database(folder: Path) -> bool:
    return (folder / DATABASE).exists()


def committed_meta(conn: sqlite3.Connection, folder: Path) -> dict[str, str]:
    """The meta rows; an index without a committed generation cannot be trusted."""
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    if "generation" not in meta:
        raise damaged(folder, "the database records no committed generation", repairable=False)
    return meta


def open_vectors(folder: Path, generation: int, dimension: int, mmap: bool) -> "VectorIndex":
    """The committed generation's vectors; a missing or unreadable file is damage, not emptiness."""
    path = vector_file(folder, generation)
    if generation > 0 and not path.exists():  # every commit writes its file; only generation 0 has none
        raise damaged(folder, f"{path.name} is missing")
    try:
        return load_vectors(folder, generation, dimension, mmap)
    except (RuntimeError, OSError, ValueError) as err:
        raise damaged(folder, f"{path.name} cannot be read: cut short or overwritten") from err


def check_counts(folder: Path, meta: dict[str, str], vectors: int, chunks: int) -> None:
    """One vector per chunk row, and as many as the last commit recorded."""
    if vectors != chunks:
        raise damaged(folder, f"{vectors} vectors for {chunks} chunks")
    recorded = meta.get("vectors")
    if recorded is not None and int(recorded) != vectors:
        raise damaged(folder, f"{vectors} vectors where the last commit recorded {recorded}")


def chunk_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


@contextmanager
def guarded(folder: Path, writing: bool) -> Iterator[None]:
    """Library errors raised while touching `folder`, as one sentence: damage, full disk, no access."""
    try:
        yield
    except sqlite3.OperationalError as err:
        failure = _sqlite_failure(folder, err, writing)
        if failure is None:
            raise  # locked, or an FTS query the caller should explain
        raise failure from err
    except sqlite3.DatabaseError as err:  # malformed, not a database
        raise damaged(folder, f"{DATABASE}: {err}", repairable=False) from err
    except OSError as err:
        failure = os_failure(folder, err, writing)
        if failure is None:
            raise
        raise failure from err


def no_space(folder: Path) -> StorageFailure:
    return StorageFailure(
        f"no space left on {_mount_point(folder)} while writing {folder.name!r}; the last committed version "
        "is intact: free some space and run the command again"
    )


def os_failure(folder: Path, err: OSError, writing: bool) -> StorageFailure | None:
    name = folder.name
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(folder)
    if err.errno == errno.EROFS:
        return StorageFailure(
            f"index {name!r} is on a read-only file system ({_mount_point(folder)}): it can be searched, "
            "not changed; copy it to a writable disk (or mount it read-write) to index"
        )
    if err.errno in (errno.EACCES, errno.EPERM):
        what = "write" if writing else "read"
        return StorageFailure(
            f"permission denied to {what} {err.filename or folder} (index {name!r}): "
            f"run kbcli as the index's owner or give it {what} access"
        )
    return None


def _sqlite_failure(folder: Path, err: sqlite3.OperationalError, writing: bool) -> StorageFailure | DamagedIndex | None:
    text = str(err).lower()
    if "disk is full" in text:
        return no_space(folder)
    if "readonly database" in text or ("unable to open" in text and writing):
        return StorageFailure(
            f"index {folder.name!r} cannot be written ({err}): it is read-only here; "
            "check the folder's permissions and the disk's mount"
        )
    if "disk i/o error" in text:
        if _free_bytes(folder) < 1 << 20:
            return no_space(folder)
        return StorageFailure(f"disk I/O error on index {folder.name!r}; the last committed version is intact: check the disk")
    return None


def _free_bytes(folder: Path) -> int:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)  # a failed creation removes it
    try:
        stats = os.statvfs(existing)
    except OSError:
        return 1 << 62
    return stats.f_bavail * stats.f_frsize


def disk_is_full(folder: Path) -> bool:
    return _free_bytes(folder) < 1 << 20


def _mount_point(folder: Path) -> str:
    path = next((p for p in (folder, *folder.parents) if p.exists()), folder).resolve()
    try:
        device = path.stat().st_dev
        while path.parent != path and path.parent.stat().st_dev == device:
            path = path.parent
    except OSError:
        pass
    return str(path)
