"""Progress of index, refresh and watch: a bar for a person at a terminal, log lines for cron
and pipes (and a log file beside either)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from kbcli.indexer import Failure, Observer, SyncReport
from kbcli.readers import display_name


class RichProgress(Observer):
    """A progress bar over files and chunks, on stderr, for a person at a terminal."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}", style="dim"),
            console=console,
            transient=True,
        )
        self.files = self.progress.add_task("files", total=None, detail="")
        self.chunks = self.progress.add_task("chunks embedded", total=None, detail="")

    def __enter__(self) -> "RichProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, to_process: int, total: int) -> None:
        self.progress.update(self.files, total=to_process)

    def file_started(self, path: Path) -> None:
        self.progress.update(self.files, detail=display_name(path.name))

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None:
        self.progress.advance(self.files)
        if failure:
            self.progress.console.print(Text(f"✗ {display_name(failure.file)}: {failure.error}", style="red"))

    def chunks_embedded(self, count: int) -> None:
        self.progress.advance(self.chunks, count)


class LogLines(Observer):
    """Plain timestamped lines instead of a bar, for cron and pipes."""

    def __init__(self, stream: TextIO, quiet: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.done = 0
        self.total = 0

    def __enter__(self) -> "LogLines":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def log(self, message: str, error: bool = False) -> None:
        if self.quiet and not error:
            return
        self.stream.write(f"{_stamp()} {message}\n")
        self.stream.flush()

    def planned(self, to_process: int, total: int) -> None:
        self.total = to_process
        self.log(f"{total} files in sources, {to_process} to read")

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None:
        self.done += 1
        if failure:
            self.log(f"failed {display_name(failure.file)}: {display_name(failure.error)}", error=True)
        else:
            self.log(f"[{self.done}/{self.total}] {display_name(str(path))} ({chunks} chunks)")

    def committed(self, generation: int) -> None:
        self.log(f"committed generation {generation}")

    def file_removed(self, path: str) -> None:
        self.log(f"removed {path}")

    def file_moved(self, old: str, new: str) -> None:
        self.log(f"moved {old} -> {new}")

    def finished(self, report: SyncReport) -> None:
        self.log(
            f"done: {report.added} added, {report.modified} modified, {report.removed} removed, "
            f"{report.moved} moved, {report.unchanged} unchanged, {len(report.failed)} failed, "
            f"{report.chunks_added} chunks added, {report.chunks_removed} removed in {report.seconds:.1f}s"
        )


def _stamp() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


class TeeLines(LogLines):
    """Log lines to a stream and appended to a file."""

    def __init__(self, stream: TextIO, path: Path, quiet: bool = False) -> None:
        super().__init__(stream, quiet)
        self.path = path

    def log(self, message: str, error: bool = False) -> None:
        super().log(message, error)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{_stamp()} {message}\n")
