"""One sync run of one entity for one brand: pages → normalise → sink, recorded in sync_runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from worker.api.client import ReiClient
from worker.errors import ReiSyncError
from worker.log import get_logger
from worker.sinks.base import RunCounts, Sink, UpsertResult
from worker.sync.entities import Entity
from worker.sync.normalise import Reject, Row

log = get_logger(__name__)

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class RunResult:
    run_id: int
    brand: str
    entity: str
    status: str
    counts: RunCounts
    seconds: float
    error: str | None = None


ProgressCallback = Callable[[RunCounts], None]


def sync_entity(
    client: ReiClient,
    sink: Sink,
    entity: Entity,
    *,
    take: int = DEFAULT_PAGE_SIZE,
    mode: str = "manual",
    on_page: ProgressCallback | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RunResult:
    """A full scan of `entity`.

    A domain error (API, auth, database) ends the run `failed`, recorded with its
    message, and is returned as the result; anything else (a bug, an interrupt)
    is recorded too and re-raised.
    """
    brand = client.brand.key
    started = monotonic()
    run_id = sink.start_run(brand, entity.name, mode)
    counts = RunCounts()
    try:
        for page in client.pages(entity.endpoint, take):
            rows: list[Row] = []
            rejects: list[Reject] = []
            for item in page.items:
                result = entity.normalise(item)
                if isinstance(result, Row):
                    rows.append(result)
                else:
                    rejects.append(result)
            written = sink.upsert(entity.table, brand, rows) if rows else UpsertResult()
            sink.record_rejects(run_id, brand, entity.name, rejects)
            counts = replace(
                counts,
                pages=counts.pages + 1,
                seen=counts.seen + len(page.items),
                inserted=counts.inserted + written.inserted,
                updated=counts.updated + written.updated,
                unchanged=counts.unchanged + written.unchanged,
                rejected=counts.rejected + len(rejects),
            )
            if on_page is not None:
                on_page(counts)
    except ReiSyncError as exc:
        return _finish(sink, run_id, brand, entity, "failed", counts, started, monotonic, str(exc))
    except BaseException as exc:
        status = "aborted" if isinstance(exc, KeyboardInterrupt) else "failed"
        _finish(sink, run_id, brand, entity, status, counts, started, monotonic, repr(exc))
        raise
    status = "succeeded_with_rejects" if counts.rejected else "succeeded"
    return _finish(sink, run_id, brand, entity, status, counts, started, monotonic)


def _finish(
    sink: Sink,
    run_id: int,
    brand: str,
    entity: Entity,
    status: str,
    counts: RunCounts,
    started: float,
    monotonic: Callable[[], float],
    error: str | None = None,
) -> RunResult:
    sink.finish_run(run_id, status, counts, error=error)
    seconds = monotonic() - started
    event = {"brand": brand, "entity": entity.name, "status": status, "seconds": round(seconds, 3)}
    if error is None:
        log.info("sync.run", **event, **counts.__dict__)
    else:
        log.error("sync.run", **event, error=error, **counts.__dict__)
    return RunResult(run_id, brand, entity.name, status, counts, seconds, error)
