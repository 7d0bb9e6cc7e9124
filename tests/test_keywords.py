"""The keyword side in Chinese: folded forms, words jieba does not know, and no all-or-nothing."""

from __future__ import annotations

from pathlib import Path

from kbcli.keywords import fold, fts_query, han_words, query_terms, segment

from conftest import Cli, word_file


def test_full_width_and_traditional_forms_fold_to_one() -> None:
    assert fold("ＦＹ２０１８年資本支出") == "FY2018年资本支出"
    assert query_terms("ＦＹ２０１８") == query_terms("FY2018") == ["fy2018", "2018"]
    assert query_terms("現金流量表") == query_terms("现金流量表")
    assert fold("Revenue grew 12%") == "Revenue grew 12%"


def test_long_words_also_match_by_their_parts() -> None:
    assert {"现金", "流量"} <= set(han_words("现金流量"))  # a word jieba knows: its shorter words
    words = han_words("卡尔德拉咖啡机")
    assert "咖啡机" in words and "卡尔" in words  # a name it does not know: its bigrams too
    assert segment("上海酒店每晚住宿上限").split() == ["上海", "酒店", "每晚", "住宿", "上限"]  # short words stay as they are


def test_a_query_is_any_of_its_words() -> None:
    assert fts_query("资本支出 zzqx") == '"资本" OR "支出" OR "zzqx"'


def test_chinese_matches_whatever_the_form_and_a_missing_word_costs_nothing(cli: Cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    word_file(docs / "taipei_report.docx", "臺北分公司２０２３年的營業收入為新臺幣八億元，資本支出為一億元。")
    word_file(docs / "espresso.docx", "Descale the espresso machine every month with citric acid.")
    cli("index", docs, "--name", "zh")
    for question in ("台北分公司2023年的营业收入", "臺北分公司營業收入", "台北 营业收入 不存在的词语甲乙丙"):
        hits = cli.json("query", "zh", question, "--mode", "keyword", "--json")["hits"]
        assert hits and Path(hits[0]["file"]).name == "taipei_report.docx", question
        assert "臺北分公司" in hits[0]["text"]  # shown as written
