"""Killed writers, random add/delete rounds, concurrent writers, readers during a refresh."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import docx
import numpy as np
import pytest

from kbcli.store import IndexReader, IndexWriter, Manifest, create_index

from conftest import Cli

KBCLI = [sys.executable, "-m", "kbcli"]
TOPICS = ["lighthouse", "glacier", "orchard", "volcano", "harbor", "desert", "canyon", "meadow", "reef", "tundra"]


def _word(path: Path, topic: str, version: int, paragraphs: int = 3) -> None:
    document = docx.Document()
    document.add_heading(f"{topic.title()} report version {version}", level=1)
    for i in range(paragraphs):
        document.add_paragraph(
            f"The {topic} survey, revision {version}, section {i}: observers recorded conditions near the {topic} "
            f"and compared them with earlier seasons. Measurements from station {i} were archived for review."
        )
    document.save(path)


def _verify(folder: Path) -> list[str]:
    reader = IndexReader(folder)
    try:
        return reader.verify()
    finally:
        reader.close()


# -- store level: many random rounds ---------------------------------------------------------------
def test_random_add_delete_rounds_keep_results_true(tmp_path: Path) -> None:
    dim = 16
    create_index(tmp_path / "t", Manifest("t", "m", "fp32", dim, 256, {}))
    rng = random.Random(7)
    truth: dict[str, tuple[int, np.ndarray]] = {}  # path -> (version, vectors)
    version = 0
    writer = IndexWriter(tmp_path / "t")
    reader = IndexReader(tmp_path / "t")
    try:
        for round_ in range(120):
            for _ in range(rng.randint(1, 4)):
                path = f"/src/f{rng.randint(0, 15)}.pdf"
                if path in truth and rng.random() < 0.4:
                    writer.remove_file(path)
                    del truth[path]
                else:
                    version += 1
                    n = rng.randint(1, 5)
                    vectors = np.random.default_rng(version).normal(size=(n, dim)).astype(np.float32)
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    chunks = [{"seq": i, "page": 1, "page_label": None, "heading": None, "text": f"{path} v{version} #{i}"} for i in range(n)]
                    writer.put_file({"path": path, "source": "/src", "size": 1, "mtime_ns": version, "sha256": str(version)}, chunks, vectors)
                    truth[path] = (version, vectors)
            writer.commit()
            assert writer.chunk_ids() == writer.vector_ids()
            # every result names a live file with its current content, and exact matches come first
            for path, (ver, vectors) in list(truth.items())[:5]:
                hits = reader.search(vectors[0], 10)
                assert hits[0][0].text == f"{path} v{ver} #0"
                for row, _ in hits:
                    assert row.path in truth and row.text.startswith(f"{row.path} v{truth[row.path][0]} #")
        assert reader.verify() == []
    finally:
        writer.close()
        reader.close()


# -- process level: SIGKILL at random moments -------------------------------------------------------
@pytest.mark.slow
def test_refresh_killed_at_random_moments_leaves_a_consistent_index(cli: Cli, tmp_path: Path, kbcli_home: Path) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    for i, topic in enumerate(TOPICS):
        _word(src / f"{topic}.docx", topic, 0)
    cli("index", src, "--name", "k")
    folder = kbcli_home / "indexes" / "k"
    env = {**os.environ, "KBCLI_COMMIT_SECONDS": "0"}  # commit after every file: kills land mid-commit too
    rng = random.Random(11)
    kills = 0
    # Kill moments are drawn from the length of the last refresh that ran to the end, so the test
    # lands its kills on a fast CI machine as well as on a slow laptop.
    run_seconds = 2.5
    for round_ in range(80):
        if kills >= 20:
            break
        # change several files so the refresh has work to do
        for topic in rng.sample(TOPICS, 6):
            path = src / f"{topic}.docx"
            if path.exists() and rng.random() < 0.2:
                path.unlink()
            else:
                _word(path, topic, round_ + 1, paragraphs=rng.randint(5, 40))
        started = time.monotonic()
        proc = subprocess.Popen([*KBCLI, "refresh", "k", "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            proc.wait(timeout=rng.uniform(0.05, 0.9) * run_seconds)
            run_seconds = time.monotonic() - started  # it finished first: aim earlier next time
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            proc.wait()
        assert _verify(folder) == [], f"round {round_}"
        answered = subprocess.run([*KBCLI, "query", "k", "glacier survey", "--json"], capture_output=True, text=True)
        assert answered.returncode == 0, answered.stderr
        for hit in json.loads(answered.stdout)["hits"]:
            assert hit["file"].startswith(str(src))
    assert kills >= 20
    final = cli.json("refresh", "k", "--json")  # the next refresh finishes the work
    assert final["failed"] == []
    assert _verify(folder) == []
    info = cli.json("info", "k", "--json", "--files")
    on_disk = sorted(str(p) for p in src.glob("*.docx"))
    assert sorted(f["path"] for f in info["files_detail"]) == on_disk
    import hashlib

    for record in info["files_detail"]:  # the index describes every file as it is now
        assert record["sha256"] == hashlib.sha256(Path(record["path"]).read_bytes()).hexdigest()
        assert record["status"] == "ok" and record["chunks"] > 0
        heading = docx.Document(record["path"]).paragraphs[0].text
        hits = cli.json("query", "k", heading, "--json", "-k", "10")["hits"]
        assert any(h["file"] == record["path"] and heading in h["text"] for h in hits), heading
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- one writer, many readers --------------------------------------------------------------------
@pytest.mark.slow
def test_second_writer_waits_or_exits_4_and_readers_keep_working(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    for topic in TOPICS[:3]:
        _word(src / f"{topic}.docx", topic, 0)
    cli("index", src, "--name", "c")
    for topic in TOPICS[3:]:  # give the first refresh real work: long documents
        _word(src / f"{topic}.docx", topic, 1, paragraphs=150)
    first = subprocess.Popen([*KBCLI, "refresh", "c"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        line = first.stderr.readline()  # printed once the first refresh holds the lock and has planned
        assert "to read" in line, line
        busy = subprocess.run([*KBCLI, "refresh", "c"], capture_output=True, text=True)
        assert busy.returncode == 4, busy.stderr
        assert "being written by another kbcli process" in busy.stderr and "Traceback" not in busy.stderr
        # a query during the refresh answers from the last committed state
        during = subprocess.run([*KBCLI, "query", "c", "lighthouse survey", "--json"], capture_output=True, text=True)
        assert during.returncode == 0 and json.loads(during.stdout)["hits"]
        # --wait long enough: the second writer runs after the first
        waited = subprocess.run([*KBCLI, "refresh", "c", "--wait", "300", "--json"], capture_output=True, text=True)
        assert waited.returncode == 0, waited.stderr
    finally:
        out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "added" in out and json.loads(waited.stdout)["added"] == 0
