"""`kbcli check`: every part of an index read in full and compared, each problem one line.

Unlike the cheap checks on open (kbcli.store.integrity), this reads every page of the database
and every vector id. It never writes: an index on a read-only disk can be checked.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from kbcli.errors import DamagedIndex, IncompatibleIndex, KbError
from kbcli.store import schema
from kbcli.store.integrity import chunk_count, committed_meta, has_database, open_vectors
from kbcli.store.layout import DATABASE
from kbcli.store.manifest import Manifest


@dataclass
class CheckReport:
    name: str
    folder: Path
    problems: list[str] = field(default_factory=list)
    generation: int | None = None
    chunks: int | None = None
    vectors: int | None = None

    @property
    def healthy(self) -> bool:
        return not self.problems


def consistency(conn: sqlite3.Connection, vector_ids: set[int]) -> list[str]:
    """Vectors without chunks, chunks without vectors or files, keyword rows that differ from the
    chunks, and file records whose chunk count is wrong. Empty when they agree."""
    chunk_ids = {r[0] for r in conn.execute("SELECT id FROM chunks")}
    keyword_ids = {r[0] for r in conn.execute("SELECT rowid FROM chunks_fts")}
    orphans = conn.execute("SELECT COUNT(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
    wrong = conn.execute(
        "SELECT f.path, f.chunks, COUNT(c.id) FROM files f LEFT JOIN chunks c ON c.file_id = f.id"
        " GROUP BY f.id HAVING f.chunks != COUNT(c.id)"
    ).fetchall()
    problems = []
    if vector_ids - chunk_ids:
        problems.append(f"{len(vector_ids - chunk_ids)} vectors have no chunk")
    if chunk_ids - vector_ids:
        problems.append(f"{len(chunk_ids - vector_ids)} chunks have no vector")
    if keyword_ids != chunk_ids:
        problems.append(f"keyword index differs from chunks by {len(keyword_ids ^ chunk_ids)} rows")
    if orphans:
        problems.append(f"{orphans} chunks belong to no file")
    problems += [f"{path}: file record says {n} chunks, store has {m}" for path, n, m in wrong]
    return problems


def _sources_problems(conn: sqlite3.Connection) -> list[str]:
    """Files recorded as found under a folder that is not one of the index's sources."""
    stray = conn.execute("SELECT COUNT(*) FROM files WHERE source NOT IN (SELECT path FROM sources)").fetchone()[0]
    return [f"{stray} files belong to none of the index's sources"] if stray else []


def check_index(folder: Path) -> CheckReport:
    """Full checks: manifest, SQLite integrity, the vector file, chunks vs vectors vs keywords."""
    report = CheckReport(folder.name, folder)
    manifest: Manifest | None = None
    try:
        manifest = Manifest.load(folder)
    except (DamagedIndex, IncompatibleIndex) as err:
        report.problems.append(str(err))
    except KbError:
        report.problems.append("manifest.json missing and no database: not an index (kbcli remove it)")
    if not has_database(folder):
        report.problems.append(f"{DATABASE} missing: nothing to rebuild from")
        return report
    try:
        conn = schema.connect(folder, readonly=True)
    except (sqlite3.Error, OSError) as err:
        report.problems.append(f"{DATABASE} cannot be opened: {err}")
        return report
    try:
        _check_database(conn, folder, manifest, report)
    except (sqlite3.Error, DamagedIndex) as err:
        report.problems.append(f"{DATABASE}: {err}")
    finally:
        conn.close()
    return report


def _check_database(conn: sqlite3.Connection, folder: Path, manifest: Manifest | None, report: CheckReport) -> None:
    verdict = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(20)")]
    if verdict != ["ok"]:
        report.problems += [f"{DATABASE}: {line}" for line in verdict]
        return
    meta = committed_meta(conn, folder)
    report.generation = int(meta["generation"])
    report.chunks = chunk_count(conn)
    if manifest is None:
        if "manifest" not in meta:
            report.problems.append("the database holds no copy of the manifest: it cannot be restored")
        return
    try:
        vectors = open_vectors(folder, report.generation, manifest.dimension, mmap=True)
    except DamagedIndex as err:
        report.problems.append(str(err))
        vector_ids: set[int] = set()
    else:
        report.vectors = vectors.ntotal
        vector_ids = vectors.ids()
        if "vectors" in meta and int(meta["vectors"]) != vectors.ntotal:
            report.problems.append(f"{vectors.ntotal} vectors where the last commit recorded {meta['vectors']}")
    problems = consistency(conn, vector_ids)
    if report.vectors is None:  # already said: the file is gone or unreadable
        problems = [p for p in problems if not p.endswith("have no vector")]
    report.problems += problems + _sources_problems(conn)
