"""Fixtures for the token tests: a fake clock, a counting fake requester, both stores, and a
suite-wide guard that no key, secret or issued token reaches a log line or an exception text."""

from __future__ import annotations

import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.leak_guard import SecretLedger, leak_guard_fixture, ledger_fixture, watch_sandbox

__all__ = ["SecretLedger", "leak_guard_fixture", "ledger_fixture"]
from worker.auth.crypto import TokenCipher, generate_key
from worker.auth.endpoint import HttpTokenRequester, TokenResponse
from worker.auth.postgres import PostgresTokenStore
from worker.auth.store import MemoryTokenStore, TokenStore
from worker.config import Brand, load_settings
from worker.db.engine import create_db_engine
from worker.sandbox import SandboxConfig, SandboxServer

T0 = 1_800_000_000.0
DAY_SECONDS = 86399


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeRequester:
    """Counts calls; issues unique tokens; can fail from a script or hold until released."""

    def __init__(self, ledger: SecretLedger, clock: FakeClock, expires_in: float = 86399) -> None:
        self.ledger = ledger
        self.clock = clock
        self.expires_in = expires_in
        self.calls = 0
        self.call_times: list[float] = []
        self.issued: list[str] = []
        self.script: deque[BaseException | None] = deque()
        self.fail_always: Callable[[], BaseException] | None = None
        self.hold: threading.Event | None = None
        self.entered = threading.Event()
        self.server_date_offset: float | None = None
        self._lock = threading.Lock()

    def __call__(self, brand: Brand) -> TokenResponse:
        with self._lock:
            self.calls += 1
            self.call_times.append(self.clock())
            failure = self.script.popleft() if self.script else None
            if failure is None and self.fail_always is not None:
                failure = self.fail_always()
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(10), "test never released the held token request"
        if failure is not None:
            raise failure
        token = f"{brand.key.lower()}.{secrets.token_urlsafe(48)}"
        self.ledger.add(token)
        with self._lock:
            self.issued.append(token)
        date = None if self.server_date_offset is None else self.clock() + self.server_date_offset
        return TokenResponse(token, self.expires_in, date)


def brand_env(*keys: str, suffix: str = "") -> dict[str, str]:
    env: dict[str, str] = {}
    for key in keys:
        env[f"REMAX_{key}_API_URL"] = "http://127.0.0.1:9/api/v1"
        env[f"REMAX_{key}_API_KEY"] = f"apikey-{key}-{suffix}" + secrets.token_hex(8)
        env[f"REMAX_{key}_INTEGRATOR_ID"] = f"integrator-{key}-" + secrets.token_hex(4)
        env[f"REMAX_{key}_SECRET_KEY"] = f"secret-{key}-" + secrets.token_hex(12)
    return env


def make_brands(ledger: SecretLedger, *keys: str, suffix: str = "") -> tuple[Brand, ...]:
    env = brand_env(*keys, suffix=suffix)
    ledger.add(*(v for k, v in env.items() if not k.endswith("_API_URL")))
    return load_settings(environ=env, env_file=None).brands


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def requester(ledger: SecretLedger, clock: FakeClock) -> FakeRequester:
    return FakeRequester(ledger, clock)


@pytest.fixture
def brands(ledger: SecretLedger) -> tuple[Brand, ...]:
    return make_brands(ledger, "AZURA", "BLUE_OCEAN")


@pytest.fixture
def cipher(ledger: SecretLedger) -> TokenCipher:
    key = generate_key()
    ledger.add(key)
    return TokenCipher([key])


@pytest.fixture
def pg_engine(migrated_db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(migrated_db_url)
    yield engine
    engine.dispose()


StoreFactory = Callable[[], TokenStore]


@pytest.fixture(params=["memory", "postgres"])
def store_factory(request: pytest.FixtureRequest, cipher: TokenCipher) -> StoreFactory:
    """Makes stores that share state, as replicas do: one dict, or one database."""
    if request.param == "memory":
        shared = MemoryTokenStore()
        return lambda: shared
    engine: sa.Engine = request.getfixturevalue("pg_engine")
    return lambda: PostgresTokenStore(engine, cipher)


class Sandbox:
    def __init__(self, server: SandboxServer, ledger: SecretLedger) -> None:
        self.server = server
        env = server.env()
        ledger.add(*(v for k, v in env.items() if not k.endswith("_API_URL")))
        self.brands: tuple[Brand, ...] = load_settings(environ=env, env_file=None).brands

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.server.admin_url}/{path}"
        response = (
            requests.post(url, json=body or {}, timeout=5)
            if body is not None
            else (requests.get(url, timeout=5))
        )
        response.raise_for_status()
        return response.json()

    def auth_calls(self, brand: str = "AZURA") -> int:
        return int(self.admin("stats")["auth_calls"].get(brand, 0))


class RecordingRequester:
    """The real HTTP requester; every token it receives goes into the leak ledger."""

    def __init__(self, ledger: SecretLedger) -> None:
        self._inner = HttpTokenRequester()
        self._ledger = ledger

    def __call__(self, brand: Brand) -> TokenResponse:
        response = self._inner(brand)
        self._ledger.add(response.access_token)
        return response


@pytest.fixture
def sandbox(ledger: SecretLedger) -> Iterator[Sandbox]:
    with SandboxServer(SandboxConfig(seed=11), host="127.0.0.1", port=0).start() as server:
        yield Sandbox(watch_sandbox(server, ledger), ledger)
