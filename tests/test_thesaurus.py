"""Query expansion: the thesaurus file format, phrase matching, and its effect through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbcli.errors import UsageError
from kbcli.thesaurus import BUILT_IN, Thesaurus, named_query, thesaurus_paths

from conftest import Cli, word_file


def test_equivalent_names_expand_to_each_other() -> None:
    thesaurus = Thesaurus.parse("# comment\n\nincome statement, statement of operations, p&l\n")
    assert thesaurus.expand("Using the income statement, what was revenue?") == ["statement of operations", "p&l"]
    assert thesaurus.expand("the P&L for 2022") == ["income statement", "statement of operations"]


def test_an_arrow_adds_one_way_only() -> None:
    thesaurus = Thesaurus.parse("working capital, current ratio => total current assets, total current liabilities")
    assert thesaurus.expand("Is working capital positive?") == ["total current assets", "total current liabilities"]
    assert thesaurus.expand("total current assets") == []


def test_matching_takes_case_hyphens_and_plurals_but_not_parts_of_words() -> None:
    thesaurus = Thesaurus.parse("capital intensive => capital expenditures\nbalance sheet => statement of financial position\nppe => pp&e")
    assert thesaurus.expand("Is CVS a Capital-Intensive business?") == ["capital expenditures"]
    assert thesaurus.expand("per the consolidated balance sheets") == ["statement of financial position"]
    assert thesaurus.expand("an upper bound on ppen") == []  # 'ppe' inside other words does not count
    assert thesaurus.expand("balance of the sheet") == []


def test_phrases_the_question_already_holds_are_not_added_twice() -> None:
    thesaurus = Thesaurus.parse("capex, capital expenditure")
    assert thesaurus.expand("capex and capital expenditures") == []


def test_a_malformed_line_is_reported_with_its_number() -> None:
    with pytest.raises(UsageError, match=r"mine.txt:2: expected"):
        Thesaurus.parse("a, b\n => x\n", "mine.txt")


def test_the_setting_chooses_the_files() -> None:
    assert thesaurus_paths(None) == [BUILT_IN] and thesaurus_paths("off") == []
    assert thesaurus_paths("builtin:/tmp/legal.txt") == [BUILT_IN, Path("/tmp/legal.txt")]
    Thesaurus.load([BUILT_IN])  # the shipped file parses


def test_chinese_phrases_match_inside_a_sentence_in_either_script() -> None:
    thesaurus = Thesaurus.parse("资本支出 => capital expenditure\npp&e => property plant and equipment\n")
    assert thesaurus.expand("3M 2018财年的资本支出是多少？") == ["capital expenditure"]
    assert thesaurus.expand("3M的資本支出") == ["capital expenditure"]  # traditional characters
    assert thesaurus.expand("资本 支出") == ["capital expenditure"]
    assert thesaurus.expand("年末PP&E净额") == ["property plant and equipment"]  # English words between Chinese ones
    assert thesaurus.expand("apple pp&eight") == []


def test_what_a_chinese_question_gets_in_english_is_expanded_once_more() -> None:
    built_in = Thesaurus.load([BUILT_IN])
    added = built_in.expand("资本支出是多少？")
    assert added[0] == "capital expenditure" and "purchases of property plant and equipment" in added
    assert built_in.expand("What was capex?") == Thesaurus.load([BUILT_IN / "finance.txt"]).expand("What was capex?")


def test_names_sections_name_files() -> None:
    thesaurus = Thesaurus.parse("营收 => revenue\n[names]\n亚马逊 => Amazon\n")
    assert thesaurus.expand("亚马逊的营收") == ["revenue", "Amazon"]
    assert named_query("亚马逊的营收", thesaurus) == "亚马逊的营收 Amazon"  # what the file-name boost sees
    assert named_query("亚马逊", None) == "亚马逊"
    assert named_query("苹果公司2022年的营业收入", Thesaurus.load([BUILT_IN])).endswith(" Apple")


@pytest.fixture
def filings(cli: Cli, tmp_path: Path) -> str:
    docs = tmp_path / "docs"
    docs.mkdir()
    word_file(docs / "cash_flows.docx", "Consolidated Statements of Cash Flows. Purchases of property, plant and equipment were 1,577 million dollars.")
    word_file(docs / "staff_party.docx", "The summer party will be held on the roof terrace; bring a hat.")
    cli("index", docs, "--name", "filings")
    return "filings"


def test_the_built_in_thesaurus_finds_what_filings_call_capex(cli: Cli, filings: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = cli.json("query", filings, "capex", "--mode", "keyword", "--json")
    assert "purchases of property plant and equipment" in data["expanded"]
    assert Path(data["hits"][0]["file"]).name == "cash_flows.docx"
    assert "also searched (thesaurus): " in cli("query", filings, "capex", "--mode", "keyword", "--explain").stdout

    monkeypatch.setenv("KBCLI_EXPAND", "0")  # the filing never says 'capex': without expansion, nothing
    assert cli.json("query", filings, "capex", "--mode", "keyword", "--json") == {**data, "expanded": [], "hits": [], "seconds": pytest.approx(0, abs=5)}


def test_a_thesaurus_of_your_own_adds_to_the_built_in_one(cli: Cli, filings: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "office.txt"
    mine.write_text("celebration, festivity => summer party\n", encoding="utf-8")
    monkeypatch.setenv("KBCLI_THESAURUS", f"builtin:{mine}")
    data = cli.json("query", filings, "when is the celebration?", "--mode", "keyword", "--json")
    assert data["expanded"] == ["summer party"] and Path(data["hits"][0]["file"]).name == "staff_party.docx"

    monkeypatch.setenv("KBCLI_THESAURUS", str(tmp_path / "missing.txt"))
    result = cli("query", filings, "capex", code=2)
    assert "cannot read thesaurus" in result.stderr and "missing.txt" in result.stderr


def test_the_shell_expands_questions_too(cli: Cli, filings: str) -> None:
    lines = cli("shell", filings, "--json", input=":mode keyword\ncapex\n").stdout.strip().splitlines()
    answer = json.loads(lines[-1])
    assert "purchases of property plant and equipment" in answer["expanded"]
    assert Path(answer["hits"][0]["file"]).name == "cash_flows.docx"


def test_a_chinese_question_finds_the_english_filing(cli: Cli, filings: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = cli.json("query", filings, "2018财年的资本支出是多少？", "--mode", "keyword", "--json")
    assert "capital expenditure" in data["expanded"]
    assert Path(data["hits"][0]["file"]).name == "cash_flows.docx"
    monkeypatch.setenv("KBCLI_EXPAND", "0")  # no Chinese word is in the English filing
    assert cli.json("query", filings, "2018财年的资本支出是多少？", "--mode", "keyword", "--json")["hits"] == []


def test_a_company_named_in_chinese_raises_its_files(cli: Cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for company in ("AMAZON", "ACME"):
        word_file(docs / f"{company}_2017_10K.docx", "Net sales increased 31% to 177.9 billion dollars in 2017.")
    cli("index", docs, "--name", "tenk")
    hits = cli.json("query", "tenk", "亚马逊2017年的销售额", "--json", "--explain")["hits"]
    boost = {Path(h["file"]).name: h["score"] - h["explain"]["fused"] for h in hits}
    assert Path(hits[0]["file"]).name == "AMAZON_2017_10K.docx"
    assert boost["AMAZON_2017_10K.docx"] > 0.01 and boost["ACME_2017_10K.docx"] == pytest.approx(0, abs=1e-3)
