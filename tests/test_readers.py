import shutil
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


def _word97_file(path: Path) -> Path:
    """A minimal Compound File (CFB v3) holding one 'WordDocument' stream: what a Word 97-2003
    file looks like to a reader, enough to be recognised (not to be converted)."""
    import struct

    end, free, fat_sector, none = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", bytes(16), 0x3E, 3, 0xFFFE, 9, 6,
        bytes(6), 0, 1, 1, 0, 4096, end, 0, end, 0,
    ) + struct.pack("<109I", 0, *[free] * 108)
    fat = struct.pack("<128I", fat_sector, end, 3, 4, 5, 6, 7, 8, 9, end, *[free] * 118)

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, none, none, child, bytes(16), 0, 0, 0, start, size)

    directory = entry("Root Entry", 5, 1, end, 0) + entry("WordDocument", 2, none, 2, 4096) + entry("", 0, none, 0, 0) * 2
    path.write_bytes(header + fat + directory + bytes(4096))
    return path


def test_a_word97_file_named_docx_is_sent_to_conversion_not_misread(tmp_path: Path) -> None:
    from kbcli.readers import UNSUPPORTED, ReadOptions

    path = _word97_file(tmp_path / "old-memo.docx")
    with pytest.raises(FileFailure) as info:
        read_document(path)
    assert info.value.reason == UNSUPPORTED and "--convert-legacy" in info.value.detail
    with pytest.raises(FileFailure) as info:  # with --convert-legacy it goes to LibreOffice
        read_document(path, ReadOptions(convert_legacy=True, timeout=60))
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        assert info.value.reason == UNSUPPORTED and "LibreOffice (soffice) is not installed" in info.value.detail
    else:
        assert info.value.reason != UNSUPPORTED  # LibreOffice tried (and failed on the empty stream)


def test_extracted_text_is_normalised_and_loses_nul_characters() -> None:
    from kbcli.readers import clean_text

    # NUL comes from some PDFs' text layers (3 FinanceBench chunks); PostgreSQL text refuses it.
    assert clean_text("Net\x00revenue \x00\x00 grew\n\n  ﬁne\u3000print ") == "Net revenue grew\nfine print"
