"""`kbcli eval`: a question set of one's own scored on a real index, numbers worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kbcli.evaluate import Question, score

from conftest import Cli

MANUAL = "caldera_aurora_espresso_manual.pdf"
NDCG_ONE_OF_TWO = 1 / (1 + 1 / math.log2(3))  # one of two evidence pages, found first


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _page_set(tmp_path: Path) -> Path:
    # Keyword mode: "E03" is only in the espresso manual, and its page 5 comes first (test_search).
    return _jsonl(tmp_path / "pages.jsonl", [
        {"id": "right", "question": "E03", "evidence": [{"doc": MANUAL, "page_1based": 5}]},
        {"id": "half", "question": "E03", "evidence": [{"doc": MANUAL, "page_1based": 5}, {"doc": MANUAL, "page_1based": 99}]},
        {"id": "wrong-page", "question": "E03", "evidence": [{"doc": MANUAL, "page_1based": 99}]},
        {"id": "wrong-doc", "question": "E03", "evidence": [{"doc": "northwind_annual_report_2023.pdf", "page_1based": 2}]},
        {"id": "absent", "question": "E03", "evidence": [{"doc": "missing.pdf", "page_1based": 1}]},
    ])


def test_a_page_level_set_is_scored_by_page_and_by_document(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    data = cli.json("eval", sample_index, _page_set(tmp_path), "--mode", "keyword", "--json")
    assert data["level"] == "page" and data["questions"] == 5 and data["mode"] == "keyword"
    page, doc = data["metrics"]["page"], data["metrics"]["doc"]
    # page ranks 1, 1, -, -, -; document ranks 1, 1, 1, -, -
    assert [page[f"recall@{k}"] for k in (1, 5, 10)] == pytest.approx([0.4, 0.4, 0.4])
    assert page["mrr@10"] == pytest.approx(0.4) and page["ndcg@10"] == pytest.approx((1 + NDCG_ONE_OF_TWO) / 5)
    assert [doc[f"recall@{k}"] for k in (1, 5, 10)] == pytest.approx([0.6, 0.6, 0.6])
    assert doc["mrr@10"] == pytest.approx(0.6) and doc["ndcg@10"] == pytest.approx(0.6)
    assert data["misses"] == ["wrong-page", "wrong-doc", "absent"]
    assert data["per_question"][0]["hits"][0] == {"file": MANUAL, "page": 5}


def test_the_table_shows_the_scores_and_the_misses(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    out = cli("eval", sample_index, _page_set(tmp_path), "--mode", "keyword", "--top-k", "3").stdout
    assert "recall@1" in out and "nDCG@3" in out and "0.400" in out
    assert "3 of 5 questions have no right page in the top 3" in out
    assert f"expected {MANUAL} p.99; first hit {MANUAL} p.5" in out


def test_a_document_level_set_is_detected(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    questions = _jsonl(tmp_path / "docs.jsonl", [
        {"id": "zh", "question": "上海酒店每晚住宿上限是多少？", "gold_docs": ["meridian_corporate_travel_policy.docx"]},
        {"id": "code", "question": "E03", "gold_docs": [MANUAL]},
        {"id": "none", "question": "E03", "gold_docs": ["not_indexed.docx"]},
    ])
    data = cli.json("eval", sample_index, questions, "--json", "--top-k", "1")
    assert data["level"] == "doc" and list(data["metrics"]) == ["doc"]
    assert data["metrics"]["doc"]["recall@1"] == pytest.approx(2 / 3)
    assert data["metrics"]["doc"]["recall@5"] is None  # beyond --top-k
    assert data["misses"] == ["none"]


def test_a_broken_question_file_is_one_line_of_error(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "E03", "gold_docs": ["a.pdf"]}\n{"question": "no answer given"}\n', encoding="utf-8")
    result = cli("eval", sample_index, bad, code=2)
    assert "line 2" in result.stderr and "Traceback" not in result.stderr
    assert "cannot read" in cli("eval", sample_index, tmp_path / "nowhere.jsonl", code=2).stderr


def test_ranks_below_the_first_count_less() -> None:
    question = Question("q", "q", pages=(("a.pdf", 3), ("b.pdf", 1)), docs=("a.pdf", "b.pdf"))
    found = [("x.pdf", 1), ("/docs/a.pdf", 2), ("sub/a.pdf", 3), ("x.pdf", 2), ("b.pdf", 1)]
    scores, results = score([question], [found], "page", top_k=10)
    assert results[0].ranks == {"page": 3, "doc": 2}
    ideal = 1 + 1 / math.log2(3)
    assert scores["page"].recall == {1: 0.0, 5: 1.0, 10: 1.0} and scores["page"].mrr == pytest.approx(1 / 3)
    assert scores["page"].ndcg == pytest.approx((1 / math.log2(4) + 1 / math.log2(6)) / ideal)
    assert scores["doc"].ndcg == pytest.approx((1 / math.log2(3) + 1 / math.log2(6)) / ideal)  # a.pdf counts once
