"""The call database a test runs on: a SQLite file of its own, or a PostgreSQL schema of its own.

Test modules marked `pytest.mark.both_databases` run every test that takes `call_database` twice, on
SQLite and on PostgreSQL. PostgreSQL comes from $ASSISTANT_TEST_POSTGRES (a postgresql:// URL; `./run
tests` starts a local server and sets it). Without it those runs are skipped, unless
$ASSISTANT_REQUIRE_POSTGRES is set (as in CI), where they fail instead.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def postgres_url() -> str:
    """The test server's URL; skips (or fails where PostgreSQL is required) when there is none."""
    url = os.environ.get("ASSISTANT_TEST_POSTGRES")
    if not url:
        message = "no PostgreSQL to test on: set ASSISTANT_TEST_POSTGRES (./run tests does)"
        if os.environ.get("ASSISTANT_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def postgres_schema() -> Iterator[str]:
    """A URL whose connections see only a new, empty schema; the schema is dropped afterwards."""
    import psycopg

    url = postgres_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture()
def call_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where this test's call store lives: a SQLite file, or (when parametrized so) PostgreSQL."""
    if getattr(request, "param", SQLITE) == POSTGRESQL:
        yield from postgres_schema()
    else:
        yield str(tmp_path / "calls.sqlite")


def parametrize_databases(metafunc: pytest.Metafunc) -> None:
    """In modules marked both_databases, runs each test taking `call_database` on both engines."""
    if "call_database" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("call_database", [SQLITE, POSTGRESQL], indirect=True)
