"""The facade the CLI drives: one object per kbcli home, a few calls per command."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from kbcli import __version__
from kbcli.chunking import ChunkSettings
from kbcli.discover import crawl, is_supported
from kbcli.config import check_index_name, model_cache
from kbcli.errors import IndexNotFound, NothingToIndex, UsageError
from kbcli.indexer import Observer, SyncReport, Syncer
from kbcli.readers import ReadOptions
from kbcli.search import Searcher
from kbcli.settings import SearchSettings, resolve
from kbcli.store import MANIFEST, IndexReader, IndexWriter, Manifest, Source, create_index, delete_index


@dataclass
class IndexOptions:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    precision: str = "fp32"
    vector_index: str = "auto"
    chunking: ChunkSettings = ChunkSettings()
    wait: float = 0.0
    prune_missing_sources: bool = False
    follow_links: bool = False  # also follow file links that lead outside the sources
    read: ReadOptions = field(default_factory=ReadOptions)  # passwords, OCR, limits: never stored
    # Long runs commit this often, bounding the work a kill or power cut can lose.
    commit_seconds: float = field(default_factory=lambda: float(os.environ.get("KBCLI_COMMIT_SECONDS", "60")))


class KnowledgeBase:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.indexes = home / "indexes"
        self.cache = model_cache(home)

    def folder(self, name: str) -> Path:
        return self.indexes / check_index_name(name)

    def exists(self, name: str) -> bool:
        return (self.folder(name) / MANIFEST).exists()

    def names(self) -> list[str]:
        if not self.indexes.is_dir():
            return []
        return sorted(p.name for p in self.indexes.iterdir() if (p / MANIFEST).exists())

    def _require(self, name: str) -> Path:
        folder = self.folder(name)
        if not (folder / MANIFEST).exists():
            known = ", ".join(self.names()) or "none yet"
            raise IndexNotFound(f"no index named {name!r} in {self.indexes} (indexes: {known})")
        return folder

    def _embedder_factory(self, precision: str):
        def make():
            from kbcli.embedding import Embedder, model_for

            return Embedder(self.cache, model_for(precision))

        return make

    # -- writing --
    def index(
        self, name: str, paths: Sequence[Path], options: IndexOptions, observer: Observer | None = None
    ) -> SyncReport:
        """Create the index if needed, add `paths` as sources, and bring it up to date."""
        roots = [_check_source(p) for p in paths]
        if not roots:
            raise UsageError("give at least one file or folder to index")
        if not any(next(iter(crawl(root, options.include, options.exclude)), None) for root in roots):
            raise NothingToIndex(
                "no files to index (.pdf, .docx, .txt, .md, ...) found in " + ", ".join(str(p) for p in roots)
                + (" matching the --include/--exclude patterns" if options.include or options.exclude else "")
            )
        folder = self.folder(name)
        if not (folder / MANIFEST).exists():
            from kbcli.embedding import model_for

            spec = model_for(options.precision)
            manifest = Manifest(
                name=name,
                model=spec.id,
                precision=spec.precision,
                dimension=spec.dimension,
                token_limit=spec.token_limit,
                chunking=options.chunking.as_dict(),
                kbcli_version=__version__,
                vector_index=_check_vector_index(options.vector_index),
            )
            create_index(folder, manifest)
        return self._sync(name, options, observer, new_sources=roots)

    def refresh(self, name: str, options: IndexOptions, observer: Observer | None = None) -> SyncReport:
        self._require(name)
        return self._sync(name, options, observer, new_sources=[])

    def _sync(
        self, name: str, options: IndexOptions, observer: Observer | None, new_sources: list[Path]
    ) -> SyncReport:
        from kbcli.embedding import model_spec_for

        writer = IndexWriter(self._require(name), wait=options.wait)
        try:
            manifest = writer.manifest
            model_spec_for(manifest)
            for root in new_sources:
                writer.add_source(str(root), options.include, options.exclude)
            writer.commit()  # sources first: a run killed before its first file is finished by `refresh`
            settings = ChunkSettings(**manifest.chunking)
            syncer = Syncer(
                writer,
                self._embedder_factory(manifest.precision),
                settings,
                observer,
                commit_seconds=options.commit_seconds,
                read_options=options.read,
                follow_links=options.follow_links,
            )
            report = syncer.run(prune_missing_sources=options.prune_missing_sources)
        finally:
            writer.close()
        return report

    def remove(self, name: str) -> None:
        delete_index(self._require(name))

    # -- reading --
    def reader(self, name: str) -> IndexReader:
        return IndexReader(self._require(name))

    def searcher(
        self,
        name: str,
        load_model: bool = True,
        rerank_model: Path | None = None,
        *,
        reuse: Searcher | None = None,
        spin: bool = True,
        settings: SearchSettings | None = None,
    ) -> Searcher:
        """An open index for many queries; keyword-only search can skip loading the model.
        `rerank_model`: a local cross-encoder folder that rescores the top hits. `reuse`: a searcher
        being replaced (the shell's :index) whose model and reranker are kept when they fit.
        `spin=False`: ONNX threads sleep between queries (see Embedder). `settings`: the searcher's
        own (None: the environment's, until the CLI passes its Settings down)."""
        from kbcli.embedding import Embedder, model_spec_for
        from kbcli.thesaurus import load_configured

        settings = settings or resolve().search

        reader = self.reader(name)
        try:
            spec = model_spec_for(reader.manifest)
            thesaurus = load_configured(settings.thesaurus)
            embedder = reuse.embedder if reuse is not None and reuse.embedder is not None and reuse.embedder.spec == spec else None
            if embedder is None and load_model:
                embedder = Embedder(self.cache, spec, spin=spin)
            reranker = reuse.reranker if reuse is not None else None
            if reranker is None and rerank_model is not None:
                from kbcli.search.rerank import Reranker

                reranker = Reranker(rerank_model)
            return Searcher(name, reader, embedder, reranker, thesaurus, settings)
        except BaseException:
            reader.close()
            raise

    def sources(self, name: str) -> list[Source]:
        reader = self.reader(name)
        try:
            return reader.sources()
        finally:
            reader.close()

    def info(self, name: str) -> dict[str, Any]:
        reader = self.reader(name)
        try:
            manifest = reader.manifest
            return {
                "name": name,
                "path": str(reader.folder),
                "manifest": manifest.to_json(),
                **reader.stats(),
                "sources": [
                    {"path": s.path, "include": list(s.include), "exclude": list(s.exclude),
                     "exists": Path(s.path).exists()}
                    for s in reader.sources()
                ],
                "files_detail": [
                    {k: getattr(f, k) for k in ("path", "size", "mtime_ns", "sha256", "pages", "chunks",
                                                "status", "reason", "detail", "indexed_at")}
                    for f in reader.files()
                ],
            }
        finally:
            reader.close()


def _check_vector_index(kind: str) -> str:
    if kind not in ("auto", "flat", "ivf"):
        raise UsageError(f"unknown vector index {kind!r}: choose auto, flat or ivf")
    return kind


def _check_source(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    resolved = path.resolve()
    if resolved.is_file() and not is_supported(resolved):
        raise UsageError(f"{path}: not a file kbcli reads (.pdf, .docx, .txt, .md, .doc, .rtf, .odt)")
    return resolved
