"""The real CLI over the shared corpus: every file indexed or reported, as its MANIFEST.tsv says.

The expected outcome of each file is written here from the manifest's description (not from
what kbcli happens to do): "indexed", or the documented failure reason.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")]

INDEXED = "indexed"


def _ocr_available() -> bool:
    from kbcli.readers.ocr import find_tesseract

    return find_tesseract("eng") is not None


def docx_expected(row: dict[str, str]) -> str:
    name, category, description = row["file"], row["category"], row["description"]
    if category == "encrypted":
        return "encrypted"  # no password given in this run
    if category == "malformed":
        # truncated/fuzzed zips and a package without a main part are damaged; a document whose
        # body holds no text (header + image only) has "no text"
        return "no text" if "has no text" in description else "damaged"
    if name == "feature__mammoth__empty.docx" or row["words_in_document_xml"] == "0" and "altChunk" not in description:
        return "no text"  # empty document; nested tables without a single word
    return INDEXED  # content and feature files, the template and Strict OOXML included


def pdf_expected(row: dict[str, str], ocr: bool) -> str:
    name, category, description = row["file"], row["category"], row["description"]
    if name.endswith(".txt"):
        return INDEXED  # the ground-truth transcription: plain text is indexed too
    if category == "encrypted":
        opens_without_password = "opens without password" in description or "owner password only" in description
        return INDEXED if opens_without_password else "encrypted"
    if category == "damaged":
        if "no text" in description:
            return "no text"  # opens after repair, but there is nothing to read
        return INDEXED if "repairable" in description or "repairs it" in description or "corrupt content stream" in description else "damaged"
    if category == "scanned":
        if "existing" in description or "has a little text" in description:
            return INDEXED  # a text layer of its own
        return INDEXED if ocr else "no text"
    if "memory bomb if rasterised" in description:
        return "too large"  # 35000×35000 px image and no text: refused, never rendered
    if name in ("other_text_as_vector_curves.pdf", "other_enormous_page_size.pdf"):
        return INDEXED if ocr else "no text"  # nothing but pictures of text: OCR reads them
    return INDEXED  # long books, CJK, the JBIG2 bomb's text layer, XFA placeholder, garbage font


def _manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "MANIFEST.tsv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kbcli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600
    )


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict:
    home = tmp_path_factory.mktemp("corpus-home")
    env = {**os.environ, "KBCLI_HOME": str(home), "KBCLI_CACHE": str(model_cache)}
    env.pop("KBCLI_PASSWORD", None)
    runs = {}
    for name, folder in (("docx", CORPUS / "docx"), ("pdf", CORPUS / "pdf_tricky")):
        # int8: the outcome per file is what is tested here, and it embeds twice as fast
        runs[name] = _run("index", str(folder), "--name", name, "--precision", "int8", "--json", env=env)
    return {"env": env, "runs": runs}


def _outcomes(corpus_home: dict, name: str) -> dict[str, str]:
    run = corpus_home["runs"][name]
    assert run.returncode == 3, run.stderr[-2000:]  # finished, some files failed
    assert "Traceback" not in run.stderr
    info = json.loads(_run("info", name, "--json", "--files", env=corpus_home["env"]).stdout)
    outcome = {}
    for f in info["files_detail"]:
        outcome[Path(f["path"]).name] = INDEXED if f["status"] == "ok" else f["reason"]
    summary = json.loads(run.stdout)
    assert {Path(f["file"]).name for f in summary["failed"]} == {n for n, o in outcome.items() if o != INDEXED}
    assert {f["file"] for f in info["failed"]} == {f["path"] for f in info["files_detail"] if f["status"] == "failed"}
    return outcome


def test_every_docx_is_indexed_or_reported_as_its_manifest_says(corpus_home: dict) -> None:
    rows = _manifest(CORPUS / "docx")
    outcome = _outcomes(corpus_home, "docx")
    expected = {row["file"]: docx_expected(row) for row in rows}
    assert outcome == expected


def test_every_pdf_is_indexed_or_reported_as_its_manifest_says(corpus_home: dict) -> None:
    rows = _manifest(CORPUS / "pdf_tricky")
    outcome = _outcomes(corpus_home, "pdf")
    expected = {row["file"]: pdf_expected(row, _ocr_available()) for row in rows}
    assert outcome == expected


def test_failed_files_are_listed_by_info_failed_with_reasons(corpus_home: dict) -> None:
    listing = _run("info", "docx", "--failed", env={**corpus_home["env"], "COLUMNS": "250"}).stdout
    assert "encrypted__tika__testWORD_protected_passtika.docx" in listing
    assert "password-protected" in listing and "damaged" in listing and "content__poi__stress008" not in listing


@pytest.mark.skipif(not _ocr_available(), reason="Tesseract is not installed")
def test_ocr_text_is_searchable_and_marked(corpus_home: dict) -> None:
    result = _run("query", "pdf", "LinnSequencer 32 track MIDI sequence recorder", "--top-k", "10", "--json", env=corpus_home["env"])
    hits = json.loads(result.stdout)["hits"]
    scanned = [h for h in hits if h["file"].endswith("scan_linn_two_column.pdf")]
    assert scanned and all(h["ocr"] is True for h in scanned)
    assert all(h["ocr"] is False for h in hits if h["file"].endswith(".txt"))


def test_xxe_file_is_indexed_without_resolving_the_entity(corpus_home: dict) -> None:
    result = _run("query", "docx", "Here should not be the POI web site", "--json", env=corpus_home["env"])
    hit = json.loads(result.stdout)["hits"][0]
    assert hit["file"].endswith("feature__poi__ExternalEntityInText.docx")
    assert "Apache" not in hit["text"] and "<html" not in hit["text"].lower()
