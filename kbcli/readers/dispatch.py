"""Which reader reads a file, by its suffix. Legacy files are converted to DOCX first (LibreOffice)
and the DOCX reader reads the result; readers never call each other."""

from __future__ import annotations

import io
from pathlib import Path

from kbcli.readers.docx import read_docx, read_docx_bytes
from kbcli.readers.legacy import convert_to_docx
from kbcli.readers.pdf import read_pdf
from kbcli.readers.text import read_text
from kbcli.readers.types import (
    LEGACY_SUFFIXES,
    PDF_SUFFIXES,
    TEXT_SUFFIXES,
    UNSUPPORTED,
    WORD_SUFFIXES,
    Document,
    FileFailure,
    NeedsConversion,
    ReadOptions,
)


def read_document(path: Path, options: ReadOptions | None = None) -> Document:
    """Read a supported file, or raise FileFailure saying why it cannot be read.

    This runs the parsers in the calling process; the indexer goes through
    `kbcli.isolation.IsolatedReader`, which adds the time, memory and crash protection."""
    options = options or ReadOptions()
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return read_pdf(path, options)
    if suffix in WORD_SUFFIXES:
        try:
            return read_docx(path, options)
        except NeedsConversion:
            if not options.convert_legacy:
                raise
            return _read_converted(path, options)
    if suffix in TEXT_SUFFIXES:
        return read_text(path)
    if suffix in LEGACY_SUFFIXES:
        return _read_converted(path, options)
    raise FileFailure(UNSUPPORTED, path.suffix or "no extension")


def _read_converted(path: Path, options: ReadOptions) -> Document:
    return read_docx_bytes(path, io.BytesIO(convert_to_docx(path, options)), options)
