"""Turning files into documents: ordered sections of text with their page and heading."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# The documented set of reasons a file can fail (README: "Failure reasons").
ENCRYPTED = "encrypted"
DAMAGED = "damaged"
NO_TEXT = "no text"
UNSUPPORTED = "unsupported format"
TOO_LARGE = "too large"
TIMED_OUT = "timed out"
UNREADABLE = "unreadable"


class FileFailure(Exception):
    """A file that cannot be indexed, with a reason from the documented set and a detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Section:
    """A run of text that shares one citation: a PDF page, or a DOCX part under one heading."""

    text: str
    page: int | None = None  # 1-based physical page
    page_label: str | None = None  # printed label when it differs from the page number
    heading: str | None = None  # "Part > Chapter > Section"


@dataclass
class Document:
    path: Path
    title: str
    pages: int  # physical pages (PDF) or 0 for flowing documents
    sections: list[Section] = field(default_factory=list)


_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


def clean_text(text: str) -> str:
    """NFKC (ligatures like 'ﬁ' become 'fi', full-width forms plain), squeeze runs of blanks and
    drop empty lines, which extraction leaves many of in tables."""
    text = unicodedata.normalize("NFKC", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def read_document(path: Path) -> Document:
    """Read a supported file, or raise FileFailure saying why it cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from kbcli.readers.pdf import read_pdf

        return read_pdf(path)
    if suffix == ".docx":
        from kbcli.readers.docx import read_docx

        return read_docx(path)
    raise FileFailure(UNSUPPORTED, path.suffix or "no extension")
