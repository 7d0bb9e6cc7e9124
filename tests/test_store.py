"""The on-disk store: commits are atomic, deletes are real, ids are never reused."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from kbcli.errors import LockBusy
from kbcli.store import IndexReader, IndexWriter, Manifest, create_index
from kbcli.store.location import Location, PgLocation, create, open_reader, open_writer

DIM = 8


def _manifest() -> Manifest:
    return Manifest(name="t", model="m", precision="fp32", dimension=DIM, token_limit=256, chunking={})


def _unit(seed: int, n: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _file(path: str) -> dict:
    return {"path": path, "source": "/src", "size": 1, "mtime_ns": 1, "sha256": path, "title": path, "pages": 1}


def _chunks(n: int) -> list[dict]:
    return [{"seq": i, "page": i + 1, "page_label": None, "heading": None, "text": f"chunk {i}"} for i in range(n)]


@pytest.fixture(params=["embedded", "postgres"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """A new empty index, in a folder or in a PostgreSQL database (the same tests run on both)."""
    location: Location = tmp_path / "t"
    if request.param == "postgres":
        location = PgLocation(request.getfixturevalue("pg_url"), "t")
    create(location, _manifest())
    return location


def test_readers_see_only_committed_generations(folder: Location) -> None:
    reader = open_reader(folder)
    writer = open_writer(folder)
    try:
        vectors = _unit(1, 3)
        writer.put_file(_file("/src/a.pdf"), _chunks(3), vectors)
        assert reader.search(vectors[0], 5) == []  # not committed yet
        writer.commit()
        hits = reader.search(vectors[0], 5)
        assert [row.text for row, _ in hits][0] == "chunk 0" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    finally:
        writer.close()
        reader.close()


def test_deleted_chunks_leave_the_vectors_and_ids_are_never_reused(folder: Location) -> None:
    writer = open_writer(folder)
    try:
        writer.put_file(_file("/src/a.pdf"), _chunks(2), _unit(1, 2))
        writer.put_file(_file("/src/b.pdf"), _chunks(2), _unit(2, 2))
        writer.commit()
        first_ids = writer.chunk_ids()
        assert writer.remove_file("/src/b.pdf") == 2
        writer.put_file(_file("/src/c.pdf"), _chunks(2), _unit(3, 2))
        writer.commit()
        assert writer.chunk_ids() == writer.vector_ids()
        assert not (writer.chunk_ids() - first_ids) & first_ids
        assert min(writer.chunk_ids() - first_ids) > max(first_ids)
    finally:
        writer.close()
    reader = open_reader(folder)
    try:
        paths = {row.path for row, _ in reader.search(_unit(2, 1)[0], 10)}
        assert paths == {"/src/a.pdf", "/src/c.pdf"}
    finally:
        reader.close()


def test_uncommitted_work_is_discarded_on_close(folder: Location) -> None:
    writer = open_writer(folder)
    writer.put_file(_file("/src/a.pdf"), _chunks(2), _unit(1, 2))
    writer.close()
    reader = open_reader(folder)
    try:
        assert reader.stats()["chunks"] == 0 and reader.generation == 0
    finally:
        reader.close()
    if isinstance(folder, Path):
        assert sorted(p.name for p in folder.glob("vectors-*")) == []


def test_one_writer_at_a_time(folder: Location) -> None:
    first = open_writer(folder)
    try:
        with pytest.raises(LockBusy):
            open_writer(folder, wait=0.3)
    finally:
        first.close()
    open_writer(folder).close()  # released with the first writer


def test_ivf_index_deletes_for_real_and_finds_stored_vectors(tmp_path: Path) -> None:
    from kbcli.vectors import MIN_IVF_TRAIN

    dim = 32
    manifest = Manifest(name="ivf", model="m", precision="fp32", dimension=dim, token_limit=256, chunking={}, vector_index="ivf")
    create_index(tmp_path / "ivf", manifest)
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(50, dim))
    writer = IndexWriter(tmp_path / "ivf")
    try:
        files = (MIN_IVF_TRAIN // 100) + 5
        for f in range(files):  # clustered data, as real embeddings are
            v = (centers[f % 50] + 0.3 * rng.normal(size=(100, dim))).astype(np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            writer.put_file(_file(f"/src/{f}.pdf"), _chunks(100), v)
        writer.commit()
        assert writer._vectors.kind == "ivf"
        assert writer.remove_file("/src/0.pdf") == 100
        writer.commit()
        assert writer.chunk_ids() == writer.vector_ids()
    finally:
        writer.close()
    reader = IndexReader(tmp_path / "ivf")
    try:
        assert reader.verify() == []
        with reader.snapshot() as snap:
            probe = [(cid,) for cid in random.sample(snap.chunk_ids(), 200)]
        writer = IndexWriter(tmp_path / "ivf")  # read the stored vectors back to query with them
        try:
            found = sum(
                1 for (cid,) in probe
                if reader.search(_stored(writer, cid), 1)[0][0].id == cid
            )
        finally:
            writer.close()
        assert found >= 190  # approximate, but a stored vector finds itself
        queries = np.random.default_rng(9).normal(size=(20, dim)).astype(np.float32)  # not stored ones
        one_list = [[row.id for row, _ in reader.search(q, 10, nprobe=1)] for q in queries]
        every_list = [[row.id for row, _ in reader.search(q, 10, nprobe=1 << 16)] for q in queries]
        assert one_list != every_list  # the nprobe asked for is the one searched with
    finally:
        reader.close()


def _stored(writer: IndexWriter, cid: int) -> np.ndarray:
    import faiss

    ivf = faiss.extract_index_ivf(writer._vectors.index)
    ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
    return ivf.reconstruct(cid)
