#!/usr/bin/env python3
"""The keyword side alone: latency of each store's keyword_matches (BM25 over the question's
words, the pool the searcher asks for) on every question of an eval set, in one process.

    nice -n 15 .venv/bin/python bench/pg_keywords.py --store postgresql://... --name bench-financebench
    nice -n 15 .venv/bin/python bench/pg_keywords.py --home H --name bench-financebench   # the embedded store

Each question runs `--rounds` times; the first round is reported apart (cold caches) from the
rest. Run it with PYTHONPATH set to the kbcli tree to measure (an older one works as well).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT.parent / "shared" / "eval" / "financebench_dev" / "questions.jsonl"


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"median_ms": round(1000 * statistics.median(ordered), 1), "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max_ms": round(1000 * ordered[-1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--store", default=None, help="a postgresql:// URL (else the embedded store in --home)")
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--compare-home", type=Path, default=None,
                    help="also compare every answer with this home's embedded copy (chunk ids kept by `kbcli migrate`)")
    args = ap.parse_args()

    from kbcli.search.terms import query_terms
    from kbcli.settings import SearchSettings
    from kbcli.store.location import PgLocation, open_reader

    settings = SearchSettings()
    location = PgLocation(args.store, args.name) if args.store else args.home / "indexes" / args.name
    questions = [json.loads(line)["question"] for line in args.questions.read_text().splitlines() if line.strip()]
    reader = open_reader(location)
    rounds: list[list[float]] = []
    answers: list[list[tuple[int, float]]] = []
    try:
        for _ in range(args.rounds):
            took = []
            for question in questions:
                terms = query_terms(question)
                with reader.snapshot() as snap:
                    started = time.perf_counter()
                    found = snap.keyword_matches(terms, settings.candidates, settings.field_weights)
                    took.append(time.perf_counter() - started)
                if len(answers) < len(questions):
                    answers.append(found)
            rounds.append(took)
        chunks = reader.stats()["chunks"]
    finally:
        reader.close()
    warm = [s for r in rounds[1:] for s in r]
    out = {"store": "postgresql" if args.store else "embedded", "chunks": chunks, "questions": len(questions),
           "first_round": _summary(rounds[0]), "warm": _summary(warm) if warm else None,
           "top3": [[(i, round(s, 4)) for i, s in t[:3]] for t in answers[:5]]}
    if args.compare_home:
        out["compared"] = _compare(answers, args.compare_home / "indexes" / args.name, questions, settings)
    print(json.dumps(out))


def _compare(answers: list, folder: Path, questions: list[str], settings) -> dict:
    """How many answers list the same chunks in the same order as the embedded copy, and the
    largest score difference between them."""
    from kbcli.search.terms import query_terms
    from kbcli.store.location import open_reader

    reader = open_reader(folder)
    try:
        with reader.snapshot() as snap:
            theirs = [snap.keyword_matches(query_terms(q), settings.candidates, settings.field_weights) for q in questions]
    finally:
        reader.close()
    same = sum(1 for a, b in zip(answers, theirs) if [i for i, _ in a] == [i for i, _ in b])
    gap = max((abs(x - y) for a, b in zip(answers, theirs) for (_, x), (_, y) in zip(a, b)), default=0.0)
    return {"same_order": same, "of": len(questions), "max_score_gap": gap}


if __name__ == "__main__":
    main()
