"""kbcli never touches the network by default, and `--help` stays light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE_DOCS

KBCLI = [sys.executable, "-m", "kbcli"]


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys\n"
        "from kbcli.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "for cmd in ('index', 'query', 'refresh', 'shell'):\n"
        "    try:\n        app([cmd, '--help'])\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'llama_index', 'faiss', 'onnxruntime', 'pymupdf', 'numpy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY="


@pytest.mark.slow
@pytest.mark.parametrize("model", [None, "e5-small"], ids=["default-model", "e5-small"])  # auto: minilm here
def test_index_and_query_work_with_networking_disabled(tmp_path: Path, kbcli_home: Path, model: str | None) -> None:
    """Run the real CLI in a network namespace with no interfaces (or, failing that, with a
    socket guard that records and refuses every connection)."""
    log = tmp_path / "net.log"
    env = {
        **{k: v for k, v in os.environ.items() if k != "KBCLI_MODEL"},
        **({"KBCLI_MODEL": model} if model else {}),
        "PYTHONPATH": str(ROOT / "tests" / "netguard"),
        "KBCLI_NETGUARD_LOG": str(log),
        # Tempting defaults that must stay unused: a key and a proxy that would show any attempt.
        "OPENAI_API_KEY": "sk-test-must-not-be-used",
        "HF_HUB_OFFLINE": "0",
    }
    prefix = ["unshare", "-rn"] if _can_unshare() else []
    run = lambda *args: subprocess.run([*prefix, *KBCLI, *args], env=env, capture_output=True, text=True)  # noqa: E731
    indexed = run("index", str(SAMPLE_DOCS), "--name", "offline", "--json")
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["chunks_added"] > 0
    answered = run("query", "offline", "revenue", "--json")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["hits"]
    assert not log.exists(), log.read_text()
