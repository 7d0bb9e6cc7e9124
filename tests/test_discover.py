from pathlib import Path

from kbcli.discover import Skipped, crawl


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_crawl_finds_pdf_and_docx_case_insensitively_and_skips_hidden(tmp_path: Path) -> None:
    for rel in ["a.pdf", "B.PDF", "sub/c.docx", "sub/deeper/d.DocX", "notes.TXT", "n.md", "old.doc", "data.csv",
                "photo.jpg", ".hidden.pdf", ".git/e.pdf", "sub/.cache/f.docx"]:
        _touch(tmp_path / rel)
    found = [f.relative for f in crawl(tmp_path)]
    assert found == ["B.PDF", "a.pdf", "n.md", "notes.TXT", "old.doc", "sub/c.docx", "sub/deeper/d.DocX"]


def test_include_and_exclude_match_relative_paths_or_names(tmp_path: Path) -> None:
    for rel in ["r/2023/a.pdf", "r/2022/b.pdf", "r/c.docx", "drafts/d.pdf"]:
        _touch(tmp_path / rel)
    assert sorted(f.relative for f in crawl(tmp_path, include=("*.pdf",))) == ["drafts/d.pdf", "r/2022/b.pdf", "r/2023/a.pdf"]
    assert sorted(f.relative for f in crawl(tmp_path, exclude=("drafts/*", "b.pdf"))) == ["r/2023/a.pdf", "r/c.docx"]
    assert [f.relative for f in crawl(tmp_path, include=("r/2023/*",))] == ["r/2023/a.pdf"]


def test_single_file_is_its_own_root(tmp_path: Path) -> None:
    pdf = _touch(tmp_path / "one.pdf")
    (found,) = crawl(pdf)
    assert found.path == pdf and found.relative == "one.pdf"
    assert list(crawl(_touch(tmp_path / "x.xyz"))) == []  # other extensions are not crawled


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    import os

    _touch(tmp_path / "ok.pdf")
    locked = tmp_path / "locked"
    _touch(locked / "secret.pdf")
    locked.chmod(0)
    try:
        skipped: list[Skipped] = []
        found = [f.relative for f in crawl(tmp_path, skipped=skipped)]
    finally:
        locked.chmod(0o755)
    assert "ok.pdf" in found
    if os.geteuid() != 0:  # root reads everything
        assert [s.path.name for s in skipped] == ["locked"]
