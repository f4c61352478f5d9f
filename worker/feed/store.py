"""`sync_events` read back, and the subscribers' cursors in `webhook_cursors`.

Delivery order is the event id. Ids are taken when a row is inserted, not when its
transaction commits, so a reader could see id 12 committed while 11 is still in
flight and move its cursor past 11 for good. Hence the feed lock (`sinks/events.py`):
every transaction that writes events holds it shared, and the reader takes it
exclusively for the one query that reads a batch, so that query sees no writer in
flight: every id below the ones it reads is committed (or rolled back) by then.
The lock is transaction-scoped, so it works through a transaction pooler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from worker.sinks.dberrors import translate_db_errors
from worker.sinks.events import FEED_LOCK

EVENT_COLUMNS = "id, run_id, brand, entity, source_id, kind, payload, created_at"

LOCK_FEED = sa.text(f"SELECT pg_advisory_xact_lock({FEED_LOCK})")
PENDING_EVENTS = sa.text(
    f"SELECT {EVENT_COLUMNS} FROM sync_events WHERE id > :id ORDER BY id LIMIT :limit"
)
COUNT_PENDING = sa.text("SELECT count(*) FROM sync_events WHERE id > :id")
ENSURE_CURSOR = sa.text(
    "INSERT INTO webhook_cursors (subscriber, last_event_id) "
    "SELECT :subscriber, coalesce(max(id), 0) FROM sync_events "
    "ON CONFLICT (subscriber) DO NOTHING"
)
"""A new subscriber starts at the present: it gets the events written from then on."""
CURSOR_COLUMNS = (
    "subscriber, last_event_id, failures, paused_at, last_error, last_attempt_at, last_success_at"
)
GET_CURSOR = sa.text(f"SELECT {CURSOR_COLUMNS} FROM webhook_cursors WHERE subscriber = :subscriber")
ALL_CURSORS = sa.text(f"SELECT {CURSOR_COLUMNS} FROM webhook_cursors ORDER BY subscriber")
ADVANCE_CURSOR = sa.text(
    "UPDATE webhook_cursors SET last_event_id = greatest(last_event_id, :id), failures = 0, "
    "last_error = NULL, last_attempt_at = now(), last_success_at = now() "
    "WHERE subscriber = :subscriber"
)
"""Never backwards: two replicas delivering the same batch both leave it where it ends."""
RECORD_FAILURE = sa.text(
    "UPDATE webhook_cursors SET failures = failures + 1, last_error = :error, "
    "last_attempt_at = now(), "
    "paused_at = CASE WHEN failures + 1 >= :max_failures THEN now() ELSE paused_at END "
    "WHERE subscriber = :subscriber RETURNING failures, paused_at IS NOT NULL"
)
RESUME = sa.text(
    "UPDATE webhook_cursors SET paused_at = NULL, failures = 0, last_error = NULL "
    "WHERE subscriber = :subscriber"
)
PRUNE_EVENTS = sa.text("DELETE FROM sync_events WHERE created_at < :before")
PRUNE_REJECTS = sa.text("DELETE FROM sync_rejects WHERE created_at < :before")
FIND_EVENTS = sa.text(
    f"SELECT {EVENT_COLUMNS} FROM sync_events "
    "WHERE (CAST(:brand AS text) IS NULL OR brand = :brand) "
    "AND (CAST(:kind AS text) IS NULL OR kind = :kind) "
    "AND (CAST(:run_id AS bigint) IS NULL OR run_id = :run_id) "
    "AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since) "
    "ORDER BY id DESC LIMIT :limit"
)
LATEST_PER_BRAND = sa.text(
    f"SELECT {EVENT_COLUMNS} FROM (SELECT *, row_number() OVER "
    "(PARTITION BY brand ORDER BY id DESC) AS n FROM sync_events "
    "WHERE id > (SELECT coalesce(max(id), 0) - 10000 FROM sync_events)) e "
    "WHERE n <= :per_brand ORDER BY brand, id DESC"
)
"""The newest events of each brand, among the newest 10,000 (an index range, not a scan)."""


@dataclass(frozen=True)
class Event:
    id: int
    run_id: int | None
    brand: str
    entity: str
    source_id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime

    @property
    def key(self) -> str:
        """The idempotency key: one per event, the same on every redelivery."""
        return f"rei-sync-event-{self.id}"

    def describe(self) -> str:
        """The change in a line, from the event's (public) data."""
        data = self.payload
        if self.kind == "price_changed":
            old, new, currency = data.get("old_price"), data.get("price"), data.get("currency_id")
            return f"{old} → {new} (currency {currency})"
        if self.kind == "status_changed":
            return f"status {data.get('old_status_id')} → {data.get('status_id')}"
        if "columns" in data:
            return ", ".join(str(c) for c in data["columns"]) or "source fields"
        if self.kind == "images_changed":
            return ", ".join(f"{k} {v}" for k, v in sorted(data.items()) if v)
        return ""

    def document(self) -> dict[str, Any]:
        """The event as a webhook body and `rei-sync events --json` print it."""
        return {
            "id": self.id,
            "idempotency_key": self.key,
            "run_id": self.run_id,
            "brand": self.brand,
            "entity": self.entity,
            "source_id": self.source_id,
            "kind": self.kind,
            "data": self.payload,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Cursor:
    subscriber: str
    last_event_id: int
    failures: int
    paused_at: datetime | None
    last_error: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@translate_db_errors
class FeedStore:
    """Events and cursors of one database (errors translated like the sink's)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def cursor(self, subscriber: str) -> Cursor:
        """The subscriber's cursor, created at the present on first use."""
        with self._engine.begin() as connection:
            connection.execute(ENSURE_CURSOR, {"subscriber": subscriber})
            row = connection.execute(GET_CURSOR, {"subscriber": subscriber}).mappings().one()
        return Cursor(**row)

    def cursors(self) -> list[Cursor]:
        with self._engine.connect() as connection:
            return [Cursor(**row) for row in connection.execute(ALL_CURSORS).mappings()]

    def pending(self, cursor: Cursor, limit: int) -> list[Event]:
        with self._engine.begin() as connection:
            connection.execute(LOCK_FEED)  # waits for the writers in flight, see above
            rows = connection.execute(
                PENDING_EVENTS, {"id": cursor.last_event_id, "limit": limit}
            ).mappings()
            return [Event(**row) for row in rows]

    def count_pending(self, cursor: Cursor) -> int:
        with self._engine.connect() as connection:
            value = connection.execute(COUNT_PENDING, {"id": cursor.last_event_id}).scalar_one()
        return int(value)

    def advance(self, subscriber: str, last: Event) -> None:
        with self._engine.begin() as connection:
            connection.execute(ADVANCE_CURSOR, {"subscriber": subscriber, "id": last.id})

    def record_failure(self, subscriber: str, error: str, max_failures: int) -> tuple[int, bool]:
        """(consecutive failures, paused now) after one more failed delivery."""
        with self._engine.begin() as connection:
            row = connection.execute(
                RECORD_FAILURE,
                {"subscriber": subscriber, "error": error[:200], "max_failures": max_failures},
            ).one()
        return int(row[0]), bool(row[1])

    def resume(self, subscriber: str) -> bool:
        with self._engine.begin() as connection:
            return bool(connection.execute(RESUME, {"subscriber": subscriber}).rowcount)

    def find(
        self,
        *,
        brand: str | None = None,
        kind: str | None = None,
        run_id: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """The newest `limit` events matching every filter given, oldest first."""
        params = {"brand": brand, "kind": kind, "run_id": run_id, "since": since, "limit": limit}
        with self._engine.connect() as connection:
            rows = connection.execute(FIND_EVENTS, params).mappings()
            return [Event(**row) for row in rows][::-1]

    def latest_per_brand(self, per_brand: int = 5) -> list[Event]:
        with self._engine.connect() as connection:
            rows = connection.execute(LATEST_PER_BRAND, {"per_brand": per_brand}).mappings()
            return [Event(**row) for row in rows]

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete events and rejects created before `before`: (events, rejects) deleted."""
        with self._engine.begin() as connection:
            events = connection.execute(PRUNE_EVENTS, {"before": before}).rowcount
            rejects = connection.execute(PRUNE_REJECTS, {"before": before}).rowcount
        return int(events), int(rejects)
