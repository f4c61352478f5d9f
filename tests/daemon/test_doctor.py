"""`rei-sync doctor` as a subprocess against the sandbox and a real (migrated or empty) database."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import with_database
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_\-]{40,}")
"""The sandbox's tokens are 300 url-safe characters; nothing in a table is that long."""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=1, listings=50, associates=5), port=0).start() as srv:
        yield srv


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A reachable database with no migration applied."""
    name = f"reisync_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Doctor:
    def __init__(self, run: subprocess.CompletedProcess[str], env: dict[str, str]) -> None:
        self.code = run.returncode
        self.stdout = run.stdout
        self.output = run.stdout + run.stderr
        self.env = env
        self.rows: dict[str, tuple[str, str]] = {}
        for line in run.stdout.splitlines():
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            if len(cells) == 3 and cells[1] in ("ok", "FAIL"):
                self.rows[cells[0]] = (cells[1], cells[2])

    def result(self, check: str) -> str:
        assert check in self.rows, self.stdout
        return self.rows[check][0]

    def detail(self, check: str) -> str:
        return self.rows[check][1]

    def assert_no_secret(self) -> None:
        secrets = [v for k, v in self.env.items() if k.endswith(("_KEY", "_INTEGRATOR_ID"))]
        assert secrets
        for value in secrets:
            assert value not in self.output
        assert TOKEN_SHAPE.search(self.output) is None, TOKEN_SHAPE.search(self.output)
        assert "Bearer" not in self.output


@pytest.fixture
def doctor(tmp_path: Path) -> Callable[[dict[str, str]], Doctor]:
    def run(env: dict[str, str]) -> Doctor:
        env = {**env, "COLUMNS": "200", "LOG_LEVEL": "DEBUG"}
        completed = subprocess.run(
            [sys.executable, "-m", "worker", "doctor"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        return Doctor(completed, env)

    return run


def test_all_green_exits_0_with_a_table(
    sandbox: SandboxServer, daemon_env: EnvFactory, doctor: Callable[[dict[str, str]], Doctor]
) -> None:
    report = doctor(daemon_env(sandbox))
    assert report.code == 0, report.output
    assert "rei-sync doctor" in report.stdout
    for check in (
        "configuration",
        "database",
        "token AZURA",
        "token BLUE_OCEAN",
        "api url AZURA",
        "api url BLUE_OCEAN",
        "clock AZURA",
        "clock BLUE_OCEAN",
    ):
        assert report.result(check) == "ok", (check, report.stdout)
    assert "head" in report.detail("database")
    assert re.fullmatch(r"skew [+-]?\d+s", report.detail("clock AZURA"))
    report.assert_no_secret()


def test_revoked_keys_fail_naming_the_brand(
    sandbox: SandboxServer, daemon_env: EnvFactory, doctor: Callable[[dict[str, str]], Doctor]
) -> None:
    requests.post(
        f"{sandbox.admin_url}/keys", json={"brand": "AZURA", "revoked": True}, timeout=5
    ).raise_for_status()
    report = doctor(daemon_env(sandbox))
    assert report.code == 1, report.output
    assert report.result("token AZURA") == "FAIL"
    assert "AZURA" in report.detail("token AZURA")
    assert report.result("token BLUE_OCEAN") == "ok"
    assert report.result("database") == "ok"
    report.assert_no_secret()


def test_unmigrated_database_fails_and_tokens_are_still_checked(
    sandbox: SandboxServer,
    daemon_env: EnvFactory,
    empty_db_url: str,
    doctor: Callable[[dict[str, str]], Doctor],
) -> None:
    report = doctor(daemon_env(sandbox, DATABASE_URL=empty_db_url))
    assert report.code == 1, report.output
    assert report.result("database") == "FAIL"
    assert "rei-sync migrate" in report.detail("database")
    assert report.result("token AZURA") == "ok"
    assert report.result("token BLUE_OCEAN") == "ok"
    report.assert_no_secret()


def test_unreachable_database_fails_without_the_password(
    sandbox: SandboxServer, daemon_env: EnvFactory, doctor: Callable[[dict[str, str]], Doctor]
) -> None:
    url = "postgresql://rei:hunter2-not-a-real-one@127.0.0.1:9/nowhere"
    report = doctor(daemon_env(sandbox, DATABASE_URL=url))
    assert report.code == 1, report.output
    assert report.result("database") == "FAIL"
    assert "unreachable" in report.detail("database")
    assert "hunter2-not-a-real-one" not in report.output
    assert report.result("token AZURA") == "ok"


def test_clock_skew_against_the_api_date_header_fails(
    sandbox: SandboxServer, daemon_env: EnvFactory, doctor: Callable[[dict[str, str]], Doctor]
) -> None:
    requests.post(
        f"{sandbox.admin_url}/clock", json={"offset_seconds": 600}, timeout=5
    ).raise_for_status()
    report = doctor(daemon_env(sandbox))
    assert report.code == 1, report.output
    assert report.result("clock AZURA") == "FAIL"
    assert re.fullmatch(r"skew \+(59\d|60\d)s.*", report.detail("clock AZURA"))


def test_plain_http_to_a_remote_host_fails_the_scheme_check(
    sandbox: SandboxServer, daemon_env: EnvFactory, doctor: Callable[[dict[str, str]], Doctor]
) -> None:
    # 0.0.0.0 is not loopback for the config check, and connecting to port 1 is refused at once.
    env = daemon_env(
        sandbox, REMAX_BLUE_OCEAN_API_URL="http://0.0.0.0:1/api/v1", REI_ALLOW_INSECURE_HTTP="1"
    )
    report = doctor(env)
    assert report.code == 1, report.output
    assert report.result("api url AZURA") == "ok"
    assert report.result("api url BLUE_OCEAN") == "FAIL"
    assert "http" in report.detail("api url BLUE_OCEAN")
    assert report.result("token BLUE_OCEAN") == "FAIL"
    assert report.result("clock BLUE_OCEAN") == "FAIL"
    report.assert_no_secret()
