"""Job leases in Postgres: exactly one replica runs a job key at a time (DESIGN decision 8).

A lease is a row (`job_key`, `holder`, `expires_at`). Taking it is one
`INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now` statement: under
READ COMMITTED, two racing takers serialise on the row and the second sees
the first's fresh expiry, so only one gets a row back. The holder renews the
row while it works; a crashed replica simply stops renewing and its lease
runs out by itself.

Every statement is its own short transaction, so this works through a
transaction pooler (Supabase, pgbouncer), where session advisory locks
silently break. Time comes from the injected `clock` when there is one (tests
move it), otherwise from the database (`clock_timestamp()`), so replicas on
hosts with skewed clocks still agree on who holds what.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

import sqlalchemy as sa
from prometheus_client import Counter, Gauge

from worker.clock import Clock, monotonic, to_datetime
from worker.errors import LeaseBusyError
from worker.log import get_logger

log = get_logger(__name__)

LEASE_TTL_SECONDS = 60.0
RENEW_FRACTION = 1 / 3
"""The keeper renews after this share of the TTL: two renewals can fail before the lease lapses."""
WAIT_POLL_SECONDS = 2.0
POOL_SIZE = 2
POOL_OVERFLOW = 4
POOL_TIMEOUT_SECONDS = 5.0
"""Lease statements wait at most this long for a connection of their own small pool."""

LEASES = Counter(
    "rei_sync_lease_attempts",
    "Attempts to take a job's lease, by outcome: `acquired` or `busy` (another holder has it).",
    ["job_key", "outcome"],
)
RENEWALS = Counter(
    "rei_sync_lease_renewals",
    "Renewals of a held lease, by outcome: `renewed` or `failed` (the statement raised).",
    ["job_key", "outcome"],
)
LOST = Counter(
    "rei_sync_leases_lost",
    "Held leases lost, by reason: `taken_over` (expired and taken) or `renewals_failing`.",
    ["job_key", "reason"],
)
HELD = Gauge(
    "rei_sync_lease_held",
    "1 while this process holds the job's lease (the dashboard's lease holder per replica). "
    "The label is `job_key`, not `job`, which Prometheus keeps for the scrape job.",
    ["job_key"],
)

_NOW = "COALESCE(CAST(:now AS timestamptz), clock_timestamp())"
ACQUIRE = sa.text(
    f"""
    INSERT INTO job_leases AS l (job_key, holder, acquired_at, renewed_at, expires_at)
    VALUES (:key, :holder, {_NOW}, {_NOW}, {_NOW} + make_interval(secs => :ttl))
    ON CONFLICT (job_key) DO UPDATE SET
        holder = EXCLUDED.holder,
        acquired_at = EXCLUDED.acquired_at,
        renewed_at = EXCLUDED.renewed_at,
        expires_at = EXCLUDED.expires_at
    WHERE l.expires_at <= EXCLUDED.acquired_at
    RETURNING l.expires_at
    """
)
RENEW = sa.text(
    f"""
    UPDATE job_leases
    SET renewed_at = {_NOW}, expires_at = {_NOW} + make_interval(secs => :ttl)
    WHERE job_key = :key AND holder = :holder AND expires_at > {_NOW}
    RETURNING expires_at
    """
)
RELEASE = sa.text("DELETE FROM job_leases WHERE job_key = :key AND holder = :holder")
HOLDER_OF = sa.text(
    f"SELECT holder, expires_at FROM job_leases WHERE job_key = :key AND expires_at > {_NOW}"
)


def new_holder_id() -> str:
    """`host:pid:random`: unique per process start, readable in the table by an operator."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def job_key(brand: str, entity: str) -> str:
    return f"sync:{brand}:{entity}"


def lease_engine(engine: sa.Engine, *, pool_timeout: float = POOL_TIMEOUT_SECONDS) -> sa.Engine:
    """An engine with its own small pool on the same database and connect arguments.

    Renewals must not queue behind sync jobs for a connection of the shared pool:
    a renewal that waits past the TTL loses the lease while the job keeps running.
    """
    pool = sa.pool.QueuePool(
        engine.pool._creator,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        timeout=pool_timeout,
        pre_ping=True,
        dialect=engine.dialect,
    )
    return sa.create_engine(engine.url, pool=pool)


class LeaseStore:
    """Takes, renews and releases lease rows for one holder (this process)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        holder: str | None = None,
        ttl_seconds: float = LEASE_TTL_SECONDS,
        clock: Clock | None = None,
        monotonic_clock: Clock = monotonic,
    ) -> None:
        self._engine = engine
        self.holder = holder or new_holder_id()
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self.monotonic = monotonic_clock
        """Measures the time since the last good renewal (tests inject it)."""

    def _params(self, key: str) -> dict[str, object]:
        now: datetime | None = to_datetime(self._clock()) if self._clock is not None else None
        return {"key": key, "holder": self.holder, "ttl": self.ttl_seconds, "now": now}

    def try_acquire(self, key: str) -> Lease | None:
        """The lease for `key`, or None if another holder's lease has not expired."""
        with self._engine.begin() as connection:
            row = connection.execute(ACQUIRE, self._params(key)).first()
        if row is None:
            LEASES.labels(key, "busy").inc()
            return None
        LEASES.labels(key, "acquired").inc()
        HELD.labels(key).set(1)
        return Lease(self, key)

    def acquire(
        self,
        key: str,
        *,
        wait: bool = False,
        cancel: threading.Event | None = None,
        poll_seconds: float = WAIT_POLL_SECONDS,
    ) -> Lease:
        """The lease, or `LeaseBusyError`; with `wait`, poll until it is free or `cancel` is set."""
        cancelled = cancel or threading.Event()
        while True:
            lease = self.try_acquire(key)
            if lease is not None:
                return lease
            if not wait or cancelled.wait(min(poll_seconds, self.ttl_seconds)):
                raise LeaseBusyError(key, self.holder_of(key))

    def renew(self, key: str) -> bool:
        """Push the expiry out by a TTL; False if the lease was lost (expired and taken)."""
        with self._engine.begin() as connection:
            return connection.execute(RENEW, self._params(key)).first() is not None

    def release(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(RELEASE, {"key": key, "holder": self.holder})

    def holder_of(self, key: str) -> str | None:
        with self._engine.begin() as connection:
            row = connection.execute(HOLDER_OF, self._params(key)).first()
        return None if row is None else str(row.holder)


class Lease:
    """A held lease. As a context manager it renews in a background thread and releases at exit.

    The lease counts as lost, `lost` is set and `on_lost` called (so the job stops
    at its next batch boundary instead of running twice) when a renewal finds it
    gone (this process stalled past the TTL and someone else took it), or when
    renewals keep failing (database unreachable, pool exhausted) until the next
    one could come too late: `now - last_ok >= ttl - interval`.
    """

    def __init__(self, store: LeaseStore, key: str) -> None:
        self.store = store
        self.key = key
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._on_lost: Callable[[], None] | None = None
        self._last_ok = store.monotonic()

    @property
    def interval(self) -> float:
        return self.store.ttl_seconds * RENEW_FRACTION

    def keep(self, on_lost: Callable[[], None] | None = None) -> Lease:
        """Start renewing every `ttl × RENEW_FRACTION` seconds until released (once only)."""
        if on_lost is not None:
            self._on_lost = on_lost
        if self._keeper is not None:
            return self  # already kept: a second keeper would only double the renewals
        self._last_ok = self.store.monotonic()
        self._keeper = threading.Thread(
            target=self._renew_until_released, name=f"lease:{self.key}", daemon=True
        )
        self._keeper.start()
        return self

    def release(self) -> None:
        self._stop.set()
        HELD.labels(self.key).set(0)
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join(timeout=10)
        try:
            # Holder-guarded: after a loss this deletes nothing of the new holder's.
            self.store.release(self.key)
        except Exception as exc:
            # It will expire by itself; never mask the job's own outcome for this.
            log.warning("lease.release_failed", job=self.key, error=type(exc).__name__)

    def renew_once(self) -> bool:
        """One renewal; False once the lease is lost (the keeper then stops)."""
        try:
            renewed = self.store.renew(self.key)
        except Exception as exc:
            RENEWALS.labels(self.key, "failed").inc()
            since = self.store.monotonic() - self._last_ok
            log.warning(
                "lease.renew_failed",
                job=self.key,
                error=type(exc).__name__,
                seconds_since_renewal=round(since, 1),
            )
            if since >= self.store.ttl_seconds - self.interval:
                self._lose("renewals_failing")
                return False
            return True
        if not renewed:
            self._lose("taken_over")
            return False
        RENEWALS.labels(self.key, "renewed").inc()
        self._last_ok = self.store.monotonic()
        return True

    def _lose(self, reason: str) -> None:
        LOST.labels(self.key, reason).inc()
        HELD.labels(self.key).set(0)
        log.error("lease.lost", job=self.key, holder=self.store.holder, reason=reason)
        self.lost.set()
        if self._on_lost is not None:
            self._on_lost()

    def _renew_until_released(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.renew_once():
                return

    def __enter__(self) -> Lease:
        if self._keeper is None:
            self.keep()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.release()
