"""`kbcli watch`: refresh an index whenever its source folders change, debounced."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from kbcli.discover import SUPPORTED_SUFFIXES


class _Changes:
    """Collects file-system events and says when they have been quiet long enough."""

    def __init__(self) -> None:
        self.last_event = 0.0
        self.pending = False
        self.lock = threading.Lock()

    def touch(self) -> None:
        with self.lock:
            self.pending = True
            self.last_event = time.monotonic()

    def take_if_quiet(self, debounce: float) -> bool:
        with self.lock:
            if self.pending and time.monotonic() - self.last_event >= debounce:
                self.pending = False
                return True
            return False


def _relevant(path: str) -> bool:
    name = Path(path).name
    if name.startswith("."):
        return False
    suffix = Path(path).suffix.lower()
    return suffix in SUPPORTED_SUFFIXES or suffix == ""  # folders (created, moved, deleted)


def watch(
    roots: list[Path],
    refresh: Callable[[], None],
    debounce: float = 2.0,
    stop: threading.Event | None = None,
    poll: float = 0.2,
) -> None:
    """Call `refresh()` once now, then after every burst of changes below `roots` has been quiet
    for `debounce` seconds, until `stop` is set (or KeyboardInterrupt)."""
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    changes = _Changes()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            if event.event_type in ("opened", "closed_no_write"):
                return
            paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
            if any(p and _relevant(p) for p in paths):
                changes.touch()

    observer = Observer()
    for root in roots:
        if root.is_dir():
            observer.schedule(Handler(), str(root), recursive=True)
        elif root.parent.is_dir():
            observer.schedule(Handler(), str(root.parent), recursive=False)
    observer.start()
    stop = stop or threading.Event()
    try:
        refresh()
        while not stop.wait(poll):
            if changes.take_if_quiet(debounce):
                refresh()
    finally:
        observer.stop()
        observer.join(timeout=5)
