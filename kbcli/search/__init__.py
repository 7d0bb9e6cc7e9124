"""Search, split by concern: `terms` (the question's words), `expansion` (thesaurus), `candidates`
(the vector side with passage context, the keyword side), `fusion` (weighted RRF), `grouping`
(page hits, scores, the file-name prior), `rerank` (optional cross-encoder), `results` (Hit,
QueryResult and their JSON) and `searcher` (the orchestration). Settings: kbcli.settings.
"""

from kbcli.search.grouping import overlap
from kbcli.search.results import Explanation, Hit, QueryResult
from kbcli.search.searcher import Searcher
from kbcli.settings import MODES, SearchSettings

__all__ = ["MODES", "Explanation", "Hit", "QueryResult", "SearchSettings", "Searcher", "overlap"]
