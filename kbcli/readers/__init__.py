"""Turning files into documents: ordered sections of text with their page and heading."""

from __future__ import annotations

import fnmatch
import os
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
REASONS = (ENCRYPTED, DAMAGED, NO_TEXT, UNSUPPORTED, TOO_LARGE, TIMED_OUT, UNREADABLE)

PDF_SUFFIXES = (".pdf",)
WORD_SUFFIXES = (".docx", ".docm", ".dotx")
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
LEGACY_SUFFIXES = (".doc", ".rtf", ".odt")  # through LibreOffice with --convert-legacy
SUPPORTED_SUFFIXES = PDF_SUFFIXES + WORD_SUFFIXES + TEXT_SUFFIXES + LEGACY_SUFFIXES

PASSWORD_ENV = "KBCLI_PASSWORD"
OCR_MODES = ("auto", "off", "force")


class FileFailure(Exception):
    """A file that cannot be indexed, with a reason from the documented set and a detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # picklable with both fields (the worker process sends failures back)
        return (FileFailure, (self.reason, self.detail))


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
    """How files are read. Passwords live only here, in memory: never stored, logged or shown."""

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

    def passwords_for(self, path: Path) -> list[str]:
        """Candidate passwords for `path`: matching passwords-file globs first, then the general one."""
        name, full = path.name, str(path)
        found = [pw for glob, pw in self.passwords if fnmatch.fnmatch(name, glob) or fnmatch.fnmatch(full, glob)]
        if self.password:
            found.append(self.password)
        return list(dict.fromkeys(found))


def parse_passwords_file(path: Path) -> tuple[tuple[str, str], ...]:
    """Lines 'GLOB<tab or spaces>PASSWORD'; blank lines and '#' comments ignored. The password is
    the rest of the line after the first run of blanks, so it may itself contain spaces."""
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = re.split(r"[\t ]+", line.strip("\r\n"), maxsplit=1)
        if len(parts) != 2 or not parts[1]:
            raise ValueError(f"{path}:{number}: expected 'GLOB PASSWORD'")  # no echo of the line: it holds a secret
        rules.append((parts[0], parts[1]))
    return tuple(rules)


def default_password() -> str | None:
    return os.environ.get(PASSWORD_ENV) or None


_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
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


def read_document(path: Path, options: ReadOptions | None = None) -> Document:
    """Read a supported file, or raise FileFailure saying why it cannot be read.

    This runs the parsers in the calling process; the indexer goes through
    `kbcli.isolation.IsolatedReader`, which adds the time, memory and crash protection."""
    options = options or ReadOptions()
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        from kbcli.readers.pdf import read_pdf

        return read_pdf(path, options)
    if suffix in WORD_SUFFIXES:
        from kbcli.readers.docx import read_docx

        return read_docx(path, options)
    if suffix in TEXT_SUFFIXES:
        from kbcli.readers.text import read_text

        return read_text(path)
    if suffix in LEGACY_SUFFIXES:
        from kbcli.readers.legacy import read_legacy

        return read_legacy(path, options)
    raise FileFailure(UNSUPPORTED, path.suffix or "no extension")


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'200MB', '1.5G', '5000000' → bytes (K/M/G/T are powers of 1024); '0' means no limit."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 200MB or 1GB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def build_read_options(
    password: str | None = None,
    passwords_file: Path | None = None,
    ocr: str = "auto",
    convert_legacy: bool = False,
    max_file_size: str = "200MB",
    timeout: float = 300.0,
) -> ReadOptions:
    """ReadOptions from command-line values and the environment; ValueError says what is wrong
    (never quoting a password)."""
    if ocr.lower() not in OCR_MODES:
        raise ValueError(f"--ocr must be one of {', '.join(OCR_MODES)}, not {ocr!r}")
    if timeout <= 0:
        raise ValueError("--timeout must be more than 0 seconds")
    rules: tuple[tuple[str, str], ...] = ()
    if passwords_file is not None:
        try:
            rules = parse_passwords_file(passwords_file)
        except OSError as err:
            raise ValueError(f"cannot read the passwords file {passwords_file}: {err.strerror}") from err
        except UnicodeDecodeError as err:
            raise ValueError(f"the passwords file {passwords_file} is not UTF-8 text") from err
    memory_mb = os.environ.get("KBCLI_READER_MEMORY_MB", "")
    return ReadOptions(
        passwords=rules,
        password=password or default_password(),
        ocr=ocr.lower(),
        convert_legacy=convert_legacy,
        max_file_size=parse_size(max_file_size),
        timeout=timeout,
        max_memory=int(memory_mb) * 2**20 if memory_mb.isdigit() else ReadOptions.max_memory,
    )
