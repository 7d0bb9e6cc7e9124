"""The PostgreSQL store (kbcli/store/pg/): the same commands and guarantees as the embedded one,
on a real server with pgvector (tests/pg_server.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SAMPLE_DOCS
from pg_server import PASSWORD


def test_index_and_query_on_postgres(cli, pg_url: str) -> None:
    summary = cli.json("index", SAMPLE_DOCS, "--name", "pg", "--store", pg_url, "--json")
    assert summary["added"] == 6 and summary["chunks_added"] > 0
    found = cli.json("query", "pg", "How do I descale the espresso machine?", "--store", pg_url, "--json")
    assert found["hits"] and "espresso" in found["hits"][0]["file"]
