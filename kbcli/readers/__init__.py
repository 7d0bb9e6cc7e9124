"""Turning files into documents: ordered sections of text with their page and heading.

`types` holds what readers produce and how they fail, `dispatch` picks the reader by suffix,
`pdf` / `docx` / `text` / `legacy` read one kind each, `ocr` drives Tesseract. Nothing here reads
the environment: everything comes in through `ReadOptions`.
"""

from __future__ import annotations

from kbcli.readers.dispatch import read_document
from kbcli.readers.normalize import clean_text, display_name, fallback_title
from kbcli.readers.types import (
    DAMAGED,
    ENCRYPTED,
    LEGACY_SUFFIXES,
    NO_TEXT,
    OCR_MODES,
    PDF_SUFFIXES,
    REASONS,
    SUPPORTED_SUFFIXES,
    TEXT_SUFFIXES,
    TIMED_OUT,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED,
    WORD_SUFFIXES,
    Document,
    FileFailure,
    NeedsConversion,
    ReadOptions,
    Section,
)

__all__ = [
    "DAMAGED", "ENCRYPTED", "LEGACY_SUFFIXES", "NO_TEXT", "OCR_MODES", "PDF_SUFFIXES", "REASONS",
    "SUPPORTED_SUFFIXES", "TEXT_SUFFIXES", "TIMED_OUT", "TOO_LARGE", "UNREADABLE", "UNSUPPORTED",
    "WORD_SUFFIXES", "Document", "FileFailure", "NeedsConversion", "ReadOptions", "Section",
    "read_document", "clean_text", "display_name", "fallback_title",
]
