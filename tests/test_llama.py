"""A kbcli index is a LlamaIndex index: its retrievers return what `kbcli query` returns."""

from __future__ import annotations

import socket

import pytest

from conftest import Cli


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_llamaindex_retriever_matches_kbcli_query(cli: Cli, sample_index: str, no_network: None) -> None:
    from kbcli.llama import open_llama_index

    question = "How do I descale the espresso machine?"
    index = open_llama_index(sample_index)
    nodes = index.as_retriever(similarity_top_k=5).retrieve(question)
    expected = cli.json("query", sample_index, question, "--mode", "vector", "--json", "-k", "5")["hits"]
    # kbcli merges neighbouring chunks into one hit; LlamaIndex sees single chunks
    assert nodes[0].node.node_id == str(expected[0]["chunk_id"])
    assert nodes[0].node.metadata["page"] == expected[0]["page"] == 4
    assert nodes[0].score == pytest.approx(expected[0]["score"], abs=1e-3)

    hybrid = index.as_retriever(similarity_top_k=3, vector_store_query_mode="hybrid").retrieve("E03 error code")
    assert hybrid[0].node.metadata["page"] == 5


def test_the_store_is_read_only_through_llamaindex(sample_index: str) -> None:
    from llama_index.core.schema import TextNode

    from kbcli.llama import open_llama_index

    index = open_llama_index(sample_index)
    with pytest.raises(NotImplementedError):
        index.vector_store.add([TextNode(text="x")])
