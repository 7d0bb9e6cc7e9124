from pathlib import Path

import pytest

from kbcli.readers import DAMAGED, ENCRYPTED, NO_TEXT, FileFailure, read_document

from conftest import CORPUS

DOCX = CORPUS / "docx"
PDF = CORPUS / "pdf_tricky"


def test_pdf_one_section_per_page_with_number_label_and_outline() -> None:
    doc = read_document(PDF / "enc_aes128_V4_nouserpw.pdf")  # empty user password: opens without asking
    assert doc.pages == 30
    pages = {s.page: s for s in doc.sections}
    assert pages[1].text == "Potato 0" and pages[1].page_label is None
    assert pages[3].text == "Potato 2" and pages[3].page_label == "i"  # printed label differs
    assert pages[1].heading.startswith("Isis 1") and " > " in pages[1].heading  # outline path


def test_docx_headings_form_a_path_and_tables_stay_in_place() -> None:
    doc = read_document(DOCX / "feature__poi__heading123.docx")
    assert [s.heading for s in doc.sections] == [
        "First paragraph",
        "First paragraph > Second paragraph",
        "First paragraph > Second paragraph > Third paragraph",
    ]
    doc = read_document(DOCX / "feature__mammoth__tables.docx")
    assert doc.sections[0].text == "Above\nTop left | Top right\nBottom left | Bottom right\nBelow"


def test_docx_nested_tables_are_read(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Prices", level=1)
    outer = document.add_table(rows=1, cols=2)
    outer.cell(0, 0).text = "Outer cell"
    inner = outer.cell(0, 1).add_table(rows=1, cols=2)
    inner.cell(0, 0).text = "Inner espresso"
    inner.cell(0, 1).text = "4.20 EUR"
    document.add_paragraph("After the table.")
    path = tmp_path / "nested.docx"
    document.save(path)
    (section,) = read_document(path).sections
    assert section.heading == "Prices"
    lines = section.text.splitlines()
    assert lines[0] == "Prices" and "Outer cell" in lines[1]
    assert "Inner espresso | 4.20 EUR" in lines and lines[-1] == "After the table."


@pytest.mark.parametrize(
    "path, reason",
    [
        (PDF / "enc_userpw-abc_pdfjs6010.pdf", ENCRYPTED),
        (PDF / "damaged_23_bytes.pdf", DAMAGED),
        (PDF / "damaged_zero_pages.pdf", DAMAGED),
        (PDF / "damaged_fuzzed_pdfbox.pdf", NO_TEXT),  # opens after repair; nothing on it, even for OCR
        (DOCX / "malformed__poi__truncated62886.docx", DAMAGED),
        (DOCX / "feature__mammoth__empty.docx", NO_TEXT),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_unreadable_files_fail_with_a_reason(path: Path, reason: str) -> None:
    with pytest.raises(FileFailure) as info:
        read_document(path)
    assert info.value.reason == reason


def test_tesseract_folder_comes_from_read_options_not_the_environment(tmp_path: Path, monkeypatch) -> None:
    from kbcli.readers import ReadOptions

    monkeypatch.delenv("KBCLI_TESSDATA", raising=False)
    scan = PDF / "scan_huckfinn_p22_publicdomain.pdf"
    with pytest.raises(FileFailure) as info:  # a folder without language data: OCR unavailable
        read_document(scan, ReadOptions(tessdata=str(tmp_path), ocr_languages="eng"))
    assert info.value.reason == NO_TEXT and "OCR unavailable" in info.value.detail
