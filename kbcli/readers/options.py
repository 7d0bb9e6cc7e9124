"""Transitional: command-line values -> ReadOptions. This is CLI parsing and belongs in the CLI
layer (being moved there); it stays here, re-exported by kbcli.readers, while kbcli/cli.py still
imports `build_read_options` from kbcli.readers. Nothing here reads the environment: the
environment's part comes in as `kbcli.settings.ReadingSettings`."""

from __future__ import annotations

import re
from pathlib import Path

from kbcli.readers.types import OCR_MODES, ReadOptions
from kbcli.settings import ReadingSettings

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'200MB', '1.5G', '5000000' → bytes (K/M/G/T are powers of 1024); '0' means no limit."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (try 200MB or 1GB)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def parse_passwords_file(path: Path) -> tuple[tuple[str, str], ...]:
    """Lines 'GLOB<tab or spaces>PASSWORD'; blank lines and '#' comments ignored. The password is
    the rest of the line after the first run of blanks, so it may itself contain spaces."""
    rules = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = re.split(r"[\t ]+", line.strip("\r\n"), maxsplit=1)
        if len(parts) != 2 or not parts[1]:
            raise ValueError(f"{path}:{number}: expected 'GLOB PASSWORD'")  # no echo of the line: it holds a secret
        rules.append((parts[0], parts[1]))
    return tuple(rules)


def default_password(reading: ReadingSettings | None = None) -> str | None:
    """The password to try when none is given: $KBCLI_PASSWORD, as resolved into `reading`."""
    return _reading(reading).password


def _reading(reading: ReadingSettings | None) -> ReadingSettings:
    if reading is not None:
        return reading
    from kbcli.settings import resolve  # the one module that reads the environment

    return resolve().reading


def build_read_options(
    password: str | None = None,
    passwords_file: Path | None = None,
    ocr: str = "auto",
    convert_legacy: bool = False,
    max_file_size: str = "200MB",
    timeout: float = 300.0,
    reading: ReadingSettings | None = None,
) -> ReadOptions:
    """ReadOptions from command-line values and `reading` (resolved from the environment by
    kbcli.settings when not given); ValueError says what is wrong (never quoting a password)."""
    if ocr.lower() not in OCR_MODES:
        raise ValueError(f"--ocr must be one of {', '.join(OCR_MODES)}, not {ocr!r}")
    if timeout <= 0:
        raise ValueError("--timeout must be more than 0 seconds")
    rules: tuple[tuple[str, str], ...] = ()
    if passwords_file is not None:
        try:
            rules = parse_passwords_file(passwords_file)
        except OSError as err:
            raise ValueError(f"cannot read the passwords file {passwords_file}: {err.strerror}") from err
        except UnicodeDecodeError as err:
            raise ValueError(f"the passwords file {passwords_file} is not UTF-8 text") from err
    reading = _reading(reading)
    return ReadOptions(
        passwords=rules,
        password=password or reading.password,
        ocr=ocr.lower(),
        convert_legacy=convert_legacy,
        max_file_size=parse_size(max_file_size),
        timeout=timeout,
        max_memory=reading.reader_memory_mb * 2**20 if reading.reader_memory_mb > 0 else ReadOptions.max_memory,
        tessdata=reading.tessdata,
        tessdata_prefix=reading.tessdata_prefix,
    )
