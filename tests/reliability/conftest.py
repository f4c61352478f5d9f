"""The reliability suite's fixtures.

- `leak_guard` (autouse, from tests/leak_guard.py): no key, secret, service-role key or
  sandbox-issued token in any log line, error text, recorded output or metrics page.
- `make_sandbox`: sandboxes on 127.0.0.1 whose every issued token goes into the ledger.
- `World`: one database + token manager + a client per brand, syncing every entity of
  every brand, retries recorded instead of slept.
- `reference`: the checksum of a fault-free run on the same sandbox seed and epoch.
- `figures`: what each scenario observed; written to docs/reliability-results.json and
  rendered to docs/RELIABILITY.md at the end of the session (tests/reliability/report.py).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401 - imported up front: a late import at the terminal summary broke the AST parser once
import orjson
import pytest
import requests
import sqlalchemy as sa

from tests.conftest import _admin, with_database
from tests.leak_guard import SecretLedger, leak_guard_fixture, ledger_fixture, watch_sandbox
from tests.reliability import report
from tests.reliability.checksum import Checksum, checksum
from worker.api.client import ReiClient
from worker.auth import TokenManager
from worker.auth.build import build_token_manager
from worker.auth.store import TokenStore
from worker.config import Settings, load_settings
from worker.db.engine import create_db_engine
from worker.retry import RetryPolicy
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sinks.postgres import PostgresSink
from worker.sync.engine import ProgressCallback, RunResult, SyncOptions, sync_entity

__all__ = ["leak_guard_fixture", "ledger_fixture"]

BRANDS = ("AZURA", "BLUE_OCEAN")
ENTITIES = ("properties", "associates", "lookups", "geo")
TAKE = 20
BASE = {"seed": 21, "listings": 120, "associates": 20, "images_per_listing": 2, "brands": BRANDS}
"""Every scenario's sandbox: the same seed and sizes, so the same fault-free checksum."""
SERVICE_ROLE_KEY = "sb-service-role-" + secrets.token_hex(24)
"""A fake Supabase service-role key present in every test's settings, for the leak guard."""

ROOT = Path(__file__).resolve().parents[2]
PUBLISH = os.environ.get("REI_RELIABILITY_REPORT") == "1"
"""`make reliability-report` sets it: the figures then update the committed docs/ report.
Otherwise they go to test-artifacts/, so an ordinary test run leaves the tree clean."""
RESULTS = ROOT / ("docs" if PUBLISH else "test-artifacts") / "reliability-results.json"
REPORT = RESULTS.with_name("RELIABILITY.md")


def sandbox_config(**overrides: Any) -> SandboxConfig:
    return SandboxConfig(**{**BASE, **overrides})


SandboxFactory = Callable[..., SandboxServer]


@pytest.fixture
def make_sandbox(ledger: SecretLedger) -> Iterator[SandboxFactory]:
    started: list[SandboxServer] = []

    def make(**overrides: Any) -> SandboxServer:
        server = SandboxServer(sandbox_config(**overrides), host="127.0.0.1", port=0).start()
        started.append(server)
        return watch_sandbox(server, ledger)

    yield make
    for server in started:
        server.stop()


def admin(server: SandboxServer, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{server.admin_url}/{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def auth_calls(server: SandboxServer) -> dict[str, int]:
    return {b: int(n) for b, n in admin(server, "GET", "stats")["auth_calls"].items()}


def truth(server: SandboxServer, brand: str, entity: str) -> list[Any]:
    response = requests.get(
        f"{server.admin_url}/truth", params={"brand": brand, "entity": entity}, timeout=30
    )
    response.raise_for_status()
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


def base_env(server: SandboxServer, db_url: str, **extra: str) -> dict[str, str]:
    return {
        **server.env(),
        "DATABASE_URL": db_url,
        "REI_PAGE_SIZE": str(TAKE),
        "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
        **extra,
    }


class World:
    """One database and one worker (token manager + a client per brand) on one sandbox."""

    def __init__(
        self,
        server: SandboxServer,
        db_url: str,
        ledger: SecretLedger,
        *,
        read_timeout: float = 5.0,
        max_attempts: int = 12,
        tokens: Callable[[Settings, requests.Session], TokenManager] | None = None,
        store: TokenStore | None = None,
        parallelism: int = 4,
    ) -> None:
        self.server = server
        self.db_url = db_url
        self.settings = load_settings(environ=base_env(server, db_url), env_file=None)
        ledger.add(SERVICE_ROLE_KEY)
        self.engine = create_db_engine(db_url)
        self.sink = PostgresSink(self.engine)
        self.session = requests.Session()
        self.waits: list[float] = []
        self.on_wait: Callable[[float], None] | None = None
        """Called with each recorded wait (the scenario's virtual time moves by it)."""
        self._waits_lock = threading.Lock()
        self.tokens = (
            tokens(self.settings, self.session)
            if tokens is not None
            else build_token_manager(self.settings, store=store, session=self.session)
        )
        retry = RetryPolicy(
            max_attempts=max_attempts, sleep=self._record_wait, rng=random.Random(7)
        )
        self.clients = {
            b.key: ReiClient(
                b,
                self.tokens,
                session=self.session,
                retry=retry,
                connect_timeout=2.0,
                read_timeout=read_timeout,
            )
            for b in self.settings.brands
        }
        self.options = SyncOptions(take=TAKE, parallelism=parallelism)
        self.results: list[RunResult] = []

    def _record_wait(self, seconds: float) -> None:
        """The retry policy's sleep: recorded, not slept (the sandbox needs no real pause)."""
        with self._waits_lock:
            self.waits.append(seconds)
            if self.on_wait is not None:
                self.on_wait(seconds)

    @property
    def retries(self) -> int:
        return len(self.waits)

    def sync(
        self, brand: str, entity: str, on_progress: ProgressCallback | None = None, **kw: Any
    ) -> RunResult:
        result = sync_entity(
            self.clients[brand],
            self.sink,
            entity,
            options=self.options,
            on_progress=on_progress,
            **kw,
        )
        self.results.append(result)
        return result

    def sync_all(
        self, on_progress: ProgressCallback | None = None, entities: Sequence[str] = ENTITIES
    ) -> list[RunResult]:
        return [self.sync(b, e, on_progress) for b in BRANDS for e in entities]

    def checksum(self) -> Checksum:
        return checksum(self.engine)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar_one()

    def faults(self, **knobs: Any) -> None:
        admin(self.server, "POST", "faults", knobs)

    def close(self) -> None:
        self.tokens.close(timeout=10)
        self.session.close()
        self.engine.dispose()


WorldFactory = Callable[..., World]


@pytest.fixture
def make_world(migrated_db_url: str, ledger: SecretLedger) -> Iterator[WorldFactory]:
    worlds: list[World] = []

    def make(server: SandboxServer, db_url: str | None = None, **kw: Any) -> World:
        world = World(server, db_url or migrated_db_url, ledger, **kw)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


class Databases:
    """Extra fresh migrated databases on the test server (for references), dropped at the end."""

    def __init__(self, server_url: str, template: str) -> None:
        self.server_url = server_url
        self.template = template
        self.names: list[str] = []

    def create(self) -> str:
        name = f"reisync_rel_{uuid.uuid4().hex[:12]}"
        _admin(self.server_url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.names.append(name)
        return with_database(self.server_url, name)

    def drop_all(self) -> None:
        for name in self.names:
            _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


class Reference:
    """Fault-free checksums: of a fresh sandbox with a given config (cached for the
    session, the data being a function of seed and sizes), or of a live sandbox now."""

    def __init__(self, databases: Databases) -> None:
        self.databases = databases
        self._cache: dict[str, Checksum] = {}

    def of_config(self, ledger: SecretLedger, **overrides: Any) -> Checksum:
        key = repr(sorted(overrides.items()))
        if key not in self._cache:
            with SandboxServer(sandbox_config(**overrides), host="127.0.0.1", port=0) as server:
                server.start()
                watch_sandbox(server, ledger)
                self._cache[key] = self.of_live(server, ledger)
        return self._cache[key]

    def of_live(self, server: SandboxServer, ledger: SecretLedger) -> Checksum:
        """A fault-free full sync of `server` as it is now into a fresh database."""
        saved = admin(server, "GET", "faults")
        admin(server, "POST", "faults/reset")
        world = World(server, self.databases.create(), ledger)
        try:
            results = world.sync_all()
            assert {r.status for r in results} == {"succeeded"}, [r.error for r in results]
            return world.checksum()
        finally:
            world.close()
            admin(server, "POST", "faults", {k: v for k, v in saved.items() if k != "fault_seed"})


@pytest.fixture(scope="session")
def reference_databases(pg_server_url: str, template_database: str) -> Iterator[Databases]:
    databases = Databases(pg_server_url, template_database)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def reference(reference_databases: Databases) -> Reference:
    return Reference(reference_databases)


class Figures:
    """What each scenario observed, for docs/reliability-results.json."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.scenarios: dict[str, dict[str, Any]] = {}

    def record(self, number: int, name: str, **observed: Any) -> dict[str, Any]:
        entry = {"number": number, "name": name, **observed}
        self.scenarios[f"{number:02d}"] = entry
        return entry


@pytest.fixture(scope="session", autouse=True)
def figures() -> Iterator[Figures]:
    found = Figures()
    yield found
    if found.scenarios:
        RESULTS.parent.mkdir(exist_ok=True)
        report.merge(RESULTS, found.scenarios, suite_seconds=time.monotonic() - found.started)
        report.write(RESULTS, REPORT)


def run_figures(results: Sequence[RunResult]) -> dict[str, int]:
    return {
        "runs": len(results),
        "failed_runs": sum(1 for r in results if r.status == "failed"),
    }
