"""kbcli for programs built on LlamaIndex (imports llama_index: keep it out of the CLI's start-up).

- `KbcliRetriever` / `open_retriever(name)`: kbcli's own search (every mode, with the thesaurus,
  passage context and page grouping) as a LlamaIndex retriever, with `file` / `page` filters.
- `KbcliReader`: kbcli's guarded PDF / Word / text reading as LlamaIndex `Document`s (one per
  page or section).
- `export_index`: an index as a standard LlamaIndex persist folder (FAISS + docstore), the core
  of `kbcli export`.
- `KbcliEmbedding`: an index's own embedding model as a LlamaIndex embedding.
"""

from __future__ import annotations

from kbcli.llama.embedding import KbcliEmbedding
from kbcli.llama.export import ExportReport, export_index
from kbcli.llama.filters import UnsupportedFilter
from kbcli.llama.reader import KbcliReader
from kbcli.llama.retriever import FILTER_POOL, KbcliRetriever, open_retriever

__all__ = [
    "FILTER_POOL", "ExportReport", "KbcliEmbedding", "KbcliReader", "KbcliRetriever",
    "UnsupportedFilter", "export_index", "open_retriever",
]
