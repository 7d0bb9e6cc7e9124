"""PDF pages through PyMuPDF: one section per page, headed by the outline entry it falls under."""

from __future__ import annotations

from pathlib import Path

from kbcli.readers import DAMAGED, ENCRYPTED, NO_TEXT, UNREADABLE, Document, FileFailure, Section, clean_text


def _open(path: Path):
    import pymupdf

    try:
        return pymupdf.open(path, filetype="pdf")
    except pymupdf.FileDataError as err:
        raise FileFailure(DAMAGED, str(err)) from err
    except PermissionError as err:
        raise FileFailure(UNREADABLE, err.strerror or str(err)) from err
    except (RuntimeError, ValueError) as err:
        raise FileFailure(DAMAGED, str(err)) from err


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


def read_pdf(path: Path) -> Document:
    doc = _open(path)
    try:
        if doc.needs_pass:
            raise FileFailure(ENCRYPTED, "a password is required to open it")
        if doc.page_count == 0:
            raise FileFailure(DAMAGED, "no pages")
        try:
            toc = doc.get_toc(simple=True)
        except Exception:  # a broken outline must not cost us the text
            toc = []
        headings = _headings_by_page(toc, doc.page_count)
        sections: list[Section] = []
        for index in range(doc.page_count):
            page = doc.load_page(index)
            text = clean_text(page.get_text("text"))
            if not text:
                continue
            label = page.get_label() or None
            if label == str(index + 1):
                label = None
            sections.append(Section(text=text, page=index + 1, page_label=label, heading=headings[index]))
        if not sections:
            raise FileFailure(NO_TEXT, "no page has a text layer")
        title = (doc.metadata or {}).get("title") or path.stem
        return Document(path=path, title=title.strip() or path.stem, pages=doc.page_count, sections=sections)
    finally:
        doc.close()
