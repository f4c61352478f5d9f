"""Shared fixtures: a real Postgres (TEST_DATABASE_URL, or the embedded server) and a fresh
migrated database per test, cloned from a template migrated once per session."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import sqlalchemy as sa

from worker.db.embedded import start_embedded_postgres, stop_embedded_postgres
from worker.db.engine import create_db_engine, libpq_url
from worker.db.migrate import upgrade_head


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (works for socket URLs too)."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """An administrative URL: TEST_DATABASE_URL when set, else a session-wide embedded server.

    The embedded server lives outside pytest's numbered temp folders, which another
    pytest session on the same machine may rotate away while this one still runs.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield libpq_url(url)
        return
    home = Path(tempfile.mkdtemp(prefix="rei-sync-test-pg-"))
    home.chmod(0o755)  # as root, the server runs as its own system user
    try:
        yield start_embedded_postgres(home)
    finally:
        stop_embedded_postgres(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    name = f"reisync_tpl_{uuid.uuid4().hex[:10]}"
    _admin(pg_server_url, f'CREATE DATABASE "{name}"')
    engine = create_db_engine(with_database(pg_server_url, name))
    try:
        upgrade_head(engine)
    finally:
        engine.dispose()
    yield name
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_db_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh database with every migration applied, dropped after the test."""
    name = f"reisync_t_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(pg_server_url, name)
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_engine(migrated_db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(migrated_db_url)
    yield engine
    engine.dispose()


REQUIRED_IN_CI = ("promtool missing", "chromium is not installed")
"""Skip reasons that mean a tool `.ci/run` installs is missing: under CI they fail instead."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped or not isinstance(report.longrepr, tuple):
        return
    reason = str(report.longrepr[2])
    if any(needle in reason.lower() for needle in REQUIRED_IN_CI):
        report.outcome = "failed"
        report.longrepr = f"CI is set, so this may not skip: {reason}"
