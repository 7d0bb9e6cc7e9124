"""The language of a collection: a few of its files read, and how much of each is Chinese,
Japanese or Korean. `auto` (kbcli.models.choice) picks a new index's model from it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from kbcli.discover import crawl
from kbcli.isolation import IsolatedReader
from kbcli.keywords import cjk_share
from kbcli.models.choice import SAMPLE_CHARS, spread
from kbcli.readers import FileFailure, ReadOptions, Section

SAMPLE_TIMEOUT = 60.0  # seconds per sampled file: a slow one is left out, not waited for


def sample_cjk_shares(
    roots: Sequence[Path], include: tuple[str, ...], exclude: tuple[str, ...], links: tuple[Path, ...] | None,
    options: ReadOptions,
) -> list[float]:
    """The CJK share of each sampled file that has text (unreadable files and scans are left out:
    OCR is for the real run)."""
    found = [f.path for root in roots for f in crawl(root, include, exclude, link_roots=links)]
    shares: list[float] = []
    quick = replace(options, ocr="off", timeout=min(options.timeout, SAMPLE_TIMEOUT))
    with IsolatedReader(quick) as reader:
        for path in spread(found):
            try:
                document = reader.read(path)
            except FileFailure:
                continue
            text = _opening(document.sections)
            if text.strip():
                shares.append(cjk_share(text))
    return shares


def _opening(sections: Sequence[Section]) -> str:
    """The first SAMPLE_CHARS characters of a document's text."""
    parts: list[str] = []
    size = 0
    for section in sections:
        parts.append(section.text)
        size += len(section.text)
        if size >= SAMPLE_CHARS:
            break
    return "\n".join(parts)[:SAMPLE_CHARS]
