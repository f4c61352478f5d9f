"""Pooled connections: pinged before reuse only after sitting idle (`ping_idle_connections`);
one that died while idle is replaced, one in steady use costs no extra round trip; and the
sink's one-statement reads and the checkpoint run without a transaction around them."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from worker.db.engine import PING_AFTER_IDLE_SECONDS, create_db_engine, libpq_url


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(migrated_db_url: str) -> Iterator[tuple[sa.Engine, Clock]]:
    clock = Clock()
    engine = create_db_engine(migrated_db_url, pool_size=1, clock=clock)
    yield engine, clock
    engine.dispose()


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def terminate(url: str, pid: int) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            admin.execute("SELECT pg_stat_clear_snapshot()")


def test_a_connection_that_died_while_idle_is_replaced(
    clocked: tuple[sa.Engine, Clock], migrated_db_url: str
) -> None:
    engine, clock = clocked
    first = backend_pid(engine)
    terminate(migrated_db_url, first)
    clock.now += PING_AFTER_IDLE_SECONDS
    assert backend_pid(engine) != first


def test_a_connection_in_steady_use_is_not_pinged(
    clocked: tuple[sa.Engine, Clock], migrated_db_url: str
) -> None:
    """Checked out again at once, the dead connection is handed out unpinged: its use fails
    (and SQLAlchemy replaces it), which is what shows that no ping ran."""
    engine, clock = clocked
    first = backend_pid(engine)
    terminate(migrated_db_url, first)
    clock.now += PING_AFTER_IDLE_SECONDS / 2
    with pytest.raises(sa.exc.OperationalError):
        backend_pid(engine)
    assert backend_pid(engine) != first
