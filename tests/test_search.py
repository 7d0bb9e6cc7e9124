"""Hybrid search: exact words, Chinese, file names, fusion, explanations, no passage twice."""

from __future__ import annotations

from pathlib import Path

import docx
import pytest

from kbcli.keywords import fts_query, name_words, query_terms, segment

from conftest import Cli


def test_chinese_is_segmented_into_words_and_english_passes_through() -> None:
    assert segment("上海酒店每晚住宿上限") .split() == ["上海", "酒店", "每晚", "住宿", "上限"]
    assert segment("Revenue grew 12%") == "Revenue grew 12%"
    assert "上海" in query_terms("上海酒店每晚住宿上限是多少？") and "是" not in query_terms("上海是多少")
    assert query_terms("What is the FY2018 capital expenditure for 3M?") == ["fy2018", "capital", "expenditure", "3m"]
    assert name_words("/x/AMAZON_2017_10K.pdf", None) == "AMAZON 2017 10K"
    assert fts_query('say "hi" now') == '"say" OR "hi"' and fts_query("the of and") is None


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_every_mode_answers(cli: Cli, sample_index: str, mode: str) -> None:
    data = cli.json("query", sample_index, "How do I descale the espresso machine?", "--mode", mode, "--json")
    assert data["mode"] == mode
    assert Path(data["hits"][0]["file"]).name == "caldera_aurora_espresso_manual.pdf"


def test_keyword_mode_finds_exact_codes_and_explains(cli: Cli, sample_index: str) -> None:
    data = cli.json("query", sample_index, "E03", "--mode", "keyword", "--json", "--explain", "-k", "3")
    top = data["hits"][0]
    assert Path(top["file"]).name == "caldera_aurora_espresso_manual.pdf" and top["page"] == 5
    assert top["explain"]["keyword_rank"] == 1 and top["explain"]["vector_rank"] is None
    assert "E03" in top["text"]


def test_chinese_question_finds_the_chinese_passage(cli: Cli, sample_index: str) -> None:
    for mode in ("keyword", "hybrid"):
        top = cli.json("query", sample_index, "上海酒店每晚住宿上限是多少？", "--mode", mode, "--json")["hits"][0]
        assert Path(top["file"]).name == "meridian_corporate_travel_policy.docx"
        assert "上海人民币1,200元" in top["text"]


def test_hybrid_explains_both_sides(cli: Cli, sample_index: str) -> None:
    data = cli.json("query", sample_index, "Northwind capital expenditure Tacoma", "--json", "--explain")
    why = data["hits"][0]["explain"]
    assert why["vector_rank"] and why["keyword_rank"] and why["fused"] > 0
    assert "why: vector #" in cli("query", sample_index, "Northwind capital expenditure", "--explain").stdout


def test_file_names_carry_meaning(cli: Cli, tmp_path: Path) -> None:
    """Two reports with the same body text: the one whose name the question mentions wins."""
    for company in ("ACME", "GLOBEX"):
        document = docx.Document()
        document.add_paragraph("Total revenue for the fiscal year increased by eight percent to 12.4 million dollars.")
        document.save(tmp_path / f"{company}_2017_annual_report.docx")
    cli("index", tmp_path, "--name", "names")
    for company in ("ACME", "GLOBEX"):
        top = cli.json("query", "names", f"{company} 2017 revenue", "--json")["hits"][0]
        assert Path(top["file"]).name.startswith(company)


def test_no_passage_is_shown_twice(cli: Cli, tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Lighthouse keeping", level=1)
    for i in range(40):
        document.add_paragraph(f"Entry {i}: the lighthouse lamp was trimmed, the lens polished and the fog bell tested.")
    document.save(tmp_path / "log.docx")
    cli("index", tmp_path, "--name", "dup")
    hits = cli.json("query", "dup", "lighthouse lamp lens fog bell", "--json", "-k", "10")["hits"]
    seen: set[str] = set()
    for hit in hits:
        entries = {line.split(":")[0] for line in hit["text"].splitlines() if line.startswith("Entry")}
        assert not entries & seen, "a passage appears in two hits"
        seen |= entries
    assert len(seen) >= 30  # merged neighbours cover the document


def test_unknown_mode_is_a_usage_error(cli: Cli, sample_index: str) -> None:
    assert "unknown search mode" in cli("query", sample_index, "x", "--mode", "fuzzy", code=2).stderr
