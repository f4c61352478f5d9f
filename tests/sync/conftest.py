"""Sync-engine fixtures: a sandbox on 127.0.0.1 started per test, a fresh migrated database,
and a client whose retries never really sleep."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import requests
import sqlalchemy as sa

from worker.api.client import ReiClient
from worker.auth.build import build_token_manager
from worker.config import Settings, load_settings
from worker.retry import RetryPolicy
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sinks.postgres import PostgresSink
from worker.sync.engine import RunResult, SyncOptions, sync_entity

BRAND = "AZURA"
LISTINGS = 150
ASSOCIATES = 30
TAKE = 20


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        seed=1, listings=LISTINGS, associates=ASSOCIATES, images_per_listing=2, brands=(BRAND,)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, migrated_db_url: str) -> Settings:
    env = {**sandbox.env(), "DATABASE_URL": migrated_db_url, "REI_PAGE_SIZE": str(TAKE)}
    return load_settings(environ=env, env_file=None)


class Harness:
    """One brand's client + store, and the sandbox's admin API."""

    def __init__(self, sandbox: SandboxServer, settings: Settings, engine: sa.Engine) -> None:
        self.sandbox = sandbox
        self.engine = engine
        self.store = PostgresSink(engine)
        self.session = requests.Session()
        retry = RetryPolicy(max_attempts=12, sleep=lambda _: None, rng=random.Random(3))
        self.client = ReiClient(
            settings.brand(BRAND),
            build_token_manager(settings, session=self.session),
            session=self.session,
            retry=retry,
            read_timeout=5,
        )

    def sync(self, entity: str, **options: Any) -> RunResult:
        return sync_entity(
            self.client,
            self.store,
            entity,
            options=SyncOptions(take=TAKE, **options),
        )

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.sandbox.admin_url}/{path}", json=body, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def truth(self, entity: str) -> list[dict[str, Any]]:
        response = self.session.get(
            f"{self.sandbox.admin_url}/truth",
            params={"brand": BRAND, "entity": entity},
            timeout=30,
        )
        response.raise_for_status()
        return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]

    def epoch(self, **churn: float) -> dict[str, dict[str, int]]:
        answer = self.admin("POST", "epoch", churn)
        return dict(answer["brands"][BRAND])

    def faults(self, **knobs: Any) -> None:
        self.admin("POST", "faults", knobs)

    def query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar_one()

    def row_versions(self, table: str) -> set[tuple[str, str]]:
        """(ctid, xmin) of every row: any rewrite of a row changes both."""
        return {
            (str(r[0]), str(r[1]))
            for r in self.query(f"SELECT ctid::text, xmin::text FROM {table}")
        }


@pytest.fixture
def harness(sandbox: SandboxServer, settings: Settings, db_engine: sa.Engine) -> Iterator[Harness]:
    h = Harness(sandbox, settings, db_engine)
    yield h
    h.session.close()


@pytest.fixture(params=["postgres", "supabase"])
def harness_on_each_store(
    request: pytest.FixtureRequest,
    sandbox: SandboxServer,
    settings: Settings,
    db_engine: sa.Engine,
    migrated_db_url: str,
) -> Iterator[Harness]:
    """`harness`, once with the Postgres sink and once with the REST sink (through the
    PostgREST test double backed by the same database)."""
    # Imported here: tests.supabase.test_sink_contract itself imports this module.
    from tests.supabase.postgrest_double import PostgrestDouble
    from tests.supabase.test_sink_contract import SERVICE_ROLE_KEY, Sleeps, make_supabase_sink

    h = Harness(sandbox, settings, db_engine)
    try:
        if request.param == "postgres":
            yield h
        else:
            with PostgrestDouble(migrated_db_url, SERVICE_ROLE_KEY, max_rows=50) as api:
                h.store = make_supabase_sink(api, Sleeps())
                yield h
    finally:
        h.session.close()


Check = Callable[[Harness], None]
