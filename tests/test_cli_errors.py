"""Bad input: one clear line on stderr, the documented exit code, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, Cli


def _one_line_error(result, *needles: str) -> None:
    err = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    assert err.startswith("kbcli: error:") or "Usage:" in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_unknown_index(cli: Cli) -> None:
    result = cli("query", "nope", "anything", code=1)
    _one_line_error(result, "no index named 'nope'")
    _one_line_error(cli("info", "nope", code=1), "no index named")
    _one_line_error(cli("refresh", "nope", code=1), "no index named")


def test_missing_path_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    _one_line_error(cli("index", tmp_path / "missing", "--name", "x", code=2), "no such file or folder")


def test_folder_without_documents(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("hello")  # not a format kbcli reads
    _one_line_error(cli("index", tmp_path, "--name", "empty", code=1), "no files to index")


def test_bad_options_are_usage_errors(cli: Cli) -> None:
    assert cli("query", "x", "q", "--top-k", "0", code=2).exit_code == 2
    assert cli("index", "--name", "x", code=2).exit_code == 2  # no PATH
    assert cli("query", "x", code=2).exit_code == 2  # no question
    _one_line_error(cli("index", ".", "--name", "../evil", code=2), "invalid index name")
    _one_line_error(cli("bogus-command", code=2))


def test_unreadable_file_gives_exit_3_and_is_reported_by_name(cli: Cli, tmp_path: Path) -> None:
    import shutil

    shutil.copy(CORPUS / "pdf_tricky" / "damaged_23_bytes.pdf", tmp_path / "broken.pdf")
    shutil.copy(CORPUS / "docx" / "feature__mammoth__tables.docx", tmp_path / "fine.docx")
    result = cli("index", tmp_path, "--name", "mixed", "--json", code=3)
    summary = json.loads(result.stdout)
    assert summary["added"] == 1
    assert summary["failed"] == [
        {"file": str(tmp_path / "broken.pdf"), "reason": "damaged", "error": summary["failed"][0]["error"]}
    ]
    info = cli.json("info", "mixed", "--json")
    assert [f["file"] for f in info["failed"]] == [str(tmp_path / "broken.pdf")]
    listing = cli("info", "mixed", "--failed").stdout
    assert "damaged" in listing and "fine.docx" not in listing


def test_debug_is_the_way_to_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kbcli", "query", "nope", "q"], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [["remove", "nope", "--yes"], ["sources", "nope"]])
def test_other_commands_on_unknown_index(cli: Cli, args: list[str]) -> None:
    _one_line_error(cli(*args, code=1), "no index named")


def test_index_of_another_format_is_listed_refused_and_removable(cli: Cli, kbcli_home: Path) -> None:
    folder = kbcli_home / "indexes" / "old"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "name": "old"}))
    listed = cli.json("list", "--json")["indexes"]
    assert listed[0]["name"] == "old" and "rebuild it" in listed[0]["problem"]
    for args in (["query", "old", "anything"], ["refresh", "old"], ["index", str(CORPUS.parent), "--name", "old"]):
        _one_line_error(cli(*args, code=1), "built by another kbcli version", "kbcli remove old --yes")
    cli("remove", "old", "--yes")
    assert not folder.exists() and cli.json("list", "--json")["indexes"] == []


def test_a_damaged_index_is_listed_with_its_status_beside_healthy_ones(cli: Cli, kbcli_home: Path) -> None:
    from kbcli.store import Manifest, create_index

    for name in ("broken", "fine"):
        create_index(kbcli_home / "indexes" / name, Manifest(
            name=name, model="m", precision="fp32", dimension=384, token_limit=256, chunking={}, kbcli_version="0",
        ))
    (kbcli_home / "indexes" / "broken" / "index.sqlite").write_bytes(b"not a database at all" * 100)
    listed = {i["name"]: i for i in cli.json("list", "--json")["indexes"]}
    assert listed["fine"]["status"] == "ok" and listed["fine"]["chunks"] == 0 and "problem" not in listed["fine"]
    assert listed["broken"]["status"] == "damaged" and "kbcli remove broken --yes" in listed["broken"]["problem"]
    table = cli("list").stdout
    assert "damaged" in table and "fine" in table
    cli("remove", "broken", "--yes")
    assert [i["name"] for i in cli.json("list", "--json")["indexes"]] == ["fine"]
