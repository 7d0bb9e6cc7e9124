"""Nothing lost: interrupted and killed runs, damaged indexes (issue 13). Real processes, real files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

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
