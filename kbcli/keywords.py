"""Words for the keyword (BM25) side of search, the same way for chunks and for queries.

SQLite FTS5 (unicode61 + Porter stemming) splits Latin, Cyrillic, Arabic... text by itself, but
treats a run of Chinese characters as one token. So Han runs are segmented into words with jieba
(rjieba: the Rust port jieba-rs, with jieba's dictionary and HMM; the same words as Python's jieba
on all 17,396 Han runs of the dev sets' questions and CMRC2018 documents, but its dictionary loads
in 0.2 s instead of 1.8 s, which was most of a cold Chinese query) and kana/hangul runs into character bigrams before FTS5 sees them; the rest passes through.
Text is folded first (full-width letters and digits to ASCII, traditional to simplified Chinese),
so '２０１８年資本支出' and '2018年资本支出' are the same words.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KANA_HANGUL = r"\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_HAN}]+|[{_KANA_HANGUL}]+")
_HAN_CHAR = re.compile(f"[{_HAN}]")
_HAN_RUN = re.compile(f"[{_HAN}]+")
_WORD = re.compile(r"\w+", re.UNICODE)

# Question words carry no evidence; FTS5 has no stopword list of its own.
STOPWORDS = frozenset(
    """a about above after all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he
    her here hers him his how i if in into is it its itself just me more most my no nor not now of off on
    once only or other our out over own same she should so some such than that the their them then there
    these they this those through to too under until up very was we were what when where which while who
    whom why will with would you your please give based answer question using shown details relying
    的 了 是 在 和 与 及 或 什么 哪 哪个 哪些 谁 吗 呢 吧 啊 多少 怎么 如何 为什么 几
    请 根据 依据 基于 回答 问题 以下 信息 给出 作答""".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import rjieba

    return rjieba


@lru_cache(maxsize=1)
def _to_simplified():
    import opencc

    return opencc.OpenCC("t2s").convert


def fold(text: str) -> str:
    """Full-width forms as ASCII (NFKC: 'ＦＹ２０１８' -> 'FY2018', ligatures too) and traditional
    Chinese as simplified ('資本支出' -> '资本支出'), so either way of writing finds the other."""
    text = unicodedata.normalize("NFKC", text)
    return _to_simplified()(text) if _HAN_RUN.search(text) else text


def cjk_share(text: str) -> float:
    """The share of a text's letters that are Chinese, Japanese or Korean."""
    letters = sum(1 for ch in text if ch.isalpha())
    cjk = sum(len(run) for run in _CJK_RUN.findall(text))
    return cjk / letters if letters else 0.0


def has_cjk(text: str) -> bool:
    return _CJK_RUN.search(text) is not None


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)] if len(run) > 1 else [run]


def han_words(run: str) -> list[str]:
    """A run of Han characters as words to match: jieba's words, and for each longer word its parts.

    jieba cuts a name or term it does not know into one word of its own guessing ('桑贾伊'), which
    another text may cut differently; its character bigrams still match. A long word it does know
    ('现金流量表') also yields the shorter words inside it ('现金', '流量'), so a question that says
    only part of it still matches. (Keyword-only on CMRC2018 reworded questions: hit@1 0.84 -> 0.88.)
    """
    jieba = _jieba()
    words: list[str] = []
    for word in jieba.cut(run):
        words.append(word)
        if len(word) < 3:
            continue
        if jieba.has_word(word):
            words.extend(part for part in jieba.cut_for_search(word) if part != word)
        else:
            words.extend(_bigrams(word))
    return words


def _segment(match: re.Match[str]) -> str:
    run = match.group(0)
    words = han_words(run) if _HAN_CHAR.match(run) else _bigrams(run)
    return " " + " ".join(words) + " "


def segment(text: str) -> str:
    """Text folded, with CJK runs split into space-separated words, for FTS5's unicode61 tokenizer.
    The same for what is indexed and what is asked, so both sides agree on the words."""
    text = fold(text)
    if not has_cjk(text):
        return text
    return _CJK_RUN.sub(_segment, text)


def name_words(path: str, title: str | None) -> str:
    """A file's name and title as words: 'AMAZON_2017_10K.pdf' -> 'AMAZON 2017 10K'."""
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = re.sub(r"[_\-.]+", " ", stem)
    if title and title != stem:
        words += " " + title
    return segment(words)


_LETTERS_DIGITS = re.compile(r"[^\W\d_]{3,}|\d{3,}")


def _parts(word: str) -> list[str]:
    """A word that mixes letters and digits, and its longer runs of either: 'fy2018' -> fy2018, 2018.

    Documents write 'FY2018', 'fiscal 2018' and '2018' for the same year; matching the parts
    too finds all of them (like a word-delimiter filter). Runs shorter than 3 ('03' of the error
    code 'E03', 'fy') match too much unrelated text.
    """
    if word.isalpha() or word.isdigit() or not word.isascii():
        return [word]
    return [word, *_LETTERS_DIGITS.findall(word)]


def query_terms(query: str) -> list[str]:
    """Distinct query words worth matching, in order."""
    seen: dict[str, None] = {}
    for found in _WORD.findall(segment(query).lower()):
        for word in _parts(found):
            if word not in STOPWORDS and not (len(word) == 1 and word.isascii() and not word.isdigit()):
                seen.setdefault(word, None)
    return list(seen)


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression: any of the query's words (quoted, so nothing is FTS syntax)."""
    terms = query_terms(query)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
