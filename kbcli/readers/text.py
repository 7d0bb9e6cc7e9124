"""Plain text and Markdown: decoded carefully, Markdown headings open sections."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from kbcli.readers.normalize import clean_text, fallback_title
from kbcli.readers.types import NO_TEXT, UNREADABLE, UNSUPPORTED, Document, FileFailure, Section

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252 (never fails)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192]:
        raise FileFailure(UNSUPPORTED, "binary data, not text")
    return data.decode("cp1252", "replace")


def _markdown_sections(text: str) -> tuple[list[Section], str]:
    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    title = ""
    fenced = False

    def flush() -> None:
        body = clean_text("\n".join(lines))
        if body:
            sections.append(Section(text=body, heading=" > ".join(t for _, t in path) or None))
        lines.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _MD_HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading))
            title = title or (heading if level == 1 else "")
            lines.append(heading)
        else:
            lines.append(line)
    flush()
    return sections, title


def read_text(path: Path) -> Document:
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except OSError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    text = decode(data)
    if path.suffix.lower() in (".md", ".markdown"):
        sections, title = _markdown_sections(text)
    else:
        body = clean_text(text)
        sections, title = ([Section(text=body)] if body else []), ""
    if not sections:
        raise FileFailure(NO_TEXT, "the file is empty")
    return Document(path=path, title=title or fallback_title(path), pages=0, sections=sections)
