"""Scoring search on a question set of your own: recall@k, MRR@10 and nDCG@10, with the misses.

A question set is JSON lines, one question each: `question` and either `evidence`, a list of
{"doc", "page_1based"} (a page-level set: a hit is right when its file and page match one), or
`gold_docs`, a list of file names (a document-level set: its file must match). A page-level set
is scored at the document level too (the evidence's documents, or the question's `doc`).
A document matches a hit's file by its path under the indexed folder or by its file name.

"recall@k" is the share of questions with a right hit among the first k (a question counts once
however many of its hits are right); MRR@10 is the mean of 1/rank of the first right hit;
nDCG@10 credits each evidence page (or gold document) once, at the rank it is first found.
The scoring functions take plain (file, page) pairs, so bench/quality.py can score the batch
output of a kbcli that has no `eval` command the same way.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kbcli.errors import UsageError

if TYPE_CHECKING:
    from kbcli.search import Searcher, SearchSettings

CUTOFFS = (1, 5, 10)
RANK_CUTOFF = 10  # MRR and nDCG look this deep (or top_k, if smaller)
LEVELS = ("page", "doc")


@dataclass(frozen=True)
class Question:
    id: str
    text: str  # on one line, as searched
    pages: tuple[tuple[str, int], ...] = ()  # (document, 1-based page) holding the evidence
    docs: tuple[str, ...] = ()  # documents that answer it

    @property
    def expected(self) -> list[str]:
        """What a right hit is, for people: 'ACME_10K.pdf p.60', or the documents."""
        return [f"{doc} p.{page}" for doc, page in self.pages] or list(self.docs)


@dataclass
class QuestionResult:
    id: str
    question: str
    ranks: dict[str, int | None]  # level -> position of the first right hit (None: not found)
    gains: dict[str, float]  # level -> nDCG@10
    found: list[tuple[str, int | None]]  # the hits, as (file, page)


@dataclass
class LevelScores:
    recall: dict[int, float | None]  # cutoff -> share of questions found within it (None: k > top_k)
    mrr: float
    ndcg: float


@dataclass
class EvalReport:
    index: str
    questions_file: str
    level: str  # "page" or "doc": what a question's evidence names
    top_k: int
    mode: str
    scores: dict[str, LevelScores]  # per level: "page" (page-level sets only) and "doc"
    results: list[QuestionResult] = field(default_factory=list)
    seconds: float = 0.0  # search time for all questions

    @property
    def misses(self) -> list[QuestionResult]:
        """Questions with no right hit at the set's own level."""
        return [r for r in self.results if r.ranks[self.level] is None]

    def to_json(self) -> dict[str, Any]:
        cut = min(RANK_CUTOFF, self.top_k)
        return {
            "index": self.index,
            "questions_file": self.questions_file,
            "level": self.level,
            "questions": len(self.results),
            "top_k": self.top_k,
            "mode": self.mode,
            "seconds": self.seconds,
            "metrics": {
                level: {**{f"recall@{k}": v for k, v in s.recall.items()}, f"mrr@{cut}": s.mrr, f"ndcg@{cut}": s.ndcg}
                for level, s in self.scores.items()
            },
            "per_question": [
                {"id": r.id, "question": r.question, **{f"{lv}_rank": v for lv, v in r.ranks.items()},
                 "hits": [{"file": f, "page": p} for f, p in r.found]}
                for r in self.results
            ],
            "misses": [r.id for r in self.misses],
        }


# -- reading a question set -----------------------------------------------------------------------
def one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def parse_question(raw: Any, number: int) -> Question:
    """One JSON object of a question set; UsageError (with its line number) when it is not one."""
    if not isinstance(raw, dict) or not one_line(raw.get("question") or ""):
        raise UsageError(f"line {number}: expected an object with a non-empty 'question'")
    try:
        pages = tuple((str(e["doc"]), int(e["page_1based"])) for e in raw.get("evidence") or [])
        docs = [str(d) for d in raw.get("gold_docs") or []]
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"line {number}: 'evidence' must be a list of {{\"doc\", \"page_1based\"}}") from None
    if not docs:
        docs = [str(raw["doc"])] if raw.get("doc") else [doc for doc, _ in pages]
    if not docs:
        raise UsageError(f"line {number}: give 'evidence' (doc and page) or 'gold_docs' for the question")
    return Question(str(raw.get("id", number)), one_line(raw["question"]), pages, tuple(dict.fromkeys(docs)))


def load_questions(path: Path, limit: int | None = None) -> tuple[list[Question], str]:
    """The questions of a JSON-lines file and the set's level: "page" when every one has evidence pages."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from err
    questions: list[Question] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            raise UsageError(f"{path}: line {number} is not JSON") from None
        try:
            questions.append(parse_question(raw, number))
        except UsageError as err:
            raise UsageError(f"{path}: {err}") from None
        if limit is not None and len(questions) >= limit:
            break
    if not questions:
        raise UsageError(f"{path} holds no questions (one JSON object a line)")
    return questions, "page" if all(q.pages for q in questions) else "doc"


# -- scoring --------------------------------------------------------------------------------------
def same_doc(gold: str, file: str) -> bool:
    """Whether a hit's file (absolute or relative) is the document a question set names."""
    gold, file = gold.replace("\\", "/").lstrip("./"), file.replace("\\", "/")
    return file == gold or file.endswith("/" + gold) or os.path.basename(file) == gold


def _relevant(question: Question, level: str) -> list[tuple[str, int | None]]:
    return list(dict.fromkeys(question.pages)) if level == "page" else [(doc, None) for doc in question.docs]


def _matches(item: tuple[str, int | None], hit: tuple[str, int | None]) -> bool:
    return same_doc(item[0], hit[0]) and (item[1] is None or item[1] == hit[1])


def score_question(question: Question, found: Sequence[tuple[str, int | None]], level: str, cut: int) -> tuple[int | None, float]:
    """(position of the first right hit, nDCG@cut) for one question's hits at one level."""
    relevant = _relevant(question, level)
    credited: set[int] = set()
    first, dcg = None, 0.0
    for position, hit in enumerate(found, start=1):
        item = next((i for i, r in enumerate(relevant) if i not in credited and _matches(r, hit)), None)
        if item is None:
            continue
        first = first or position
        if position <= cut:
            credited.add(item)
            dcg += 1 / math.log2(position + 1)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(len(relevant), cut) + 1))
    return first, (dcg / ideal if ideal else 0.0)


def score(questions: Sequence[Question], found: Sequence[Sequence[tuple[str, int | None]]], level: str, top_k: int) -> tuple[dict[str, LevelScores], list[QuestionResult]]:
    """Per-level scores and per-question results; `found[i]`: question i's hits as (file, page), best first."""
    cut = min(RANK_CUTOFF, top_k)
    levels = LEVELS if level == "page" else ("doc",)
    results = []
    for question, hits in zip(questions, found):
        scored = {lv: score_question(question, hits, lv, cut) for lv in levels}
        results.append(QuestionResult(question.id, question.text, {lv: s[0] for lv, s in scored.items()},
                                      {lv: s[1] for lv, s in scored.items()}, list(hits)))
    n = len(results) or 1
    scores = {}
    for lv in levels:
        ranks = [r.ranks[lv] for r in results]
        recall = {k: (sum(1 for r in ranks if r is not None and r <= k) / n if k <= top_k else None) for k in CUTOFFS}
        mrr = sum(1 / r for r in ranks if r is not None and r <= cut) / n
        scores[lv] = LevelScores(recall, mrr, sum(r.gains[lv] for r in results) / n)
    return scores, results


# -- running --------------------------------------------------------------------------------------
def evaluate(
    searcher: "Searcher", questions: Sequence[Question], level: str, top_k: int = 10,
    settings: "SearchSettings | None" = None, questions_file: str = "",
) -> EvalReport:
    """Ask every question through the one searcher and score its hits."""
    found = []
    started = time.perf_counter()
    mode = settings.mode if settings is not None else "hybrid"
    for question in questions:
        result = searcher.search(question.text, top_k, settings)
        mode = result.mode
        found.append([(hit.relative, hit.page) for hit in result.hits])
    seconds = round(time.perf_counter() - started, 3)
    scores, results = score(questions, found, level, top_k)
    return EvalReport(searcher.name, questions_file, level, top_k, mode, scores, results, seconds)
