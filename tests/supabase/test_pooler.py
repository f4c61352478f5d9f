"""Everything through a real pgbouncer in transaction mode (what Supabase's pooler is):
migrations, a full sync of the sandbox, the token refresh race between processes, and two
competing daemons.

Through such a pooler every transaction may land on a different server connection:
no server-side prepared statements, no session state, no session advisory locks.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
import requests
import sqlalchemy as sa
from psycopg import errors

from tests.auth.conftest import Sandbox, SecretLedger
from tests.auth.replica import run_replica
from tests.conftest import _admin, with_database
from tests.daemon.conftest import DaemonFactory, wait_for
from tests.daemon.conftest import daemon_env as daemon_env
from tests.daemon.conftest import start_daemon as start_daemon
from tests.supabase.conftest import Pooler
from tests.sync.conftest import BRAND, Harness
from tests.sync.truth import assert_matches_truth
from worker.auth.crypto import generate_key
from worker.config import BRAND_VAR, load_settings
from worker.db.engine import create_db_engine
from worker.db.migrate import current_revision, head_revision
from worker.sandbox import SandboxConfig, SandboxServer

pytestmark = pytest.mark.slow

EnvFactory = Callable[..., dict[str, str]]
ENTITIES = ("properties", "associates", "lookups", "geo")


def _alternate(connections: list[psycopg.Connection[tuple[object, ...]]]) -> None:
    """The same statement, one transaction at a time on each client, past psycopg's
    prepare threshold: behind the pooler the clients trade server connections."""
    for i in range(8):
        for connection in connections:
            with connection.transaction():
                connection.execute("SELECT count(*) FROM properties WHERE listing_id > %s", (i,))


def test_the_pooler_is_real_and_the_engine_survives_it(
    pgbouncer: Pooler, pooled_db_url: str, pooled_engine: sa.Engine
) -> None:
    config = {str(row[0]): str(row[1]) for row in pgbouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction"
    # psycopg's default (server-side prepared statements) breaks through it ...
    naive = [psycopg.connect(pooled_db_url) for _ in range(2)]
    try:
        with pytest.raises((errors.DuplicatePreparedStatement, errors.InvalidSqlStatementName)):
            _alternate(naive)
    finally:
        for connection in naive:
            connection.close()
    # ... the engine built for DATABASE_POOLER=transaction never prepares.
    with pooled_engine.connect() as one, pooled_engine.connect() as two:
        drivers = [c.connection.driver_connection for c in (one, two)]
        assert all(isinstance(d, psycopg.Connection) for d in drivers)
        assert all(d.prepare_threshold is None for d in drivers)  # type: ignore[union-attr]
        one.rollback()
        two.rollback()
        _alternate(drivers)  # type: ignore[arg-type]


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    name = f"reisync_pool_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f'CREATE DATABASE "{name}"')
    yield with_database(pg_server_url, name)
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_rei_sync_migrate_through_the_pooler(pgbouncer: Pooler, empty_db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not BRAND_VAR.match(k)}
    env |= {"DATABASE_URL": pgbouncer.url_for(empty_db_url), "DATABASE_POOLER": "transaction"}
    for _ in range(2):  # the second run finds nothing to do
        done = subprocess.run(
            [sys.executable, "-m", "worker", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    engine = create_db_engine(empty_db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


@pytest.fixture
def pooled_harness(
    pgbouncer: Pooler, migrated_db_url: str, pooled_engine: sa.Engine
) -> Iterator[Harness]:
    config = SandboxConfig(
        seed=1, listings=120, associates=20, images_per_listing=2, brands=(BRAND,)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        env = {
            **server.env(),
            "DATABASE_URL": pgbouncer.url_for(migrated_db_url),
            "DATABASE_POOLER": "transaction",
            "REI_PAGE_SIZE": "20",
        }
        settings = load_settings(environ=env, env_file=None)
        harness = Harness(server, settings, pooled_engine)
        try:
            yield harness
        finally:
            harness.session.close()


def test_full_sync_through_the_pooler_equals_truth(pooled_harness: Harness) -> None:
    h = pooled_harness
    assert {entity: h.sync(entity).status for entity in ENTITIES} == dict.fromkeys(
        ENTITIES, "succeeded"
    )
    for entity in (*ENTITIES, "images"):
        assert_matches_truth(h, entity)
    churn = h.epoch(changed=0.05, removed=0.02, added=0.03)
    again = h.sync("properties", full_images=True)
    assert again.status == "succeeded"
    p = churn["properties"]
    assert (again.counts.inserted, again.counts.updated, again.counts.delisted) == (
        p["added"],
        p["changed"],
        p["removed"],
    )
    assert_matches_truth(h, "properties")
    assert_matches_truth(h, "images")
    # a steady-state run writes nothing but its run row
    steady = h.sync("properties")
    assert (steady.counts.inserted, steady.counts.updated, steady.counts.delisted) == (0, 0, 0)


def test_token_refresh_race_between_processes_through_the_pooler(
    pgbouncer: Pooler, migrated_db_url: str
) -> None:
    ledger = SecretLedger()
    key = generate_key()
    with SandboxServer(SandboxConfig(seed=11), host="127.0.0.1", port=0).start() as server:
        sandbox = Sandbox(server, ledger)
        sandbox.admin("faults", {"token_latency_seconds": 0.5})
        env = {**server.env(), "DATABASE_POOLER": "transaction"}
        context = multiprocessing.get_context("fork")
        replicas = 4
        start = context.Barrier(replicas)
        results = context.Queue()
        processes = [
            context.Process(
                target=run_replica,
                args=(env, pgbouncer.url_for(migrated_db_url), key, start, results),
            )
            for _ in range(replicas)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [p.exitcode for p in processes] == [0] * replicas
        assert len({results.get(timeout=5) for _ in range(replicas)}) == 1
        assert sandbox.auth_calls() == 1


def test_two_daemons_through_the_pooler_never_overlap_a_job(
    pgbouncer: Pooler,
    migrated_db_url: str,
    daemon_env: EnvFactory,
    start_daemon: DaemonFactory,
    db_engine: sa.Engine,
) -> None:
    config = SandboxConfig(seed=1, listings=60, associates=10, token_ttl=3600)
    with SandboxServer(config, port=0).start() as sandbox:
        env = daemon_env(
            sandbox,
            DATABASE_URL=pgbouncer.url_for(migrated_db_url),
            DATABASE_POOLER="transaction",
            RUN_AT_START="1",
            SYNC_PROPERTIES_SCHEDULE="2s",
            SYNC_ASSOCIATES_SCHEDULE="2s",
        )
        first, second = start_daemon(env), start_daemon(env)

        def finished_runs() -> int:
            with db_engine.connect() as c:
                values = list(
                    c.execute(
                        sa.text(
                            "SELECT count(*) FROM sync_runs WHERE status LIKE 'succeeded%' "
                            "GROUP BY brand, entity"
                        )
                    ).scalars()
                )
            return min(values) if len(values) == 4 else 0

        wait_for(lambda: finished_runs() >= 3, 45, "three successful runs of every job")
        assert first.terminate() == 0
        assert second.terminate() == 0
        with db_engine.connect() as c:
            overlaps = c.execute(
                sa.text(
                    """
                    SELECT a.id, b.id FROM sync_runs a JOIN sync_runs b
                      ON a.brand = b.brand AND a.entity = b.entity AND a.id < b.id
                     AND tstzrange(a.started_at, a.finished_at)
                      && tstzrange(b.started_at, b.finished_at)
                    """
                )
            ).all()
            failed = c.execute(
                sa.text("SELECT count(*) FROM sync_runs WHERE status = 'failed'")
            ).scalar_one()
        assert overlaps == []
        assert failed == 0
        auth = requests.get(f"{sandbox.admin_url}/stats", timeout=5).json()["auth_calls"]
        assert auth == {"AZURA": 1, "BLUE_OCEAN": 1}
        errors = [line for d in (first, second) for line in d.lines if line.get("level") == "error"]
        assert errors == []
