"""Symbolic links inside a source: followed only when they stay inside the sources (issue 13)."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli


def test_a_link_to_a_file_outside_the_sources_is_reported_and_never_indexed(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "notes.txt").write_text("The quarterly budget review is on Friday.\n")
    secret = tmp_path / "private" / "passwd.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:superuser zebracorn:/root:/bin/bash\n")
    (src / "passwd.txt").symlink_to(secret)
    (src / "same_notes.txt").symlink_to(src / "notes.txt")

    report = cli.json("index", src, "--name", "l", "--json", code=3)
    failed = {Path(f["file"]).name: f for f in report["failed"]}
    assert set(failed) == {"passwd.txt"}
    assert failed["passwd.txt"]["reason"] == "unreadable"
    assert "link leaves the source folder" in failed["passwd.txt"]["error"]
    hits = cli.json("query", "l", "zebracorn superuser", "--mode", "keyword", "--json")["hits"]
    assert hits == []
    # the link to a file inside the source is the same file: indexed once, under its own path
    assert report["files"] == 1 and report["added"] == 1
    (hit,) = cli.json("query", "l", "quarterly budget review", "--mode", "keyword", "--json")["hits"]
    assert Path(hit["file"]).name == "notes.txt"

def test_follow_links_indexes_what_a_link_points_at(cli: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "shared" / "handbook.txt"
    outside.parent.mkdir()
    outside.write_text("Expense claims need a receipt from the vendor quokkaline.\n")
    (src / "handbook.txt").symlink_to(outside)
    cli("index", src, "--name", "f", "--follow-links", "--json")
    hits = cli.json("query", "f", "quokkaline receipt", "--mode", "keyword", "--json")["hits"]
    assert hits and Path(hits[0]["file"]).name == "handbook.txt"
