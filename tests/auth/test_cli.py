"""`rei-sync token …` in-process, against the sandbox and a real Postgres."""

from __future__ import annotations

import io
import json
import secrets
import socket
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from tests.auth.conftest import Sandbox, SecretLedger
from tests.conftest import with_database
from worker.auth.crypto import generate_key
from worker.cli.token import token_app
from worker.db.migrate import head_revision

runner = CliRunner()


@pytest.fixture
def cli_env(
    sandbox: Sandbox,
    migrated_db_url: str,
    ledger: SecretLedger,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    key = generate_key()
    ledger.add(key)
    env = {
        **sandbox.server.env(),
        "DATABASE_URL": migrated_db_url,
        "TOKEN_ENCRYPTION_KEY": key,
        "LOG_FORMAT": "json",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_gen_key_prints_one_valid_fernet_key() -> None:
    result = runner.invoke(token_app, ["gen-key"])
    assert result.exit_code == 0
    key = result.stdout.strip()
    Fernet(key.encode())
    assert "\n" not in key


def test_refresh_then_status_show_fingerprints_from_the_shared_store(
    cli_env: dict[str, str], sandbox: Sandbox, ledger: SecretLedger
) -> None:
    refreshed = runner.invoke(token_app, ["refresh", "--brand", "azura"])
    assert refreshed.exit_code == 0, refreshed.output
    assert "AZURA" in refreshed.stdout
    assert "BLUE_OCEAN" not in refreshed.stdout
    assert sandbox.auth_calls("AZURA") == 1
    status = runner.invoke(token_app, ["status"])
    assert status.exit_code == 0, status.output
    assert "FRESH" in status.stdout
    assert "MISSING" in status.stdout
    assert "postgres" in status.stdout
    assert sandbox.auth_calls("AZURA") == 1, "status must read the store, not ask the API"
    for output in (refreshed.output, status.output):
        ledger.assert_clean(output, "CLI output")


def test_refresh_with_refused_keys_exits_1_with_one_line(
    cli_env: dict[str, str], sandbox: Sandbox, ledger: SecretLedger
) -> None:
    sandbox.admin("keys", {"brand": "BLUE_OCEAN", "revoked": True})
    result = runner.invoke(token_app, ["refresh"])
    assert result.exit_code == 1
    assert "BLUE_OCEAN: token request refused" in result.stderr
    ledger.assert_clean(result.output, "CLI output")


def test_config_errors_exit_2_with_one_line(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, ledger: SecretLedger
) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", "not-a-fernet-key")
    result = runner.invoke(token_app, ["status"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "gen-key" in result.stderr
    assert "not-a-fernet-key" not in result.output
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY")
    result = runner.invoke(token_app, ["refresh", "--store", "postgres"])
    assert result.exit_code == 2
    assert "TOKEN_ENCRYPTION_KEY" in result.stderr
    assert "gen-key" in result.stderr
    result = runner.invoke(token_app, ["refresh", "--brand", "NOPE", "--store", "memory"])
    assert result.exit_code == 2
    assert "unknown brand" in result.stderr


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize("args", [["token", "status"], ["token", "refresh"], ["migrate"]])
def test_an_unreachable_database_is_one_line_and_exit_1(
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    ledger: SecretLedger,
    args: list[str],
) -> None:
    from worker.cli.app import app

    password = "db-pass-" + secrets.token_hex(6)
    ledger.add(password)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://sync:{password}@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: database: ")
    assert result.stderr.count("\n") == 1
    ledger.output("CLI output", result.output)


def test_status_does_not_migrate_and_names_rei_sync_migrate(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, pg_server_url: str
) -> None:
    name = f"reisync_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        monkeypatch.setenv("DATABASE_URL", with_database(pg_server_url, name))
        result = runner.invoke(token_app, ["status"])
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [
            "error: database schema is at empty (no migration applied), head is "
            f"{head_revision()}: run `rei-sync migrate`"
        ]
        with psycopg.connect(with_database(pg_server_url, name)) as connection:
            tables = connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,), "token status created tables"
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_run_refuses_to_start_without_an_encryption_key(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker.cli.app import app

    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY")
    # an unreachable database: the key is checked before any connection is tried
    monkeypatch.setenv("DATABASE_URL", f"postgresql://sync@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("config error: TOKEN_ENCRYPTION_KEY")
    assert "rei-sync token gen-key" in result.stderr
    assert result.stderr.count("\n") == 1


def test_manual_commands_say_which_token_store_they_use_in_one_info_line(
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    pg_engine: sa.Engine,
    leak_guard: io.StringIO,
) -> None:
    from worker.auth.build import build_token_store
    from worker.config import load_settings

    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY")
    store = build_token_store(load_settings(env_file=None), pg_engine)
    assert store.name == "memory"
    lines = [json.loads(line) for line in leak_guard.getvalue().splitlines()]
    said = [line for line in lines if line["event"] == "tokens.store"]
    assert len(said) == 1
    assert said[0]["level"] == "info"
    assert said[0]["store"] == "memory"
    assert not [line for line in lines if line["level"] == "warning"]


def test_store_is_one_of_three_names_in_any_case(cli_env: dict[str, str]) -> None:
    bad = runner.invoke(token_app, ["status", "--store", "bogus"])
    assert bad.exit_code == 2
    assert "auto" in bad.output
    assert "memory" in bad.output
    good = runner.invoke(token_app, ["refresh", "--brand", "azura", "--store", "MEMORY"])
    assert good.exit_code == 0, good.output
    assert "memory" in good.stdout
