"""kbcli through LlamaIndex: the retriever is kbcli's own search, the reader kbcli's own reading,
and `kbcli export` writes a folder plain LlamaIndex opens."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from conftest import CORPUS, SAMPLE_DOCS, Cli

QUESTION = "How do I descale the espresso machine?"
ESPRESSO = str(SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def mock_llm():  # type: ignore[no-untyped-def]
    from llama_index.core import Settings
    from llama_index.core.llms import MockLLM

    previous = Settings._llm
    Settings.llm = MockLLM()
    yield Settings.llm
    Settings._llm = previous


def _summary(hits: list[dict]) -> list[tuple]:
    return [(str(h["chunk_id"]), h["file"], h["page"], h["score"], h["text"]) for h in hits]


def _nodes_summary(nodes) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(n.node.node_id, n.node.metadata["file"], n.node.metadata["page"], n.score, n.node.text) for n in nodes]


@pytest.mark.parametrize(
    "mode, question",
    [("hybrid", QUESTION), ("hybrid", "E03 error code"), ("vector", QUESTION), ("keyword", "descale citric acid")],
)
def test_retriever_returns_exactly_what_kbcli_query_returns(
    cli: Cli, sample_index: str, no_network: None, mode: str, question: str
) -> None:
    from kbcli.llama import open_retriever

    expected = cli.json("query", sample_index, question, "--mode", mode, "--json", "-k", "5")["hits"]
    retriever = open_retriever(sample_index, mode=mode, top_k=5)
    try:
        nodes = retriever.retrieve(question)
    finally:
        retriever.close()
    assert len(expected) >= 3
    assert _nodes_summary(nodes) == _summary(expected)  # ids, files, pages, scores, text, order
    for node, hit in zip(nodes, expected):
        assert node.node.metadata["heading"] == hit["heading"] and node.node.metadata["page_label"] == hit["page_label"]
    if question == QUESTION:
        assert nodes[0].node.metadata["page"] == 4 and nodes[0].node.metadata["file"] == ESPRESSO
    if question == "E03 error code":
        assert nodes[0].node.metadata["page"] == 5


def test_llamaindex_query_engine_over_the_retriever(sample_index: str, no_network: None, mock_llm) -> None:
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import MetadataMode

    from kbcli.llama import open_retriever

    retriever = open_retriever(sample_index, top_k=3)
    try:
        response = RetrieverQueryEngine.from_args(retriever).query(QUESTION)
        direct = retriever.retrieve(QUESTION)
    finally:
        retriever.close()
    assert [n.node.node_id for n in response.source_nodes] == [n.node.node_id for n in direct]
    assert response.source_nodes[0].node.metadata["file"] == ESPRESSO
    assert isinstance(response.response, str) and response.response  # MockLLM's text: no server asked
    shown = response.source_nodes[0].node.get_content(MetadataMode.LLM)  # what an LLM is given to cite
    assert "caldera_aurora_espresso_manual.pdf" in shown and "page: 4" in shown and "chunk_id" not in shown


def test_file_and_page_filters_narrow_kbcli_ranking(cli: Cli, sample_index: str, no_network: None) -> None:
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    from kbcli.llama import FILTER_POOL, KbcliRetriever, open_retriever

    question = "warranty and maintenance"
    pool = cli.json("query", sample_index, question, "--json", "-k", str(FILTER_POOL))["hits"]
    cases = [
        (MetadataFilters(filters=[MetadataFilter(key="file", value="*espresso*")]), lambda h: "espresso" in h["file"]),
        (MetadataFilters(filters=[MetadataFilter(key="file", value=ESPRESSO),
                                  MetadataFilter(key="page", value=3, operator=FilterOperator.GT)]),
         lambda h: h["file"] == ESPRESSO and h["page"] > 3),
        (MetadataFilters(filters=[MetadataFilter(key="page", value=[1, 2], operator=FilterOperator.IN)]),
         lambda h: h["page"] in (1, 2)),
        (MetadataFilters(filters=[MetadataFilter(key="file", value="*.docx", operator=FilterOperator.NIN)]),
         lambda h: not h["file"].endswith(".docx")),
    ]
    unfiltered = [h["chunk_id"] for h in pool[:4]]
    retriever = open_retriever(sample_index, top_k=4)
    try:
        for filters, keep in cases:
            filtered = KbcliRetriever(retriever.searcher, retriever.search_settings, top_k=4, filters=filters)
            nodes = filtered.retrieve(question)
            expected = [h for h in pool if keep(h)][:4]
            assert expected and [h["chunk_id"] for h in expected] != unfiltered  # the filter matters here
            assert _nodes_summary(nodes) == _summary(expected)
    finally:
        retriever.close()


@pytest.mark.parametrize(
    "key, value, operator",
    [("heading", "Cleaning", "=="), ("file", "*.pdf", "text_match"), ("page", "4", "=="), ("page", 2, "any")],
)
def test_an_unsupported_filter_is_refused_not_ignored(sample_index: str, key: str, value, operator: str) -> None:
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    from kbcli.llama import UnsupportedFilter, open_retriever

    filters = MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=operator)])
    with pytest.raises(UnsupportedFilter, match=key):
        open_retriever(sample_index, mode="keyword", filters=filters)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not here")
def test_reader_documents_feed_an_ingestion_pipeline(no_network: None) -> None:
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    from kbcli.llama import KbcliReader
    from kbcli.readers import ENCRYPTED, ReadOptions, read_document

    reader = KbcliReader(skip_failures=True)
    documents = reader.load_data([SAMPLE_DOCS, CORPUS / "pdf_tricky" / "enc_userpw-abc_pdfjs6010.pdf"])
    # The reader names files by their resolved path (../shared may be a link to the real folder).
    assert [(path, f.reason) for path, f in reader.failures] == [
        (str((CORPUS / "pdf_tricky" / "enc_userpw-abc_pdfjs6010.pdf").resolve()), ENCRYPTED)
    ]
    files = sorted(SAMPLE_DOCS.iterdir())
    assert len(documents) == sum(len(read_document(f).sections) for f in files)  # one per page / section
    pdf_pages = [d for d in documents if d.metadata["file"] == ESPRESSO]
    assert [d.metadata["page"] for d in pdf_pages] == list(range(1, len(pdf_pages) + 1))
    handbook = [d for d in documents if d.metadata["file"].endswith("employee_handbook_2024.docx")]
    assert handbook and all(d.metadata["page"] is None for d in handbook)
    assert any(d.metadata["heading"] and " > " in d.metadata["heading"] for d in handbook)

    # A corpus PDF with printed page labels, and an encrypted one opened with its password
    labelled = KbcliReader().load_data(CORPUS / "pdf_tricky" / "enc_aes128_V4_nouserpw.pdf")
    assert len(labelled) == 30 and labelled[2].metadata["page_label"] == "i" and labelled[2].text == "Potato 2"
    opened = KbcliReader(ReadOptions(password="abc")).load_data(str(CORPUS / "pdf_tricky" / "enc_userpw-abc_pdfjs6010.pdf"))
    assert opened and opened[0].metadata["page"] == 1

    nodes = IngestionPipeline(transformations=[SentenceSplitter(chunk_size=128, chunk_overlap=16)]).run(
        documents=documents + labelled
    )
    assert len(nodes) > len(documents) + len(labelled)  # long sections were split
    ids = {d.doc_id for d in documents + labelled}
    for node in nodes:
        assert node.ref_doc_id in ids and "file" in node.metadata and "page" in node.metadata
        assert "file" in node.excluded_embed_metadata_keys


def test_export_opens_in_plain_llamaindex_with_kbcli_vector_hits(
    cli: Cli, sample_index: str, tmp_path: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kbcli's vector mode adds the passage's cosine to the chunk's (context weight); the export
    holds the chunk vectors alone. The top chunk is the same either way on this question; its
    score is compared with `KBCLI_CONTEXT_WEIGHT=0`, where kbcli ranks by the chunk's cosine too."""
    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.vector_stores.faiss import FaissVectorStore

    from kbcli.embedding import Embedder, model_for
    from kbcli.llama import KbcliEmbedding

    folder = tmp_path / "exported"
    report = cli.json("export", sample_index, folder, "--json")
    info = cli.json("info", sample_index, "--json")
    assert report["nodes"] == info["chunks"] and report["dimension"] == 384 and report["bytes"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]  # no staging folder left behind
    assert json.loads((folder / "kbcli_export.json").read_text())["model"] == info["manifest"]["model"]

    store = FaissVectorStore.from_persist_dir(str(folder))
    assert store.client.ntotal == report["nodes"] and store.client.metric_type == 0  # METRIC_INNER_PRODUCT
    embedder = Embedder(Path(os.environ["KBCLI_CACHE"]), model_for(info["manifest"]["precision"]))  # kbcli's own
    index = load_index_from_storage(
        StorageContext.from_defaults(vector_store=store, persist_dir=str(folder)), embed_model=KbcliEmbedding(embedder)
    )
    nodes = index.as_retriever(similarity_top_k=5).retrieve(QUESTION)

    kbcli_vector = cli.json("query", sample_index, QUESTION, "--mode", "vector", "--json", "-k", "5")
    assert kbcli_vector["expanded"] == []  # kbcli embedded the question alone, as LlamaIndex does here
    top = kbcli_vector["hits"][0]
    assert nodes[0].node.node_id == str(top["chunk_id"])
    assert (nodes[0].node.metadata["file"], nodes[0].node.metadata["page"]) == (top["file"], top["page"]) == (ESPRESSO, 4)
    assert nodes[0].node.ref_doc_id == ESPRESSO and "file" in nodes[0].node.excluded_embed_metadata_keys
    monkeypatch.setenv("KBCLI_CONTEXT_WEIGHT", "0")
    chunk_only = cli.json("query", sample_index, QUESTION, "--mode", "vector", "--json", "-k", "5")["hits"]
    assert nodes[0].node.node_id == str(chunk_only[0]["chunk_id"])
    assert nodes[0].score == pytest.approx(chunk_only[0]["score"], abs=1e-3)


def test_export_refuses_a_folder_that_holds_something(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = cli("export", sample_index, folder, code=2)
    assert "not empty" in result.stderr and str(folder) in result.stderr
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "Exported 'sample'" in cli("export", sample_index, empty).stdout  # an empty folder is fine
    assert (empty / "docstore.json").is_file()
    cli("export", "no-such-index", tmp_path / "other", code=1)
