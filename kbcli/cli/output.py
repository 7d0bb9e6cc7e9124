"""One object per invocation owning where output goes (httpie's `Environment` idea): stdout and
stderr as Rich consoles, whether they are terminals, and JSON writing. Commands and the shell
write through it; nothing else opens a console or writes to sys.stdout."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class Output:
    def __init__(self, stdin: IO[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> None:
        # Looked up now, not at import: the test runner swaps the streams per invocation.
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @cached_property
    def out(self) -> "Console":
        from rich.console import Console

        return Console(file=self.stdout)

    @cached_property
    def err(self) -> "Console":
        from rich.console import Console

        return Console(file=self.stderr, stderr=True)

    @property
    def stdin_is_terminal(self) -> bool:
        return self.stdin.isatty()

    @property
    def stderr_is_terminal(self) -> bool:
        return self.err.is_terminal

    @property
    def stdout_is_terminal(self) -> bool:
        return self.out.is_terminal

    def json(self, data: Any, pretty: bool = False) -> None:
        """One JSON value (pretty: indented; else one line, for JSON Lines)."""
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2 if pretty else None) + "\n")
        self.stdout.flush()

    def error(self, message: str) -> None:
        """A one-line message for a person, on stderr (`kbcli: ...`)."""
        self.stderr.write(f"kbcli: {message}\n")
        self.stderr.flush()

    def note(self, message: str) -> None:
        """A plain line on stderr (e.g. "Removed index ...")."""
        self.stderr.write(message + "\n")
        self.stderr.flush()
