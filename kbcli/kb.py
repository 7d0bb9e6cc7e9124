"""The facade the CLI drives: one object per kbcli home, a few calls per command, typed answers
(kbcli/facts.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from kbcli import __version__
from kbcli.errors import DamagedIndex, IncompatibleIndex, IndexNotFound, NothingToIndex, UsageError
from kbcli.facts import DAMAGED, INCOMPATIBLE, OK, FileStatus, IndexInfo, IndexStats, IndexSummary, SourceStatus
from kbcli.search import Searcher
from kbcli.session import IndexSession, open_searcher
from kbcli.settings import SearchSettings, Settings, check_index_name, defaults
from kbcli.store.layout import is_private
from kbcli.store import MANIFEST, CheckReport, Manifest, check_index, damaged, has_database
from kbcli.store.location import Location, PgLocation, Reader, create, delete, open_reader, open_writer, pg_names, redact, is_pg_url

# The write side (reading files, chunking, the indexer, repair) is imported by the methods that
# write: a cold `kbcli query` does not load it.
if TYPE_CHECKING:
    from kbcli.indexer import IndexOptions, Observer, SyncReport
    from kbcli.models import Embedder
    from kbcli.models.choice import ModelChoice
    from kbcli.repair import RepairReport


class KnowledgeBase:
    def __init__(self, settings: Settings | Path) -> None:
        # A bare folder (library use, benches): built-in defaults for everything else.
        self.settings = settings if isinstance(settings, Settings) else defaults(settings)
        self.home = self.settings.paths.home
        self.indexes = self.settings.paths.indexes
        self.cache = self.settings.paths.cache
        self.store = self.settings.paths.store  # a PostgreSQL connection string, or None: folders
        if self.store and not is_pg_url(self.store):
            raise UsageError(f"--store / KBCLI_STORE must be a postgresql:// connection string, not {redact(self.store)!r}")

    @property
    def store_shown(self) -> str | None:
        """The PostgreSQL store without its password (None: the embedded store)."""
        return redact(self.store) if self.store else None

    def folder(self, name: str) -> Path:
        return self.indexes / check_index_name(name)

    def location(self, name: str) -> Location:
        """Where index `name` is (or would be): its folder, or its place in the PostgreSQL store."""
        return PgLocation(self.store, check_index_name(name)) if self.store else self.folder(name)

    def exists(self, name: str) -> bool:
        if self.store:
            return check_index_name(name) in pg_names(self.store)
        return (self.folder(name) / MANIFEST).exists()

    def names(self) -> list[str]:
        if self.store:
            return pg_names(self.store)
        if not self.indexes.is_dir():
            return []
        # A database without its manifest is a damaged index, listed so that it is seen.
        return sorted(p.name for p in self.indexes.iterdir() if (p / MANIFEST).exists() or has_database(p))

    def require(self, name: str) -> Location:
        """Where the index `name` is; IndexNotFound (naming the ones there are) if none,
        DamagedIndex if only its database is left."""
        folder = self.locate(name)
        if isinstance(folder, PgLocation):
            return folder
        if not (folder / MANIFEST).exists():
            raise damaged(folder, "manifest missing") if has_database(folder) else self._not_found(name)
        return folder

    def locate(self, name: str) -> Location:
        """The folder `name` under indexes/, whole, damaged or half-created (or the index in the
        PostgreSQL store); IndexNotFound if none."""
        if self.store:
            if not self.exists(name):
                raise self._not_found(name)
            return self.location(name)
        folder = self.folder(name)
        if not folder.is_dir():
            raise self._not_found(name)
        return folder

    def _not_found(self, name: str) -> IndexNotFound:
        known = ", ".join(self.names()) or "none yet"
        where = f"the PostgreSQL store {redact(self.store)}" if self.store else str(self.indexes)
        return IndexNotFound(f"no index named {name!r} in {where} (indexes: {known})")

    def _embedder_factory(self, manifest: Manifest, loaded: "Embedder | None" = None):
        def make() -> "Embedder":
            from kbcli.models import load_for_index  # numpy and the model runtime: only to write

            return loaded or load_for_index(manifest, self.cache)

        return make

    # -- writing --
    def index(
        self, name: str, paths: Sequence[Path], options: IndexOptions, observer: Observer | None = None
    ) -> SyncReport:
        """Create the index if needed, add `paths` as sources, and bring it up to date."""
        from kbcli.discover import crawl

        roots = [_check_source(p) for p in paths]
        if not roots:
            raise UsageError("give at least one file or folder to index")
        links = None if options.follow_links else tuple(roots)
        if not any(next(iter(crawl(root, options.include, options.exclude, link_roots=links)), None) for root in roots):
            raise NothingToIndex(
                "no files to index (.pdf, .docx, .txt, .md, ...) found in " + ", ".join(str(p) for p in roots)
                + (" matching the --include/--exclude patterns" if options.include or options.exclude else "")
            )
        location = self.location(name)
        embedder, choice = None, None
        wanted = options.model or self.settings.indexing.model
        if not self.exists(name):
            if isinstance(location, Path) and has_database(location):  # a surviving database: damaged, not to be emptied
                raise damaged(location, "manifest missing")
            if _is_auto(wanted, options.precision):
                choice = _auto_model(roots, options, links)
                wanted = choice.spec
            manifest, embedder = _new_manifest(name, options, wanted, self.cache)
            if choice is not None:
                manifest.model_choice = choice.reason
            create(location, manifest)
        elif options.model is not None or options.precision is not None:  # $KBCLI_MODEL is for new indexes only
            _check_same_model(self._manifest(location), options.model, options.precision)
        report = self._sync(name, options, observer, new_sources=roots, embedder=embedder)
        report.model_choice = choice.reason if choice is not None else None
        return report

    def refresh(self, name: str, options: IndexOptions, observer: Observer | None = None) -> SyncReport:
        self.require(name)
        return self._sync(name, options, observer, new_sources=[])

    def _sync(
        self, name: str, options: IndexOptions, observer: Observer | None, new_sources: list[Path],
        embedder: "Embedder | None" = None,
    ) -> SyncReport:
        from kbcli.chunking import ChunkSettings
        from kbcli.indexer import Syncer
        from kbcli.models import spec_of  # numpy and the model runtime: only to write

        writer = open_writer(self.require(name), wait=options.wait)
        try:
            manifest = writer.manifest
            spec_of(manifest)
            for root in new_sources:
                writer.add_source(str(root), options.include, options.exclude)
            if writer.dirty:  # sources first: a run killed before its first file is finished by `refresh`
                writer.commit()
                if observer is not None:
                    observer.committed(writer.generation)
            syncer = Syncer(
                writer,
                self._embedder_factory(manifest, embedder),
                ChunkSettings(**manifest.chunking),
                observer,
                commit_seconds=self.settings.indexing.commit_seconds,
                read_options=options.read,
                follow_links=options.follow_links,
            )
            report = syncer.run(prune_missing_sources=options.prune_missing_sources)
            report.chunks_total = sum(f.chunks for f in writer.files())
        finally:
            writer.close()
        return report

    def reembed(self, name: str, model: str, *, wait: float = 0.0, on_batch: "Callable[[int, int], None] | None" = None) -> dict[str, object]:
        """A new generation of NAME: its stored chunks embedded with `model`, swapped in atomically."""
        from kbcli.models import load_model, parse_spec
        from kbcli.reembed import reembed

        folder = self._embedded(self.require(name), "reembed")
        embedder = load_model(parse_spec(model), self.cache)
        return reembed(folder, embedder, self.settings.paths.home / ".reembed" / name, wait=wait, on_batch=on_batch)

    def remove(self, name: str) -> None:
        delete(self.locate(name))

    def check(self, name: str) -> CheckReport:
        return check_index(self._embedded(self.locate(name), "check"))

    def repair(self, name: str, wait: float = 0.0) -> RepairReport:
        from kbcli.repair import repair

        return repair(self._embedded(self.locate(name), "repair"), lambda manifest: self._embedder_factory(manifest)(), wait=wait)

    def _embedded(self, location: Location, command: str) -> Path:
        """The folder of an embedded index; commands the PostgreSQL store lacks say so."""
        if isinstance(location, PgLocation):
            raise UsageError(
                f"kbcli {command} works on embedded indexes only, not yet in the PostgreSQL store"
                + (" (the database keeps rows and vectors in one transaction: there is nothing to repair)" if command != "reembed" else
                   f" (index again under another name with --model instead)")
            )
        return location

    def _manifest(self, location: Location) -> Manifest:
        if isinstance(location, Path):
            return Manifest.load(location)
        reader = open_reader(location)
        try:
            return reader.manifest
        finally:
            reader.close()

    # -- reading --
    def reader(self, name: str) -> Reader:
        return open_reader(self.require(name), ef_search=self.settings.search.ef_search)

    def searcher(self, name: str, load_model: bool = True, settings: SearchSettings | None = None) -> Searcher:
        """An open index for many queries (library use); keyword-only search can skip the model.
        `settings`: the searcher's own (None: this knowledge base's). Close it when done.
        Commands and the shell use `session`."""
        own = replace(self.settings, search=settings) if settings is not None else self.settings
        return open_searcher(own, self.require(name), name, load_model=load_model)

    def session(self, name: str, load_model: bool = True, interactive: bool = False) -> IndexSession:
        """An index open for many questions: it follows commits and rebuilds, keeps the model
        across `switch(other)`, and shows the passages around a hit. `interactive`: one question
        at a time with pauses between (the shell): threads sleep instead of spinning."""
        return IndexSession(self.settings, self.require, name, load_model=load_model, interactive=interactive)

    def sources(self, name: str) -> list[SourceStatus]:
        reader = self.reader(name)
        try:
            return _source_statuses(reader)
        finally:
            reader.close()

    def info(self, name: str) -> IndexInfo:
        reader = self.reader(name)
        try:
            files = [
                FileStatus(f.path, f.size, f.mtime_ns, f.sha256, f.pages, f.chunks, f.status, f.reason, f.detail, f.indexed_at)
                for f in reader.files()
            ]
            where = reader.folder if reader.folder is not None else reader.location.shown
            return IndexInfo(
                name, where, reader.manifest, IndexStats(**reader.stats()), _source_statuses(reader), files,
                owner_only=is_private(reader.folder) if reader.folder is not None else True,
            )
        finally:
            reader.close()

    def list(self) -> list[IndexSummary]:
        """Every index in the home, with those that cannot be opened and why."""
        return [self._summary(name) for name in self.names()]

    def _summary(self, name: str) -> IndexSummary:
        location = self.location(name)
        folder = location if isinstance(location, Path) else location.shown
        # One broken index must not hide the others: whatever fails is that index's status.
        try:
            reader = open_reader(location)
        except IncompatibleIndex as err:
            return IndexSummary(name, folder, INCOMPATIBLE, str(err))
        except DamagedIndex as err:
            return IndexSummary(name, folder, DAMAGED, str(err))
        except Exception as err:  # a broken manifest or database file
            return IndexSummary(name, folder, DAMAGED, _damaged(name, err))
        try:
            return IndexSummary(name, folder, OK, stats=IndexStats(**reader.stats()))
        except DamagedIndex as err:
            return IndexSummary(name, folder, DAMAGED, str(err))
        except Exception as err:  # the database or vector files, past the manifest
            return IndexSummary(name, folder, DAMAGED, _damaged(name, err))
        finally:
            reader.close()


def _damaged(name: str, err: Exception) -> str:
    return f"index {name!r} cannot be read ({type(err).__name__}: {err}): kbcli remove {name} --yes, then index again"


def _source_statuses(reader: Reader) -> list[SourceStatus]:
    return [SourceStatus(s.path, tuple(s.include), tuple(s.exclude), Path(s.path).exists()) for s in reader.sources()]


def _new_manifest(name: str, options: IndexOptions, model: str | None, cache: Path) -> tuple[Manifest, "Embedder"]:
    """A new index's manifest, and its model (loaded: the manifest records its probe vectors)."""
    from kbcli.models import choose_spec, load_model, model_record, parse_spec

    vector_index = _check_vector_index(options.vector_index)
    embedder = load_model(parse_spec(choose_spec(model, options.precision)), cache)
    manifest = Manifest(
        name=name,
        chunking=options.chunking.as_dict(),
        kbcli_version=__version__,
        vector_index=vector_index,
        **model_record(embedder),
    )
    return manifest, embedder


def _is_auto(model: str | None, precision: str | None) -> bool:
    from kbcli.models import AUTO, choose_spec

    return choose_spec(model, precision).strip() == AUTO


def _auto_model(roots: list[Path], options: IndexOptions, links: tuple[Path, ...] | None) -> "ModelChoice":
    """The default model for these documents: a few of their files read for their language."""
    from kbcli.languages import sample_cjk_shares
    from kbcli.models.choice import choose, english_model_installed

    shares = sample_cjk_shares(roots, options.include, options.exclude, links, options.read)
    return choose(shares, english_model_installed())


def _check_same_model(manifest: Manifest, model: str | None, precision: str | None) -> None:
    from kbcli.models import choose_spec, parse_spec, spec_of

    if _is_auto(model, precision):  # the default: an index keeps the model it was given
        return
    recorded, wanted = spec_of(manifest).spec, choose_spec(model, precision)
    if parse_spec(wanted).spec != recorded:
        raise UsageError(
            f"index {manifest.name!r} embeds with {recorded!r}; --model and --precision choose a new index's model "
            f"(another name, or kbcli reembed {manifest.name} --model {wanted})"
        )


def _check_vector_index(kind: str) -> str:
    if kind not in ("auto", "flat", "ivf"):
        raise UsageError(f"unknown vector index {kind!r}: choose auto, flat or ivf")
    return kind


def _check_source(path: Path) -> Path:
    from kbcli.discover import is_supported

    path = path.expanduser()
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    resolved = path.resolve()
    if resolved.is_file() and not is_supported(resolved):
        raise UsageError(f"{path}: not a file kbcli reads (.pdf, .docx, .txt, .md, .doc, .rtf, .odt)")
    return resolved
