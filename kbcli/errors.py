"""Domain errors and the exit codes they map to (assigned once, in the CLI)."""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3  # finished, but some files could not be indexed
    LOCKED = 4  # another writer holds the index


class KbError(Exception):
    """An error the user can act on; the CLI prints its message in one line."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(KbError):
    exit_code = ExitCode.USAGE


class IndexNotFound(KbError):
    pass


class IndexExists(KbError):
    pass


class ModelMismatch(KbError):
    pass


class IncompatibleIndex(KbError):
    """Built by a kbcli with another on-disk format: it can be listed and removed, not opened."""


class DamagedIndex(KbError):
    """An index whose parts disagree or cannot be read; the message names the repairing command."""


class StorageFailure(KbError):
    """The disk refused: full, read-only, or not ours to write. The last commit is intact."""


class LockBusy(KbError):
    exit_code = ExitCode.LOCKED


class NothingToIndex(KbError):
    pass


class Interrupted(KbError):
    """A sync stopped by Ctrl-C or SIGTERM after committing the files it had finished."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum  # type: ignore[assignment]  # the shell's convention: 130, 143


def os_error_sentence(err: OSError) -> str | None:
    """What a refusal of the disk means for the user, in one line; None for other OS errors."""
    where = err.filename or "a file"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device holding {where}; the last committed version is intact: free some space and retry"
    if err.errno == errno.EROFS:
        return f"{where} is on a read-only file system: nothing can be written there"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {where}; run kbcli as its owner or give it access"
    return None
