"""Reads never change the schema, and a schema newer than the code is refused by everyone."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.conftest import with_database
from worker.auth.crypto import generate_key
from worker.cli.app import app
from worker.db.migrate import head_revision

runner = CliRunner()
READS = ["runs", "runs --json", "status", "status --json", "token status"]
FUTURE = "9999_from_a_newer_rei_sync"


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    name = f"reisync_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("REMAX_", "DATABASE_", "REI_", "SYNC_", "SUPABASE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", generate_key())
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    for name, value in {
        "REMAX_AZURA_API_URL": "http://127.0.0.1:9/api/v1",
        "REMAX_AZURA_API_KEY": "k-azura-0001",
        "REMAX_AZURA_INTEGRATOR_ID": "i-azura-0001",
        "REMAX_AZURA_SECRET_KEY": "s-azura-0001",
    }.items():
        monkeypatch.setenv(name, value)


def tables(url: str) -> int:
    with psycopg.connect(url) as c:
        row = c.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("command", READS)
def test_reads_on_an_empty_database_name_migrate_and_change_nothing(
    monkeypatch: pytest.MonkeyPatch, empty_db_url: str, command: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    result = runner.invoke(app, command.split())
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        f"error: database schema is at empty (no migration applied), head is {head_revision()}: "
        "run `rei-sync migrate`"
    ]
    assert tables(empty_db_url) == 0


@pytest.mark.usefixtures("env")
def test_doctor_reports_a_schema_behind_without_migrating(
    monkeypatch: pytest.MonkeyPatch, empty_db_url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    result = runner.invoke(app, ["doctor", "--json"])
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert not checks["database"]["ok"]
    assert "rei-sync migrate" in checks["database"]["detail"]
    assert tables(empty_db_url) == 0


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("command", [*READS, "migrate", "sync", "doctor"])
def test_a_schema_newer_than_the_code_is_refused_by_every_command(
    monkeypatch: pytest.MonkeyPatch, migrated_db_url: str, command: str
) -> None:
    with psycopg.connect(migrated_db_url, autocommit=True) as c:
        c.execute("UPDATE alembic_version SET version_num = %s", (FUTURE,))
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    result = runner.invoke(app, command.split())
    assert result.exit_code != 0, result.output
    problem = f"database schema {FUTURE} is newer than this rei-sync"
    if command == "doctor":
        assert problem in result.stdout
    else:
        assert result.output.strip().splitlines() == [
            f"error: {problem} (head {head_revision()}): upgrade rei-sync, it will not use a "
            "schema it does not know"
        ]
    with psycopg.connect(migrated_db_url) as c:
        assert c.execute("SELECT version_num FROM alembic_version").fetchall() == [(FUTURE,)]
