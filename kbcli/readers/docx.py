"""Word files through python-docx, in body order: headings open sections, tables are text in place."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path

from kbcli.readers import DAMAGED, NO_TEXT, UNREADABLE, Document, FileFailure, Section, clean_text

_HEADING_LEVEL = re.compile(r"^heading\s*(\d+)$", re.IGNORECASE)


def _heading_level(paragraph) -> int | None:
    """1.. for headings, 0 for the Title style, None for body text."""
    try:
        name = (paragraph.style.name or "") if paragraph.style is not None else ""
    except (KeyError, ValueError):
        return None
    if name.lower() == "title":
        return 0
    match = _HEADING_LEVEL.match(name.strip())
    return int(match.group(1)) if match else None


def _table_lines(table) -> list[str]:
    """One line a row, cells joined by ' | '; merged cells once; nested tables after their cell."""
    lines: list[str] = []
    for row in table.rows:
        cells, seen = [], set()
        nested: list[str] = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(p.text.strip() for p in cell.paragraphs if p.text.strip()))
            for inner in cell.tables:
                nested.extend(_table_lines(inner))
        if any(cells):
            lines.append(" | ".join(c for c in cells if c))
        lines.extend(nested)
    return lines


class _SectionBuilder:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self.lines: list[str] = []

    def heading(self, level: int, text: str) -> None:
        self.flush()
        text = " ".join(unicodedata.normalize("NFKC", text).split())
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        self.lines.append(text)  # the heading's words belong to its section's text too

    def add(self, text: str) -> None:
        if text:
            self.lines.append(text)

    def flush(self) -> None:
        text = clean_text("\n".join(self.lines))
        if text:
            heading = " > ".join(t for _, t in self.path) or None
            self.sections.append(Section(text=text, heading=heading))
        self.lines = []


def read_docx(path: Path) -> Document:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except PermissionError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise FileFailure(DAMAGED, f"not a valid Word document ({err})") from err
    except Exception as err:  # python-docx raises several lxml and package errors
        raise FileFailure(DAMAGED, f"{type(err).__name__}: {err}") from err

    builder = _SectionBuilder()
    title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            level = _heading_level(block)
            if level is not None and text:
                title = title or (text if level <= 1 else "")
                builder.heading(level, text)
            else:
                builder.add(text)
        elif isinstance(block, Table):
            builder.add("\n".join(_table_lines(block)))
    builder.flush()
    if not builder.sections:
        raise FileFailure(NO_TEXT, "the document body has no text")
    core_title = (document.core_properties.title or "").strip()
    return Document(path=path, title=core_title or title or path.stem, pages=0, sections=builder.sections)
