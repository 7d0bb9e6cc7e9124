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
    assert query_terms("What is the FY2018 capital expenditure for 3M?") == ["fy2018", "2018", "capital", "expenditure", "3m"]
    assert query_terms("Q2 CET1 E03 10-K abc123") == ["q2", "cet1", "cet", "e03", "10", "abc123", "abc", "123"]  # runs of 3+
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


def _pdf(path: Path, pages: list[str]) -> None:
    import pymupdf

    document = pymupdf.open()
    for text in pages:
        page = document.new_page()
        page.insert_textbox(pymupdf.Rect(36, 36, 576, 806), text, fontsize=7)
    document.save(path)


def test_one_hit_per_page(cli: Cli, tmp_path: Path) -> None:
    """A page's matching chunks, adjacent or not, make one hit showing at most three of them."""
    lines = [f"Row {i}: the lighthouse lamp was trimmed, the lens polished and the fog bell tested." for i in range(60)]
    _pdf(tmp_path / "log.pdf", ["\n".join(lines), "\n".join(lines[:30]), "Nothing about the sea here."])
    cli("index", tmp_path, "--name", "pages")
    hits = cli.json("query", "pages", "lighthouse lamp lens fog bell", "--json", "-k", "10")["hits"]
    pages = [h["page"] for h in hits]
    assert sorted(pages[:2]) == [1, 2] and len(pages) == len(set(pages))
    for hit in hits:
        rows = [line.split(":")[0] for line in hit["text"].splitlines() if line.startswith("Row")]
        assert len(rows) == len(set(rows)), "a passage is shown twice in one hit"
    assert max(len(h["text"]) for h in hits) < 3 * 1500  # a long page shows its best chunks, not all of it


def test_page_score_credits_a_pages_other_chunks_but_not_runs_without_pages() -> None:
    from kbcli.search import Explanation, SearchSettings
    from kbcli.search.grouping import group as _group, score_units as _score
    from kbcli.store import ChunkRow

    def row(cid: int, file_id: int, seq: int, page: int | None) -> ChunkRow:
        return ChunkRow(cid, file_id, f"/d/{file_id}", "/d", None, seq, page, None, None, f"text {cid}")

    def why(fused: float) -> Explanation:
        return Explanation(1, 0.5, 1, 1.0, fused)

    settings = SearchSettings(page_extra=0.3)
    # file 1: one page matched by two far-apart chunks; file 2: a long run of neighbours, no pages
    candidates = [(row(1, 1, 0, 7), why(0.030)), (row(2, 2, 0, None), why(0.031)), (row(3, 1, 5, 7), why(0.020))]
    candidates += [(row(10 + i, 2, i, None), why(0.010)) for i in range(1, 6)]
    units = _group(candidates, settings)
    _score(units, settings)
    page, run = units
    assert [r.seq for r, _ in page.members] == [0, 5] and page.score == pytest.approx(0.030 + settings.page_extra * 0.020)
    assert len(run.members) == 6 and run.score == pytest.approx(0.031)
    assert page.hit(1, settings).text == "text 1\n…\ntext 3"


def test_files_the_question_names_are_raised() -> None:
    from kbcli.search import Explanation, SearchSettings
    from kbcli.search.grouping import Unit as _Unit, name_prior as _name_prior
    from kbcli.store import ChunkRow

    def unit(file_id: int, path: str, title: str | None) -> _Unit:
        row = ChunkRow(file_id, file_id, path, "/d", title, 0, 1, None, None, "Revenue grew.")
        return _Unit([(row, Explanation(1, 0.5, 1, 1.0, 0.2))], score=0.2)

    units = [unit(1, "/d/GLOBEX_2022_10K.pdf", None), unit(2, "/d/ACME_2021_10K.pdf", None), unit(3, "/d/ACME_2022.pdf", None)]
    units.append(unit(4, "/d/x.pdf", "ACME 2022 annual report"))
    settings = SearchSettings()
    _name_prior(units, "What was ACME's revenue in FY2022?", settings)
    share = settings.name_weight / (settings.rrf_k + 1)
    # a number alone does not name a file; acme; acme and 2022; titles do not count
    assert [round((u.score - 0.2) / share) for u in units] == [0, 1, 2, 0]

    joined = [unit(1, "/d/CVSHEALTH_2022_10K.pdf", None), unit(2, "/d/HEALTHCARE_2022.pdf", None)]
    _name_prior(joined, "What was CVS Health's operating margin?", settings)
    assert [round((u.score - 0.2) / share) for u in joined] == [1, 0]  # two words written as one name


def test_terminal_view_joins_extracted_lines_into_paragraphs() -> None:
    from kbcli.render import reflow

    assert reflow("Net revenue\n($m)\n2019\n29.4") == "Net revenue ($m) 2019 29.4"  # a table, one cell a line
    assert reflow("The first sentence.\nThe second\nline") == "The first sentence.\nThe second line"
    assert reflow("上海酒店\n每晚上限") == "上海酒店每晚上限"  # no space inside Chinese text


def test_vector_side_ranks_chunks_with_their_page(cli: Cli, sample_index: str) -> None:
    """Vector mode orders by the chunk's and its passage's cosines; --explain shows both."""
    hits = cli.json("query", sample_index, "descaling the espresso machine", "--mode", "vector", "--json", "--explain", "-k", "8")["hits"]
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    for hit in hits:
        why = hit["explain"]
        assert -1 <= why["context_score"] <= 1
        assert hit["score"] == pytest.approx((why["vector_score"] + why["context_score"]) / 2, abs=1e-3)
    assert "passage " in cli("query", sample_index, "descaling", "--mode", "vector", "--explain").stdout


def test_a_passage_is_the_chunks_page_or_its_neighbours(sample_index_home: Path) -> None:
    from kbcli.search.candidates import PAGE_REACH
    from kbcli.settings import SearchSettings
    from kbcli.kb import KnowledgeBase

    searcher = KnowledgeBase(sample_index_home).searcher("sample", load_model=False, settings=SearchSettings())
    try:
        with searcher.reader.snapshot() as snap:
            rows = snap.rows(snap.chunk_ids())
            passages = snap.passages(list(rows), PAGE_REACH)
    finally:
        searcher.close()
    paged = [r for r in rows.values() if r.page is not None]
    loose = [r for r in rows.values() if r.page is None]
    assert paged and loose
    for row in paged:
        same_page = {r.id for r in paged if (r.file_id, r.page) == (row.file_id, row.page)}
        assert set(passages[row.id]) == same_page
    for row in loose:
        near = {r.id for r in loose if r.file_id == row.file_id and abs(r.seq - row.seq) <= 1}
        assert set(passages[row.id]) == near


def test_without_passage_context_vector_scores_are_plain_cosines(cli: Cli, sample_index: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBCLI_CONTEXT_WEIGHT", "0")
    hits = cli.json("query", sample_index, "descaling the espresso machine", "--mode", "vector", "--json", "--explain")["hits"]
    assert all(h["explain"]["context_score"] is None and h["score"] == h["explain"]["vector_score"] for h in hits)


def test_a_searcher_uses_its_own_settings_not_the_environment(sample_index_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from kbcli.kb import KnowledgeBase
    from kbcli.settings import SearchSettings

    monkeypatch.setenv("KBCLI_SEARCH_MODE", "vector")  # what the CLI would read; the core must not
    monkeypatch.setenv("KBCLI_EXPAND", "0")
    own = SearchSettings(mode="keyword")
    searcher = KnowledgeBase(sample_index_home).searcher("sample", load_model=False, settings=own)
    try:
        result = searcher.search("descale the espresso machine", 3)
        assert result.mode == "keyword" and result.hits and all(h.explain.vector_rank is None for h in result.hits)
        assert searcher.search("capex", 3).expanded  # KBCLI_EXPAND=0 is not the searcher's setting
        assert searcher.search("capex", 3, replace(own, expand=False)).expanded == []  # a query's own settings win
    finally:
        searcher.close()


def test_a_chinese_question_to_an_english_only_model_never_loads_it(sample_index_home: Path) -> None:
    """Its vector side is off (keywords alone gave the same recall on the three Chinese dev sets),
    so the model is not loaded: a cold Chinese query saves its 0.3 s. An English question loads it."""
    from kbcli.kb import KnowledgeBase

    searcher = KnowledgeBase(sample_index_home).searcher("sample")  # minilm (TEST_MODEL), English-only
    try:
        assert not searcher.embedder.spec.multilingual
        result = searcher.search("2023年净收入是多少？", 3)  # the Northwind report's Chinese summary has these words
        assert result.mode == "hybrid" and result.hits and all(h.explain.vector_rank is None for h in result.hits)
        assert searcher.embedder._model is None  # OnDemand: never loaded
        unmatched = searcher.search("咖啡机怎么除垢？", 3)  # no word of it in the documents: the vectors, rather than nothing
        assert unmatched.hits and all(h.explain.vector_rank for h in unmatched.hits)
        assert searcher.embedder._model is not None
    finally:
        searcher.close()
