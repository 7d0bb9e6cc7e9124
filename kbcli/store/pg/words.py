"""The keyword side in PostgreSQL: the same words SQLite FTS5 would see.

FTS5 (`porter unicode61 remove_diacritics 2`) splits text at anything but letters and digits,
folds case and diacritics, and Porter-stems each word. kbcli has already split Chinese into words
(kbcli.keywords.segment); here the text is split, folded and stemmed the same way in Python, and
the writer stores each lexeme's count per field as postings rows. PostgreSQL's own parser never
sees the text, so nothing depends on the server's locale or text search configuration.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Iterable

@lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS)


def _is_word_char(ch: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Co"


def _is_latin(ch: str) -> bool:
    code = ord(ch)
    return code < 0x250 or 0x1E00 <= code <= 0x1EFF


@lru_cache(maxsize=65536)
def _plain(ch: str) -> str:
    """A Latin letter without its diacritics ('é' -> 'e'); unicode61 leaves other scripts' marks."""
    if not _is_latin(ch):
        return ch
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn")
    return base if len(base) == 1 else ch


def _fold(word: str) -> str:
    """Lower case without diacritics, as unicode61 with remove_diacritics 2."""
    word = word.lower()
    return word if word.isascii() else "".join(_plain(ch) for ch in word)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """FTS5's porter stems every word of 3 to 64 bytes, digits and all ('1970s' -> '1970'), and
    reads it as UTF-8 bytes (a non-ASCII byte is a consonant): so it is stemmed as bytes here."""
    raw = word.encode()
    if not 3 <= len(raw) <= 64 or word.isdigit():
        return word
    if word.isascii():
        return _stemmer().stem(word, to_lowercase=False)
    stemmed = _stemmer().stem(raw.decode("latin-1"), to_lowercase=False)
    return stemmed.encode("latin-1").decode("utf-8", errors="ignore")


def tokens(text: str) -> list[str]:
    """The words of `text` as FTS5 indexes them."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        if _is_word_char(ch):
            current.append(ch)
        elif current:
            words.append(_stem(_fold("".join(current))))
            current = []
    if current:
        words.append(_stem(_fold("".join(current))))
    return words


def query_lexemes(terms: Iterable[str]) -> list[list[str]]:
    """Each query term as its lexemes (a term FTS5 reads as a phrase has several), empty ones dropped."""
    found = [tokens(term) for term in terms]
    return [words for words in found if words]

