"""kbcli.snippets: the best sentences of a passage within a budget, in order, cuts marked."""

from __future__ import annotations

import pytest

from kbcli.snippets import ELLIPSIS, snippet, trim

PASSAGE = (
    "The company was founded in 1998 in Leeds. It makes pumps for water utilities. "
    "Revenue for 2023 was 4.2 billion pounds, up 12% from 2022. The board met six times. "
    "Operating costs fell as energy prices eased. Net revenue per employee rose to 310,000 pounds. "
    "The chair thanked the staff."
)


def test_text_that_fits_is_unchanged_and_reports_the_words_to_highlight() -> None:
    cut = snippet(PASSAGE, "revenue 2023", max_chars=len(PASSAGE))
    assert cut.text == PASSAGE and not cut.cut and cut.chars_cut == 0 and cut.note() is None
    assert cut.terms == ("revenue", "2023")
    assert snippet(PASSAGE, "revenue").text == PASSAGE  # no budget: nothing is cut


@pytest.mark.parametrize("budget", [60, 120, 200])
def test_budget_keeps_the_best_sentences_in_reading_order_with_cuts_marked(budget: int) -> None:
    cut = snippet(PASSAGE, "revenue 2023", max_chars=budget)
    assert len(cut.text) <= budget
    assert cut.cut and ELLIPSIS in cut.text and "characters" in (cut.note() or "")
    assert "Revenue for 2023 was 4.2 billion" in cut.text  # the sentence with both words (or most of it)
    assert "founded in 1998" not in cut.text and "chair thanked" not in cut.text
    kept = [part.strip() for part in cut.text.split(ELLIPSIS) if part.strip()]
    positions = [PASSAGE.index(part) for part in kept]
    assert positions == sorted(positions)  # reading order, each piece verbatim
    assert cut.chars_cut == len(PASSAGE) - sum(len(p) for p in cut.text.split(ELLIPSIS))


def test_second_best_sentence_joins_when_room_allows() -> None:
    cut = snippet(PASSAGE, "net revenue 2023", max_chars=170)
    assert "Revenue for 2023" in cut.text and "Net revenue per employee" in cut.text
    assert f" {ELLIPSIS} " in cut.text  # the sentences between them were left out
    assert set(cut.terms) == {"net", "revenue", "2023"}


def test_a_sentence_longer_than_the_budget_is_cut_between_words_around_the_match() -> None:
    long = "Filler words come first here " * 10 + "and the descaling programme takes 25 minutes " + "then more filler " * 10
    cut = snippet(long, "descaling", max_chars=80)
    assert len(cut.text) <= 80 and "descaling" in cut.text
    assert cut.text.startswith(ELLIPSIS) and cut.text.endswith(ELLIPSIS)
    assert cut.terms == ("descaling",)


def test_lines_budget_and_no_matching_words() -> None:
    cut = snippet(PASSAGE, "zebra", max_lines=1, width=90)
    assert len(cut.text) <= 90 and cut.text.startswith("The company was founded")  # the beginning
    assert cut.terms == ()


def test_chinese_sentences_and_words() -> None:
    text = "公司成立于一九九八年。二零二三年营业收入为四十二亿元，同比增长百分之十二。董事会召开了六次会议。"
    cut = snippet(text, "营业收入", max_chars=30)
    assert "营业收入为四十二亿元" in cut.text and len(cut.text) <= 30
    assert set(cut.terms) == {"营业", "收入"}  # the query's words as the keyword side segments them


def test_trim_keeps_whole_sentences_from_the_chosen_end() -> None:
    head, tail = trim(PASSAGE, 100, keep="head"), trim(PASSAGE, 100, keep="tail")
    assert head.text.endswith(ELLIPSIS) and PASSAGE.startswith(head.text[:-1])
    assert tail.text.startswith(ELLIPSIS) and PASSAGE.endswith(tail.text[1:])
    assert len(head.text) <= 100 and len(tail.text) <= 100 and head.cut and tail.cut
    assert trim(PASSAGE, 10_000).text == PASSAGE
    with pytest.raises(ValueError):
        trim(PASSAGE, 10, keep="middle")


def test_query_json_hits_carry_a_snippet_of_their_full_text(cli, sample_index: str) -> None:
    from kbcli.shapes import SNIPPET_CHARS

    data = cli.json("query", sample_index, "capital expenditure", "--json", "-k", "5")
    assert data["hits"]
    for hit in data["hits"]:
        assert hit["snippet"] and len(hit["snippet"]) <= SNIPPET_CHARS
        words = " ".join(hit["text"].split())  # kept sentences are joined by one space
        assert all(" ".join(part.split()) in words for part in hit["snippet"].split(ELLIPSIS))
    assert any(len(h["text"]) > SNIPPET_CHARS for h in data["hits"]) == any(ELLIPSIS in h["snippet"] for h in data["hits"])
