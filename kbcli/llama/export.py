"""A kbcli index written as a standard LlamaIndex persist folder, for programs that use plain
LlamaIndex:

    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.vector_stores.faiss import FaissVectorStore
    store = FaissVectorStore.from_persist_dir(DIR)
    index = load_index_from_storage(StorageContext.from_defaults(vector_store=store, persist_dir=DIR))

The FAISS store is an IndexFlatIP of the index's stored, L2-normalised vectors (scores are
cosines; nothing is re-embedded); the docstore holds one node per chunk with file / page /
heading metadata. Queries must be embedded with the index's own model (`kbcli_export.json` names
it; `kbcli.llama.KbcliEmbedding` wraps it). A snapshot: later `kbcli refresh`es do not reach it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kbcli.errors import UsageError
from kbcli.llama.nodes import text_node
from kbcli.store import ChunkRow, IndexReader

if TYPE_CHECKING:
    import numpy as np

EXPORT_INFO = "kbcli_export.json"


@dataclass(frozen=True)
class ExportReport:
    index: str
    folder: str
    nodes: int
    dimension: int
    bytes: int
    model: str
    seconds: float

    def to_json(self) -> dict:
        return asdict(self)


def export_index(reader: IndexReader, target: Path) -> ExportReport:
    """Write `reader`'s index to `target` (which must not exist, or be an empty folder), atomically:
    everything goes to a hidden folder beside it, renamed into place when complete."""
    started = time.perf_counter()
    target = target.expanduser().absolute()
    _check_target(target)
    staging = target.parent / f".{target.name}.kbcli-export-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        count = _write(reader, staging)
        os.replace(staging, target)  # an empty folder at `target` is replaced, a non-empty one refused
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = reader.manifest
    size = sum(p.stat().st_size for p in target.iterdir() if p.is_file())
    return ExportReport(
        manifest.name, str(target), count, manifest.dimension, size, manifest.model, round(time.perf_counter() - started, 2)
    )


def _check_target(target: Path) -> None:
    if target.is_dir():
        if any(target.iterdir()):
            raise UsageError(f"{target} exists and is not empty: give a new or empty folder")
    elif target.exists():
        raise UsageError(f"{target} exists and is not a folder")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")


def _write(reader: IndexReader, folder: Path) -> int:
    import faiss
    import numpy as np
    from llama_index.core import StorageContext
    from llama_index.core.data_structs import IndexDict
    from llama_index.vector_stores.faiss import FaissVectorStore

    dimension = reader.manifest.dimension
    flat = faiss.IndexFlatIP(dimension)
    struct = IndexDict()
    storage = StorageContext.from_defaults(vector_store=FaissVectorStore(faiss_index=flat))
    for rows in _batches(reader):
        nodes = [_node(row) for row, _ in rows]
        first = flat.ntotal
        flat.add(np.stack([vector for _, vector in rows]).astype(np.float32))
        for position, node in enumerate(nodes, start=first):
            struct.add_node(node, text_id=str(position))  # FaissVectorStore's ids are positions
        storage.docstore.add_documents(nodes, allow_update=False)
    struct.summary = f"kbcli index {reader.manifest.name}"
    storage.index_store.add_index_struct(struct)
    folder.mkdir(parents=True)
    storage.persist(persist_dir=str(folder))
    info = {"index": reader.manifest.name, "model": reader.manifest.model, "precision": reader.manifest.precision,
            "dimension": dimension, "nodes": flat.ntotal, "index_id": struct.index_id, "metric": "inner product (cosine)"}
    (folder / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return int(flat.ntotal)


def _batches(reader: IndexReader, size: int = 1000) -> Iterator[list[tuple[ChunkRow, "np.ndarray"]]]:
    """Every chunk with its stored vector, in id order, from one committed generation (the only
    place that reads the store: public IndexReader / Snapshot methods only)."""
    with reader.snapshot() as snap:
        ids = snap.chunk_ids()
        for start in range(0, len(ids), size):
            part = ids[start : start + size]
            rows, vectors = snap.rows(part), snap.vectors(part)
            batch = [(rows[cid], vectors[cid]) for cid in part if cid in rows and cid in vectors]
            if batch:
                yield batch


def _node(row: ChunkRow):
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

    metadata = {
        "file": row.path, "page": row.page, "page_label": row.page_label, "heading": row.heading,
        "title": row.title, "source": row.source, "chunk_id": row.id, "seqs": [row.seq], "ocr": bool(row.ocr),
    }
    node = text_node(str(row.id), row.text, metadata)
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=row.path)  # ref_doc_id: the file
    return node
