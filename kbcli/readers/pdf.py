"""PDF pages through PyMuPDF: one section per page, headed by the outline entry it falls under.

Pages without a usable text layer are OCR'd with Tesseract (through MuPDF) when it is installed;
rasterising is capped so an image bomb is reported, never rendered.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

from kbcli.readers import ocr as ocr_support
from kbcli.readers.normalize import clean_text, fallback_title
from kbcli.readers.types import (
    DAMAGED,
    ENCRYPTED,
    NO_TEXT,
    TOO_LARGE,
    UNREADABLE,
    Document,
    FileFailure,
    ReadOptions,
    Section,
)

# A text layer shorter than this (CJK characters count 3) is not a page's real text: a scan with a
# page number, or a stray mark. Such pages are OCR'd in auto mode when they show anything at all.
USABLE_TEXT_UNITS = 10
# Decoding an image costs its full size whatever the output resolution: refuse beyond this.
OCR_MAX_IMAGE_PIXELS = 100_000_000


def _is_memory_error(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, MemoryError) or "malloc" in text or "out of memory" in text


def _open(path: Path):
    import pymupdf

    try:
        return pymupdf.open(path, filetype="pdf")
    except FileNotFoundError as err:
        raise FileFailure(UNREADABLE, "vanished before it could be read") from err
    except PermissionError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    except pymupdf.FileDataError as err:
        raise FileFailure(DAMAGED, "not a PDF that MuPDF can open or repair") from err
    except Exception as err:
        if _is_memory_error(err):
            raise FileFailure(TOO_LARGE, "opening it needs more memory than allowed") from err
        raise FileFailure(DAMAGED, f"MuPDF cannot open or repair it ({_short(err)})") from err


def _short(err: BaseException) -> str:
    text = str(err).split("\n")[0]
    return (text[:200] + "…") if len(text) > 200 else text


def saslprep(password: str) -> str:
    """RFC 4013 SASLprep mapping, which PDF 2.0 (R6) applies to passwords before hashing:
    drop 'commonly mapped to nothing' characters (soft hyphen, ZWJ, ...), map non-ASCII spaces to
    a space, then NFKC. A password typed as 'SªSL\\u00adprep' becomes 'SaSLprep'."""
    import stringprep

    mapped = []
    for ch in password:
        if stringprep.in_table_b1(ch):
            continue
        mapped.append(" " if stringprep.in_table_c12(ch) else ch)
    return unicodedata.normalize("NFKC", "".join(mapped))


def _unlock(doc, path: Path, options: ReadOptions) -> None:
    if not doc.needs_pass:
        return  # no password, or an owner password only (permissions): readable as it is
    candidates = options.passwords_for(path)
    for password in candidates:
        for attempt in dict.fromkeys((password, saslprep(password))):
            if doc.authenticate(attempt):
                return
    if not candidates:
        raise FileFailure(ENCRYPTED, "a password is needed to open it (give --password, --passwords-file or $KBCLI_PASSWORD)")
    raise FileFailure(ENCRYPTED, f"none of the {len(candidates)} password(s) given for it opens it")


def _headings_by_page(toc: list[list], page_count: int) -> list[str | None]:
    """For each page, the outline path ("A > B") of the last entry starting on or before it."""
    result: list[str | None] = [None] * page_count
    stack: list[str] = []
    starts: list[tuple[int, str]] = []
    for level, title, page in toc:
        del stack[max(level - 1, 0) :]
        stack.append(" ".join(str(title).split()))
        if 1 <= page <= page_count:
            starts.append((page, " > ".join(stack)))
    starts.sort(key=lambda item: item[0])
    current, i = None, 0
    for page in range(1, page_count + 1):
        while i < len(starts) and starts[i][0] <= page:
            current = starts[i][1]
            i += 1
        result[page - 1] = current
    return result


def text_units(text: str) -> int:
    """Non-blank characters, CJK ideographs and kana counting 3 (one is about a word); characters
    that a font without a Unicode map turns into (U+FFFD, private use) count nothing."""
    units = 0
    for ch in text:
        if ch.isspace() or ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cc", "Cs"):
            continue
        units += 3 if ord(ch) >= 0x2E80 else 1
    return units


def _shows_something(page) -> bool:
    """Whether the page paints anything (images, vector paths, text); blank pages need no OCR."""
    try:
        return bool(page.get_bboxlog())
    except Exception:
        return True


class _Ocr:
    """OCR of single pages under the pixel caps, and a record of the pages it could not do."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self.setup = ocr_support.find_tesseract(options.ocr_languages, options.tessdata, options.tessdata_prefix) if options.ocr != "off" else None
        self.unavailable: list[int] = []
        self.too_large: list[tuple[int, str]] = []
        self.failed: list[tuple[int, str]] = []

    def wanted(self, page, text: str) -> bool:
        if self.options.ocr == "off":
            return False
        if self.options.ocr == "force":
            return True
        return text_units(text) < USABLE_TEXT_UNITS and _shows_something(page)

    def _dpi(self, page) -> int:
        width, height = page.rect.width, page.rect.height
        dpi = self.options.ocr_dpi
        area = max(width * height, 1.0) / (72 * 72)  # square inches
        if area * dpi * dpi > self.options.ocr_max_pixels:
            dpi = int(math.sqrt(self.options.ocr_max_pixels / area))
        return dpi

    def read(self, page) -> str | None:
        number = page.number + 1
        if self.setup is None:
            self.unavailable.append(number)
            return None
        for image in page.get_image_info():
            pixels = int(image.get("width", 0)) * int(image.get("height", 0))
            if pixels > OCR_MAX_IMAGE_PIXELS:
                self.too_large.append((number, f"a {image['width']}×{image['height']} px image"))
                return None
        dpi = self._dpi(page)
        if dpi < 20:
            self.too_large.append((number, f"a {page.rect.width:.0f}×{page.rect.height:.0f} pt page"))
            return None
        try:
            return ocr_support.recognise(page, self.setup, dpi, timeout=self.options.timeout)
        except Exception as err:  # one bad page image must not cost the other pages
            if _is_memory_error(err):
                self.too_large.append((number, "rendering it needs more memory than allowed"))
            else:
                self.failed.append((number, _short(err)))
            return None

    def notes(self) -> list[str]:
        notes = []
        if self.unavailable:
            notes.append(f"{_pages(self.unavailable)}: no text (OCR unavailable: {ocr_support.MISSING_HINT})")
        for number, what in self.too_large:
            notes.append(f"page {number}: not OCR'd, {what} is beyond the rasterising limit")
        for number, error in self.failed:
            notes.append(f"page {number}: OCR failed ({error})")
        return notes


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10]) + (", …" if len(numbers) > 10 else "")
    return f"page{'s' if len(numbers) > 1 else ''} {shown}"


def _page_section(page, index: int, headings: list[str | None], ocr: _Ocr) -> Section | None:
    text = clean_text(page.get_text("text"))
    from_ocr = False
    if ocr.wanted(page, text):
        recognised = clean_text(ocr.read(page) or "")
        if text_units(recognised) > text_units(text):  # keep the text layer if OCR found less
            text, from_ocr = recognised, True
    if not text:
        return None
    label = page.get_label() or None
    if label == str(index + 1):
        label = None
    return Section(text=text, page=index + 1, page_label=label, heading=headings[index], ocr=from_ocr)


def _no_text_failure(ocr: _Ocr, page_count: int) -> FileFailure:
    if ocr.options.ocr == "off":
        return FileFailure(NO_TEXT, "no page has a text layer (OCR is off)")
    if ocr.unavailable:
        return FileFailure(NO_TEXT, f"no page has a text layer (OCR unavailable: {ocr_support.MISSING_HINT})")
    if ocr.too_large and len(ocr.too_large) == page_count:
        number, what = ocr.too_large[0]
        return FileFailure(TOO_LARGE, f"no text layer, and page {number} holds {what}: not rasterised for OCR")
    if ocr.failed:
        return FileFailure(NO_TEXT, "no text layer, and OCR failed: " + "; ".join(e for _, e in ocr.failed[:3]))
    return FileFailure(NO_TEXT, "no page has a text layer, and OCR found no text")


def read_pdf(path: Path, options: ReadOptions | None = None) -> Document:
    options = options or ReadOptions()
    doc = _open(path)
    try:
        _unlock(doc, path, options)
        return _read_pages(doc, path, options)
    except FileFailure:
        raise
    except Exception as err:  # MuPDF raises on broken page trees, streams, fonts...
        if _is_memory_error(err):
            raise FileFailure(TOO_LARGE, "reading it needs more memory than allowed") from err
        raise FileFailure(DAMAGED, f"MuPDF cannot read it ({_short(err)})") from err
    finally:
        doc.close()


def _read_pages(doc, path: Path, options: ReadOptions) -> Document:
    if doc.page_count == 0:
        raise FileFailure(DAMAGED, "no pages (truncated, or the page tree is broken beyond repair)")
    try:
        toc = doc.get_toc(simple=True)
    except Exception:  # a broken outline must not cost us the text
        toc = []
    headings = _headings_by_page(toc, doc.page_count)
    ocr = _Ocr(options)
    sections: list[Section] = []
    for index in range(doc.page_count):
        section = _page_section(doc.load_page(index), index, headings, ocr)
        if section is not None:
            sections.append(section)
    if not sections:
        raise _no_text_failure(ocr, doc.page_count)
    title = (doc.metadata or {}).get("title") or ""
    notes = ocr.notes()
    if doc.is_repaired:
        notes.append("damaged; repaired by MuPDF")
    return Document(path=path, title=title.strip() or fallback_title(path), pages=doc.page_count, sections=sections, notes=notes)
