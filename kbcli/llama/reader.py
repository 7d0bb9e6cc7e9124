"""kbcli's file reading (PDF pages, DOCX headings, OCR, passwords, in a guarded worker process)
as a LlamaIndex reader: one `Document` per PDF page or per DOCX / Markdown section.

    from kbcli.llama import KbcliReader
    documents = KbcliReader().load_data(["report.pdf", "notes.docx", "folder/"])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document as LlamaDocument

from kbcli.discover import crawl
from kbcli.isolation import IsolatedReader
from kbcli.llama.nodes import EMBED_EXCLUDED, LLM_EXCLUDED
from kbcli.readers import Document, FileFailure, ReadOptions


class KbcliReader(BaseReader):
    """Reads files in kbcli's isolated reader process (time, memory and crash limits from
    `options`). A file that cannot be read raises `FileFailure` (with its documented reason)
    unless `skip_failures`, which leaves it out and records it in `self.failures`."""

    def __init__(self, options: ReadOptions | None = None, skip_failures: bool = False) -> None:
        self.options = options or ReadOptions()
        self.skip_failures = skip_failures
        self.failures: list[tuple[str, FileFailure]] = []

    def lazy_load_data(self, path_or_paths: str | Path | Iterable[str | Path], **_: Any) -> Iterator[LlamaDocument]:
        reader = IsolatedReader(self.options)
        try:
            for path in _files(path_or_paths):
                try:
                    document = reader.read(path)
                except FileFailure as failure:
                    if not self.skip_failures:
                        raise
                    self.failures.append((str(path), failure))
                    continue
                yield from documents_of(document)
        finally:
            reader.close()

    def load_data(self, path_or_paths: str | Path | Iterable[str | Path], **kwargs: Any) -> list[LlamaDocument]:
        return list(self.lazy_load_data(path_or_paths, **kwargs))


def _files(path_or_paths: str | Path | Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders crawled as `kbcli index` does (supported files, hidden ones skipped)."""
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    for path in paths:
        path = Path(path).expanduser().resolve()
        if path.is_dir():
            yield from (found.path for found in crawl(path))
        else:
            yield path


def documents_of(document: Document) -> Iterator[LlamaDocument]:
    """One LlamaIndex Document per section, ids stable for the file and section."""
    for number, section in enumerate(document.sections, start=1):
        metadata = {
            "file": str(document.path),
            "page": section.page,
            "page_label": section.page_label,
            "heading": section.heading,
            "title": document.title,
            "ocr": section.ocr,
            "section": number,
        }
        yield LlamaDocument(
            id_=f"{document.path}#{number}",
            text=section.text,
            metadata=metadata,
            excluded_embed_metadata_keys=[*EMBED_EXCLUDED, "section"],
            excluded_llm_metadata_keys=[*LLM_EXCLUDED, "section"],
        )
