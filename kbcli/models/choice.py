"""`auto`, the default model of a new index: chosen from the language its documents are written in.

Measured side by side on the four dev sets (README, Models): on English filings minilm finds the
evidence page far more often than e5-small, for English and for Chinese questions alike
(FinanceBench page R@10 0.935 against 0.645; translated questions 0.806 against 0.677: the
keyword side and the bilingual thesaurus carry them), and it embeds about 6x faster. On Chinese
documents only the multilingual e5-small reads the text: reworded questions hit@1 0.96 against
0.84. So the documents decide, and the choice is made once, when the index is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, TypeVar

from kbcli.models.catalogue import installed

ENGLISH_MODEL = "minilm"
MULTILINGUAL_MODEL = "e5-small"
CJK_FILE = 0.3  # a file is Chinese (Japanese, Korean) when this share of its letters is: as a question is
SAMPLE_FILES = 12  # files read to decide, spread over the collection
SAMPLE_CHARS = 20_000  # of each file's text, from its start

T = TypeVar("T")


@dataclass(frozen=True)
class ModelChoice:
    spec: str
    sampled: int  # files whose text was read to decide
    cjk: int  # of them, written mainly in Chinese, Japanese or Korean
    note: str = ""  # why not the model the languages called for

    @property
    def reason(self) -> str:
        if not self.sampled:
            judged = "no text could be sampled from the files (scans are read later, with OCR)"
        else:
            judged = f"{self.cjk} of {self.sampled} sampled files are mainly Chinese, Japanese or Korean"
        return f"model {self.spec} chosen automatically: {judged}" + (f"; {self.note}" if self.note else "")


def spread(items: Sequence[T], count: int = SAMPLE_FILES) -> list[T]:
    """Up to `count` items evenly spaced over `items` (first and last included): folders are
    often sorted by topic or language, so the first few files alone would mislead."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def english_model_installed() -> bool:
    return installed(ENGLISH_MODEL)


def choose(cjk_shares: Sequence[float], english_installed: bool) -> ModelChoice:
    """The model for documents whose sampled files have these CJK shares (one per readable file).

    minilm when most files are not CJK; e5-small otherwise, and also when nothing could be read
    (it reads both) or minilm's packages are missing (the light install)."""
    cjk = sum(1 for share in cjk_shares if share >= CJK_FILE)
    sampled = len(cjk_shares)
    if not sampled or 2 * cjk >= sampled:
        return ModelChoice(MULTILINGUAL_MODEL, sampled, cjk)
    if not english_installed:
        note = "minilm, better on English documents, is not installed (pip install 'kbcli[minilm]')"
        return ModelChoice(MULTILINGUAL_MODEL, sampled, cjk, note)
    return ModelChoice(ENGLISH_MODEL, sampled, cjk)
