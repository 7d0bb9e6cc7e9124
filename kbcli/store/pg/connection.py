"""Where a PostgreSQL index lives, how kbcli connects to it, and the one-writer lock.

The connection string may carry a password: it is never printed. Everything shown (errors,
`info`, `list`) goes through `redact`, and a server's error message has the password cut out too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kbcli.errors import LockBusy, StorageFailure, UsageError

if TYPE_CHECKING:
    import psycopg

# Advisory locks are (namespace, key) pairs: this namespace is kbcli's writer locks.
LOCK_NAMESPACE = 0x6B62  # "kb"
_URL_PASSWORD = re.compile(r"^(?P<head>[a-z][a-z0-9+.-]*://[^/@:]*):(?P<password>[^@/]*)@", re.IGNORECASE)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def is_pg_url(value: str | None) -> bool:
    return bool(value) and value.split("://", 1)[0].lower() in ("postgres", "postgresql")  # type: ignore[union-attr]


def redact(url: str) -> str:
    """The connection string without its password: postgresql://me:***@host/db."""
    url = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", url)
    url = re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)
    return _KV_PASSWORD.sub(r"\1***", url)


def password_of(url: str) -> str | None:
    found = _URL_PASSWORD.match(url)
    if found and found.group("password"):
        from urllib.parse import unquote

        return unquote(found.group("password"))
    query = re.search(r"[?&]password=([^&]*)", url, flags=re.IGNORECASE)
    return query.group(1) if query else None


@dataclass(frozen=True)
class PgLocation:
    """An index in a PostgreSQL database: the connection string (repr hides it) and the name."""

    url: str = field(repr=False)
    name: str

    @property
    def shown(self) -> str:
        """For people: the database without its password, and the index name."""
        return f"{redact(self.url)} (index {self.name})"

    def __str__(self) -> str:
        return self.shown


def clean_message(url: str, err: BaseException) -> str:
    """An error's first line, without the password (libpq may echo parts of the conninfo)."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    secret = password_of(url)
    if secret:
        text = text.replace(secret, "***")
    return redact(text)


def unreachable(url: str, err: BaseException) -> StorageFailure:
    return StorageFailure(f"cannot use the PostgreSQL store at {redact(url)}: {clean_message(url, err)}")


def connect(url: str, *, autocommit: bool = True) -> "psycopg.Connection[Any]":
    """A connection with pgvector's types registered; a one-line StorageFailure if there is none."""
    try:
        import psycopg
    except ImportError:
        raise UsageError("the PostgreSQL store needs kbcli's 'postgres' extra: pip install 'kbcli[postgres]'") from None

    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="kbcli")
    except psycopg.Error as err:
        raise unreachable(url, err) from None
    try:
        _register_vector(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _register_vector(conn: "psycopg.Connection[Any]") -> None:
    from pgvector.psycopg import register_vector

    from kbcli.store.pg.schema import ensure_extension

    ensure_extension(conn)
    register_vector(conn)


def acquire_lock(conn: "psycopg.Connection[Any]", name: str, wait: float) -> None:
    """The writer lock of index `name`: a session advisory lock, dropped by the server when the
    connection ends (kill -9 included). LockBusy after `wait` seconds, as the embedded store."""
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, name)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() >= deadline:
            raise LockBusy(
                f"index {name!r} is being written by another kbcli process"
                + (f" (waited {wait:g}s)" if wait else "")
                + "; retry later or pass --wait SECONDS"
            )
        time.sleep(0.2)


def release_lock(conn: "psycopg.Connection[Any]", name: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_NAMESPACE, name))
