"""The CLI in-process (CliRunner) and as a subprocess, against the sandbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import overload

import pytest
from typer.testing import CliRunner

from worker.cli.app import app
from worker.sandbox import SandboxConfig, SandboxServer

runner = CliRunner()
SECRET = "top-secret-value-123"
COMMANDS = [
    "sync",
    "backfill",
    "runs",
    "migrate",
    "demo",
    "sandbox",
    "run",
    "doctor",
    "config",
    "runs show",
    "status",
    "token",
    "token status",
    "token refresh",
    "token gen-key",
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer `.env` and no inherited REMAX_*/DATABASE_URL variables."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("REMAX_") or name in ("DATABASE_URL", "REI_BRANDS"):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=3, listings=120, associates=15), port=0).start() as srv:
        yield srv


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command.split()[0] in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_missing_brand_key_exits_2_with_one_line_and_no_secret(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REMAX_AZURA_API_URL", "https://remax-cca.com/api/v1")
    monkeypatch.setenv("REMAX_AZURA_API_KEY", SECRET)
    monkeypatch.setenv("REMAX_AZURA_SECRET_KEY", SECRET)
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "config error: REMAX_AZURA_INTEGRATOR_ID: missing or empty (brand AZURA)"
    ]
    assert SECRET not in result.output


def test_non_integer_buffer_exits_2(
    clean_env: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TOKEN_REFRESH_BUFFER_MINUTES", "half-an-hour")
    result = runner.invoke(app, ["sync"])
    assert result.exit_code == 2
    assert "TOKEN_REFRESH_BUFFER_MINUTES" in result.output
    assert all(v not in result.output for v in sandbox.env().values() if "http" not in v)


def test_unknown_entity_is_a_usage_error() -> None:
    assert runner.invoke(app, ["sync", "--entity", "boats"]).exit_code == 2


def test_sync_into_a_real_database(
    clean_env: Path, sandbox: SandboxServer, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("COLUMNS", "200")
    first = runner.invoke(app, ["sync", "--brand", "AZURA"])
    assert first.exit_code == 0, first.output
    assert summary(first.output)[("AZURA", "properties")] == (120, 120)
    second = runner.invoke(app, ["sync", "--brand", "azura", "--entity", "properties"])
    assert second.exit_code == 0, second.output
    assert summary(second.output) == {("AZURA", "properties"): (120, 0)}
    assert all(
        v not in first.output + second.output for v in sandbox.env().values() if "http" not in v
    )


@pytest.mark.timeout(420)  # two demos, each starting an embedded Postgres, on a busy machine
def test_demo_twice_on_the_embedded_database(tmp_path: Path) -> None:
    """The Quick start's first command, as a newcomer runs it: embedded Postgres, sandbox, twice."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REMAX_") and k not in ("DATABASE_URL", "REI_BRANDS")
    }
    tmp_path.chmod(0o755)  # as root, the embedded server runs as its own system user
    env.update({"REI_SYNC_HOME": str(tmp_path / "home"), "COLUMNS": "200"})
    env.pop("LOG_LEVEL", None)
    command = [sys.executable, "-m", "worker", "demo", "--listings", "150", "--associates", "20"]
    runs = [
        subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    first, second = summary(runs[0].stdout), summary(runs[1].stdout)
    for brand in ("AZURA", "BLUE_OCEAN"):
        for entity in ("properties", "associates"):
            seen, inserted = first[(brand, entity)]
            assert seen > 0
            assert inserted == seen
    assert {key: inserted for key, (_, inserted) in second.items()} == dict.fromkeys(first, 0)
    steps = [line for line in runs[0].stdout.splitlines() if line.startswith("[")]
    assert [step[:5] for step in steps] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert str(tmp_path / "home") in steps[2]  # where the embedded Postgres keeps its data
    assert '"level": "info"' not in runs[0].stderr  # the steps say it; INFO logs when asked
    images = summary(runs[0].stdout, "images")
    assert all(images[(brand, "properties")] > 0 for brand in ("AZURA", "BLUE_OCEAN"))
    assert summary(runs[1].stdout, "images").get(("AZURA", "properties"), 0) == 0


@overload
def summary(output: str) -> dict[tuple[str, str], tuple[int, int]]: ...
@overload
def summary(output: str, column: str) -> dict[tuple[str, str], int]: ...
def summary(output: str, column: str | None = None) -> Mapping[tuple[str, str], object]:
    """(brand, entity) → (seen, inserted) from the summary table, or → that `column`."""
    rows: dict[tuple[str, str], object] = {}
    header: list[str] = []
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line)[1:-1]]
        if {"brand", "entity", "seen", "inserted"} <= set(cells):
            header = cells
        elif header and len(cells) == len(header):
            row = dict(zip(header, cells, strict=True))
            key = (row["brand"], row["entity"])
            if column is None:
                rows[key] = (int(row["seen"]), int(row["inserted"]))
            elif row[column]:
                rows[key] = int(row[column])
    return rows


def test_migrate_needs_no_brands_even_with_a_half_filled_env(
    clean_env: Path, migrated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "REMAX_AZURA_API_URL=https://remax-cca.com/api/v1\nREMAX_AZURA_API_KEY=\n"
    )
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    result = runner.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "migrated" in result.output
