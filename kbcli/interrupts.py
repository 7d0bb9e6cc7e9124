"""Ctrl-C and SIGTERM during a sync: stop at a safe point, never in the middle of a store write.

While a sync runs, SIGINT and SIGTERM raise `Stopped` at once, except inside `critical()`
sections (one file's rows and vectors going into the store, a commit), where they are held until
the section ends. So when `Stopped` reaches the sync loop, the writer holds only whole files and
what is done can be committed. Outside the main thread (where Python cannot set signal handlers)
this is a no-op and signals behave as usual.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """A sync was asked to stop by a signal (`signum`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SafePoints:
    """Installed for the length of a `with` block; `critical()` marks sections to finish first."""

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "SafePoints":
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._depth:
            self._pending = signum
            return
        raise Stopped(signum)

    @contextmanager
    def critical(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                raise Stopped(signum)
