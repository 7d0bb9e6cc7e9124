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


def test_file_links_are_followed_only_inside_the_sources(tmp_path: Path) -> None:
    src, outside = tmp_path / "src", tmp_path / "outside"
    secret = _touch(outside / "passwd.txt", b"root:x:0:0")
    inner = _touch(src / "sub" / "real.txt", b"inside")
    (src / "leak.txt").symlink_to(secret)
    (src / "alias.txt").symlink_to(inner)
    (src / "dangling.txt").symlink_to(tmp_path / "nothing.txt")
    skipped: list[Skipped] = []
    found = list(crawl(src, skipped=skipped))
    # the inner link is the same file as sub/real.txt: found under the target's own path, twice
    # here (the indexer keeps one per path), never under the link's name
    assert {f.path for f in found} == {inner.resolve()}
    reasons = {s.path.name: s.reason for s in skipped}
    assert set(reasons) == {"leak.txt", "dangling.txt"}
    assert "link leaves the source folder" in reasons["leak.txt"]
    assert "symbolic link" in reasons["dangling.txt"]


def test_a_link_into_another_source_counts_and_follow_all_restores_old_behaviour(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    target = _touch(second / "t.txt", b"in b")
    (first / "to_b.txt").parent.mkdir(parents=True, exist_ok=True)
    (first / "to_b.txt").symlink_to(target)
    (found,) = crawl(first, link_roots=(second.resolve(),))
    assert found.path == target.resolve() and found.relative == "t.txt"
    outside = _touch(tmp_path / "elsewhere" / "x.txt")
    (first / "out.txt").symlink_to(outside)
    followed = sorted(f.path.name for f in crawl(first, link_roots=None))
    assert followed == ["out.txt", "to_b.txt"]
