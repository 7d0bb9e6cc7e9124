"""Every JSON shape kbcli prints, in one place: what scripts read is defined here and only here.

Plain functions from core values to JSON-ready dicts; the CLI and the shell print them through
their `Output`. Changing a key here changes kbcli's interface (README: each command's --json).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kbcli.snippets import snippet

if TYPE_CHECKING:
    from kbcli.answer import Answered
    from kbcli.indexer import SyncReport
    from kbcli.facts import FileStatus, IndexInfo, IndexSummary, SourceStatus
    from kbcli.search import Hit, QueryResult
    from kbcli.session import Around

_HIT_INTERNALS = ("source", "title", "file_id", "seqs", "explain")
SNIPPET_CHARS = 600  # a hit's `snippet` in query --json: its best sentences, for a list view


def hit_json(hit: "Hit", explain: bool = False, query: str | None = None) -> dict[str, Any]:
    """A hit; with the `query` it answers, also its `snippet` (`text` stays whole)."""
    data = asdict(hit)
    for key in _HIT_INTERNALS:
        data.pop(key, None)
    if query is not None:
        data["snippet"] = snippet(hit.text, query, SNIPPET_CHARS).text
    if hit.rerank_score is None:
        data.pop("rerank_score", None)
    if explain and hit.explain is not None:
        data["explain"] = asdict(hit.explain)
    return data


def result_json(result: "QueryResult", explain: bool = False) -> dict[str, Any]:
    return {
        "index": result.index,
        "query": result.query,
        "mode": result.mode,
        "expanded": result.expanded,
        "hits": [hit_json(h, explain, result.query) for h in result.hits],
        "seconds": result.seconds,  # search time in the process (no start-up, no printing)
    }


def answer_json(result: "QueryResult", answered: "Answered | None", explain: bool = False) -> dict[str, Any]:
    """A question's outcome, in `query --json` and the shell alike. With an answer asked for
    (`answered` given), `answer` (null without one) and `cited` (the hit ranks it cites)."""
    data = result_json(result, explain)
    if answered is not None:
        data["answer"] = answered.text
        data["cited"] = list(answered.cited)
    return data


def context_json(hit: "Hit", around: "Around") -> dict[str, Any]:
    return {**hit_json(hit), "before": around.before, "after": around.after}


def open_json(hit: "Hit", target: str) -> dict[str, Any]:
    return {"open": target, "file": hit.file, "page": hit.page}


def sync_json(name: str, report: "SyncReport") -> dict[str, Any]:
    return {
        "index": name,
        "added": report.added,
        "modified": report.modified,
        "removed": report.removed,
        "unchanged": report.unchanged,
        "moved": report.moved,
        "files": report.files,
        "pages": report.pages,
        "failed": [{"file": f.file, "reason": f.reason, "error": f.error} for f in report.failed],
        "notes": [{"file": p.file, "note": p.note} for p in report.partial],
        "chunks_added": report.chunks_added,
        "chunks_removed": report.chunks_removed,
        "missing_sources": report.missing_sources,
        "seconds": report.seconds,
        "model_choice": report.model_choice,
    }


def source_json(source: "SourceStatus") -> dict[str, Any]:
    return {"path": source.path, "include": list(source.include), "exclude": list(source.exclude), "exists": source.exists}


def file_json(f: "FileStatus") -> dict[str, Any]:
    return asdict(f)


def failure_json(f: "FileStatus") -> dict[str, Any]:
    return {"file": f.path, "reason": f.reason, "error": f"{f.reason}: {f.detail}"}


def info_json(info: "IndexInfo", files: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": info.name,
        "path": str(info.path),
        "manifest": info.manifest.to_json(),
        **asdict(info.stats),
        "sources": [source_json(s) for s in info.sources],
        "failed": [failure_json(f) for f in info.failed],
        "owner_only": info.owner_only,
    }
    if files:
        data["files_detail"] = [file_json(f) for f in info.files]
    return data


def shell_info_json(info: "IndexInfo", shell: dict[str, Any]) -> dict[str, Any]:
    return {**info_json(info), "shell": shell}


def summary_json(summary: "IndexSummary") -> dict[str, Any]:
    data: dict[str, Any] = {"name": summary.name, "path": str(summary.path), "status": summary.status}
    if summary.stats is not None:
        data.update(asdict(summary.stats))
    if summary.reason is not None:
        data["problem"] = summary.reason
    return data


def list_json(home: Path, summaries: "list[IndexSummary]", store: str | None = None) -> dict[str, Any]:
    """`store`: the PostgreSQL store listed, already shown without its password."""
    listed: dict[str, Any] = {"home": str(home), "indexes": [summary_json(s) for s in summaries]}
    if store:
        listed["store"] = store
    return listed
