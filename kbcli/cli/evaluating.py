"""`kbcli eval`: score search on the user's own question set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kbcli.cli.invocation import current
from kbcli.cli.options import JsonOpt, NameArg
from kbcli.cli.views import render_eval
from kbcli.evaluate import evaluate, load_questions

QuestionsArg = Annotated[
    Path,
    typer.Argument(metavar="QUESTIONS.jsonl", show_default=False,
                   help="One JSON object a line: 'question' and 'evidence' [{doc, page_1based}] or 'gold_docs'."),
]


def eval_questions(
    ctx: typer.Context,
    name: NameArg,
    questions_file: QuestionsArg,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="Hits per question (recall@k needs k <= top-k).")] = 10,
    mode: Annotated[
        Optional[str], typer.Option("--mode", "-m", show_default=False, help="hybrid, vector or keyword (default: $KBCLI_SEARCH_MODE, else hybrid).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score search on your own questions: recall@1/5/10, MRR@10 and nDCG@10, and list the misses.

    A question set with 'evidence' pages is scored by page (and by document); one with
    'gold_docs' by document. Compare models after `kbcli reembed` on your own documents.

    Example:  kbcli eval reports questions.jsonl --top-k 10
    """
    run = current(ctx)
    kb = run.kb(mode=mode)
    settings = kb.settings.search
    questions, level = load_questions(questions_file)
    searcher = kb.searcher(name, load_model=settings.mode != "keyword")
    try:
        report = evaluate(searcher, questions, level, top_k, settings, str(questions_file))
    finally:
        searcher.close()
    if as_json:
        run.output.json(report.to_json(), pretty=True)
    else:
        render_eval(run.output.out, name, report, questions, top_k)
