"""Proven delistings: after a complete scan, every vanished id is confirmed by a details call.

Offset pagination can skip a record when the list shifts mid-scan (drift), so an
id missing from a scan is only a *candidate*. Each candidate is asked for by id:
404, an empty answer or a non-active status confirms it; anything else keeps it
listed (and hands its record back so the caller can load it). A candidate whose
confirmation call fails is left alone this run. When candidates exceed the guard
(max(minimum, fraction x active)), nothing is delisted at all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from worker.api.client import ReiClient
from worker.api.endpoints import as_list
from worker.errors import ApiError
from worker.log import get_logger
from worker.sinks.base import Sink
from worker.sync import metrics
from worker.sync.entities import Entity
from worker.sync.pipeline import map_bounded

log = get_logger(__name__)

DELIST_GUARD_MINIMUM = 25
DELIST_GUARD_FRACTION = 0.10


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
) -> DelistOutcome:
    """Delist the active rows of `entity` missing from a complete scan that saw `seen`.

    The sink compares `seen` with the stored active rows (in the database for
    Postgres): neither the active ids nor a set of the seen ones is held here.
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

    def confirm(source_id: int) -> tuple[int, str, Any]:
        try:
            body = client.get_json_or_none(entity.details_path(source_id))
            if body is None or entity.is_gone(body):
                return source_id, "gone", None
            return source_id, "listed", as_list(body, entity.name)[0]
        except ApiError as exc:
            log.warning(
                "sync.delist_unconfirmed",
                brand=brand,
                entity=entity.name,
                id=source_id,
                error=str(exc),
            )
            return source_id, "unconfirmed", None

    # `stop` set: no further confirmation starts, nothing is delisted (StopRequested).
    answers = map_bounded(confirm, candidates, parallelism=parallelism, stop=stop)
    gone = [source_id for source_id, verdict, _ in answers if verdict == "gone"]
    delisted = sink.mark_delisted(entity.table, brand, gone)
    if delisted:
        metrics.DELISTED.labels(brand, entity.name).inc(delisted)
    return DelistOutcome(
        active,
        len(candidates),
        delisted=delisted,
        unconfirmed=sum(1 for _, verdict, _ in answers if verdict == "unconfirmed"),
        still_listed=tuple(record for _, verdict, record in answers if verdict == "listed"),
    )
