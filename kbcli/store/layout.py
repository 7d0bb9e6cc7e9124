"""Where an index keeps its parts on disk, and the durable-write and locking primitives.

Layout of `<home>/indexes/<name>/`:
  manifest.json          fixed settings: format, embedding model, dimension, token limit, chunking
  index.sqlite           files (size, mtime, sha256, status), chunks (text, page, heading), sources,
                         and the committed generation number; WAL mode, so readers never block
  vectors-<gen>.faiss    the FAISS index (IDMap2 over inner product) of exactly the chunks of <gen>
  write.lock             flock()ed by the one writer; the kernel drops it if the writer dies
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

from kbcli.errors import LockBusy

if TYPE_CHECKING:
    from kbcli.vectors import VectorIndex

FORMAT_VERSION = 5  # 3: chunks.ocr; 4: page leads in the embedded prefix and the heading field; 5: folded CJK keywords
MANIFEST = "manifest.json"
DATABASE = "index.sqlite"
LOCK = "write.lock"
VECTOR_FILE = re.compile(r"^vectors-(\d+)\.faiss$")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# An index holds the text of private (even decrypted) documents: owner-only, whatever the umask.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and any missing parents owner-only (existing ones are left as they are)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is cut by the umask


def tighten(folder: Path) -> None:
    """Make an index folder and its files owner-only (indexes written by older versions too)."""
    if folder.stat().st_mode & 0o777 != PRIVATE_DIR:
        os.chmod(folder, PRIVATE_DIR)
    for path in folder.iterdir():
        mode = path.lstat().st_mode
        if path.is_file() and not path.is_symlink() and mode & 0o777 != PRIVATE_FILE:
            os.chmod(path, PRIVATE_FILE)


def is_private(folder: Path) -> bool:
    """Whether the folder and its files are owner-only (as `tighten` leaves them)."""
    if folder.stat().st_mode & 0o077:
        return False
    return not any(p.lstat().st_mode & 0o077 for p in folder.iterdir() if p.is_file() and not p.is_symlink())


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "wb") as fh:
        os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def vector_file(folder: Path, generation: int) -> Path:
    return folder / f"vectors-{generation}.faiss"


def load_vectors(folder: Path, generation: int, dimension: int, mmap: bool) -> "VectorIndex":
    from kbcli.vectors import VectorIndex  # faiss: imported on first use, not by `kbcli --help`

    return VectorIndex.load(vector_file(folder, generation), dimension, mmap)


def acquire_lock(folder: Path, wait: float) -> IO[str]:
    """An flock on write.lock: exclusive among writers, released by the kernel if we die."""
    handle = open(folder / LOCK, "a+")
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise LockBusy(
                    f"index {folder.name!r} is being written by another kbcli process"
                    + (f" (waited {wait:g}s)" if wait else "")
                    + "; retry later or pass --wait SECONDS"
                ) from None
            time.sleep(0.2)
