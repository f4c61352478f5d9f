"""Proven delistings: after a complete scan, every vanished id is confirmed by a details call.

Offset pagination can skip a record when the list shifts mid-scan (drift), so an
id missing from a scan is only a *candidate*. Each candidate is asked for by id:
the API's own 404 "not found" for that id, an empty answer, or a status that is not
online (`sync/statuses.py`: not seen on the scan's online list, and not named online
by the standard-status catalogue) confirms it. A candidate whose details still say
online is *absent but listed*: kept, its record handed back so the caller can load it,
and counted (`rei_sync_absent_listed`), since a listing the list keeps leaving out
costs a details call every run. A candidate whose confirmation call fails, or whose
status cannot be judged, is kept and counted as unconfirmed (`rei_sync_delist_unconfirmed`).
When candidates exceed the guard (max(minimum, fraction x active)), nothing is delisted.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.api.client import ReiClient
from worker.api.endpoints import as_list
from worker.errors import ReiSyncError
from worker.log import get_logger
from worker.sinks.base import Sink
from worker.sync import metrics
from worker.sync.entities import Entity
from worker.sync.failures import failure_reason, is_per_listing
from worker.sync.pipeline import map_bounded
from worker.sync.statuses import OnlineStatuses

log = get_logger(__name__)

DELIST_GUARD_MINIMUM = 25
DELIST_GUARD_FRACTION = 0.10
ABSENT_IDS_LOGGED = 20
"""At most this many ids of absent-but-listed candidates in the warning (the count is whole)."""


def guard_limit(active: int, minimum: int, fraction: float) -> int:
    return max(minimum, int(active * fraction))


@dataclass(frozen=True)
class DelistOutcome:
    active: int
    candidates: int
    delisted: int = 0
    unconfirmed: int = 0
    guard_tripped: bool = False
    still_listed: tuple[Any, ...] = ()
    """Records of candidates the details call showed as listed (skipped by drift)."""

    def details(self) -> dict[str, int | bool]:
        return {
            "active_before": self.active,
            "candidates": self.candidates,
            "confirmed_listed": len(self.still_listed),
            "unconfirmed": self.unconfirmed,
            "guard_tripped": self.guard_tripped,
        }


def reconcile(
    client: ReiClient,
    sink: Sink,
    entity: Entity,
    seen: Sequence[int],
    *,
    parallelism: int,
    guard_minimum: int = DELIST_GUARD_MINIMUM,
    guard_fraction: float = DELIST_GUARD_FRACTION,
    stop: threading.Event | None = None,
    online_statuses: Iterable[Any] = (),
) -> DelistOutcome:
    """Delist the active rows of `entity` missing from a complete scan that saw `seen`.

    The sink compares `seen` with the stored active rows (in the database for
    Postgres): neither the active ids nor a set of the seen ones is held here.
    `online_statuses`: the `entity.status_field` values the scan's records carried.
    """
    brand = client.brand.key
    active, candidates = sink.delisting_candidates(entity.table, brand, seen)
    limit = guard_limit(active, guard_minimum, guard_fraction)
    if len(candidates) > limit:
        metrics.DELIST_GUARD_TRIPPED.labels(brand, entity.name).inc()
        log.error(
            "sync.delist_guard_tripped",
            brand=brand,
            entity=entity.name,
            candidates=len(candidates),
            active=active,
            limit=limit,
        )
        return DelistOutcome(active, len(candidates), guard_tripped=True)
    confirm = functools.partial(_confirm, client, entity, OnlineStatuses(client, online_statuses))
    # `stop` set: no further confirmation starts, nothing is delisted (StopRequested).
    answers = map_bounded(confirm, candidates, parallelism=parallelism, stop=stop)
    return _delist(sink, brand, entity, active, answers)


_Answer = tuple[int, str, Any]
"""(candidate id, "gone", "listed" or "unconfirmed", its record when listed)."""


def _confirm(
    client: ReiClient, entity: Entity, statuses: OnlineStatuses, source_id: int
) -> _Answer:
    """What the details call says of one candidate."""
    path = entity.details_path(source_id)
    try:
        body = client.get_json_or_none(path)
        if body is None or entity.is_gone(body):
            return source_id, "gone", None
        record = as_list(body, entity.name)[0]
        if not entity.status_field:
            return source_id, "listed", record
        status = record.get(entity.status_field) if isinstance(record, dict) else None
        online = statuses.is_online(status)
    except ReiSyncError as exc:
        if not is_per_listing(exc):
            raise
        return _unconfirmed(client, entity, source_id, failure_reason(path, exc))
    if online is None and status is not None:
        reason = "status not judged: the status catalogue could not be read"
        return _unconfirmed(client, entity, source_id, reason)
    return (source_id, "gone", None) if online is False else (source_id, "listed", record)


def _unconfirmed(client: ReiClient, entity: Entity, source_id: int, reason: str) -> _Answer:
    log.warning(
        "sync.delist_unconfirmed",
        brand=client.brand.key,
        entity=entity.name,
        id=source_id,
        reason=reason,
    )
    return source_id, "unconfirmed", None


def _delist(
    sink: Sink, brand: str, entity: Entity, active: int, answers: Sequence[_Answer]
) -> DelistOutcome:
    """Mark the confirmed candidates delisted; count the unconfirmed and the still listed."""
    gone = [source_id for source_id, verdict, _ in answers if verdict == "gone"]
    delisted = sink.mark_delisted(entity.table, brand, gone)
    if delisted:
        metrics.DELISTED.labels(brand, entity.name).inc(delisted)
    unconfirmed = sum(1 for _, verdict, _ in answers if verdict == "unconfirmed")
    if unconfirmed:
        metrics.DELIST_UNCONFIRMED.labels(brand, entity.name).inc(unconfirmed)
    listed = [source_id for source_id, verdict, _ in answers if verdict == "listed"]
    metrics.ABSENT_LISTED.labels(brand, entity.name).set(len(listed))
    if listed:
        log.warning(
            "sync.absent_but_listed",
            brand=brand,
            entity=entity.name,
            count=len(listed),
            ids=listed[:ABSENT_IDS_LOGGED],
        )
    return DelistOutcome(
        active,
        len(answers),
        delisted=delisted,
        unconfirmed=unconfirmed,
        still_listed=tuple(record for _, verdict, record in answers if verdict == "listed"),
    )
