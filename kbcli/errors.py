"""Domain errors and the exit codes they map to (assigned once, in the CLI)."""

from __future__ import annotations

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


class LockBusy(KbError):
    exit_code = ExitCode.LOCKED


class NothingToIndex(KbError):
    pass


class Interrupted(KbError):
    """A sync stopped by Ctrl-C or SIGTERM after committing the files it had finished."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum  # type: ignore[assignment]  # the shell's convention: 130, 143
