"""`kbcli shell`: one warm session for many questions.

`ShellSession` holds the open index and the loaded model. `handle(line)` turns one line (a question
or a `:command`) into an output value and never prints, so it is tested without a terminal; the
loops that drive it and the rendering live in `kbcli/cli/shell_ui.py`; the index itself is a
`kbcli.session.IndexSession` from the facade.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Union

from kbcli.answer import CONFIGURE_HINT, Answered, Answerer, Answering, resolve_config
from kbcli.errors import IndexNotFound, KbError, UsageError
from kbcli.facts import IndexInfo
from kbcli.kb import KnowledgeBase
from kbcli.search import Hit, QueryResult
from kbcli.search.results import matches_glob
from kbcli.session import MAX_CONTEXT_CHUNKS

MAX_K = 1000
# With a filter the index is asked for more hits than shown, growing up to this many.
MAX_FETCH = 5000


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
    """A question's outcome: the passages, and with :answer on the answer on its way (iterate
    `answering` to stream it; `answered` waits for the rest)."""

    result: QueryResult
    answering: Answering | None = None
    answer_on: bool = False  # an answer was asked for (JSON then carries `answer` and `cited`)

    @property
    def answered(self) -> Answered | None:
        if self.answering is not None:
            return self.answering.answered
        return Answered(self.result) if self.answer_on else None

    @property
    def text(self) -> str | None:
        answered = self.answered
        return answered.text if answered is not None else None

    @property
    def failure(self) -> str | None:
        """Why the LLM gave no answer (the passages are shown anyway)."""
        answered = self.answered
        return str(answered.failure) if answered is not None and answered.failure is not None else None


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
    info: IndexInfo
    shell: dict[str, Any] = field(default_factory=dict)


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

    def __init__(self, kb: KnowledgeBase, name: str, k: int = 5, as_json: bool = False) -> None:
        self.kb = kb
        self.k = k
        self.as_json = as_json
        self.filter: str | None = None
        self.mode: str | None = None  # None: the settings' mode
        self.answer = False
        self.last: QueryResult | None = None
        self._answerer: Answerer | None = None
        self.index = kb.session(name, interactive=True)

    @property
    def name(self) -> str:
        return self.index.name

    def close(self) -> None:
        self.index.close()

    def reopen(self) -> None:
        """After an interrupted search: a fresh reader, so no half-finished read is left behind."""
        self.index.reopen()

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
        started = time.perf_counter()
        try:
            result = self._filtered_search(question)
        except IndexNotFound as err:
            raise IndexNotFound(f"{err}; :index NAME switches to another") from None
        result.seconds = round(time.perf_counter() - started, 4)
        self.last = result
        answering = None
        if self.answer and self._answerer is not None:
            answering = self._answerer.respond(result, stream=not self.as_json)
        return Answer(result, answering, answer_on=self.answer)

    # -- searching --
    def _search(self, question: str, k: int) -> QueryResult:
        search = self.kb.settings.search
        return self.index.search(question, k, replace(search, mode=self.mode) if self.mode else search)

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
        handler: dict[str, Callable[[str], Output]] = {
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
        }
        return handler[name](arg.strip())

    def _set_k(self, arg: str) -> Output:
        self.k = _number(arg, ":k N", 1, MAX_K)
        return Note(f"k = {self.k}")

    def _set_mode(self, arg: str) -> Output:
        modes = tuple(self.index.modes)
        if arg not in modes:
            return Problem(f"use :mode {'|'.join(modes)} (now {self._mode_label()})")
        self.mode = arg
        return Note(f"mode = {arg}")

    def _mode_label(self) -> str:
        return self.mode or self.kb.settings.search.mode

    def _set_filter(self, arg: str) -> Output:
        if arg:
            self.filter = None if arg.lower() == "off" else arg
        return Note(f"filter = {self.filter or 'off'}")

    def _set_json(self, arg: str) -> Output:
        self.as_json = _on_off(arg, ":json on|off", self.as_json)
        return Note(f"json = {'on' if self.as_json else 'off'}")

    def _set_answer(self, arg: str) -> Output:
        """As `query --answer`: with no LLM configured, a hint, and the passages only."""
        wanted = _on_off(arg, ":answer on|off", self.answer)
        hint = ""
        if wanted and self._answerer is None:
            config = resolve_config(self.kb.settings.llm)
            if config is None:
                hint = f" ({CONFIGURE_HINT})"
            else:
                self._answerer = Answerer(config)
        self.answer = wanted
        return Note(f"answer = {'on' if wanted else 'off'}{hint}")

    def _set_index(self, arg: str) -> Output:
        if not arg:
            names = ", ".join(self.kb.names()) or "none"
            return Note(f"searching {self.name!r}; indexes: {names}")
        self.index.switch(arg)
        self.last = None
        return Note(f"now searching {arg!r}")

    def _info(self, arg: str) -> Output:
        return Info(self.kb.info(self.name), self.settings())

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
        assert self.last is not None
        around = self.index.around(hit, span)
        return Context(hit, around.before, around.after, self.last.query)

    def _open(self, arg: str) -> Output:
        hit = self._hit(arg)
        return Open(hit, f"{hit.file}#page={hit.page}" if hit.page else hit.file)


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
