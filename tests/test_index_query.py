"""`kbcli index` and `kbcli query` end to end on sample_docs/, through the real CLI and model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbcli.store import FORMAT_VERSION

from conftest import SAMPLE_DOCS, Cli

QUESTIONS = [
    # (question, file, page or None for Word files, a phrase of the expected heading or None)
    ("What was Northwind's revenue in 2023?", "northwind_annual_report_2023.pdf", 2, None),
    ("How do I descale the espresso machine?", "caldera_aurora_espresso_manual.pdf", 4, None),
    ("What does error code E03 mean?", "caldera_aurora_espresso_manual.pdf", 5, None),
    ("What degradation rate did heterojunction modules show?", "solar_pv_degradation_research_note.pdf", {1, 3}, None),
    ("How many days of annual leave can I carry over to next year?", "brightwater_employee_handbook_2024.docx", None, "Annual Leave"),
    ("What is the notice period for terminating the contract for convenience?", "kestrel_managed_it_services_agreement.docx", None, "Termination"),
]


def _top(cli: Cli, index: str, question: str, k: int = 3) -> list[dict]:
    return cli.json("query", index, question, "--top-k", str(k), "--json")["hits"]


@pytest.mark.parametrize("question, file, page, heading", QUESTIONS, ids=[q[0][:40] for q in QUESTIONS])
def test_questions_find_their_page(cli: Cli, sample_index: str, question: str, file: str, page, heading) -> None:
    hits = _top(cli, sample_index, question)
    assert any(
        Path(h["file"]).name == file
        and (h["page"] in page if isinstance(page, set) else h["page"] == page)
        and (heading is None or heading in (h["heading"] or ""))
        for h in hits
    ), json.dumps(hits, indent=1)[:3000]


def test_json_hits_have_the_documented_shape(cli: Cli, sample_index: str) -> None:
    data = cli.json("query", sample_index, "capital expenditure", "--json", "-k", "4")
    assert data["index"] == sample_index and data["query"] == "capital expenditure"
    assert [h["rank"] for h in data["hits"]] == [1, 2, 3, 4]
    for hit in data["hits"]:
        assert {"rank", "score", "file", "page", "heading", "text", "chunk_id"} <= hit.keys()
        assert Path(hit["file"]).is_absolute() and Path(hit["file"]).exists()
        assert hit["page"] is None or (isinstance(hit["page"], int) and hit["page"] >= 1)
        assert -1.0 <= hit["score"] <= 1.0
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_page_labels_are_kept(cli: Cli, sample_index: str) -> None:
    hits = _top(cli, sample_index, "Northwind capital expenditure 2023 Tacoma facility", 5)
    pdf_hits = [h for h in hits if h["file"].endswith("northwind_annual_report_2023.pdf") and h["page"] == 3]
    assert pdf_hits and pdf_hits[0]["page_label"] == "2"


def test_rich_output_cites_file_page_and_section(cli: Cli, sample_index: str) -> None:
    out = cli("query", sample_index, "How do I descale the espresso machine?", "-k", "2").stdout
    assert "caldera_aurora_espresso_manual.pdf" in out and "p. 4" in out and "#1" in out


def test_batch_mode_loads_once_and_prints_one_json_line_per_question(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text("\n".join(q for q, *_ in QUESTIONS[:3]) + "\n\n")
    lines = cli("query", sample_index, "--from-file", questions, "--json", "-k", "2").stdout.splitlines()
    assert [json.loads(line)["query"] for line in lines] == [q for q, *_ in QUESTIONS[:3]]
    stdin_lines = cli("query", sample_index, "--from-file", "-", "--json", input=QUESTIONS[0][0] + "\n").stdout.splitlines()
    assert len(stdin_lines) == 1 and json.loads(stdin_lines[0])["hits"]


def test_list_info_sources_remove(cli: Cli, tmp_path: Path) -> None:
    cli("index", SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf", "--name", "one", "--json")
    listed = cli.json("list", "--json")
    assert [i["name"] for i in listed["indexes"]] == ["one"] and listed["indexes"][0]["files"] == 1
    info = cli.json("info", "one", "--json", "--files")
    manifest = info["manifest"]
    assert manifest["format"] == FORMAT_VERSION and manifest["dimension"] == 384 and manifest["token_limit"] == 256
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2" and manifest["chunking"]["max_tokens"] == 256
    (f,) = info["files_detail"]
    assert len(f["sha256"]) == 64 and f["size"] > 0 and f["mtime_ns"] > 0 and f["pages"] == 5
    assert info["created_at"] and info["updated_at"]
    assert [s["path"] for s in info["sources"]] == [str(SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf")]
    assert "caldera_aurora_espresso_manual.pdf" in cli("sources", "one").stdout
    cli("remove", "one", code=2)  # no terminal to confirm on, no --yes
    cli("remove", "one", "--yes")
    assert cli.json("list", "--json")["indexes"] == []


def test_an_index_is_never_queried_with_another_model(cli: Cli, kbcli_home: Path) -> None:
    cli("index", SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf", "--name", "m")
    manifest_path = kbcli_home / "indexes" / "m" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model"] = "intfloat/e5-small"
    manifest_path.write_text(json.dumps(manifest))
    result = cli("query", "m", "descale", code=1)
    assert "was built with intfloat/e5-small" in result.stderr
    cli("refresh", "m", code=1)


def test_indexing_again_changes_nothing(cli: Cli, sample_index: str) -> None:
    summary = cli.json("refresh", sample_index, "--json")
    assert summary["added"] == summary["modified"] == summary["removed"] == summary["chunks_added"] == 0
    assert summary["unchanged"] == summary["files"] >= 6


def test_the_summary_counts_the_chunks_in_the_whole_index(cli: Cli, tmp_path: Path) -> None:
    import re

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "harbor.txt").write_text("The harbor master logs every vessel arriving after sunset.\n")
    (tmp_path / "b" / "zebra.txt").write_text("The zebra crossing near the office is repainted every April.\n")
    totals = []
    for folder in ("a", "b"):
        out = cli("index", tmp_path / folder, "--name", "s").stdout
        found = re.search(r"chunks in index\W+(\d+)", out)
        assert found, out
        totals.append(int(found.group(1)))
    assert totals[0] > 0 and totals[1] > totals[0]
    assert totals[1] == cli.json("info", "s", "--json")["chunks"]
