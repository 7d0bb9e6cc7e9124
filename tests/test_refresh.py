"""`kbcli refresh`: only what changed is read; deletes are real; renames reuse vectors."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import SAMPLE_DOCS, Cli, word_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    src = tmp_path / "docs"
    src.mkdir()
    shutil.copy(SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf", src)
    word_file(src / "zebra_notes.docx", "The zebra crossing near the office is repainted every April by the city.")
    word_file(src / "harbor_log.docx", "The harbor master logs every vessel arriving after sunset in the red ledger.")
    return src


def _refresh(cli: Cli, code: int = 0) -> dict:
    return cli.json("refresh", "r", "--json", code=code)


def _files_in_hits(cli: Cli, question: str, k: int = 10) -> set[str]:
    return {Path(h["file"]).name for h in cli.json("query", "r", question, "--json", "-k", str(k))["hits"]}


def test_add_modify_delete_touch_rename(cli: Cli, folder: Path) -> None:
    first = cli.json("index", folder, "--name", "r", "--json")
    assert first["added"] == 3 and first["chunks_added"] > 0

    nothing = _refresh(cli)
    assert (nothing["added"], nothing["modified"], nothing["removed"], nothing["unchanged"]) == (0, 0, 0, 3)

    # touch: new mtime, same bytes -> confirmed by hash, nothing re-embedded
    os.utime(folder / "zebra_notes.docx", ns=(time.time_ns(), time.time_ns() + 10**9))
    touched = _refresh(cli)
    assert touched["modified"] == 0 and touched["chunks_added"] == 0 and touched["unchanged"] == 3
    assert _refresh(cli)["unchanged"] == 3  # and the new mtime was remembered

    # add
    word_file(folder / "volcano_facts.docx", "Mount Vesuvius buried Pompeii under volcanic ash in the year 79.")
    added = _refresh(cli)
    assert added["added"] == 1 and added["chunks_added"] >= 1
    assert "volcano_facts.docx" in _files_in_hits(cli, "Which city did Vesuvius bury?", 3)

    # modify: old passages go, new ones come
    word_file(folder / "zebra_notes.docx", "Giraffes in the northern reserve are counted by drone each autumn.")
    modified = _refresh(cli)
    assert modified["modified"] == 1 and modified["chunks_removed"] >= 1 and modified["chunks_added"] >= 1
    texts = [h["text"] for h in cli.json("query", "r", "zebra crossing repainted", "--json", "-k", "20")["hits"]]
    assert not any("zebra crossing" in t for t in texts)

    # rename: same content under a new name keeps its vectors
    (folder / "harbor_log.docx").rename(folder / "harbour_log_renamed.docx")
    moved = _refresh(cli)
    assert moved["moved"] == 1 and moved["chunks_added"] == 0 and moved["removed"] == 0
    hits = cli.json("query", "r", "harbor master vessels after sunset", "--json", "-k", "1")["hits"]
    assert Path(hits[0]["file"]).name == "harbour_log_renamed.docx"

    # delete: never returned again
    (folder / "volcano_facts.docx").unlink()
    deleted = _refresh(cli)
    assert deleted["removed"] == 1 and deleted["chunks_removed"] >= 1
    assert "volcano_facts.docx" not in _files_in_hits(cli, "Which city did Vesuvius bury?", 50)
    info = cli.json("info", "r", "--json")
    assert info["chunks"] == info["vectors"]


def test_a_vanished_source_keeps_its_files_unless_pruned(cli: Cli, folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "mount"
    other.mkdir()
    word_file(other / "tides.docx", "Spring tides happen near new and full moon.")
    cli("index", folder, other, "--name", "r")
    shutil.rmtree(other)
    kept = _refresh(cli)
    assert kept["missing_sources"] == [str(other)] and kept["removed"] == 0
    assert "tides.docx" in _files_in_hits(cli, "When do spring tides happen?", 3)
    assert "[missing]" in cli("sources", "r").stdout
    pruned = cli.json("refresh", "r", "--json", "--prune-missing-sources")
    assert pruned["removed"] == 1
    assert "tides.docx" not in _files_in_hits(cli, "When do spring tides happen?", 50)


def test_index_on_an_existing_index_adds_a_source(cli: Cli, folder: Path, tmp_path: Path) -> None:
    cli("index", folder, "--name", "r")
    extra = tmp_path / "extra"
    extra.mkdir()
    word_file(extra / "orchard.docx", "The orchard grows twelve varieties of heritage apples.")
    summary = cli.json("index", extra, "--name", "r", "--json")
    assert summary["added"] == 1 and summary["unchanged"] == 3
    assert [s["path"] for s in cli.json("sources", "r", "--json")] == sorted([str(folder), str(extra)])


def test_a_failed_file_is_retried_when_it_changes(cli: Cli, folder: Path) -> None:
    broken = folder / "later.docx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    first = cli.json("index", folder, "--name", "r", "--json", code=3)
    assert [f["file"] for f in first["failed"]] == [str(broken)]
    assert _refresh(cli)["failed"] == []  # unchanged: not retried, still recorded
    assert [f["file"] for f in cli.json("info", "r", "--json")["failed"]] == [str(broken)]
    word_file(broken, "Now a proper document about lighthouses.")
    fixed = _refresh(cli)
    assert fixed["modified"] == 1 and fixed["failed"] == []
    assert cli.json("info", "r", "--json")["failed"] == []


def test_log_lines_and_log_file_when_not_a_terminal(cli: Cli, folder: Path, tmp_path: Path) -> None:
    log = tmp_path / "kbcli.log"
    result = cli("index", folder, "--name", "r", "--log-file", log)
    assert "3 files in sources, 3 to read" in result.stderr and "committed generation 1" in result.stderr
    assert "committed generation 1" in log.read_text()
    quiet = cli("refresh", "r", "--quiet")
    assert quiet.stdout == "" and quiet.stderr == ""


@pytest.mark.slow
def test_watch_refreshes_when_a_file_appears(cli: Cli, folder: Path) -> None:
    import signal
    import subprocess
    import sys

    cli("index", folder, "--name", "r")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kbcli", "watch", "r", "--debounce", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stderr is not None
        assert "watching 1 source" in proc.stderr.readline()
        assert "refreshed r: 0 added" in proc.stderr.readline()  # the refresh at start
        word_file(folder / "comet_notes.docx", "Halley's comet returns to the inner solar system about every 76 years.")
        line = proc.stderr.readline()
        assert "refreshed r: 1 added" in line, line
        hits = cli.json("query", "r", "How often does Halley's comet return?", "--json", "-k", "1")["hits"]
        assert Path(hits[0]["file"]).name == "comet_notes.docx"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say what it was doing (it failed this way once, unexplained)
            proc.kill()
            rest = proc.communicate()[1]
            pytest.fail(f"watch did not stop within 60 s of SIGINT; the rest of its stderr:\n{rest}")
    assert proc.returncode == 0
