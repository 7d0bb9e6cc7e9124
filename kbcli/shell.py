"""`kbcli shell`: one warm session for many questions.

`ShellSession` holds the open index and the loaded model. `handle(line)` turns one line (a question
or a `:command`) into an output value and never prints, so it is tested without a terminal; the
loops that drive it and the rendering live in `kbcli/shell_ui.py`.
"""

from __future__ import annotations

import fnmatch
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

from kbcli.errors import IndexNotFound, KbError, UsageError
from kbcli.search import Hit, QueryResult, Searcher, overlap
from kbcli.store import DATABASE

if TYPE_CHECKING:
    from pathlib import Path

    from kbcli.kb import KnowledgeBase

MAX_K = 1000
# With a filter the searcher is asked for more hits than shown, growing up to this many.
MAX_FETCH = 5000
MAX_CONTEXT_CHUNKS = 10


@dataclass(frozen=True)
class Command:
    name: str
    args: str
    help: str
    choices: tuple[str, ...] = ()


COMMANDS = (
    Command(":k", "N", "show N hits per question"),
    Command(":mode", "hybrid|vector|keyword", "how to search: meaning and exact words fused (hybrid), meaning only, BM25 only", ("hybrid", "vector", "keyword")),
    Command(":filter", "GLOB|off", "only hits from files matching GLOB (path below the source folder, file name, or full path)", ("off",)),
    Command(":more", "N [CHUNKS]", "hit N of the last answer with the passages around it (1 chunk each side unless CHUNKS)"),
    Command(":open", "N", "print hit N as path#page=P and open it in the system viewer, if there is one"),
    Command(":json", "on|off", "print answers as JSON, one object a line", ("on", "off")),
    Command(":index", "NAME", "switch to another index (no argument: list them)"),
    Command(":info", "", "the index (files, chunks, sources) and this shell's settings"),
    Command(":answer", "on|off", "a written answer from the LLM configured in .env, above the passages it cites", ("on", "off")),
    Command(":help", "", "this list"),
    Command(":quit", "", "leave the shell (Ctrl-D too)"),
)
_ALIASES = {":q": ":quit", ":exit": ":quit", ":?": ":help", ":h": ":help"}


# -- what a line produces ---------------------------------------------------------------------------
@dataclass
class Answer:
    result: QueryResult
    text: str | None = None  # the LLM's written answer, when :answer is on
    failure: str | None = None  # why the LLM gave no answer (the passages are shown anyway)


@dataclass
class Context:
    """`:more N`: a hit with the text of its neighbouring chunks."""

    hit: Hit
    before: str
    after: str
    query: str


@dataclass
class Note:
    text: str


@dataclass
class Problem:
    text: str


@dataclass
class Info:
    data: dict[str, Any]


@dataclass
class Open:
    hit: Hit
    target: str  # path#page=N for PDFs, else the path


@dataclass
class Help:
    commands: tuple[Command, ...] = COMMANDS


@dataclass
class Quit:
    pass


Output = Union[Answer, Context, Note, Problem, Info, Open, Help, Quit]


# -- the session ------------------------------------------------------------------------------------
class ShellSession:
    """State of one shell: the open index, k, filter, output format, and the last answer."""

    def __init__(
        self, kb: "KnowledgeBase", name: str, k: int = 5, as_json: bool = False, rerank_model: Path | None = None
    ) -> None:
        self.kb = kb
        self.rerank_model = rerank_model  # loaded once, kept across :index switches
        self.k = k
        self.as_json = as_json
        self.filter: str | None = None
        self.mode: str | None = None  # None: the searcher's default
        self.answer = False
        self.last: QueryResult | None = None
        self._answerer: Callable[[str, list[Hit]], str] | None = None
        self.searcher: Searcher | None = None
        self.name = name
        self._database_inode = 0
        _one_search_thread()
        self._switch(name)

    def close(self) -> None:
        if self.searcher is not None:
            self.searcher.close()
            self.searcher = None

    def reopen(self) -> None:
        """After an interrupted search: a fresh reader, so no half-finished read is left behind."""
        last = self.last
        self._switch(self.name)
        self.last = last

    def settings(self) -> dict[str, Any]:
        return {"k": self.k, "filter": self.filter, "mode": self._mode_label(), "json": self.as_json, "answer": self.answer}

    def handle(self, line: str) -> Output | None:
        """One line in, one output out (None for a blank line). Domain errors become a Problem."""
        line = line.strip()
        if not line:
            return None
        try:
            if line.startswith(":"):
                return self._command(line)
            return self.ask(line)
        except KbError as err:
            return Problem(str(err))

    def ask(self, question: str) -> Answer:
        self._follow_index()
        started = time.perf_counter()
        result = self._filtered_search(question)
        text = failure = None
        if self.answer and self._answerer:
            from kbcli.answer import LlmUnavailable

            try:
                text = self._answerer(question, result.hits)
            except LlmUnavailable as err:
                failure = str(err)
        result.seconds = round(time.perf_counter() - started, 4)
        self.last = result
        return Answer(result, text, failure)

    # -- opening and following the index --
    def _switch(self, name: str) -> None:
        """Open `name`, keeping the loaded model when the index uses the same one."""
        inode = self._inode(name)
        searcher = self.kb.searcher(name, rerank_model=self.rerank_model, reuse=self.searcher, spin=False)
        try:
            searcher.search("warm up", 1)  # loads the vectors and runs the model once
        except BaseException:
            searcher.close()
            raise
        self.close()
        self.searcher, self.name, self._database_inode, self.last = searcher, name, inode, None

    def _inode(self, name: str) -> int:
        if not self.kb.exists(name):
            self.kb.reader(name)  # raises the helpful "no index named ..." error
        try:
            return os.stat(self.kb.folder(name) / DATABASE).st_ino
        except FileNotFoundError:
            raise IndexNotFound(f"index {name!r} is gone") from None

    def _follow_index(self) -> None:
        """New commits are picked up by the reader itself (IndexReader.snapshot); an index that
        was removed and built again under the same name is a new database file: reopen it."""
        if not self.kb.exists(self.name):
            raise IndexNotFound(f"index {self.name!r} was removed; :index NAME switches to another")
        if self._inode(self.name) != self._database_inode:
            self._switch(self.name)

    # -- searching --
    def _search(self, question: str, k: int) -> QueryResult:
        assert self.searcher is not None
        from dataclasses import replace

        return self.searcher.search(question, k, replace(self.searcher.settings, mode=self.mode) if self.mode else None)

    def _filtered_search(self, question: str) -> QueryResult:
        if not self.filter:
            return self._search(question, self.k)
        fetch = min(max(self.k * 10, 50), MAX_FETCH)
        while True:
            result = self._search(question, fetch)
            kept = [hit for hit in result.hits if matches_glob(hit, self.filter)]
            if len(kept) >= self.k or len(result.hits) < fetch or fetch >= MAX_FETCH:
                break
            fetch = min(fetch * 4, MAX_FETCH)
        result.hits = kept[: self.k]
        for rank, hit in enumerate(result.hits, start=1):
            hit.rank = rank
        return result

    # -- commands --
    def _command(self, line: str) -> Output:
        word, _, arg = line.partition(" ")
        name = _resolve(word.lower())
        handler = {
            ":k": self._set_k,
            ":mode": self._set_mode,
            ":filter": self._set_filter,
            ":more": self._more,
            ":open": self._open,
            ":json": self._set_json,
            ":index": self._set_index,
            ":info": self._info,
            ":answer": self._set_answer,
            ":help": lambda _arg: Help(),
            ":quit": lambda _arg: Quit(),
        }[name]
        return handler(arg.strip())

    def _set_k(self, arg: str) -> Output:
        self.k = _number(arg, ":k N", 1, MAX_K)
        return Note(f"k = {self.k}")

    def _set_mode(self, arg: str) -> Output:
        modes = tuple(self.searcher.modes) if self.searcher else ()
        if arg not in modes:
            return Problem(f"use :mode {'|'.join(modes)} (now {self._mode_label()})")
        self.mode = arg
        return Note(f"mode = {arg}")

    def _mode_label(self) -> str:
        from kbcli.settings import resolve

        return self.mode or resolve().search.mode

    def _set_filter(self, arg: str) -> Output:
        if not arg:
            return Note(f"filter = {self.filter or 'off'}")
        self.filter = None if arg.lower() == "off" else arg
        return Note(f"filter = {self.filter or 'off'}")

    def _set_json(self, arg: str) -> Output:
        self.as_json = _on_off(arg, ":json on|off", self.as_json)
        return Note(f"json = {'on' if self.as_json else 'off'}")

    def _set_answer(self, arg: str) -> Output:
        wanted = _on_off(arg, ":answer on|off", self.answer)
        if wanted and self._answerer is None:
            self._answerer = answer_backend()
        self.answer = wanted
        return Note(f"answer = {'on' if wanted else 'off'}")

    def _set_index(self, arg: str) -> Output:
        if not arg:
            names = ", ".join(self.kb.names()) or "none"
            return Note(f"searching {self.name!r}; indexes: {names}")
        self._switch(arg)
        return Note(f"now searching {arg!r}")

    def _info(self, arg: str) -> Output:
        data = self.kb.info(self.name)
        data.pop("files_detail", None)
        data["shell"] = self.settings()
        return Info(data)

    def _hit(self, arg: str) -> Hit:
        if self.last is None:
            raise UsageError("ask a question first")
        if not self.last.hits:
            raise UsageError("the last question found no passages")
        count = len(self.last.hits)
        number = _number(arg, f"N between 1 and {count}", 1, count)
        return self.last.hits[number - 1]

    def _more(self, arg: str) -> Output:
        first_arg, _, span_arg = arg.partition(" ")
        hit = self._hit(first_arg)
        span = _number(span_arg.strip(), f":more N [CHUNKS], CHUNKS 1-{MAX_CONTEXT_CHUNKS}", 1, MAX_CONTEXT_CHUNKS) if span_arg.strip() else 1
        assert self.searcher is not None and self.last is not None
        first, last = hit.seqs[0], hit.seqs[-1]
        before_seqs = list(range(max(0, first - span), first))
        after_seqs = list(range(last + 1, last + 1 + span))
        texts = self.searcher.reader.neighbours(hit.file_id, [*before_seqs, *hit.seqs, *after_seqs])
        if len(hit.seqs) == 1 and texts.get(first) != hit.text:
            raise UsageError(f"{hit.relative} changed in the index since this answer: ask again")
        before = _join([texts[s] for s in before_seqs if s in texts])
        after = _join([texts[s] for s in after_seqs if s in texts])
        return Context(hit, _trim_tail_overlap(before, hit.text), _trim_head_overlap(hit.text, after), self.last.query)

    def _open(self, arg: str) -> Output:
        hit = self._hit(arg)
        return Open(hit, f"{hit.file}#page={hit.page}" if hit.page else hit.file)


def _one_search_thread() -> None:
    """One query at a time: FAISS's OpenMP threads cost more in wake-up and contention with the
    model's threads than they save. With `Embedder(spin=False)`, on 2 cores, p50 went from 44 to
    10 ms on a busy machine and from 9-16 to 8 ms on a quiet one (financebench, 9k chunks)."""
    import faiss

    faiss.omp_set_num_threads(1)


def _resolve(word: str) -> str:
    """A command by its name, an alias, or an unambiguous prefix (:he, :inf)."""
    if word in _ALIASES:
        return _ALIASES[word]
    names = [c.name for c in COMMANDS]
    if word in names:
        return word
    candidates = [n for n in names if n.startswith(word)] if len(word) > 1 else []
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise UsageError(f"{word} is ambiguous: {', '.join(candidates)}")
    raise UsageError(f"unknown command {word} (:help lists the commands)")


def _number(arg: str, usage: str, low: int, high: int) -> int:
    try:
        value = int(arg)
    except ValueError:
        raise UsageError(f"expected a number: {usage}") from None
    if not low <= value <= high:
        raise UsageError(f"{value} is out of range: {usage}")
    return value


def _on_off(arg: str, usage: str, current: bool) -> bool:
    value = arg.lower()
    if value in ("on", "off"):
        return value == "on"
    if not value:
        return not current  # a bare `:json` toggles
    raise UsageError(f"use {usage}")


def matches_glob(hit: Hit, glob: str) -> bool:
    """The --include/--exclude rule of `kbcli index`, plus the absolute path."""
    return any(fnmatch.fnmatch(candidate, glob) for candidate in (hit.relative, hit.relative.rsplit("/", 1)[-1], hit.file))


def _join(texts: list[str]) -> str:
    joined = ""
    for text in texts:
        joined = joined + text[overlap(joined, text):] if joined else text
    return joined


def _trim_tail_overlap(before: str, text: str) -> str:
    """`before` without its end where the hit's own text starts again."""
    size = overlap(before, text)
    return before[:-size].rstrip() if size else before


def _trim_head_overlap(text: str, after: str) -> str:
    return after[overlap(text, after):].lstrip()


def answer_backend() -> Callable[[str, list[Hit]], str]:
    """The configured LLM's `answer(question, hits)`; a UsageError when none is configured."""
    from kbcli.answer import Answerer, resolve_config

    config = resolve_config()
    if config is None:
        raise UsageError("no LLM is configured: see the README section on LLM answers")
    return Answerer(config).answer


def completions(text: str, index_names: Callable[[], Iterable[str]]) -> list[tuple[str, int, str]]:
    """Tab completion for the text before the cursor: (completion, start offset, description)."""
    if not text.startswith(":"):
        return []
    word, space, arg = text.partition(" ")
    if not space:
        return [(c.name, -len(text), c.help) for c in COMMANDS if c.name.startswith(text.lower())]
    try:
        name = _resolve(word.lower())
    except UsageError:
        return []
    command = next(c for c in COMMANDS if c.name == name)
    choices = list(index_names()) if name == ":index" else list(command.choices)
    arg = arg.lstrip()
    return [(choice, -len(arg), "") for choice in choices if choice.startswith(arg)]
