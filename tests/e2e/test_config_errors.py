"""Bad configuration, as an operator meets it: every problem at once, one line each, exit 2,
and never a character of a secret. In-process (CliRunner), no database needed."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from worker.auth.crypto import generate_key
from worker.cli.app import app

runner = CliRunner()
BRAND = {
    "REMAX_AZURA_API_URL": "https://remax-cca.com/api/v1",
    "REMAX_AZURA_API_KEY": "k-0000-azura-api-key",
    "REMAX_AZURA_INTEGRATOR_ID": "i-0000-azura-integrator",
    "REMAX_AZURA_SECRET_KEY": "s-0000-azura-secret",
}
DATA_COMMANDS = ["run", "sync", "backfill --brand AZURA", "runs", "status", "migrate", "doctor"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer `.env`, none of our variables inherited: only what each test sets."""
    monkeypatch.chdir(tmp_path)
    prefixes = ("REMAX_", "REI_", "SYNC_", "TOKEN_", "DATABASE_", "SUPABASE_", "LOG_", "HEALTH_")
    for name in list(os.environ):
        if name.startswith(prefixes):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", generate_key())
    for name, value in BRAND.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def lines(output: str) -> list[str]:
    return [line for line in output.strip().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://user:pw@127.0.0.1/db", "unsupported scheme mysql"),
        ("not a url", "is not a URL"),
        ("postgresql://user:pw@127.0.0.1:fivefour/db", "invalid port"),
        ("postgresql://user:pw@127.0.0.1:99999/db", "out of range"),
        ("postgresql://user:pw@/db", "has no host"),
    ],
)
def test_a_bad_database_url_is_one_line_naming_it_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 2, result.output
    assert len(lines(result.output)) == 1, result.output
    assert lines(result.output)[0].startswith("config error: DATABASE_URL: ")
    assert problem in result.output
    assert "Traceback" not in result.output
    assert ":pw@" not in result.output


PASSWORD = "Zq@9#xK!w"


@pytest.mark.parametrize("command", ["runs", "status", "migrate", "doctor", "sync"])
def test_no_character_of_a_password_with_at_and_hash_is_ever_printed(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """An unencoded `@`/`#` once made the driver print `failed to resolve host 'xK!w@…'`."""
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei:{PASSWORD}@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, command.split())
    assert result.exit_code in (1, 2), result.output
    assert "127.0.0.1" in result.output  # the host is parsed as the host
    fragments = {PASSWORD[i : i + 3] for i in range(len(PASSWORD) - 2)}
    assert [f for f in fragments if f in result.output] == [], result.output


def test_a_url_encoded_password_is_decoded_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.config import load_settings
    from worker.log import redactor

    monkeypatch.setenv("DATABASE_URL", "postgresql://rei:Zq%409%23xK@127.0.0.1:5432/x")
    settings = load_settings()
    assert "Zq@9#xK" in settings.secret_values()
    redactor.register(settings.secret_values())
    assert "Zq" not in redactor.scrub("postgresql://rei:Zq%409%23xK@127.0.0.1:5432/x")


def test_every_bad_variable_is_reported_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{closed_port()}/x")
    monkeypatch.setenv("HEALTH_PORT", "abc")
    monkeypatch.setenv("REI_PAGE_SIZE", "0")
    monkeypatch.setenv("REMAX_BLUE_API_URL", "ftp://example.com")
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2, result.output
    named = [line.split(":")[1].strip() for line in lines(result.output)]
    assert sorted(named) == sorted(
        [
            "HEALTH_PORT",
            "REI_PAGE_SIZE",
            "REMAX_BLUE_API_URL",
            "REMAX_BLUE_API_KEY",
            "REMAX_BLUE_INTEGRATOR_ID",
            "REMAX_BLUE_SECRET_KEY",
        ]
    ), result.output
    assert all(line.startswith("config error: ") for line in lines(result.output))


@pytest.mark.parametrize("level", ["info", "Debug", "WARNING", "error"])
def test_log_levels_are_accepted_in_any_case(monkeypatch: pytest.MonkeyPatch, level: str) -> None:
    from worker.config import load_settings

    monkeypatch.setenv("LOG_LEVEL", level)
    assert load_settings().log_level == level.upper()


def test_a_mistyped_variable_is_warned_about_with_the_real_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNC_PROPERTY_SCHEDULE", "5m")
    monkeypatch.setenv("REMAX_AZURA_APIKEY", "x")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, ["runs"])
    warnings = [
        json.loads(line)
        for line in lines(result.output)
        if line.startswith("{") and "config.unknown_variable" in line
    ]
    found = {w["variable"]: w["did_you_mean"] for w in warnings}
    assert found == {
        "SYNC_PROPERTY_SCHEDULE": "SYNC_PROPERTIES_SCHEDULE",
        "REMAX_AZURA_APIKEY": "REMAX_AZURA_API_KEY",
    }


def test_unknown_variables_without_a_close_match_get_no_suggestion() -> None:
    from worker.config import unknown_variables

    env = {"REI_WHATEVER_THING": "1", "PATH": "/bin", "REI_BRANDS": "A", "HOME": "/"}
    assert unknown_variables(env) == [("REI_WHATEVER_THING", None)]


@pytest.mark.parametrize("command", DATA_COMMANDS)
def test_without_database_url_data_commands_refuse_naming_it(command: str) -> None:
    """No silent throwaway database: the embedded one only with REI_EMBEDDED_DB=1."""
    result = runner.invoke(app, command.split())
    assert result.exit_code == 2, result.output
    assert "DATABASE_URL: is not set" in result.output
    assert "REI_EMBEDDED_DB=1" in result.output
    assert "db.embedded" not in result.output
    if command != "doctor":
        assert len(lines(result.output)) == 1, result.output


def test_run_without_a_key_says_so_in_plain_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert lines(result.output)[0].startswith("config error: TOKEN_ENCRYPTION_KEY: is not set")
    assert "[REDACTED]" not in result.output


def test_an_invalid_fernet_key_is_named_without_redacting_ordinary_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", "not-a-fernet-key-at-all")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert lines(result.output) == [
        "config error: TOKEN_ENCRYPTION_KEY: key #1 is not a valid Fernet key: create one with "
        "`rei-sync token gen-key` and set TOKEN_ENCRYPTION_KEY"
    ]


@pytest.mark.parametrize("command", ["run", "doctor"])
def test_run_and_doctor_refuse_the_same_bad_schedules(
    monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("SYNC_PROPERTIES_SCHEDULE", "every 15 minutes")
    monkeypatch.setenv("SYNC_GEO_SCHEDULE", "0 99 * * *")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{closed_port()}/x")
    result = runner.invoke(app, [command, *(["--json"] if command == "doctor" else [])])
    assert result.exit_code == 2, result.output
    if command == "doctor":
        body = json.loads(result.stdout)
        failing = [c["detail"] for c in body["checks"] if c["check"] == "configuration"]
    else:
        failing = lines(result.output)
    assert len(failing) == 2, failing
    assert "SYNC_PROPERTIES_SCHEDULE" in failing[0]
    assert "SYNC_GEO_SCHEDULE" in failing[1]


def test_doctor_names_host_and_port_of_an_unreachable_database_and_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db_port, api_port = closed_port(), closed_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei@127.0.0.1:{db_port}/x")
    monkeypatch.setenv("REMAX_AZURA_API_URL", f"http://127.0.0.1:{api_port}/api/v1")
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1, result.output
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert not checks["database"]["ok"]
    assert f"127.0.0.1:{db_port}" in checks["database"]["detail"]
    assert not checks["token AZURA"]["ok"]
    assert f"127.0.0.1:{api_port}" in checks["token AZURA"]["detail"]
    assert f"127.0.0.1:{api_port}" in checks["clock AZURA"]["detail"]


def test_config_shows_each_setting_with_its_source_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.delenv("LOG_FORMAT")
    (clean_env / ".env").write_text("LOG_LEVEL=debug\nREI_PAGE_SIZE=50\n")
    monkeypatch.setenv("REI_PAGE_SIZE", "70")
    monkeypatch.setenv("DATABASE_URL", f"postgresql://rei:{PASSWORD}@db.example:6543/x")
    monkeypatch.setenv("SYNC_PROPERTY_SCHEDULE", "5m")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    rows = {r["variable"]: r for r in body["settings"]}
    assert (rows["LOG_LEVEL"]["value"], rows["LOG_LEVEL"]["source"]) == ("DEBUG", ".env")
    assert (rows["REI_PAGE_SIZE"]["value"], rows["REI_PAGE_SIZE"]["source"]) == (
        "70",
        "environment",
    )
    assert rows["HEALTH_PORT"]["source"] == "default"
    assert rows["TOKEN_ENCRYPTION_KEY"]["value"] == "set (secret)"
    assert "db.example:6543" in rows["DATABASE_URL"]["value"]
    assert body["brands"] == [
        {"brand": "AZURA", "api_url": BRAND["REMAX_AZURA_API_URL"], "source": "environment"}
    ]
    assert body["unknown"] == [
        {"variable": "SYNC_PROPERTY_SCHEDULE", "did_you_mean": "SYNC_PROPERTIES_SCHEDULE"}
    ]
    text = runner.invoke(app, ["config"]).output
    for secret in (*list(BRAND.values())[1:], os.environ["TOKEN_ENCRYPTION_KEY"]):
        assert secret not in result.output + text
    fragments = {PASSWORD[i : i + 3] for i in range(len(PASSWORD) - 2)}
    assert [f for f in fragments if f in result.output + text] == []
    assert "AZURA" in text
