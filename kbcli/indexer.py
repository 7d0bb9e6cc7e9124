"""Bringing an index up to date with its sources: files → documents → chunks → vectors → store.

`index` and `refresh` are the same operation: crawl every source, classify each file against what
the store recorded (added, modified, removed, unchanged, touched, moved) and do only the work that
classification calls for. Unchanged is decided by size + mtime; a changed mtime is confirmed by
content hash before anything is re-embedded; a moved file with the same hash keeps its vectors.
"""

from __future__ import annotations

import hashlib
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from kbcli.chunking import Chunk, ChunkSettings, chunk_document
from kbcli.discover import FoundFile, Skipped, crawl
from kbcli.errors import Interrupted
from kbcli.interrupts import SafePoints, Stopped
from kbcli.isolation import IsolatedReader
from kbcli.keywords import name_words, segment
from kbcli.readers import ENCRYPTED, UNREADABLE, Document, FileFailure, ReadOptions, display_name
from kbcli.store import FileRecord, Source
from kbcli.store.location import Writer

if TYPE_CHECKING:
    from kbcli.models import Embedder


@dataclass
class IndexOptions:
    """What one `kbcli index` / `refresh` run is told (KnowledgeBase.index and refresh)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    precision: str | None = None  # the older way to say minilm (fp32) or minilm-int8 (int8)
    model: str | None = None  # the model spec of a new index (kbcli models); None: $KBCLI_MODEL, else the default
    vector_index: str = "auto"
    chunking: ChunkSettings = ChunkSettings()
    wait: float = 0.0
    prune_missing_sources: bool = False
    follow_links: bool = False  # also follow file links that lead outside the sources
    read: ReadOptions = field(default_factory=ReadOptions)  # passwords, OCR, limits: never stored


@dataclass
class Failure:
    file: str
    reason: str
    detail: str

    @property
    def error(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


@dataclass
class Partial:
    """A file indexed only in part, and what was left out (pages OCR could not read, damage repaired)."""

    file: str
    note: str


@dataclass
class SyncReport:
    added: int = 0
    modified: int = 0
    removed: int = 0
    unchanged: int = 0
    moved: int = 0
    touched: int = 0
    files: int = 0  # files seen in the sources
    pages: int = 0  # pages read in this run
    chunks_added: int = 0
    chunks_removed: int = 0
    failed: list[Failure] = field(default_factory=list)
    partial: list[Partial] = field(default_factory=list)  # indexed, but not all of it (e.g. pages OCR could not read)
    missing_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    chunks_total: int | None = None  # chunks in the index after the run (set by KnowledgeBase)
    model_choice: str | None = None  # how `auto` chose a new index's model (set by KnowledgeBase)


class Observer:
    """Progress callbacks; the CLI renders them, the core never prints."""

    def planned(self, to_process: int, total: int) -> None: ...

    def file_started(self, path: Path) -> None: ...

    def file_done(self, path: Path, chunks: int, failure: Failure | None) -> None: ...

    def chunks_embedded(self, count: int) -> None: ...

    def committed(self, generation: int) -> None: ...

    def file_removed(self, path: str) -> None: ...

    def file_moved(self, old: str, new: str) -> None: ...

    def finished(self, report: "SyncReport") -> None: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Plan:
    process: list[tuple[FoundFile, str | None]] = field(default_factory=list)  # (file, known sha or None)
    removed: list[FileRecord] = field(default_factory=list)
    unchanged: int = 0


def _context(chunk: Chunk) -> str:
    """What the keyword side's heading field holds: the heading path and the page's lead."""
    return " ".join(p for p in (chunk.heading, chunk.lead) if p)


def chunk_records(chunks: list[Chunk], name: str) -> list[dict]:
    """The rows IndexWriter.put_file stores for a file's chunks; `name`: its name words."""
    return [
        {
            "seq": c.seq,
            "page": c.page,
            "page_label": c.page_label,
            "heading": c.heading,
            "text": c.text,
            "ocr": c.ocr,
            "section_seq": c.section,
            "section_start": c.start,
            "keywords": {"name": name, "heading": segment(_context(c)), "body": segment(c.text)},
        }
        for c in chunks
    ]


def _name_words(found: FoundFile, title: str | None) -> str:
    """The file's name and title for the keyword side; names that are not UTF-8 come escaped."""
    return name_words(display_name(found.path.name), title)


def _file_values(found: FoundFile, sha: str) -> dict:
    return {
        "path": found.key,
        "source": str(found.root),
        "size": found.size,
        "mtime_ns": found.mtime_ns,
        "sha256": sha,
    }


class Syncer:
    def __init__(
        self,
        writer: Writer,
        embedder_factory: Callable[[], "Embedder"],
        chunking: ChunkSettings,
        observer: Observer | None = None,
        commit_seconds: float = 60.0,
        read_options: ReadOptions | None = None,
        follow_links: bool = False,
    ) -> None:
        self.writer = writer
        self.follow_links = follow_links  # follow file links that lead outside the sources too
        self._embedder_factory = embedder_factory
        self._embedder: Embedder | None = None
        self.chunking = chunking
        self.observer = observer or Observer()
        self.commit_seconds = commit_seconds
        self.report = SyncReport()
        self.read_options = read_options or ReadOptions()
        self._reader: IsolatedReader | None = None
        self._hashes: dict[str, str] = {}  # sha256 of files hashed ahead of their turn
        self._safe = SafePoints()

    @property
    def reader(self) -> IsolatedReader:
        if self._reader is None:  # a worker process, started only when something must be read
            self._reader = IsolatedReader(self.read_options)
        return self._reader

    @property
    def embedder(self) -> "Embedder":
        if self._embedder is None:  # loaded only when something must be embedded
            self._embedder = self._embedder_factory()
        return self._embedder

    def run(self, prune_missing_sources: bool = False) -> SyncReport:
        """Sync; on Ctrl-C or SIGTERM, commit the files finished so far and raise Interrupted."""
        try:
            with self._safe:
                try:
                    return self._run(prune_missing_sources)
                except Stopped as stop:
                    raise self._stopped(stop) from None
        finally:
            if self._reader is not None:
                self._reader.close()

    def _stopped(self, stop: Stopped) -> Interrupted:
        with self._safe.critical():
            self._commit()
        done = self.report.added + self.report.modified + len(self.report.failed)
        return Interrupted(
            f"stopped by {signal_name(stop.signum)}: {done} file(s) processed in this run are committed "
            f"(generation {self.writer.generation}); run 'kbcli refresh {self.writer.manifest.name}' to finish",
            stop.signum,
        )

    def _run(self, prune_missing_sources: bool) -> SyncReport:
        started = time.monotonic()
        plan = self._plan(self.writer.sources(), prune_missing_sources)
        self.observer.planned(len(plan.process), self.report.files)
        self._handle_moves(plan)
        for record in plan.removed:
            with self._safe.critical():
                self.report.chunks_removed += self.writer.remove_file(record.path)
                self.report.removed += 1
            self.observer.file_removed(record.path)
        self.report.unchanged = plan.unchanged
        last_commit = time.monotonic()
        for position, (found, sha) in enumerate(plan.process):
            upcoming = plan.process[position + 1] if position + 1 < len(plan.process) else None
            self._process(found, sha, upcoming)
            if time.monotonic() - last_commit >= self.commit_seconds:
                self._commit()
                last_commit = time.monotonic()
        self._commit()
        self.report.seconds = round(time.monotonic() - started, 3)
        self.observer.finished(self.report)
        return self.report

    def _commit(self) -> None:
        if self.writer.dirty:
            with self._safe.critical():
                self.writer.commit()
            self.observer.committed(self.writer.generation)

    def _plan(self, sources: list[Source], prune_missing: bool) -> _Plan:
        known = {r.path: r for r in self.writer.files()}
        seen: set[str] = set()
        plan = _Plan()
        missing_roots: list[str] = []
        link_roots = None if self.follow_links else tuple(Path(s.path).resolve() for s in sources)
        for source in sources:
            root = Path(source.path)
            if not root.exists():
                self.report.missing_sources.append(source.path)
                missing_roots.append(source.path)
                continue
            skipped: list[Skipped] = []
            for found in crawl(root, source.include, source.exclude, skipped, link_roots):
                key = found.key
                if key in seen:  # overlapping sources: first one wins
                    continue
                seen.add(key)
                record = known.get(key)
                if record is None:
                    plan.process.append((found, None))
                elif record.status == "failed" and record.reason == ENCRYPTED and self.read_options.passwords_for(found.path):
                    plan.process.append((found, None))  # a password is given now: try again
                elif record.size == found.size and record.mtime_ns == found.mtime_ns:
                    plan.unchanged += 1
                else:
                    plan.process.append((found, record.sha256))
            for skip in skipped:
                self.report.failed.append(Failure(skip.key, UNREADABLE, skip.reason))
        self.report.files = len(seen)
        for path, record in known.items():
            if path in seen:
                continue
            under_missing = any(_is_under(path, root) for root in missing_roots)
            if under_missing and not prune_missing:
                continue  # a missing mount must not wipe the index
            plan.removed.append(record)
        return plan

    def _handle_moves(self, plan: _Plan) -> None:
        """Added files whose content equals a removed file's take over its chunks and vectors."""
        removed_by_sha = {r.sha256: r for r in plan.removed if r.status == "ok"}
        if not removed_by_sha:
            return
        still: list[tuple[FoundFile, str | None]] = []
        for found, known_sha in plan.process:
            if known_sha is None:
                try:
                    sha = sha256_of(found.path)
                except OSError:
                    still.append((found, None))
                    continue
                record = removed_by_sha.pop(sha, None)
                if record is not None:
                    with self._safe.critical():
                        self.writer.move_file(record.path, _file_values(found, sha), _name_words(found, record.title))
                        plan.removed.remove(record)
                        self.report.moved += 1
                    self.observer.file_moved(record.path, str(found.path))
                    continue
            still.append((found, known_sha))
        plan.process = still

    def _hash(self, found: FoundFile) -> str:
        """The file's sha256, computed once even when read-ahead asked for it first."""
        sha = self._hashes.pop(found.key, None)
        return sha if sha is not None else sha256_of(found.path)

    def _read_ahead(self, upcoming: tuple[FoundFile, str | None] | None) -> None:
        """Let the reader process parse the next file while this one is embedded; not a file
        whose content turns out unchanged (a touch), which needs no parsing at all."""
        if upcoming is None:
            return
        found, known_sha = upcoming
        try:
            self._hashes[found.key] = sha = sha256_of(found.path)
        except OSError:
            return  # reported when its turn comes
        if sha != known_sha:
            self.reader.submit(found.path)

    def _read(self, found: FoundFile) -> Document:
        if self.reader.pending() == found.path:
            return self.reader.result(found.path)
        return self.reader.read(found.path)

    def _process(self, found: FoundFile, known_sha: str | None, upcoming: tuple[FoundFile, str | None] | None = None) -> None:
        self.observer.file_started(found.path)
        try:
            sha = self._hash(found)
        except OSError as err:
            self._fail(found, "", FileFailure(UNREADABLE, err.strerror or str(err)))
            return
        if known_sha is not None and sha == known_sha:
            with self._safe.critical():
                self.writer.touch_file(found.key, found.size, found.mtime_ns)
                self.report.touched += 1
                self.report.unchanged += 1
            self.observer.file_done(found.path, 0, None)
            return
        try:
            document = self._read(found)
        except FileFailure as failure:
            self._fail(found, sha, failure)
            return
        except Exception as err:  # a parser bug or an exotic file must not stop the run
            self._fail(found, sha, FileFailure("damaged", f"{type(err).__name__}: {err}"))
            return
        self._read_ahead(upcoming)
        chunks = chunk_document(document, self.embedder.tokenizer, self.chunking)
        vectors = self.embedder.embed([c.embed_text for c in chunks], on_batch=self.observer.chunks_embedded)
        rows = chunk_records(chunks, _name_words(found, document.title))
        values = {**_file_values(found, sha), "title": document.title, "pages": document.pages}
        if document.notes:
            values["detail"] = "; ".join(document.notes)
        with self._safe.critical():  # a file's rows and vectors go in whole, or not at all
            removed, added = self.writer.put_file(values, rows, vectors)
            self.report.partial.extend(Partial(found.key, note) for note in document.notes)
            self.report.chunks_removed += removed
            self.report.chunks_added += added
            self.report.pages += document.pages
            if known_sha is None:
                self.report.added += 1
            else:
                self.report.modified += 1
        self.observer.file_done(found.path, added, None)

    def _fail(self, found: FoundFile, sha: str, failure: FileFailure) -> None:
        item = Failure(found.key, failure.reason, failure.detail)
        with self._safe.critical():
            self.report.chunks_removed += self.writer.put_failure(_file_values(found, sha), failure.reason, failure.detail)
            self.report.failed.append(item)
        self.observer.file_done(found.path, 0, item)


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
