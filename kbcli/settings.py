"""Every setting kbcli uses, resolved once: command line, then the environment, then `.env`.

This is the only module that reads `os.environ`. The CLI calls `resolve()` once per invocation
and passes the frozen `Settings` (or one of its sections) down; the core never looks anything up
by itself. Tests and benches build a `Settings` directly or tune one with `dataclasses.replace`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from kbcli.errors import UsageError

MODES = ("hybrid", "vector", "keyword")
_INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_OFF = ("0", "off", "no", "false")


@dataclass(frozen=True)
class Paths:
    home: Path  # every index and the model cache live here
    cache: Path  # derived model files (ONNX exports): re-created when missing
    # $KBCLI_STORE / --store: a PostgreSQL connection string whose database holds the indexes
    # instead of home/indexes (kbcli.store.pg); None: the embedded store. Never printed as is.
    store: str | None = field(default=None, repr=False)

    @property
    def indexes(self) -> Path:
        return self.home / "indexes"


@dataclass(frozen=True)
class ReadingSettings:
    """The environment's part of how files are read (the command line adds the rest)."""

    password: str | None = field(default=None, repr=False)  # never stored, never printed
    reader_memory_mb: int = 2048  # address-space cap of the reader process
    tessdata: str | None = None  # $KBCLI_TESSDATA: only this folder is searched for language data
    tessdata_prefix: str | None = None  # Tesseract's own $TESSDATA_PREFIX


@dataclass(frozen=True)
class IndexingSettings:
    commit_seconds: float = 60.0  # long runs commit this often, bounding what a kill can lose
    model: str | None = None  # $KBCLI_MODEL: the embedding model spec for new indexes (None: default)


@dataclass(frozen=True)
class SearchSettings:
    """How candidates are found and fused; defaults chosen with bench/quality.py (README: Ranking)."""

    mode: str = "hybrid"
    candidates: int = 50  # from each side, before fusion
    # Reciprocal-rank fusion constant: small, so a page's few top-ranked chunks outweigh many weak
    # ones (with 60, 1/(60+1) and 1/(60+20) differ by a quarter and page sums became chunk counts).
    rrf_k: float = 10.0
    vector_weight: float = 1.5  # weight of the vector side's reciprocal ranks (it finds the page more often)
    keyword_weight: float = 1.0
    # An English-only model embeds Chinese/Japanese/Korean questions poorly: let keywords lead.
    foreign_vector_weight: float = 0.0  # English-only model, CJK question: keywords alone (same recall on the three Chinese sets)
    field_weights: tuple[float, float, float] = (4.0, 2.0, 1.0)  # BM25 weights: file name+title, heading, text
    merge_adjacent: bool = True  # neighbouring chunks without pages (DOCX, text) become one hit
    group_pages: bool = True  # all candidate chunks of one PDF page become one hit
    # Share of a page's next best chunks' fused scores added to its best one's. 0: a page of several
    # weak matches must not outrank a passage that is first on both sides (0.3 did, for +2
    # FinanceBench questions at R@5 and none at R@1 or R@10).
    page_extra: float = 0.0
    chunks_per_hit: int = 3  # a page hit shows (and is scored by) at most this many of its best chunks
    # Credit per query word in a hit's file name, as a share of a rank-1 chunk's: reports
    # are often named for what they hold (ACME_2022_10K.pdf), and questions name them.
    # 0.6, not 0.3, since the thesaurus: its added statement names match every filing's statements
    # alike, so the filing the question names needs a firmer lead (FinanceBench R@10 0.84 -> 0.90).
    name_weight: float = 0.6
    expand: bool = True  # also search the thesaurus's other names for what the question names
    # Vector side: a chunk's cosine plus this share of its passage's (the mean vector of its page's
    # chunks, or of it and its neighbours without pages). A row of figures says little alone; the
    # page it sits on (the statement's title, the other rows) says what it is. 0 turns it off.
    context_weight: float = 1.0
    # $KBCLI_THESAURUS, as written: unset = the built-in finance thesaurus; 'off' = none; else files
    # joined by os.pathsep, 'builtin' standing for the built-in one (kbcli.thesaurus resolves it).
    thesaurus: str | None = None
    rerank_model: Path | None = None  # a local cross-encoder folder; None: no reranking
    rerank_candidates: int = 20  # fused hits the cross-encoder rescores per question
    nprobe: int = 32  # IVF lists scanned per query (more: slower, closer to exact)
    # PostgreSQL's HNSW candidates per query (hnsw.ef_search; at least the k asked, at most 1000):
    # the vector side asks for 2 x max(candidates, 4 x top_k) chunks.
    ef_search: int = 200

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"unknown search mode {self.mode!r}: choose {', '.join(MODES)}")


@dataclass(frozen=True)
class LlmSettings:
    """The optional LLM for answers, as configured; kbcli.answer validates it when it is used."""

    provider: str | None = None
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: str | None = None  # seconds, as written (validated with the rest)


@dataclass(frozen=True)
class ServerSettings:
    """`kbcli serve` / `kbcli mcp --http`: who may call them."""

    token: str | None = field(default=None, repr=False)  # $KBCLI_TOKEN: the bearer token clients must send


@dataclass(frozen=True)
class Settings:
    paths: Paths
    reading: ReadingSettings = ReadingSettings()
    indexing: IndexingSettings = IndexingSettings()
    search: SearchSettings = SearchSettings()
    llm: LlmSettings = LlmSettings()
    servers: ServerSettings = ServerSettings()
    debug: bool = False


# -- resolving ------------------------------------------------------------------------------------
def resolve(
    env: Mapping[str, str] | None = None,
    *,
    home: Path | None = None,
    dotenv: Path | None = None,
    debug: bool = False,
) -> Settings:
    """Settings from the environment, filled in from `.env` (the working directory's unless
    `dotenv` names another file; real environment variables win). `home`: the --home option."""
    values = dict(_dotenv_values(dotenv if dotenv is not None else Path.cwd() / ".env"))
    values.update(os.environ if env is None else env)
    return from_mapping(values, home=home, debug=debug)


def from_mapping(env: Mapping[str, str], *, home: Path | None = None, debug: bool = False) -> Settings:
    """Settings from a mapping of `KBCLI_*` variables (no `.env`, no process environment)."""
    get = _Reader(env)
    paths = _paths(env, home)
    search_default = SearchSettings()
    return Settings(
        paths=paths,
        reading=ReadingSettings(
            password=get.text("KBCLI_PASSWORD"),
            reader_memory_mb=get.integer("KBCLI_READER_MEMORY_MB", ReadingSettings.reader_memory_mb),
            tessdata=get.text("KBCLI_TESSDATA"),
            tessdata_prefix=get.text("TESSDATA_PREFIX"),
        ),
        indexing=IndexingSettings(
            commit_seconds=get.number("KBCLI_COMMIT_SECONDS", IndexingSettings.commit_seconds),
            model=get.text("KBCLI_MODEL"),
        ),
        search=SearchSettings(
            mode=(get.text("KBCLI_SEARCH_MODE") or search_default.mode).lower(),
            candidates=get.integer("KBCLI_CANDIDATES", search_default.candidates),
            rrf_k=get.number("KBCLI_RRF_K", search_default.rrf_k),
            vector_weight=get.number("KBCLI_VECTOR_WEIGHT", search_default.vector_weight),
            keyword_weight=get.number("KBCLI_KEYWORD_WEIGHT", search_default.keyword_weight),
            page_extra=get.number("KBCLI_PAGE_EXTRA", search_default.page_extra),
            expand=get.flag("KBCLI_EXPAND", search_default.expand),
            context_weight=get.number("KBCLI_CONTEXT_WEIGHT", search_default.context_weight),
            name_weight=get.number("KBCLI_NAME_WEIGHT", search_default.name_weight),
            thesaurus=get.text("KBCLI_THESAURUS"),
            rerank_model=get.path("KBCLI_RERANK_MODEL"),
            rerank_candidates=get.integer("KBCLI_RERANK_CANDIDATES", search_default.rerank_candidates),
            nprobe=get.integer("KBCLI_NPROBE", search_default.nprobe),
            ef_search=get.integer("KBCLI_EF_SEARCH", search_default.ef_search),
        ),
        llm=LlmSettings(
            provider=get.text("KBCLI_LLM_PROVIDER"),
            model=get.text("KBCLI_LLM_MODEL"),
            base_url=get.text("KBCLI_LLM_BASE_URL"),
            api_key=get.text("KBCLI_LLM_API_KEY"),
            timeout=get.text("KBCLI_LLM_TIMEOUT"),
        ),
        servers=ServerSettings(token=get.text("KBCLI_TOKEN")),
        debug=debug,
    )


def defaults(home: Path, cache: Path | None = None) -> Settings:
    """Built-in defaults only (tests, benches, library use): nothing read from anywhere."""
    home = home.expanduser().resolve()
    return Settings(paths=Paths(home=home, cache=(cache or home / "cache").expanduser().resolve()))


def with_overrides(settings: Settings, **sections: Any) -> Settings:
    """`settings` with some fields of some sections replaced: with_overrides(s, search={"mode": "vector"})."""
    changed = {name: replace(getattr(settings, name), **fields) for name, fields in sections.items()}
    return replace(settings, **changed)


def _paths(env: Mapping[str, str], home: Path | None) -> Paths:
    if home is not None:
        root = home.expanduser().resolve()
    elif env.get("KBCLI_HOME"):
        root = Path(env["KBCLI_HOME"]).expanduser().resolve()
    else:
        from platformdirs import user_data_dir

        root = Path(user_data_dir("kbcli", appauthor=False))
    cache = env.get("KBCLI_CACHE")
    store = (env.get("KBCLI_STORE") or "").strip() or None
    return Paths(home=root, cache=Path(cache).expanduser().resolve() if cache else root / "cache", store=store)


def _dotenv_values(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


class _Reader:
    """Typed reads of one mapping; a malformed value is a usage error naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, key: str) -> str | None:
        value = self.env.get(key)
        return value.strip() if value is not None and value.strip() else None

    def number(self, key: str, default: float) -> float:
        raw = self.text(key)
        try:
            return default if raw is None else float(raw)
        except ValueError:
            raise UsageError(f"{key}={raw!r}: give a number") from None

    def integer(self, key: str, default: int) -> int:
        raw = self.text(key)
        try:
            return default if raw is None else int(raw)
        except ValueError:
            raise UsageError(f"{key}={raw!r}: give a whole number") from None

    def flag(self, key: str, default: bool) -> bool:
        raw = self.text(key)
        return default if raw is None else raw.lower() not in _OFF

    def path(self, key: str) -> Path | None:
        raw = self.text(key)
        return Path(raw).expanduser() if raw else None


def check_index_name(name: str) -> str:
    if not _INDEX_NAME.match(name):
        raise UsageError(
            f"invalid index name {name!r}: use letters, digits, '.', '_' or '-' (max 64, not starting with '.' or '-')"
        )
    return name


# -- the process environment of heavy libraries ---------------------------------------------------
_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # ONNX Runtime's 1DS telemetry looked up mobile.events.data.microsoft.com (12 DNS queries on the
    # first-run export); disable_telemetry_events() alone did not stop it, this variable does.
    "ORT_DISABLE_TELEMETRY": "1",
}


def prepare_offline_runtime() -> None:
    """Call right before importing transformers / huggingface_hub / tokenizers: they read these at
    import, and without them they may reach for the network or print progress bars."""
    for key, value in _OFFLINE.items():
        os.environ.setdefault(key, value)


def child_environment(python_path: str | None = None) -> dict[str, str]:
    """The environment for a kbcli worker process: ours, with `python_path` first on PYTHONPATH."""
    env = {**os.environ, **{k: os.environ.get(k, v) for k, v in _OFFLINE.items()}}
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [python_path, os.environ.get("PYTHONPATH")]))
    return env
