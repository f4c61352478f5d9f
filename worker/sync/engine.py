"""One sync run of one entity for one brand, recorded in `sync_runs`.

The run's kind is its entity's (`Entity.run` and its siblings, bound in `sync/kinds.py`):
paged entities (properties, associates) are scanned page by page (`sync/scan.py`), catalogues
(lookups, geo) fetched whole (`sync/catalogue_run.py`), and `images` sweeps every
active listing (`sync/sweep.py`). Here: the run's bookkeeping around whichever it is,
from its `sync_runs` row and checkpoints to its final status, metrics and log line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker import clock
from worker.api.client import ReiClient
from worker.db.schema import RunCounts, RunEnd, RunRecord, RunStart, RunStatus
from worker.errors import ReiSyncError, StopRequested
from worker.log import get_logger
from worker.sinks.base import Store
from worker.sinks.events import CURRENT_RUN
from worker.sync import metrics
from worker.sync.entities import SPECS, EntitySpec
from worker.sync.job import DEFAULT_PAGE_SIZE, Job, RunState, SyncOptions
from worker.sync.kinds import JobKinds

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MODES",
    "Progress",
    "ProgressCallback",
    "RunResult",
    "SyncOptions",
    "sync_entity",
]

log = get_logger(__name__)

MODES = ("scheduled", "manual", "backfill")


@dataclass(frozen=True)
class Progress:
    brand: str
    entity: str
    counts: RunCounts
    checkpoint: int
    seconds: float


@dataclass(frozen=True)
class RunResult:
    run_id: int
    brand: str
    entity: str
    status: RunStatus
    counts: RunCounts
    seconds: float
    error: str | None = None
    checkpoint: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


def sync_entity(
    client: ReiClient,
    store: Store,
    entity: str | EntitySpec,
    *,
    options: SyncOptions | None = None,
    mode: str = "manual",
    stop: threading.Event | None = None,
    resume: RunRecord | None = None,
    on_progress: ProgressCallback | None = None,
    monotonic: Callable[[], float] = clock.monotonic,
) -> RunResult:
    """One run of `entity` ("properties", "associates", "images", "lookups", "geo", or a spec).

    `stop` set: the batch in hand is finished and committed, the run ends `aborted`
    with its checkpoint. `resume`: a paged run continues at that run's checkpoint (an
    image sweep after its checkpoint listing id), in mode `backfill`, and never delists. A
    domain error (API, auth, database)
    ends the run `failed` and is returned in the result; anything else (a bug, an
    interrupt) is recorded as `failed`/`aborted` and re-raised.
    """
    options = options or SyncOptions()
    client = client.stopping(stop)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    name = entity if isinstance(entity, str) else entity.name
    start = 0
    if resume is not None:
        start, mode = resume.checkpoint or 0, "backfill"
    resumed_from = None if resume is None else resume.id
    run_id = store.start_run(
        RunStart(client.brand.key, name, mode, take=options.take, resumed_from=resumed_from)
    )
    run = RunState(run_id, client.brand.key, name, monotonic(), mode, checkpoint=start)
    if resume is not None:
        run.details["resumed_from_checkpoint"] = start
    CURRENT_RUN.set(run.run_id)  # the change feed's events of this run carry its id
    progress = _progress(store, run, on_progress, monotonic)
    job = Job(client, store, run, options, stop, progress, start, may_delist=resume is None)
    try:
        status = _spec(entity).run(JobKinds(job))
    except StopRequested:
        return _finish(store, run, RunStatus.ABORTED, monotonic)
    except ReiSyncError as exc:
        return _finish(store, run, RunStatus.FAILED, monotonic, str(exc))
    except BaseException as exc:
        status = RunStatus.ABORTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        _finish(store, run, status, monotonic, repr(exc))
        raise
    if status == RunStatus.SUCCEEDED and run.counts.rejected:
        status = RunStatus.SUCCEEDED_WITH_REJECTS
    return _finish(store, run, status, monotonic)


def _spec(entity: str | EntitySpec) -> EntitySpec:
    if not isinstance(entity, str):
        return entity
    if entity not in SPECS:
        raise ValueError(f"unknown entity {entity!r}")
    return SPECS[entity]


def _progress(
    store: Store,
    run: RunState,
    on_progress: ProgressCallback | None,
    monotonic: Callable[[], float],
) -> Callable[[bool], None]:
    """The run's progress step: checkpoint it (when `persist`), then tell `on_progress`."""

    def progress(persist: bool) -> None:
        if persist:
            store.checkpoint_run(run.run_id, run.counts, run.checkpoint)
        if on_progress is not None:
            seconds = monotonic() - run.started
            on_progress(Progress(run.brand, run.entity, run.counts, run.checkpoint, seconds))

    return progress


def _finish(
    store: Store,
    run: RunState,
    status: RunStatus,
    monotonic: Callable[[], float],
    error: str | None = None,
) -> RunResult:
    seconds = monotonic() - run.started
    CURRENT_RUN.set(None)
    end = RunEnd(
        status,
        run.counts,
        error=error,
        checkpoint=run.checkpoint,
        duration_seconds=round(seconds, 3),
        details=run.details or None,
    )
    store.finish_run(run.run_id, end)
    _count(run, status, seconds)
    event = {
        "brand": run.brand,
        "entity": run.entity,
        "run_id": run.run_id,
        "status": status,
        "seconds": round(seconds, 3),
        "checkpoint": run.checkpoint,
        **run.counts.__dict__,
    }
    if error is None and status != RunStatus.DELIST_GUARD_TRIPPED:
        log.info("sync.run", **event)
    else:
        log.error("sync.run", **event, error=error)
    return RunResult(
        run.run_id,
        run.brand,
        run.entity,
        status,
        run.counts,
        seconds,
        error,
        run.checkpoint,
        dict(run.details),
    )


def _count(run: RunState, status: RunStatus, seconds: float) -> None:
    """The finished run in the metrics (`sync/metrics.py`)."""
    metrics.RUNS.labels(run.brand, run.entity, run.mode, status).inc()
    metrics.RUN_SECONDS.labels(run.brand, run.entity).observe(seconds)
    metrics.SEEN.labels(run.brand, run.entity).inc(run.counts.seen)
    metrics.REJECTED.labels(run.brand, run.entity).inc(run.counts.rejected)
    for action in ("inserted", "updated"):
        value = getattr(run.counts, action)
        if value:
            metrics.ROWS_WRITTEN.labels(run.brand, run.entity, action).inc(value)
