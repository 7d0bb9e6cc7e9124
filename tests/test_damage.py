"""Nothing lost: interrupted and killed runs, damaged indexes (issue 13). Real processes, real files."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import docx
import pytest

from kbcli.store import IndexReader

from conftest import Cli

KBCLI = [sys.executable, "-m", "kbcli"]


def _many_word_files(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        document = docx.Document()
        document.add_heading(f"Station {i} log", level=1)
        for j in range(4):
            document.add_paragraph(
                f"Station {i}, entry {j}: the crew measured wind, pressure and the height of the tide, "
                f"then compared the readings with the almanac for the same week of earlier years."
            )
        document.save(folder / f"station_{i:03d}.docx")


def _start_index(src: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "KBCLI_COMMIT_SECONDS": "3600"}  # nothing committed by the clock
    return subprocess.Popen(
        [*KBCLI, "index", str(src), "--name", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _wait_for_progress(process: subprocess.Popen, files_done: int) -> list[str]:
    """Read the log lines until `files_done` files are through (the run is then mid-way)."""
    seen: list[str] = []
    assert process.stderr is not None
    for line in process.stderr:
        seen.append(line)
        if f"[{files_done}/" in line:
            return seen
    raise AssertionError("the run ended before it could be interrupted:\n" + "".join(seen))


def _verified(home: Path, name: str) -> None:
    reader = IndexReader(home / "indexes" / name)
    try:
        assert reader.verify() == []
    finally:
        reader.close()


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_first_run_at_a_safe_point_and_refresh_finishes_it(
    cli: Cli, tmp_path: Path, kbcli_home: Path, signum: int, code: int
) -> None:
    src = tmp_path / "src"
    _many_word_files(src, 60)
    process = _start_index(src, "s")
    _wait_for_progress(process, 5)
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == code, rest
    assert "Traceback" not in rest
    last = rest.strip().splitlines()[-1]
    assert last.startswith("kbcli: error: stopped by ") and "are committed" in last and "kbcli refresh s" in last
    committed = cli.json("info", "s", "--json")
    assert 5 <= committed["files"] < 60  # what was done is kept ...
    _verified(kbcli_home, "s")
    report = cli.json("refresh", "s", "--json")  # ... and refresh does the rest
    assert report["files"] == 60 and report["added"] == 60 - committed["files"]
    _verified(kbcli_home, "s")


@pytest.mark.slow
def test_kill_9_during_the_first_run_is_resumed_by_refresh(cli: Cli, tmp_path: Path, kbcli_home: Path) -> None:
    src = tmp_path / "src"
    _many_word_files(src, 30)
    process = _start_index(src, "k")
    _wait_for_progress(process, 3)
    process.kill()
    process.wait(timeout=30)
    report = cli.json("refresh", "k", "--json")  # the sources were recorded before any file was read
    assert report["files"] == 30 and report["added"] == 30
    _verified(kbcli_home, "k")


# -- damaged indexes: detected on open, said in one line, repaired from what survives --

_TOPICS = {
    "tides.txt": "The harbour master logs the tide tables: spring tides, neap tides and the moon's pull on the sea.",
    "bread.txt": "Sourdough bread needs a starter, flour, water and salt; the dough proofs overnight in a cool kitchen.",
    "engines.txt": "The diesel engine overheated because the coolant pump failed; the mechanic replaced the water pump.",
    "taxes.txt": "Quarterly tax returns are filed with the revenue office; late filing brings a penalty and interest.",
    "birds.txt": "Migrating swallows cross the desert in autumn and return to the same barn every spring to nest.",
}
_QUESTION = "why did the motor get too hot"


def _text_files(folder: Path, extra: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**_TOPICS, **(extra or {})}.items():
        (folder / name).write_text((text + " ") * 3)
    return folder


def _top_hit(cli: Cli, name: str) -> tuple[str, str]:
    hits = cli.json("query", name, _QUESTION, "--mode", "vector", "--json")["hits"]
    assert hits, "vector search returned nothing"
    return hits[0]["file"], hits[0]["text"]


def _one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kbcli: error: "), result.stderr
    assert "unexpected" not in lines[0], lines[0]
    return lines[0]


def _two_indexes(cli: Cli, tmp_path: Path, kbcli_home: Path) -> tuple[Path, tuple[str, str]]:
    src = _text_files(tmp_path / "src")
    cli("index", src, "--name", "d", "--quiet")
    cli("index", src, "--name", "other", "--quiet")
    return kbcli_home / "indexes" / "d", _top_hit(cli, "d")


def _truncate_vectors(folder: Path) -> None:
    path = max(folder.glob("vectors-*.faiss"), key=lambda p: int(p.stem.split("-")[1]))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete_vectors(folder: Path) -> None:
    for path in folder.glob("vectors-*.faiss"):
        path.unlink()


def _delete_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


@pytest.mark.parametrize("damage, said", [
    (_truncated := _truncate_vectors, "cannot be read"),
    (_delete_vectors, "is missing"),
    (_delete_manifest, "manifest missing"),
])
def test_damage_is_said_in_one_line_and_repair_brings_every_vector_back(
    cli: Cli, tmp_path: Path, kbcli_home: Path, damage, said: str  # type: ignore[no-untyped-def]
) -> None:
    folder, before = _two_indexes(cli, tmp_path, kbcli_home)
    damage(folder)
    for command in (["query", "d", _QUESTION, "--mode", "vector"], ["refresh", "d"], ["index", tmp_path / "src", "--name", "d"]):
        line = _one_line_error(cli(*command, code=1))
        assert said in line and "kbcli repair d" in line, line
    listed = {i["name"]: i for i in cli.json("list", "--json")["indexes"]}
    assert listed["other"]["status"] == "ok" and listed["d"]["status"] == "damaged"
    checked = cli("check", "d", code=1)
    assert checked.stdout.strip() and all(line.startswith("d: ") for line in checked.stdout.strip().splitlines())
    assert cli.json("check", "d", "--json", code=1)["healthy"] is False
    repaired = cli.json("repair", "d", "--json")
    assert repaired["found"] and repaired["repaired"]
    assert cli.json("check", "d", "--json")["healthy"] is True
    assert _top_hit(cli, "d") == before
    assert cli.json("refresh", "d", "--json")["unchanged"] == len(_TOPICS)
    _verified(kbcli_home, "d")


def test_a_corrupt_database_is_said_with_the_commands_that_start_over(cli: Cli, tmp_path: Path, kbcli_home: Path) -> None:
    folder, before = _two_indexes(cli, tmp_path, kbcli_home)
    database = folder / "index.sqlite"
    with open(database, "r+b") as fh:  # random bytes over the pages after the header
        fh.seek(100)
        fh.write(os.urandom(database.stat().st_size - 100))
    for command in (["query", "d", _QUESTION], ["refresh", "d"], ["repair", "d"]):
        line = _one_line_error(cli(*command, code=1))
        assert "kbcli remove d --yes" in line, line
    assert cli.json("check", "d", "--json", code=1)["problems"]
    assert {i["name"]: i["status"] for i in cli.json("list", "--json")["indexes"]}["other"] == "ok"
    cli("remove", "d", "--yes")
    cli("index", tmp_path / "src", "--name", "d", "--quiet")
    assert _top_hit(cli, "d") == _top_hit(cli, "other") == (before[0], before[1])


def test_remove_takes_a_half_created_folder(cli: Cli, kbcli_home: Path) -> None:
    (kbcli_home / "indexes" / "half").mkdir(parents=True)
    assert "no index named" in _one_line_error(cli("query", "half", "anything", code=1))
    cli("remove", "half", "--yes")
    assert not (kbcli_home / "indexes" / "half").exists()
    assert "no index named" in _one_line_error(cli("remove", "half", "--yes", code=1))
    orphan = kbcli_home / "indexes" / "orphan"  # a database whose manifest is gone
    orphan.mkdir()
    sqlite3.connect(orphan / "index.sqlite").execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)").connection.close()
    assert {i["name"]: i["status"] for i in cli.json("list", "--json")["indexes"]} == {"orphan": "damaged"}
    assert "nothing is left to rebuild" in _one_line_error(cli("repair", "orphan", code=1))
    cli("remove", "orphan", "--yes")
    assert cli.json("list", "--json")["indexes"] == []


def test_a_full_disk_on_the_first_run_leaves_nothing_half_made(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _small_home(tmp_path / "tiny-home", "1m", monkeypatch) as home:
        (home / "indexes").mkdir(mode=0o700)
        filler = _fill(home, leave=8 * 1024)
        line = _one_line_error(cli("index", _text_files(tmp_path / "src"), "--name", "n", code=1))
        assert "no space left" in line, line
        assert cli.json("list", "--json")["indexes"] == []
        filler.unlink()
        cli("index", tmp_path / "src", "--name", "n", "--quiet")
        assert _top_hit(cli, "n")[0].endswith("engines.txt")


def test_check_passes_a_healthy_index(cli: Cli, tmp_path: Path, kbcli_home: Path) -> None:
    cli("index", _text_files(tmp_path / "src"), "--name", "h", "--quiet")
    assert "is healthy" in cli("check", "h").stdout
    assert cli.json("repair", "h", "--json")["found"] == []


def _mount_tmpfs(target: Path, size: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}): needs root in a mount namespace")


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextmanager
def _small_home(home: Path, size: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """KBCLI_HOME on a tmpfs of `size`: a disk that really fills up."""
    _mount_tmpfs(home, size)
    try:
        monkeypatch.setenv("KBCLI_HOME", str(home))
        yield home
    finally:
        _unmount(home)


def _fill(home: Path, leave: int) -> Path:
    """A file that takes all of the disk's free space but `leave` bytes."""
    filler = home / "filler"
    free = os.statvfs(home).f_bavail * os.statvfs(home).f_frsize
    filler.write_bytes(b"\0" * max(free - leave, 0))
    return filler


def test_a_read_only_index_can_be_queried_and_says_why_it_cannot_be_written(
    cli: Cli, tmp_path: Path, kbcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores file modes: a read-only mount is the only real read-only folder for it.
    cli("index", _text_files(tmp_path / "src"), "--name", "r", "--quiet")
    before = _top_hit(cli, "r")
    home = tmp_path / "ro-home"
    _mount_tmpfs(home, "64m")
    try:
        _copy_without_wal_files(kbcli_home / "indexes" / "r", home / "indexes" / "r")
        subprocess.run(["mount", "-o", "remount,ro", str(home)], check=True)
        monkeypatch.setenv("KBCLI_HOME", str(home))
        assert _top_hit(cli, "r") == before
        assert cli.json("check", "r", "--json")["healthy"] is True
        line = _one_line_error(cli("refresh", "r", code=1))
        assert "read-only" in line, line
    finally:
        _unmount(home)


def _copy_without_wal_files(folder: Path, target: Path) -> None:
    """The index as a copy to read-only media carries it: the database in WAL mode, no -wal/-shm."""
    target.mkdir(parents=True)
    for path in folder.iterdir():
        if path.name.endswith((".json", ".faiss")):
            shutil.copy2(path, target / path.name)
    source = sqlite3.connect(folder / "index.sqlite")
    copy = sqlite3.connect(target / "index.sqlite")
    source.backup(copy)
    copy.execute("PRAGMA journal_mode=WAL")
    copy.close()
    source.close()
    assert not list(target.glob("*-wal")) and not list(target.glob("*-shm"))


def test_a_full_disk_is_said_in_one_line_and_the_last_commit_stays(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _small_home(tmp_path / "small-home", "3m", monkeypatch) as home:
        src = _text_files(tmp_path / "src")
        cli("index", src, "--name", "f", "--quiet")
        before = _top_hit(cli, "f")
        for i in range(4):
            (src / f"more_{i}.txt").write_text(f"Report {i} on the station's water supply and pumps. " * 120)
        filler = _fill(home, leave=32 * 1024)
        line = _one_line_error(cli("refresh", "f", "--quiet", code=1))
        assert "no space left" in line and "intact" in line, line
        filler.unlink()
        assert _top_hit(cli, "f") == before
        assert cli.json("check", "f", "--json")["healthy"] is True
