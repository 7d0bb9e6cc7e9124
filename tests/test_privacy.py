"""Private by default: what kbcli writes is owner-only whatever the umask (issue 13)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLE_DOCS, Cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_index_and_its_home_are_owner_only_under_a_loose_umask(tmp_path: Path, model_cache: Path) -> None:
    home = tmp_path / "fresh" / "home"
    env = {**os.environ, "KBCLI_HOME": str(home), "KBCLI_CACHE": str(model_cache)}
    script = "import os, sys; os.umask(0o022); from kbcli.cli import main; sys.argv[1:] = sys.argv[1:]; main()"
    result = subprocess.run([sys.executable, "-c", script, "index", str(SAMPLE_DOCS), "--name", "p", "--quiet"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    folder = home / "indexes" / "p"
    for path in (home, home / "indexes", folder):
        assert _mode(path) == 0o700, path
    files = [p for p in folder.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"manifest.json", "index.sqlite", "write.lock"}
    assert any(p.name.startswith("vectors-") for p in files)
    for path in files:
        assert _mode(path) == 0o600, path


def test_an_older_world_readable_index_is_tightened_on_its_next_write(cli: Cli, tmp_path: Path, kbcli_home: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("The lease ends in March.\n")
    cli("index", src, "--name", "t", "--quiet")
    folder = kbcli_home / "indexes" / "t"
    os.chmod(folder, 0o755)
    for path in folder.iterdir():
        os.chmod(path, 0o644)  # as kbcli left them before, under umask 022
    assert cli.json("info", "t", "--json")["owner_only"] is False
    assert "readable by other users" in cli("info", "t").stdout
    (src / "b.txt").write_text("The deposit is two months' rent.\n")
    cli("refresh", "t", "--quiet")
    assert cli.json("info", "t", "--json")["owner_only"] is True
    assert "owner only" in cli("info", "t").stdout
    assert _mode(folder) == 0o700
    assert all(_mode(p) == 0o600 for p in folder.iterdir() if p.is_file())
