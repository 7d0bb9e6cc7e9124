"""Where state lives and which settings apply: command line, then environment, then `.env`."""

from __future__ import annotations

import os
import re
from pathlib import Path

from kbcli.errors import UsageError

HOME_ENV = "KBCLI_HOME"
_INDEX_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def load_dotenv_file() -> None:
    """Read `.env` from the working directory; real environment variables win."""
    path = Path.cwd() / ".env"
    if path.is_file():
        from dotenv import load_dotenv

        load_dotenv(path, override=False)


def kbcli_home(override: Path | None = None) -> Path:
    """The folder holding every index and cached model: --home, $KBCLI_HOME, else the user data dir."""
    if override is not None:
        return override.expanduser().resolve()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("kbcli", appauthor=False))


def model_cache(home: Path) -> Path:
    """Where the exported ONNX models are cached: $KBCLI_CACHE, else inside the kbcli home.

    Derived files only (re-created from the installed model package when missing)."""
    env = os.environ.get("KBCLI_CACHE")
    return Path(env).expanduser().resolve() if env else home / "cache"


def check_index_name(name: str) -> str:
    if not _INDEX_NAME.match(name):
        raise UsageError(
            f"invalid index name {name!r}: use letters, digits, '.', '_' or '-' (max 64, not starting with '.' or '-')"
        )
    return name
