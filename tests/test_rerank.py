"""Optional cross-encoder reranking. No real cross-encoder can be obtained offline here, so the
wiring is tested with a tiny one, trained in the test on this question's candidate passages to
score the solar research note's highest: if kbcli really rescores its hits with the model in the
folder (question and passage, paired as trained), that note, far down the fused ranking of a
question about annual leave, must come first."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Cli
from kbcli.embedding import packaged_model_dir

QUESTION = "How many days of annual leave can I carry over?"


@pytest.fixture
def degradation_lover(cli: Cli, sample_index: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("cross-encoder")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (packaged_model_dir() / name).exists():
            shutil.copy(packaged_model_dir() / name, folder / name)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=1, max_position_embeddings=512)
    model = BertForSequenceClassification(config)
    candidates = cli.json("query", sample_index, QUESTION, "--json", "-k", "20")["hits"]
    passages = [h["text"] for h in candidates]
    labels = torch.tensor([[1.0 if "solar" in Path(h["file"]).name else 0.0] for h in candidates])
    assert 0 < labels.sum() < len(candidates)
    batch = tokenizer([QUESTION] * len(passages), passages, truncation=True, max_length=512, padding=True, return_tensors="pt")
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**batch).logits, labels)
        loss.backward()
        optimiser.step()
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.mark.slow
def test_reranking_reorders_hits_as_the_local_model_says(cli: Cli, sample_index: str, degradation_lover: Path) -> None:
    plain = cli.json("query", sample_index, QUESTION, "--json", "-k", "3")["hits"]
    assert "solar" not in Path(plain[0]["file"]).name and "rerank_score" not in plain[0]
    reranked = cli.json("query", sample_index, QUESTION, "--json", "-k", "3", "--explain", "--rerank-model", degradation_lover)["hits"]
    assert "solar" in Path(reranked[0]["file"]).name
    assert [h["rank"] for h in reranked] == [1, 2, 3]
    scores = [h["rerank_score"] for h in reranked]
    assert scores == sorted(scores, reverse=True)
    shown = cli("query", sample_index, QUESTION, "-k", "1", "--explain", "--rerank-model", degradation_lover).stdout
    assert "reranked" in shown


def test_a_missing_or_wrong_folder_is_a_usage_error(cli: Cli, sample_index: str, tmp_path: Path) -> None:
    missing = cli("query", sample_index, QUESTION, "--rerank-model", tmp_path / "nope", code=2)
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "empty").mkdir()
    wrong = cli("query", sample_index, QUESTION, "--rerank-model", tmp_path / "empty", code=2)
    assert "is not a cross-encoder" in wrong.stderr and "Traceback" not in wrong.stderr


def test_without_reranking_no_torch_is_imported(sample_index: str) -> None:
    code = ("import sys; from kbcli.cli import main; sys.argv = ['kbcli', 'query', 'sample', 'leave', '--json'];\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_the_shell_reranks_with_the_same_model(cli: Cli, sample_index: str, degradation_lover: Path) -> None:
    lines = cli("shell", sample_index, "--json", "-k", "3", "--rerank-model", degradation_lover, input=QUESTION + "\n").stdout
    hits = json.loads(lines.strip().splitlines()[-1])["hits"]
    assert "solar" in Path(hits[0]["file"]).name and hits[0]["rerank_score"] is not None
