"""Character error rate of kbcli's OCR on the scanned two-column page with a ground truth.

    python bench/ocr_cer.py [--dpi 300] [--languages eng+chi_sim]

CER = Levenshtein distance / reference length, on whitespace-normalised text (runs of blanks and
line breaks become one space; the two-column reading order is what Tesseract gives). Reads the
file through kbcli's own reader (`read_document` with OCR forced on), so it measures what lands
in the index.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "pdf_tricky"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(hypothesis: str, reference: str) -> float:
    reference, hypothesis = normalise(reference), normalise(hypothesis)
    return levenshtein(hypothesis, reference) / max(len(reference), 1)


def main() -> None:
    from kbcli.readers import ReadOptions, read_document

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dpi", type=int, default=ReadOptions.ocr_dpi)
    parser.add_argument("--languages", default=ReadOptions.ocr_languages)
    parser.add_argument("--pdf", type=Path, default=CORPUS / "scan_linn_two_column.pdf")
    args = parser.parse_args()
    reference = args.pdf.with_suffix(".txt").read_text(encoding="utf-8")
    started = time.perf_counter()
    document = read_document(args.pdf, ReadOptions(ocr="auto", ocr_dpi=args.dpi, ocr_languages=args.languages))
    seconds = time.perf_counter() - started
    text = "\n".join(s.text for s in document.sections)
    assert all(s.ocr for s in document.sections), "expected OCR'd sections"
    print(f"{args.pdf.name}: CER {cer(text, reference):.4f} ({args.languages}, {args.dpi} dpi, {seconds:.1f} s, "
          f"{len(normalise(reference))} reference chars)")


if __name__ == "__main__":
    main()
