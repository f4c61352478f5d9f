"""`rei-sync token …` in-process, against the sandbox and a real Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from tests.auth.conftest import Sandbox, SecretLedger
from worker.auth.cli import token_app
from worker.auth.crypto import generate_key

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
