"""OCR of page images with Tesseract (Debian's tesseract-ocr and its language data).

Pages are rendered by PyMuPDF under a pixel cap and recognised by the `tesseract` program, which
keeps the reading order of multi-column pages (CER 0.011 on the two-column test scan). PyMuPDF's
built-in OCR (`Page.get_textpage_ocr`) is the fallback when only the language data is present:
it runs the same engine but MuPDF merges lines across columns (CER 0.38 on the same page).
"""

from __future__ import annotations

import glob
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kbcli.settings import child_environment

MISSING_HINT = "install Tesseract, e.g. apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim"
_DEBIAN_PATHS = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata")


@dataclass(frozen=True)
class TesseractSetup:
    tessdata: str  # the folder holding <lang>.traineddata
    languages: str  # the wanted languages that are installed, joined by '+'
    program: str | None  # the tesseract executable, when installed


def _candidate_dirs(explicit: str | None, prefix: str | None) -> list[str]:
    if explicit:  # ReadOptions.tessdata: only there (a folder without language data: OCR unavailable)
        return [explicit]
    found = [prefix] if prefix else []
    for pattern in _DEBIAN_PATHS:
        found.extend(sorted(glob.glob(pattern), reverse=True))  # newest version first
    try:
        import pymupdf

        found.append(pymupdf.get_tessdata())
    except Exception:  # raises when Tesseract is not installed
        pass
    return found


def find_tesseract(wanted: str, tessdata: str | None = None, tessdata_prefix: str | None = None) -> TesseractSetup | None:
    """The tessdata folder and the subset of `wanted` ('eng+chi_sim') installed there, or None
    when no wanted language is installed (OCR is then unavailable and reported as such).
    `tessdata`: the only folder to look in; `tessdata_prefix`: looked in before Debian's folders
    (ReadOptions carries both, from $KBCLI_TESSDATA and $TESSDATA_PREFIX via kbcli.settings)."""
    return _find(wanted, tessdata, tessdata_prefix)


@lru_cache(maxsize=8)
def _find(wanted: str, explicit: str | None, prefix: str | None) -> TesseractSetup | None:
    for folder in _candidate_dirs(explicit, prefix):
        have = [lang for lang in wanted.split("+") if (Path(folder) / f"{lang}.traineddata").is_file()]
        if have:
            return TesseractSetup(tessdata=str(folder), languages="+".join(have), program=shutil.which("tesseract"))
    return None


class OcrError(Exception):
    pass


def recognise(page, setup: TesseractSetup, dpi: int, timeout: float) -> str:
    """The text of a PyMuPDF page rendered at `dpi` (the caller caps dpi × page size)."""
    if setup.program is None:
        textpage = page.get_textpage_ocr(language=setup.languages, dpi=dpi, full=True, tessdata=setup.tessdata)
        return page.get_text("text", textpage=textpage)
    import pymupdf

    png = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False).tobytes("png")
    # The process environment (kbcli.settings hands it over), pointed at the chosen folder;
    # one thread: more only add overhead on single pages.
    env = {**child_environment(), "TESSDATA_PREFIX": setup.tessdata, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [setup.program, "stdin", "stdout", "-l", setup.languages, "--dpi", str(dpi)],
            input=png, capture_output=True, timeout=timeout, env=env, check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise OcrError(f"Tesseract took longer than {timeout:.0f} s") from err
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"Tesseract failed ({message[-1] if message else f'exit {done.returncode}'})")
    return done.stdout.decode("utf-8", "replace")
