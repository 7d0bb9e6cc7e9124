"""Options shared by several commands, declared once, and the CLI-only parsing behind them
(sizes such as '200MB', the passwords file, `ReadOptions` from options + settings)."""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import click
import typer

from kbcli.cli.invocation import current
from kbcli.errors import UsageError
from kbcli.readers import ReadOptions
from kbcli.settings import ReadingSettings, with_overrides

NameArg = Annotated[str, typer.Argument(help="Name of the index.", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only (and the --json summary).")]
WaitOpt = Annotated[
    float, typer.Option("--wait", metavar="SECONDS", help="Wait this long for another writer to finish (exit 4 if it does not).")
]
LogFileOpt = Annotated[
    Optional[Path], typer.Option("--log-file", metavar="FILE", help="Also append the run's log lines to FILE.")
]
FollowLinksOpt = Annotated[
    bool,
    typer.Option("--follow-links", help="Also follow links to files outside the sources (by default such a link is reported and skipped)."),
]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", min=1, max=1000, help="How many passages to return.")]
RerankOpt = Annotated[
    Optional[Path],
    typer.Option("--rerank-model", metavar="DIR", show_default=False,
                 help="Rescore the top hits with a cross-encoder from this local folder (never downloaded; default: $KBCLI_RERANK_MODEL)."),
]

# -- how files are read: index, refresh and watch, in their own --help panel ----------------------
_READING = "Reading files"
OCR_MODES = ("auto", "off", "force")


@dataclass(frozen=True)
class ReadingArgs:
    """The six reading options as given on the command line (see `reading_options`)."""

    password: str | None = None
    passwords_file: Path | None = None
    ocr: str = "auto"
    convert_legacy: bool = False
    max_file_size: str = "200MB"
    timeout: float = 300.0

    def read_options(self, settings: ReadingSettings) -> ReadOptions:
        """What the readers get: these options, then the environment's (`settings`). A
        UsageError says what is wrong, never quoting a password."""
        ocr = self.ocr.lower()
        if ocr not in OCR_MODES:
            raise UsageError(f"--ocr must be one of {', '.join(OCR_MODES)}, not {self.ocr!r}")
        if self.timeout <= 0:
            raise UsageError("--timeout must be more than 0 seconds")
        values: dict[str, Any] = dict(
            passwords=_passwords(self.passwords_file) if self.passwords_file is not None else (),
            password=self.password or settings.password,
            ocr=ocr,
            convert_legacy=self.convert_legacy,
            max_file_size=parse_size(self.max_file_size),
            timeout=self.timeout,
            max_memory=settings.reader_memory_mb * 2**20,
            tessdata=settings.tessdata,  # the OCR language data the environment names
            tessdata_prefix=settings.tessdata_prefix,
        )
        return ReadOptions(**values)


_READING_PARAMETERS = [
    inspect.Parameter("password", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[str],
        typer.Option("--password", metavar="PASSWORD", rich_help_panel=_READING,
                     help="Password to try on encrypted PDF and Word files ($KBCLI_PASSWORD does the same, unseen by ps)."),
    ]),
    inspect.Parameter("passwords_file", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
        Optional[Path],
        typer.Option("--passwords-file", metavar="FILE", rich_help_panel=_READING,
                     help="Lines 'GLOB PASSWORD': try PASSWORD on files whose name or path matches GLOB."),
    ]),
    inspect.Parameter("ocr", inspect.Parameter.KEYWORD_ONLY, default="auto", annotation=Annotated[
        str,
        typer.Option("--ocr", metavar="auto|off|force", rich_help_panel=_READING,
                     help="OCR with Tesseract: pages without a usable text layer (auto), none (off) or every page (force)."),
    ]),
    inspect.Parameter("convert_legacy", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Annotated[
        bool,
        typer.Option("--convert-legacy", rich_help_panel=_READING,
                     help="Convert .doc, .rtf and .odt files with LibreOffice (headless) to index them."),
    ]),
    inspect.Parameter("max_file_size", inspect.Parameter.KEYWORD_ONLY, default="200MB", annotation=Annotated[
        str,
        typer.Option("--max-file-size", metavar="SIZE", rich_help_panel=_READING,
                     help="Report larger files as 'too large' without reading them (e.g. 50MB, 1GB; 0: no limit)."),
    ]),
    inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, default=300.0, annotation=Annotated[
        float,
        typer.Option("--timeout", metavar="SECONDS", rich_help_panel=_READING,
                     help="Time limit for reading one file; slower files are stopped and reported 'timed out'."),
    ]),
]
_READING_NAMES = [p.name for p in _READING_PARAMETERS]


def reading_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the six reading options; it receives them as one `reading: ReadingArgs`."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "reading"]

    @functools.wraps(command)
    def with_reading(*args: Any, **kwargs: Any) -> Any:
        reading = ReadingArgs(**{name: kwargs.pop(name) for name in _READING_NAMES})
        return command(*args, reading=reading, **kwargs)

    with_reading.__signature__ = signature.replace(parameters=[*kept, *_READING_PARAMETERS])  # type: ignore[attr-defined]
    with_reading.__annotations__ = {p.name: p.annotation for p in with_reading.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return with_reading


_STORE_PARAMETER = inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
    Optional[str],
    typer.Option("--store", metavar="URL", show_default=False,
                 help="Keep the index in PostgreSQL (postgresql://user@host/db; pgvector) instead of the kbcli home (default: $KBCLI_STORE)."),
])


def store_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command `--store URL`: it replaces $KBCLI_STORE in the invocation's settings."""
    signature = inspect.signature(command, eval_str=True)

    @functools.wraps(command)
    def with_store(*args: Any, **kwargs: Any) -> Any:
        store = kwargs.pop("store")
        if store:
            ctx = kwargs.get("ctx") or next(a for a in args if isinstance(a, click.Context))
            run = current(ctx)
            run.settings = with_overrides(run.settings, paths={"store": store.strip()})
        return command(*args, **kwargs)

    with_store.__signature__ = signature.replace(parameters=[*signature.parameters.values(), _STORE_PARAMETER])  # type: ignore[attr-defined]
    with_store.__annotations__ = {p.name: p.annotation for p in with_store.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return with_store


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'200MB', '1.5G', '5000000' → bytes (K/M/G/T are powers of 1024); '0' means no limit."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"not a size: {text!r} (try 200MB or 1GB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def _passwords(path: Path) -> tuple[tuple[str, str], ...]:
    try:
        return parse_passwords_file(path)
    except OSError as err:
        raise UsageError(f"cannot read the passwords file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise UsageError(f"the passwords file {path} is not UTF-8 text") from err


def parse_passwords_file(path: Path) -> tuple[tuple[str, str], ...]:
    """Lines 'GLOB<tab or spaces>PASSWORD'; blank lines and '#' comments ignored. The password is
    the rest of the line after the first run of blanks, so it may itself contain spaces."""
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = re.split(r"[\t ]+", line.strip("\r\n"), maxsplit=1)
        if len(parts) != 2 or not parts[1]:
            raise UsageError(f"{path}:{number}: expected 'GLOB PASSWORD'")  # no echo of the line: it holds a secret
        rules.append((parts[0], parts[1]))
    return tuple(rules)
