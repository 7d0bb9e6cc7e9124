"""What readers produce and how they fail: documents of sections, read options, failure reasons.

Every reader module imports from here (never from the package, which re-exports it), so the
package has no import cycles.
"""

from __future__ import annotations

import fnmatch
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
REASONS = (ENCRYPTED, DAMAGED, NO_TEXT, UNSUPPORTED, TOO_LARGE, TIMED_OUT, UNREADABLE)

PDF_SUFFIXES = (".pdf",)
WORD_SUFFIXES = (".docx", ".docm", ".dotx")
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
LEGACY_SUFFIXES = (".doc", ".rtf", ".odt")  # through LibreOffice with --convert-legacy
SUPPORTED_SUFFIXES = PDF_SUFFIXES + WORD_SUFFIXES + TEXT_SUFFIXES + LEGACY_SUFFIXES

OCR_MODES = ("auto", "off", "force")


class FileFailure(Exception):
    """A file that cannot be indexed, with a reason from the documented set and a detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # picklable with both fields (the worker process sends failures back)
        return (type(self), (self.reason, self.detail))


class NeedsConversion(FileFailure):
    """A legacy Word 97-2003 file under a .docx name: the DOCX reader cannot read it, the
    dispatcher converts it (with --convert-legacy) and hands the result back to that reader."""

    def __init__(self, reason: str = UNSUPPORTED, detail: str = "") -> None:
        super().__init__(reason, detail or "a Word 97-2003 (.doc) file named .docx: use --convert-legacy with LibreOffice")


@dataclass
class Section:
    """A run of text that shares one citation: a PDF page, or a DOCX part under one heading."""

    text: str
    page: int | None = None  # 1-based physical page
    page_label: str | None = None  # printed label when it differs from the page number
    heading: str | None = None  # "Part > Chapter > Section"
    ocr: bool = False  # the text was recognised from the page image, not read from a text layer


@dataclass
class Document:
    path: Path
    title: str
    pages: int  # physical pages (PDF) or 0 for flowing documents
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was read only in part, e.g. pages OCR skipped


@dataclass(frozen=True)
class ReadOptions:
    """How files are read. Passwords live only here, in memory: never stored, logged or shown.

    Nothing here comes from the environment by itself: the CLI fills `password`, `max_memory`,
    `tessdata` and `tessdata_prefix` from `Settings.reading`."""

    passwords: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (glob, password), first match wins
    password: str | None = field(default=None, repr=False)  # --password, else $KBCLI_PASSWORD
    ocr: str = "auto"  # auto: pages without a usable text layer; off; force: every page
    ocr_languages: str = "eng+chi_sim"
    ocr_dpi: int = 300
    ocr_max_pixels: int = 50_000_000  # a page is rendered at lower dpi (or not at all) beyond this
    convert_legacy: bool = False  # .doc/.rtf/.odt through LibreOffice
    max_file_size: int = 200 * 1024 * 1024  # bytes; larger files are "too large" without being read
    timeout: float = 300.0  # seconds per file
    max_memory: int = 2048 * 1024 * 1024  # address space of the reader process, bytes
    tessdata: str | None = None  # $KBCLI_TESSDATA: only this folder is searched for language data
    tessdata_prefix: str | None = None  # $TESSDATA_PREFIX: searched before the Debian folders

    def passwords_for(self, path: Path) -> list[str]:
        """Candidate passwords for `path`: matching passwords-file globs first, then the general one."""
        name, full = path.name, str(path)
        found = [pw for glob, pw in self.passwords if fnmatch.fnmatch(name, glob) or fnmatch.fnmatch(full, glob)]
        if self.password:
            found.append(self.password)
        return list(dict.fromkeys(found))
