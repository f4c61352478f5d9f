"""What the status page reads: runs and rejects from the store, leases from the engine.

Runs and rejects live where the sync writes them (`Store`'s `RunLedger`: Postgres, or
Supabase in REST mode); leases always in the engine's database, read with named,
read-only SQL. Rejects come without their `payload` (it may hold private fields the
engine kept for diagnosis): the page shows where a reject came from and why, never
what it contained.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from worker.db.schema import RejectRecord, RunRecord
from worker.errors import SinkError
from worker.feed.store import FeedStore
from worker.sinks.base import RunLedger
from worker.status.model import (
    ChangeRow,
    DatabaseData,
    LeaseRow,
    RejectRow,
    RunRow,
    SubscriberRow,
)
from worker.sync.drift import summary
from worker.sync.entities import ENTITY_NAMES

RUNS_PER_KEY = 20
REJECTS_SHOWN = 20
CHANGES_PER_BRAND = 5
KEYS_LOOKBACK = 100
"""How many of the latest runs are looked through for brands and entities not configured here."""

CURRENT_LEASES = sa.text(
    """
    SELECT job_key, holder, acquired_at, expires_at
    FROM job_leases
    WHERE expires_at > clock_timestamp()
    ORDER BY job_key
    """
)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _unavailable(exc: Exception) -> str:
    """One line naming the failure's kind only (a driver's message may name hosts or users)."""
    cause = exc.__cause__ if isinstance(exc, SinkError) and exc.__cause__ is not None else exc
    return f"database unavailable: {type(cause).__name__}"


def job_keys(ledger: RunLedger, brands: Iterable[str]) -> list[tuple[str, str]]:
    """Every entity of every given brand, and every brand × entity among the latest runs
    (runs of a brand or entity not configured here: the CLI's, another replica's)."""
    latest = ledger.recent_runs(limit=KEYS_LOOKBACK)
    named = {*brands, *(r.brand for r in latest)}
    return sorted(
        {(b, e) for b in named for e in ENTITY_NAMES} | {(r.brand, r.entity) for r in latest}
    )


def load_runs(
    ledger: RunLedger, brands: Iterable[str], *, per_key: int = RUNS_PER_KEY
) -> list[RunRow]:
    """The last `per_key` runs of every job (one read each), newest first within each."""
    return [
        _run_row(record)
        for brand, entity in job_keys(ledger, brands)
        for record in ledger.recent_runs(brand, per_key, entity)
    ]


def load_leases(engine: sa.Engine) -> list[LeaseRow]:
    with engine.connect() as connection:
        connection.execute(sa.text("SET TRANSACTION READ ONLY"))
        rows = connection.execute(CURRENT_LEASES).all()
    return [
        LeaseRow(
            job_key=r.job_key,
            holder=r.holder,
            acquired_at=r.acquired_at.timestamp(),
            expires_at=r.expires_at.timestamp(),
        )
        for r in rows
    ]


def load_feed(engine: sa.Engine) -> tuple[list[ChangeRow], list[SubscriberRow]]:
    """The latest events per brand and every subscriber's cursor (the engine's database:
    the feed exists only where the sink writes directly)."""
    store = FeedStore(engine)
    changes = [
        ChangeRow(
            created_at=e.created_at.timestamp(),
            brand=e.brand,
            entity=e.entity,
            source_id=e.source_id,
            kind=e.kind,
            summary=e.describe(),
            run_id=e.run_id,
        )
        for e in store.latest_per_brand(CHANGES_PER_BRAND)
    ]
    subscribers = [
        SubscriberRow(
            name=c.subscriber,
            paused=c.paused,
            failures=c.failures,
            pending=store.count_pending(c),
            last_error=c.last_error,
            last_success_at=_epoch(c.last_success_at),
        )
        for c in store.cursors()
    ]
    return changes, subscribers


def load_database(
    engine: sa.Engine,
    ledger: RunLedger,
    brands: Iterable[str] = (),
    *,
    per_key: int = RUNS_PER_KEY,
    rejects: int = REJECTS_SHOWN,
) -> DatabaseData:
    """Runs and rejects from `ledger`, leases from `engine`; what failed is named, what did
    not is still shown. `brands` are the configured ones (shown even before their first run).
    """
    errors: list[str] = []
    runs: list[RunRow] = []
    reject_rows: list[RejectRow] = []
    leases: list[LeaseRow] = []
    changes: list[ChangeRow] = []
    subscribers: list[SubscriberRow] = []
    try:
        runs = load_runs(ledger, brands, per_key=per_key)
        reject_rows = [_reject_row(r) for r in ledger.latest_rejects(rejects)]
    except SinkError as exc:
        errors.append(_unavailable(exc))
    try:
        leases = load_leases(engine)
    except sa.exc.SQLAlchemyError as exc:
        errors.append(_unavailable(exc))
    try:
        changes, subscribers = load_feed(engine)
    except SinkError as exc:
        errors.append(_unavailable(exc))
    return DatabaseData(
        runs=runs,
        rejects=reject_rows,
        leases=leases,
        changes=changes,
        subscribers=subscribers,
        error="; ".join(dict.fromkeys(errors)) or None,
    )


def _run_row(r: RunRecord) -> RunRow:
    return RunRow(
        id=r.id,
        brand=r.brand,
        entity=r.entity,
        mode=r.mode,
        status=r.status,
        started_at=r.started_at.timestamp(),
        finished_at=_epoch(r.finished_at),
        duration_seconds=r.duration_seconds,
        seen=r.counts.seen,
        inserted=r.counts.inserted,
        updated=r.counts.updated,
        unchanged=r.counts.unchanged,
        rejected=r.counts.rejected,
        delisted=r.counts.delisted,
        error=r.error,
        images_failed=_detail(r, "images", "failed"),
        delist_unconfirmed=_detail(r, "delisting", "unconfirmed"),
        absent_listed=_detail(r, "delisting", "confirmed_listed"),
        fields=summary(r.details),
    )


def _detail(r: RunRecord, group: str, key: str) -> int:
    """A count from the run's `details` JSON (0 when absent or not a count)."""
    bucket = (r.details or {}).get(group)
    value = bucket.get(key) if isinstance(bucket, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _reject_row(r: RejectRecord) -> RejectRow:
    return RejectRow(
        created_at=r.created_at.timestamp(),
        brand=r.brand,
        entity=r.entity,
        source_id=r.source_id,
        reason=r.reason,
        run_id=r.run_id,
    )
