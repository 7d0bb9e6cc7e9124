"""Word files through python-docx, in body order: headings open sections, tables are text in place.

Text in content controls, text boxes, altChunk HTML parts, footnotes and endnotes is read too.
`docx_package` opens the file first (encryption, zip bombs, templates, Strict OOXML, legacy .doc).
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Iterator

from kbcli.readers.docx_package import open_package, safe_xml_parser
from kbcli.readers.normalize import clean_text, fallback_title
from kbcli.readers.types import DAMAGED, NO_TEXT, TOO_LARGE, Document, FileFailure, ReadOptions, Section

_HEADING_LEVEL = re.compile(r"^heading\s*(\d+)$", re.IGNORECASE)
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = "{%s}" % W
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


# -- text in body order ---------------------------------------------------------------------------
_TEXT_TAGS = {_W + "t": None, _W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n", _W + "noBreakHyphen": "-"}
_SKIP = {_W + "del", _W + "moveFrom", _W + "pPr", _W + "rPr", _W + "instrText", _W + "delText", _MC_FALLBACK}


def paragraph_text(p, boxes: list | None = None) -> str:
    """The visible text of a w:p: runs inside hyperlinks, insertions and inline content controls;
    not deleted text or field codes. Text boxes met on the way are collected into `boxes`."""
    out: list[str] = []

    def visit(element) -> None:
        for child in element:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP:
                continue
            if tag == _W + "txbxContent":
                if boxes is not None:
                    boxes.append(child)
                continue
            if tag in _TEXT_TAGS:
                fixed = _TEXT_TAGS[tag]
                # an unresolved entity is a child node: keep the text around it, drop the reference
                out.append("".join([child.text or "", *(sub.tail or "" for sub in child)]) if fixed is None else fixed)
                continue
            visit(child)

    visit(p)
    return "".join(out)


def _blocks(container) -> Iterator:
    """w:p, w:tbl and w:altChunk in order, looking through content controls and custom XML."""
    for child in container:
        tag = child.tag
        if tag in (_W + "p", _W + "tbl", _W + "altChunk"):
            yield child
        elif tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _blocks(content)
        elif tag in (_W + "customXml", _W + "ins", _W + "moveTo", _W + "smartTag"):
            yield from _blocks(child)


def _cells(row) -> Iterator:
    for child in row:
        if child.tag == _W + "tc":
            yield child
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _cells(content)
        elif child.tag == _W + "customXml":
            yield from _cells(child)


def _table_lines(tbl, reader: "_BodyReader") -> list[str]:
    """One line a row, cells joined by ' | '; merged cells once; nested tables after their row."""
    lines: list[str] = []
    for tr in tbl.iterchildren(_W + "tr"):
        cells: list[str] = []
        nested: list[str] = []
        for tc in _cells(tr):
            vmerge = tc.find(f"{_W}tcPr/{_W}vMerge")
            if vmerge is not None and vmerge.get(_W + "val") in (None, "continue"):
                continue  # the rest of a vertically merged cell: its text is in the first row
            words: list[str] = []
            for block in _blocks(tc):
                if block.tag == _W + "p":
                    text = reader.paragraph(block, inline=True)
                    if text:
                        words.append(text)
                elif block.tag == _W + "tbl":
                    nested.extend(_table_lines(block, reader))
            cells.append(" ".join(words))
        if any(cells):
            lines.append(" | ".join(c for c in cells if c))
        lines.extend(nested)
    return lines


class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style", "head"):
            self._hidden += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(re.sub(r"\s+", " ", data))  # HTML whitespace is not layout


def html_text(data: bytes) -> str:
    parser = _HtmlText()
    parser.feed(data.decode("utf-8", "replace"))
    parser.close()
    lines = []
    for line in "".join(parser.parts).split("\n"):
        cells = [c.strip() for c in line.split("\t")]
        lines.append(" | ".join(c for c in cells if c))
    return "\n".join(line for line in lines if line)


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

    def flush(self, heading: str | None = None) -> None:
        text = clean_text("\n".join(self.lines))
        if text:
            heading = heading or " > ".join(t for _, t in self.path) or None
            self.sections.append(Section(text=text, heading=heading))
        self.lines = []


class _BodyReader:
    def __init__(self, document) -> None:
        self.document = document
        self.builder = _SectionBuilder()
        self.title = ""
        self.styles = _style_names(document)

    def heading_level(self, p) -> int | None:
        """1.. for headings, 0 for the Title style, None for body text."""
        style = p.find(f"{_W}pPr/{_W}pStyle")
        name = self.styles.get(style.get(_W + "val"), "") if style is not None else ""
        if name.lower() == "title":
            return 0
        match = _HEADING_LEVEL.match(name.strip())
        return int(match.group(1)) if match else None

    def paragraph(self, p, inline: bool = False) -> str:
        """A paragraph's text, followed by the text of any text boxes anchored in it."""
        boxes: list = []
        text = paragraph_text(p, boxes).strip()
        extra = [self.box_text(box) for box in boxes]
        return "\n".join(t for t in [text, *extra] if t) if not inline else " ".join(t for t in [text, *extra] if t)

    def box_text(self, box) -> str:
        lines: list[str] = []
        for block in _blocks(box):
            if block.tag == _W + "p":
                lines.append(self.paragraph(block))
            elif block.tag == _W + "tbl":
                lines.extend(_table_lines(block, self))
        return "\n".join(line for line in lines if line)

    def read_body(self) -> None:
        body = self.document.element.body
        for block in _blocks(body):
            if block.tag == _W + "p":
                boxes: list = []
                text = paragraph_text(block, boxes).strip()
                level = self.heading_level(block)
                if level is not None and text:
                    self.title = self.title or (text if level <= 1 else "")
                    self.builder.heading(level, text)
                else:
                    self.builder.add(text)
                for box in boxes:
                    self.builder.add(self.box_text(box))
            elif block.tag == _W + "tbl":
                self.builder.add("\n".join(_table_lines(block, self)))
            else:
                self.builder.add(self.alt_chunk(block))
        self.builder.flush()

    def alt_chunk(self, element) -> str:
        """An altChunk imports another file's content (HTML, text) into the body at this point."""
        rel = self.document.part.rels.get(element.get(_R + "id") or "")
        if rel is None or rel.is_external:
            return ""
        part = rel.target_part
        kind = (part.content_type or "").lower()
        if "html" in kind:
            return html_text(part.blob)
        if kind.startswith("text/plain"):
            return part.blob.decode("utf-8", "replace")
        return ""

    def notes(self) -> None:
        """Footnotes and endnotes, each as a section after the body."""
        from lxml import etree

        for kind, heading in (("footnotes", "Footnotes"), ("endnotes", "Endnotes")):
            for rel in self.document.part.rels.values():
                if rel.is_external or not rel.reltype.endswith("/" + kind):
                    continue
                try:
                    root = etree.fromstring(rel.target_part.blob, safe_xml_parser())
                except Exception:  # a broken notes part must not cost the body
                    continue
                for note in root:
                    if note.get(_W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                        continue
                    for block in _blocks(note):
                        if block.tag == _W + "p":
                            self.builder.add(self.paragraph(block))
                        elif block.tag == _W + "tbl":
                            self.builder.add("\n".join(_table_lines(block, self)))
                self.builder.flush(heading)


def _style_names(document) -> dict[str, str]:
    try:
        return {s.style_id: s.name or "" for s in document.styles}
    except Exception:  # a broken styles part: no headings, but the text still counts
        return {}


def read_docx(path: Path, options: ReadOptions | None = None) -> Document:
    return _read(path, open_package(path, options or ReadOptions()))


def read_docx_bytes(path: Path, data: IO[bytes], options: ReadOptions) -> Document:
    """A Word package held in memory (a legacy file LibreOffice converted) for the file `path`."""
    return _read(path, open_package(path, options, data))


def _read(path: Path, document) -> Document:
    reader = _BodyReader(document)
    try:
        reader.read_body()
        reader.notes()
    except MemoryError as err:
        raise FileFailure(TOO_LARGE, "reading it needs more memory than allowed") from err
    except Exception as err:
        raise FileFailure(DAMAGED, f"{type(err).__name__}: {err}") from err
    if not reader.builder.sections:
        raise FileFailure(NO_TEXT, "the document has no text")
    try:
        core_title = (document.core_properties.title or "").strip()
    except Exception:
        core_title = ""
    return Document(path=path, title=core_title or reader.title or fallback_title(path), pages=0, sections=reader.builder.sections)
