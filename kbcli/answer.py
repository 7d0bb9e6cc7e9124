"""Optional written answers, grounded in the retrieved passages, from an LLM the user chose.

Nothing here runs unless a provider is configured (KBCLI_LLM_PROVIDER or --llm-provider).
What the model is sent (documents fenced as data, never as instructions) is kbcli/prompt.py.
The core never prints; the query command and the shell render what `Answerer.respond` yields,
with one renderer.

Typical use (the shell does the same with one Answerer for the whole session):

    config = resolve_config(settings.llm)  # None: no provider configured
    answering = Answerer(config).respond(result)
    for piece in answering:                # the text as it arrives
        ...
    answering.answered                     # Answered: text, cited passage numbers, the result
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence
from urllib.parse import urlsplit

from kbcli.errors import KbError, UsageError
from kbcli.prompt import NOT_IN_PASSAGES, build_messages, cited_numbers, passages_sent
from kbcli.settings import LlmSettings

if TYPE_CHECKING:
    from kbcli.search import Hit, QueryResult

PROVIDERS = ("openai-compatible", "ollama")
ENV_PROVIDER = "KBCLI_LLM_PROVIDER"
ENV_BASE_URL = "KBCLI_LLM_BASE_URL"
ENV_API_KEY = "KBCLI_LLM_API_KEY"
ENV_MODEL = "KBCLI_LLM_MODEL"
ENV_TIMEOUT = "KBCLI_LLM_TIMEOUT"

DEFAULT_TIMEOUT = 60.0
DEFAULT_OLLAMA_URL = "http://localhost:11434"
# Ollama otherwise asks the server for the model's full context length (often 128k tokens) and
# reserves memory for all of it; the passages and question fit in far less.
OLLAMA_CONTEXT_TOKENS = 8192
TEMPERATURE = 0.1

CONFIGURE_HINT = (
    "no LLM configured, showing the passages only (set KBCLI_LLM_PROVIDER, KBCLI_LLM_MODEL and "
    "KBCLI_LLM_BASE_URL; see .env.example)"
)


class LlmConfigError(UsageError):
    """The LLM settings are incomplete or invalid (exit 2, before anything is searched)."""


class LlmUnavailable(KbError):
    """The provider could not be reached, timed out or refused the request (exit 1)."""


@dataclass(frozen=True)
class LlmConfig:
    provider: str
    model: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        return f"{self.model} at {self.base_url}"


# -- configuration ------------------------------------------------------------------------------
def resolve_config(
    llm: LlmSettings,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
) -> LlmConfig | None:
    """The command line's values win over the settings (the environment, then `.env`).

    Returns None when no provider is configured: kbcli then answers with passages only."""
    provider = _pick(provider, llm.provider)
    if provider is None:
        return None
    provider = provider.lower()
    if provider not in PROVIDERS:
        raise LlmConfigError(f"unknown LLM provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    model = _pick(model, llm.model)
    if model is None:
        raise LlmConfigError(f"set {ENV_MODEL} or --llm-model to the model name the {provider} server serves")
    url = _pick(base_url, llm.base_url)
    if url is None:
        if provider != "ollama":
            raise LlmConfigError(
                f"set {ENV_BASE_URL} or --llm-base-url for the openai-compatible provider, "
                "e.g. http://127.0.0.1:8080/v1 (llama.cpp) or https://api.openai.com/v1"
            )
        url = DEFAULT_OLLAMA_URL
    return LlmConfig(
        provider=provider,
        model=model,
        base_url=_normalise_url(url, provider),
        api_key=_pick(None, llm.api_key),
        timeout=_timeout(llm.timeout),
    )


def _pick(cli_value: str | None, env_value: str | None) -> str | None:
    for value in (cli_value, env_value):
        if value is not None and value.strip():
            return value.strip()
    return None


def _normalise_url(url: str, provider: str) -> str:
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LlmConfigError(f"LLM base URL {url!r} must start with http:// or https:// and name a host")
    if provider == "ollama":
        # The native API lives at the root; people often paste the OpenAI-style /v1 address.
        return url[: -len("/v1")] if parts.path == "/v1" else url
    # OpenAI-compatible servers serve under /v1; a bare host:port means that.
    return url + "/v1" if parts.path == "" else url


def _timeout(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise LlmConfigError(f"{ENV_TIMEOUT}={raw!r}: give seconds between 0 and 3600")
    return value


# -- talking to the provider --------------------------------------------------------------------
def make_llm(config: LlmConfig) -> Any:
    """A LlamaIndex LLM for the configuration, built explicitly: LlamaIndex's global
    Settings.llm is never consulted, and no OpenAI default (key, URL) is ever used."""
    import httpx

    # One retry, and only when the connection itself fails (a server still starting up);
    # a timeout or an HTTP error is reported at once, so a dead server costs one timeout.
    transport = httpx.HTTPTransport(retries=1)
    if config.provider == "ollama":
        from llama_index.llms.ollama import Ollama
        from ollama import Client

        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        client = Client(host=config.base_url, timeout=config.timeout, headers=headers, transport=transport)
        return Ollama(
            model=config.model,
            base_url=config.base_url,
            request_timeout=config.timeout,
            context_window=OLLAMA_CONTEXT_TOKENS,
            temperature=TEMPERATURE,
            client=client,
        )
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=config.model,
        api_base=config.base_url,
        # Never fall back to $OPENAI_API_KEY: it would go to whatever server the URL names.
        api_key=config.api_key or "no-key",
        is_chat_model=True,
        is_function_calling_model=False,
        temperature=TEMPERATURE,
        timeout=config.timeout,
        max_retries=0,
        http_client=httpx.Client(transport=transport, timeout=config.timeout),
    )


def _chat_messages(messages: list[dict[str, str]]) -> list[Any]:
    from llama_index.core.llms import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


class Answerer:
    """Holds one LLM client; reuse it for many questions (batch mode, the shell)."""

    def __init__(self, config: LlmConfig, llm: Any = None) -> None:
        self.config = config
        self._llm = llm

    @property
    def llm(self) -> Any:
        if self._llm is None:
            self._llm = make_llm(self.config)
        return self._llm

    def stream(self, question: str, hits: Sequence["Hit"]) -> Iterator[str]:
        """Yield the answer as it arrives, in text deltas. Raises LlmUnavailable."""
        if not hits:
            yield NOT_IN_PASSAGES
            return
        llm, messages = self.llm, _chat_messages(build_messages(question, hits))
        with _provider_errors(self.config):
            for chunk in llm.stream_chat(messages):
                if chunk.delta:
                    yield chunk.delta

    def answer(self, question: str, hits: Sequence["Hit"]) -> str:
        """The whole answer in one (non-streaming) request. Raises LlmUnavailable."""
        if not hits:
            return NOT_IN_PASSAGES
        llm, messages = self.llm, _chat_messages(build_messages(question, hits))
        with _provider_errors(self.config):
            return llm.chat(messages).message.content or ""

    def respond(self, result: "QueryResult", stream: bool = True) -> "Answering":
        """The answer to `result`'s question from its hits: streamed in pieces, or (stream=False,
        for scripts) in one request. Iterate the Answering for the text; `.answered` at the end."""
        pieces = self.stream(result.query, result.hits) if stream else self._whole(result.query, result.hits)
        return Answering(result, pieces, self.config.label)

    def _whole(self, question: str, hits: Sequence["Hit"]) -> Iterator[str]:
        yield self.answer(question, hits)  # asked for when iterated, as the stream is


@dataclass
class Answered:
    """A question's outcome: the passages, and the LLM's answer when one was asked for."""

    result: "QueryResult"
    text: str | None = None  # None: no LLM configured, or it failed
    cited: list[int] = field(default_factory=list)  # the passage numbers [n] the answer cites (n = rank)
    failure: LlmUnavailable | None = None  # why there is no answer; shown once the passages are out


class Answering:
    """An answer on its way: iterating yields the text pieces as they arrive (a provider failure
    ends the iteration, it is not raised); `answered` is the outcome, draining what is left."""

    def __init__(self, result: "QueryResult", pieces: Iterator[str], source: str) -> None:
        self.result = result
        self.source = source  # "model at URL", for a person
        self._pieces = pieces
        self._parts: list[str] = []
        self._answered: Answered | None = None

    def __iter__(self) -> Iterator[str]:
        if self._answered is not None:
            return
        failure = None
        try:
            for piece in self._pieces:
                self._parts.append(piece)
                yield piece
        except LlmUnavailable as err:
            failure = err
        self._answered = self._finish(failure)

    def _finish(self, failure: LlmUnavailable | None) -> Answered:
        if failure is not None:
            return Answered(self.result, None, [], failure)
        text = "".join(self._parts)
        return Answered(self.result, text, cited_numbers(text, passages_sent(self.result.hits)))

    @property
    def answered(self) -> Answered:
        for _ in self:
            pass
        assert self._answered is not None
        return self._answered


@contextmanager
def _provider_errors(config: LlmConfig) -> Iterator[None]:
    """Whatever goes wrong on the provider's side becomes one line naming the server."""
    try:
        yield
    except Exception as err:  # a remote server's failure, in whatever form the client raises it
        raise LlmUnavailable(f"LLM {config.label}: {_describe(err, config)}") from err


def _describe(err: Exception, config: LlmConfig) -> str:
    import httpx

    status, detail = _status_of(err)
    if status is not None:
        hint = {
            401: f" (check {ENV_API_KEY})",
            403: f" (check {ENV_API_KEY})",
            404: f" (check {ENV_MODEL} and {ENV_BASE_URL})",
        }.get(status, "")
        return f"HTTP {status}: {_short(detail)}{hint}"
    chain = _causes(err)
    if any(isinstance(e, httpx.TimeoutException) or type(e).__name__ == "APITimeoutError" for e in chain):
        return f"no reply within {config.timeout:g} s ({ENV_TIMEOUT})"
    connect = next((e for e in chain if isinstance(e, httpx.ConnectError)), None)
    if connect is not None or any(isinstance(e, ConnectionError) or type(e).__name__ == "APIConnectionError" for e in chain):
        reason = f" ({_short(str(connect), 120)})" if connect is not None and str(connect) else ""
        return f"cannot connect{reason}; is the server running?"
    transport = next((e for e in chain if isinstance(e, httpx.TransportError)), None)
    if transport is not None:
        return f"connection failed ({type(transport).__name__}: {_short(str(transport))})"
    return f"bad reply ({type(err).__name__}: {_short(str(err))})"


def _causes(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _status_of(err: Exception) -> tuple[int | None, str]:
    """The HTTP status and message of an error reply, from the openai or ollama client."""
    status = getattr(err, "status_code", None)
    if isinstance(status, int) and status > 0:
        body = getattr(err, "body", None)
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else inner
            if message:
                return status, str(message)
        return status, str(getattr(err, "error", None) or getattr(err, "message", None) or err)
    return None, ""


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
