"""The words of a question: the one `query_terms` (and its stop words) that ranking uses.

Indexing shares them (kbcli.keywords segments Chinese and splits 'FY2018' alike for both sides),
so they live there; search code takes them from here.
"""

from kbcli.keywords import STOPWORDS, cjk_share, fts_query, name_words, query_terms

__all__ = ["STOPWORDS", "cjk_share", "fts_query", "name_words", "query_terms"]
