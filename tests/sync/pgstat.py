"""Row-write counters from `pg_stat_user_tables`, read only once the writers' stats are flushed.

Backends flush their table counters to shared memory at most once a second while
busy and up to ~10 s later when idle, so a read right after a run can miss its
writes. `settle` closes the engine's pooled connections (a backend flushes on
exit) and polls, with a deadline, until no other client backend is connected to
the database *and* `sync_runs`' own counters show every run row inserted and
finished: only then are the entity tables' counters complete.
"""

from __future__ import annotations

import threading
import time

import psycopg
import sqlalchemy as sa

Counters = dict[str, tuple[int, int, int, int]]
"""table → (n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd)"""

SETTLE_DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.05


def read(observer: psycopg.Connection) -> Counters:
    observer.execute("SELECT pg_stat_clear_snapshot()")
    rows = observer.execute(
        "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_tup_hot_upd "
        "FROM pg_stat_user_tables WHERE schemaname = 'public'"
    ).fetchall()
    return {str(r[0]): (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def settle(observer: psycopg.Connection, engine: sa.Engine) -> Counters:
    """Close `engine`'s connections, wait until every write is counted, return the counters."""
    engine.dispose()
    deadline = time.monotonic() + SETTLE_DEADLINE_SECONDS
    waiter = threading.Event()
    while True:
        counters = read(observer)
        others = observer.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
        runs = observer.execute("SELECT count(*) FROM sync_runs").fetchone()
        assert others is not None
        assert runs is not None
        inserted, updated, _, _ = counters.get("sync_runs", (0, 0, 0, 0))
        if others[0] == 0 and inserted == runs[0] and updated >= runs[0]:
            return counters
        assert time.monotonic() < deadline, (
            f"stats not flushed: {others[0]} other backends, sync_runs ins={inserted} "
            f"upd={updated} for {runs[0]} runs"
        )
        waiter.wait(POLL_SECONDS)


def delta(before: Counters, after: Counters, tables: tuple[str, ...]) -> Counters:
    zero = (0, 0, 0, 0)
    out: Counters = {}
    for table in tables:
        a, b = after.get(table, zero), before.get(table, zero)
        out[table] = (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])
    return out
