"""Text and file names as kbcli stores and shows them."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

_SPACES = re.compile(r"[ \t\u00a0\u3000\x00]+")  # NUL too: PDF text layers carry it; PostgreSQL text refuses it
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """NFKC (ligatures like 'ﬁ' become 'fi', full-width forms plain), squeeze runs of blanks and
    drop empty lines, which extraction leaves many of in tables."""
    text = unicodedata.normalize("NFKC", text)
    if _SURROGATE.search(text):  # lone surrogates cannot be stored as UTF-8
        text = text.encode("utf-8", "replace").decode("utf-8")
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def display_name(text: str) -> str:
    """A file name or path as it can be stored and shown: bytes that are not UTF-8 (surrogate-
    escaped by Python) become \\xNN, and control characters such as newlines become escapes."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        text = "".join(ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return text


def fallback_title(path: Path) -> str:
    return display_name(path.stem)
