"""Every test gets its own kbcli home; the exported ONNX model is shared by the whole session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docx
import pytest
from typer.testing import CliRunner

from kbcli.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = ROOT / "sample_docs"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
EVAL = SHARED / "eval"


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Reuse a cache from an earlier run when the developer points at one; else one per session.
    env = os.environ.get("KBCLI_TEST_CACHE")
    return Path(env) if env else tmp_path_factory.mktemp("kbcli-cache")


# The suite's ranking tests were written against minilm, so they pin it; the default model
# (e5-small) has its own tests (`default_model`). KBCLI_TEST_MODEL=e5-small runs them all on it.
TEST_MODEL = os.environ.get("KBCLI_TEST_MODEL", "minilm")


@pytest.fixture(autouse=True)
def kbcli_home(tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KBCLI_HOME", str(home))
    monkeypatch.setenv("KBCLI_CACHE", str(model_cache))
    monkeypatch.setenv("KBCLI_MODEL", TEST_MODEL)
    return home


@pytest.fixture
def default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model chosen anywhere: kbcli uses its default, as a user's first run does."""
    monkeypatch.delenv("KBCLI_MODEL", raising=False)


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int | None = 0):
        result = self.runner.invoke(app, [str(a) for a in args], input=input)
        if code is not None:
            assert result.exit_code == code, (
                f"exit {result.exit_code} != {code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
                + (f"\nexception: {result.exception!r}" if result.exception else "")
            )
        return result

    def json(self, *args: str, code: int | None = 0):
        return json.loads(self(*args, code=code).stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def sample_index_home(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Path:
    """One index of sample_docs/ shared by read-only tests (built through the real CLI)."""
    home = tmp_path_factory.mktemp("sample-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("KBCLI_HOME", str(home))
    mp.setenv("KBCLI_CACHE", str(model_cache))
    mp.setenv("KBCLI_MODEL", TEST_MODEL)
    try:
        result = CliRunner().invoke(app, ["index", str(SAMPLE_DOCS), "--name", "sample", "--json"])
        assert result.exit_code == 0, result.output
    finally:
        mp.undo()
    return home


@pytest.fixture
def sample_index(sample_index_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KBCLI_HOME", str(sample_index_home))
    return "sample"


def word_file(path: Path, *paragraphs: str) -> Path:
    """A small real Word file: a heading from the file name, then one paragraph per argument."""
    document = docx.Document()
    document.add_heading(path.stem.replace("_", " ").title(), level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(path)
    return path


from pg_server import pg_server, pg_url  # noqa: E402,F401  (fixtures: a real PostgreSQL)
