"""Word files through python-docx, in body order: headings open sections, tables are text in place.

Before python-docx sees a file we check what it really is: an encrypted package (a CFB/OLE
container, decrypted with msoffcrypto-tool when a password is given), a legacy .doc under a .docx
name, a zip that would unpack to more than we allow, or a broken zip. Templates (.dotx content
type), macro-enabled files and ISO Strict OOXML are read from a patched in-memory copy. Text in
content controls, text boxes, altChunk HTML parts, footnotes and endnotes is read too. XML is
parsed with entity resolution and network access off, so an external-entity trap stays inert.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Iterator

from kbcli.readers.normalize import clean_text, fallback_title
from kbcli.readers.types import (
    DAMAGED,
    ENCRYPTED,
    NO_TEXT,
    TOO_LARGE,
    UNREADABLE,
    UNSUPPORTED,
    Document,
    FileFailure,
    NeedsConversion,
    ReadOptions,
    Section,
)

_HEADING_LEVEL = re.compile(r"^heading\s*(\d+)$", re.IGNORECASE)
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A real Word file's XML is a few MB; python-docx holds every part in memory, lxml builds a tree.
MAX_XML_BYTES = 256 * 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = "{%s}" % W
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_DOCUMENT_TYPE = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_OTHER_MAIN_TYPES = (
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    b"application/vnd.ms-word.document.macroEnabled.main+xml",
    b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
)
# ISO 29500 Strict names → the Transitional names python-docx knows (same elements, other URIs).
_STRICT_NAMESPACES = {
    b"http://purl.oclc.org/ooxml/wordprocessingml/main": b"http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    b"http://purl.oclc.org/ooxml/officeDocument/relationships": b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    b"http://purl.oclc.org/ooxml/drawingml/main": b"http://schemas.openxmlformats.org/drawingml/2006/main",
    b"http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing": b"http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    b"http://purl.oclc.org/ooxml/drawingml/picture": b"http://schemas.openxmlformats.org/drawingml/2006/picture",
    b"http://purl.oclc.org/ooxml/officeDocument/math": b"http://schemas.openxmlformats.org/officeDocument/2006/math",
    b"http://purl.oclc.org/ooxml/officeDocument/sharedTypes": b"http://schemas.openxmlformats.org/officeDocument/2006/sharedTypes",
    b"http://purl.oclc.org/ooxml/officeDocument/extendedProperties": b"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    b"http://purl.oclc.org/ooxml/officeDocument/customProperties": b"http://schemas.openxmlformats.org/officeDocument/2006/custom-properties",
    b"http://purl.oclc.org/ooxml/officeDocument/docPropsVTypes": b"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
}


def safe_xml_parser():
    """lxml parser that never expands entities, loads a DTD or touches the network."""
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


# -- what the file really is ----------------------------------------------------------------------
def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(8)
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except OSError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err


def _open_cfb(path: Path, options: ReadOptions) -> IO[bytes]:
    """An OLE container under a .docx name: an encrypted package, or a legacy .doc."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            streams = {"/".join(s) for s in ole.listdir()}
    except Exception as err:
        raise FileFailure(DAMAGED, f"a broken OLE container ({err})") from err
    if "EncryptionInfo" in streams and "EncryptedPackage" in streams:
        return _decrypt(path, options)
    if "WordDocument" in streams:
        raise NeedsConversion()  # kbcli.readers.dispatch converts it with --convert-legacy
    raise FileFailure(UNSUPPORTED, "an OLE container, not a Word package")


def _decrypt(path: Path, options: ReadOptions) -> IO[bytes]:
    candidates = options.passwords_for(path)
    if not candidates:
        raise FileFailure(ENCRYPTED, "password-protected Word file (give --password, --passwords-file or $KBCLI_PASSWORD)")
    try:
        import msoffcrypto
        from msoffcrypto.exceptions import InvalidKeyError
    except ImportError as err:
        raise FileFailure(ENCRYPTED, "password-protected, and msoffcrypto-tool is not installed") from err
    problem = ""
    for password in candidates:
        try:
            with open(path, "rb") as fh:
                office = msoffcrypto.OfficeFile(fh)
                office.load_key(password=password)
                out = io.BytesIO()
                office.decrypt(out)
            out.seek(0)
            return out
        except InvalidKeyError:
            continue
        except Exception as err:  # e.g. POI bug 53475: parameters msoffcrypto-tool does not support
            problem = f"{type(err).__name__}: {err}"
    if problem:
        raise FileFailure(ENCRYPTED, f"password-protected with encryption msoffcrypto-tool cannot decrypt ({problem})")
    raise FileFailure(ENCRYPTED, f"none of the {len(candidates)} password(s) given for it opens it")


def _check_unpacked_size(package: zipfile.ZipFile) -> int:
    """Refuse zip bombs from the sizes in the zip directory (zipfile never reads past them);
    returns the size of the largest XML part."""
    members = package.infolist()
    total = sum(m.file_size for m in members)
    xml = sum(m.file_size for m in members if m.filename.endswith((".xml", ".rels")))
    if xml > MAX_XML_BYTES or total > MAX_UNPACKED_BYTES:
        raise FileFailure(
            TOO_LARGE,
            f"the package unpacks to {total / 2**20:,.0f} MiB ({xml / 2**20:,.0f} MiB of XML) "
            f"from {sum(m.compress_size for m in members) / 2**20:,.1f} MiB: refused as a zip bomb",
        )
    return max((m.file_size for m in members if m.filename.endswith(".xml")), default=0)


def _patched(package: zipfile.ZipFile) -> io.BytesIO | None:
    """An in-memory copy python-docx accepts, for templates, macro files and Strict OOXML; None
    when nothing needs patching."""
    parts = {info.filename: package.read(info) for info in package.infolist() if not info.is_dir()}
    changed = False
    types = parts.get("[Content_Types].xml", b"")
    for other in _OTHER_MAIN_TYPES:
        if other in types:
            types, changed = types.replace(other, _DOCUMENT_TYPE), True
    parts["[Content_Types].xml"] = types
    for name, data in parts.items():
        if name.endswith((".xml", ".rels")) and b"http://purl.oclc.org/ooxml/" in data:
            for strict, transitional in _STRICT_NAMESPACES.items():
                data = data.replace(strict, transitional)
            parts[name], changed = data, True
    if not changed:
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for name, data in parts.items():
            copy.writestr(name, data)
    out.seek(0)
    return out


def _load(path: Path, options: ReadOptions, data: IO[bytes] | None = None):
    import docx

    head = data.read(8) if data is not None else _read_head(path)
    if not head:
        raise FileFailure(DAMAGED, "empty file")
    source: Path | IO[bytes] = path if data is None else data
    if data is not None:
        data.seek(0)
    largest_xml = 0
    if head == CFB_MAGIC and data is None:
        source = _open_cfb(path, options)
    elif not head.startswith(b"PK"):
        raise FileFailure(DAMAGED, "not a Word package (no zip signature)")
    try:
        with zipfile.ZipFile(source) as package:
            largest_xml = _check_unpacked_size(package)
            bad = package.testzip()  # CRC check of every member, streaming
            if bad is not None:
                raise FileFailure(DAMAGED, f"the zip member {bad} is corrupt (CRC mismatch)")
            patched = _patched(package)
        if patched is not None:
            source = patched
        if not isinstance(source, Path):
            source.seek(0)
        return docx.Document(source if not isinstance(source, Path) else str(source))
    except FileFailure:
        raise
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except PermissionError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    except MemoryError as err:
        raise FileFailure(TOO_LARGE, "reading it needs more memory than allowed") from err
    except zipfile.BadZipFile as err:
        raise FileFailure(DAMAGED, f"a broken zip package ({err})") from err
    except KeyError as err:
        raise FileFailure(DAMAGED, f"a part is missing from the package ({err})") from err
    except ValueError as err:
        raise FileFailure(DAMAGED, f"not a Word document ({err})") from err
    except Exception as err:  # python-docx raises several lxml and package errors
        if options.max_memory and largest_xml > options.max_memory // 16:
            # libxml2 reports a failed allocation as a vague syntax error; a tree costs ~10x its XML
            raise FileFailure(
                TOO_LARGE, f"{largest_xml / 2**20:,.0f} MiB of XML is more than the reader's "
                f"{options.max_memory // 2**20} MiB of memory can parse ({type(err).__name__})"
            ) from err
        raise FileFailure(DAMAGED, f"{type(err).__name__}: {err}") from err


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
    return _read(path, _load(path, options or ReadOptions()))


def read_docx_bytes(path: Path, data: IO[bytes], options: ReadOptions) -> Document:
    """A Word package held in memory (a legacy file LibreOffice converted) for the file `path`."""
    return _read(path, _load(path, options, data))


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
