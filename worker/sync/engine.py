"""One sync run of one entity for one brand, recorded in `sync_runs`.

Paged entities (properties, associates): pages fetched in parallel and loaded as
they arrive; for listings, images of new/changed listings are stored *before*
the listing rows, so a run killed in between refetches them next time; a listing
whose image answer had rejected records is written with `images_incomplete` (a hash
that cannot match), so the next scan refetches its images too; so is a listing whose
image request failed (named in `sync_rejects`, the run goes on: `sync/images.py`). After
a complete, non-resumed, non-stopped scan: proven delistings (`sync/delisting.py`), the
statuses the scan saw telling which details statuses are online (`sync/statuses.py`).
Catalogues (lookups, geo) are fetched whole. `images` sweeps every active listing.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any

from worker.api.client import Page, ReiClient
from worker.db.schema import (
    IMAGES,
    PROPERTIES_TABLE,
    Reject,
    Row,
    RunCounts,
    RunRecord,
    RunStatus,
    UpsertResult,
)
from worker.errors import ApiError, IncompleteScanError, ReiSyncError, StopRequested
from worker.log import get_logger
from worker.sinks.base import Store
from worker.sinks.events import CURRENT_RUN
from worker.sync import metrics
from worker.sync.delisting import DELIST_GUARD_FRACTION, DELIST_GUARD_MINIMUM, reconcile
from worker.sync.drift import tally
from worker.sync.entities import CATALOGUES, ENTITIES, Catalogue, Entity
from worker.sync.images import (
    FetchedImages,
    ImageBatch,
    fetch_images,
    images_incomplete,
    load_images,
    store_images,
)
from worker.sync.normalise import source_key
from worker.sync.pipeline import (
    DEFAULT_BATCH_ITEMS,
    DEFAULT_IMAGE_PARALLELISM,
    DEFAULT_PARALLELISM,
    DEFAULT_PREFETCH_PAGES,
    DEFAULT_WINDOW,
    ScanReport,
    fetch_page_batches,
)

log = get_logger(__name__)

DEFAULT_PAGE_SIZE = 100
MODES = ("scheduled", "manual", "backfill")


@dataclass(frozen=True)
class SyncOptions:
    take: int = DEFAULT_PAGE_SIZE
    parallelism: int = DEFAULT_PARALLELISM
    """Concurrent API requests for pages, images and delisting confirmations."""
    prefetch: int = DEFAULT_PREFETCH_PAGES
    """Pages fetched ahead of the loader at most (the bounded queue)."""
    image_parallelism: int = DEFAULT_IMAGE_PARALLELISM
    """Concurrent image requests (one per new/changed listing: the bulk of a cold sync)."""
    batch_items: int = DEFAULT_BATCH_ITEMS
    """Most records written in one batch (pages already fetched are merged into one)."""
    window: int = DEFAULT_WINDOW
    """Batches whose images may be in flight while later pages are read."""
    full_images: bool = False
    """Listings: fetch the images of every listing seen, not only new/changed ones."""
    listing_images: bool = True
    """Listings: fetch images of new/changed listings (False leaves them to the image sweep)."""
    delist_guard_minimum: int = DELIST_GUARD_MINIMUM
    delist_guard_fraction: float = DELIST_GUARD_FRACTION


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


@dataclass
class _Run:
    """The mutable state of the run in progress."""

    run_id: int
    brand: str
    entity: str
    started: float
    mode: str
    counts: RunCounts = field(default_factory=RunCounts)
    checkpoint: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def add(
        self, result: UpsertResult, *, pages: int = 0, seen: int = 0, rejected: int = 0
    ) -> None:
        counts = self.counts.plus(result, pages=pages, seen=seen)
        self.counts = replace(counts, rejected=counts.rejected + rejected)

    def add_detail(self, group: str, **values: int) -> None:
        bucket = self.details.setdefault(group, {})
        for key, value in values.items():
            bucket[key] = bucket.get(key, 0) + value


def sync_entity(
    client: ReiClient,
    store: Store,
    entity: str | Entity | Catalogue,
    *,
    options: SyncOptions | None = None,
    mode: str = "manual",
    stop: threading.Event | None = None,
    resume: RunRecord | None = None,
    on_progress: ProgressCallback | None = None,
    monotonic: Callable[[], float] = time.monotonic,
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
    brand = client.brand.key
    target = entity
    entity = entity if isinstance(entity, str) else entity.name
    start = 0
    if resume is not None:
        start, mode = resume.checkpoint or 0, "backfill"
    run = _Run(
        store.start_run(
            brand,
            entity,
            mode,
            take=options.take,
            resumed_from=None if resume is None else resume.id,
        ),
        brand,
        entity,
        monotonic(),
        mode,
        checkpoint=start,
    )
    if resume is not None:
        run.details["resumed_from_checkpoint"] = start
    CURRENT_RUN.set(run.run_id)  # the change feed's events of this run carry its id

    def progress(persist: bool = True) -> None:
        if persist:
            store.checkpoint_run(run.run_id, run.counts, run.checkpoint)
        if on_progress is not None:
            on_progress(
                Progress(brand, entity, run.counts, run.checkpoint, monotonic() - run.started)
            )

    try:
        if isinstance(target, Entity) or entity in ENTITIES:
            paged = target if isinstance(target, Entity) else ENTITIES[entity]
            status = _scan(
                client, store, paged, run, options, start, resume is None, stop, progress
            )
        elif isinstance(target, Catalogue) or entity in CATALOGUES:
            catalogue = target if isinstance(target, Catalogue) else CATALOGUES[entity]
            status = _catalogue(client, store, catalogue, run, options, stop)
        elif entity == IMAGES:
            status = _image_sweep(client, store, run, options, start, stop, progress)
        else:
            raise ValueError(f"unknown entity {entity!r}")
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


@dataclass
class _Batch:
    """Pages normalised and waiting for their listings' images before being written."""

    pages: list[tuple[int, int]]
    """(records, checkpoint after it) of each page."""
    rows: list[Row]
    rejects: list[Reject]
    unchanged: int
    images: list[Future[FetchedImages]] = field(default_factory=list)

    def ready(self) -> bool:
        return all(future.done() for future in self.images)


def _scan(
    client: ReiClient,
    store: Store,
    entity: Entity,
    run: _Run,
    options: SyncOptions,
    start: int,
    may_delist: bool,
    stop: threading.Event | None,
    progress: Callable[[bool], None],
) -> RunStatus:
    """Pages → fingerprints → only new/changed records normalised → their images → merge.

    Runs of pages that have already arrived are written as one batch; the images
    of a batch's new/changed listings are fetched on their own bounded pool while
    later pages are read, and a batch is written (images first, then its rows) once
    its images are in, strictly in page order, at most `options.window` batches ahead.

    A page that keeps failing ends the run `failed` once every batch before it is
    stored (checkpoint and `details.paging.failed_at` at that page); the job's next
    run then isolates failing pages (`pipeline._Planner.recover`) and stores every
    record it can reach. Only a scan that read an empty page at the end may delist.
    """
    seen: array[int] = array("q")
    """Ids of the scan (repeats possible), 8 bytes each: a set of 200k ints costs ~15 MB."""
    report = ScanReport(options.take)
    statuses: set[Any] = set()
    """The `entity.status_field` values seen on the online list (for `reconcile`)."""
    batches = fetch_page_batches(
        client,
        entity.endpoint,
        options.take,
        start=start,
        parallelism=options.parallelism,
        prefetch=options.prefetch,
        stop=stop,
        max_items=options.batch_items,
        isolate=_after_failed_page(store, run, entity),
        report=report,
    )
    images = (
        ThreadPoolExecutor(max_workers=options.image_parallelism, thread_name_prefix="rei-image")
        if entity.has_images and options.listing_images
        else None
    )
    window: deque[_Batch] = deque()

    def commit(batch: _Batch) -> None:
        """Write the batch, then report it page by page; the ledger is written once."""
        _commit(client, store, entity, run, batch)
        for n, (seen_on_page, checkpoint) in enumerate(batch.pages, start=1):
            run.add(UpsertResult(), pages=1, seen=seen_on_page)
            run.checkpoint = checkpoint
            progress(n == len(batch.pages))

    try:
        try:
            with closing(batches):
                for pages in batches:
                    window.append(
                        _prepare(client, store, entity, pages, options, seen, images, statuses)
                    )
                    while window and (window[0].ready() or len(window) > options.window):
                        commit(window.popleft())
                    if stop is not None and stop.is_set():
                        break
        except ApiError:
            if report.failed_at is None:
                raise
            # A page kept failing: every page before it is stored, the checkpoint at it.
            while window:
                commit(window.popleft())
            raise
        finally:
            _record_paging(store, run, entity, report, options.take)
        while window:
            commit(window.popleft())
    finally:
        if images is not None:
            images.shutdown(wait=True, cancel_futures=True)
    if stop is not None and stop.is_set():
        return RunStatus.ABORTED
    if report.unreachable:
        offsets = ", ".join(str(u.offset) for u in report.unreachable[:10])
        raise IncompleteScanError(
            f"{entity.endpoint.name}: {len(report.unreachable)} offset(s) still failing after "
            f"retries ({offsets}); every other record stored, no delisting"
        )
    if not may_delist or start > 0 or not report.complete:
        return RunStatus.SUCCEEDED
    outcome = reconcile(
        client,
        store,
        entity,
        seen,
        parallelism=options.parallelism,
        guard_minimum=options.delist_guard_minimum,
        guard_fraction=options.delist_guard_fraction,
        stop=stop,
        online_statuses=statuses,
    )
    run.details["delisting"] = outcome.details()
    run.counts = replace(run.counts, delisted=outcome.delisted)
    if outcome.still_listed:
        rows, rejects = _split(entity.normalise(item) for item in outcome.still_listed)
        _load(client, store, entity, run, rows, rejects, options)
    return RunStatus.DELIST_GUARD_TRIPPED if outcome.guard_tripped else RunStatus.SUCCEEDED


def _after_failed_page(store: Store, run: _Run, entity: Entity) -> bool:
    """The job's run before this one ended on a page that kept failing (so isolate it)."""
    for record in store.recent_runs(run.brand, limit=2, entity=entity.name):
        if record.id != run.run_id:
            paging = (record.details or {}).get("paging") or {}
            return record.status == RunStatus.FAILED and bool(
                paging.get("failed_at") is not None or paging.get("unreachable")
            )
    return False


def _record_paging(
    store: Store, run: _Run, entity: Entity, report: ScanReport, configured: int
) -> None:
    """What the scan learnt about page sizes and which offsets it could not read.

    Each unreachable offset is a reject of the entity (no source id: the record
    was never seen), so the operator sees it next to the records that were refused.
    """
    paging: dict[str, Any] = {}
    if report.cap is not None:
        paging["cap"] = report.cap
    if report.refused:
        paging["refused_takes"] = report.refused
    if paging or report.take != configured:
        paging["take"] = report.take
    if report.failed_at is not None:
        paging["failed_at"] = report.failed_at
    if report.isolated:
        paging["isolated"] = report.isolated
    if report.unreachable:
        paging["unreachable"] = [u.offset for u in report.unreachable]
        rejects = [
            Reject(None, f"offset {u.offset} unreachable: {u.error}", {"offset": u.offset})
            for u in report.unreachable
        ]
        store.record_rejects(run.run_id, run.brand, entity.name, rejects)
        run.add(UpsertResult(), rejected=len(rejects))
    if paging:
        run.details["paging"] = paging


def _prepare(
    client: ReiClient,
    store: Store,
    entity: Entity,
    pages: Sequence[Page],
    options: SyncOptions,
    seen: array[int],
    images: ThreadPoolExecutor | None,
    statuses: set[Any],
) -> _Batch:
    """Skip records whose stored hashes match (one query), normalise the rest, start images.

    A record's fingerprint (id + public and private hash of its raw document) is what
    its normalised row would carry, so an unchanged record is neither validated nor
    sent to the database again.
    """
    brand = client.brand.key
    items = [item for page in pages for item in page.items]
    if entity.status_field:
        statuses.update(_statuses(items, entity.status_field))
    stored: dict[int, tuple[str, str | None]] = {}
    unchanged: list[int] = []
    pending = items
    if entity.fingerprint is not None:
        stored = store.stored_hashes(entity.table, brand, _raw_ids(items, entity.id_field))
        pending = []
        for item in items:
            # Only a record whose id is stored can be unchanged: the others (a cold
            # sync) go straight to normalising, without the fingerprint's hashing.
            known = stored.get(_raw_id(item, entity.id_field)) if stored else None
            fingerprint = entity.fingerprint(item) if known is not None else None
            if fingerprint is not None and known == fingerprint[1:]:
                unchanged.append(fingerprint[0])
            else:
                pending.append(item)
    rows, rejects = _split(entity.normalise(item) for item in pending)
    seen.extend(unchanged)
    seen.extend(row.source_id for row in rows)
    seen.extend(key for key in (source_key(r.source_id) for r in rejects) if key is not None)
    batch = _Batch(
        [(len(page.items), page.skip + len(page.items)) for page in pages],
        rows,
        rejects,
        len(unchanged),
    )
    if images is not None and rows:
        if options.full_images:
            targets = [row.source_id for row in rows] + unchanged
        else:
            unasked = [row.source_id for row in rows if row.source_id not in stored]
            if entity.fingerprint is None or unasked:
                stored = {**stored, **store.stored_hashes(entity.table, brand, unasked)}
            targets = sorted(
                {
                    row.source_id
                    for row in rows
                    if stored.get(row.source_id, (None, None))[0] != row.content_hash
                }
            )
        batch.images = [images.submit(fetch_images, client, target) for target in targets]
    elif images is not None and options.full_images:
        batch.images = [images.submit(fetch_images, client, target) for target in unchanged]
    return batch


def _raw_id(item: Any, field: str) -> Any:
    return item.get(field) if isinstance(item, dict) else None


def _statuses(items: Sequence[Any], field: str) -> set[int | str]:
    found = (_raw_id(item, field) for item in items)
    return {s for s in found if isinstance(s, (int, str)) and not isinstance(s, bool)}


def _raw_ids(items: Sequence[Any], field: str) -> list[int]:
    """The plain integer ids among raw records (anything else is normalised anyway)."""
    return [i for i in (_raw_id(item, field) for item in items) if type(i) is int]


def _commit(client: ReiClient, store: Store, entity: Entity, run: _Run, batch: _Batch) -> None:
    """Images first (for listings about to be written), then the rows, then the rejects.

    A row whose listing's images came back with rejects is written marked
    (`images_incomplete`), so that the next scan does not take it for up to date.
    """
    rows = batch.rows
    if batch.images:
        fetched = [future.result() for future in batch.images]
        images = store_images(client, store, fetched)
        _record_images(store, run, images)
        rows = _mark_incomplete(rows, images.incomplete)
    written = store.upsert(entity.table, run.brand, rows) if rows else UpsertResult()
    store.record_rejects(run.run_id, run.brand, entity.name, batch.rejects)
    run.add(written + UpsertResult(unchanged=batch.unchanged), rejected=len(batch.rejects))
    tally(run.details, run.brand, entity.name, batch.rows)
    invalid = sum(row.invalid_coordinates for row in batch.rows)
    if invalid:
        run.add_detail("normalise", invalid_coordinates=invalid)


def _load(
    client: ReiClient,
    store: Store,
    entity: Entity,
    run: _Run,
    rows: list[Row],
    rejects: list[Reject],
    options: SyncOptions,
) -> None:
    """Images first (for listings about to be written), then the rows, then the rejects."""
    brand = client.brand.key
    if entity.has_images and rows:
        targets = (
            [row.source_id for row in rows]
            if options.full_images
            else sorted(store.stale_keys(entity.table, brand, rows))
        )
        images = load_images(client, store, targets, parallelism=options.image_parallelism)
        _record_images(store, run, images)
        rows = _mark_incomplete(rows, images.incomplete)
    written = store.upsert(entity.table, brand, rows) if rows else UpsertResult()
    store.record_rejects(run.run_id, brand, entity.name, rejects)
    run.add(written, rejected=len(rejects))
    tally(run.details, brand, entity.name, rows)
    invalid = sum(row.invalid_coordinates for row in rows)
    if invalid:
        run.add_detail("normalise", invalid_coordinates=invalid)


def _mark_incomplete(rows: list[Row], incomplete: frozenset[int]) -> list[Row]:
    if not incomplete:
        return rows
    return [images_incomplete(row) if row.source_id in incomplete else row for row in rows]


def _record_images(store: Store, run: _Run, batch: ImageBatch) -> None:
    store.record_rejects(run.run_id, run.brand, IMAGES, batch.rejects)
    run.add_detail(
        "images",
        listings=batch.listings,
        inserted=batch.written.inserted,
        updated=batch.written.updated,
        unchanged=batch.written.unchanged,
        deleted=batch.written.deleted,
        rejected=len(batch.rejects),
        incomplete=len(batch.incomplete),
        failed=len(batch.failed),
    )
    run.counts = replace(run.counts, rejected=run.counts.rejected + len(batch.rejects))


def _image_sweep(
    client: ReiClient,
    store: Store,
    run: _Run,
    options: SyncOptions,
    after: int,
    stop: threading.Event | None,
    progress: Callable[[], None],
) -> RunStatus:
    """Every active listing's images, `take` listings per batch, in listing-id order.

    The checkpoint is the last listing id whose images are stored (not an offset: the
    active set may change between runs), so a resumed sweep continues with the ids after it.
    A listing whose answer had rejected records keeps its stored images (none deleted) and
    is not marked: the sweep writes no listing rows, its next run fetches it again.
    """
    active = store.active_ids(PROPERTIES_TABLE, client.brand.key)
    listing_ids = sorted(i for i in active if i > after)
    for offset in range(0, len(listing_ids), options.take):
        chunk = listing_ids[offset : offset + options.take]
        batch = load_images(client, store, chunk, parallelism=options.parallelism)
        store.record_rejects(run.run_id, run.brand, IMAGES, batch.rejects)
        run.add(batch.written, pages=1, seen=len(chunk), rejected=len(batch.rejects))
        run.add_detail(
            "images",
            deleted=batch.written.deleted,
            listings=batch.listings,
            incomplete=len(batch.incomplete),
            failed=len(batch.failed),
        )
        run.checkpoint = chunk[-1]
        progress()
        if stop is not None and stop.is_set():
            return RunStatus.ABORTED
    return RunStatus.SUCCEEDED


def _catalogue(
    client: ReiClient,
    store: Store,
    catalogue: Catalogue,
    run: _Run,
    options: SyncOptions,
    stop: threading.Event | None = None,
) -> RunStatus:
    """Fetch the whole catalogue, merge each table, delist what it no longer lists.

    Only what the answer speaks for is delisted: rejected records count as listed, and
    the stored rows of a parent whose sub-list failed (a reject, the run goes on), came
    back empty or was rejected are left as they are (`Batch`). An empty catalogue fails
    the run before anything is written (`EmptyCatalogueError`).
    """
    tripped = False
    for batch in catalogue.collect(client, options.parallelism, stop):
        spec = batch.spec
        rows, rejects = _split(batch.items)
        rejects += batch.failed
        written = store.upsert(spec, run.brand, rows) if rows else UpsertResult()
        store.record_rejects(run.run_id, run.brand, catalogue.name, rejects)
        run.add(written, pages=1, seen=len(batch.items), rejected=len(rejects))
        if batch.failed:
            run.add_detail("skipped_scopes", **{spec.table: len(batch.failed)})
        if batch.empty:
            run.add_detail("empty_scopes", **{spec.table: batch.empty})
        if batch.keep_scopes:
            run.add_detail("kept_scopes", **{spec.table: len(batch.keep_scopes)})
        if not batch.may_delist:
            run.details.setdefault("delisting_skipped", []).append(spec.table)
            log.warning("sync.catalogue_delisting_skipped", brand=run.brand, table=spec.table)
            continue
        delisted = store.delist_absent(
            spec,
            run.brand,
            batch.seen,
            guard_minimum=options.delist_guard_minimum,
            guard_fraction=options.delist_guard_fraction,
            keep_scopes=batch.keep_scopes,
        )
        if delisted is None:
            tripped = True
            metrics.DELIST_GUARD_TRIPPED.labels(run.brand, catalogue.name).inc()
            log.error("sync.delist_guard_tripped", brand=run.brand, table=spec.table)
        else:
            run.counts = replace(run.counts, delisted=run.counts.delisted + delisted)
            run.add_detail("delisted", **{spec.table: delisted})
    return RunStatus.DELIST_GUARD_TRIPPED if tripped else RunStatus.SUCCEEDED


def _split(items: Any) -> tuple[list[Row], list[Reject]]:
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in items:
        (rows if isinstance(item, Row) else rejects).append(item)
    return rows, rejects


def _finish(
    store: Store,
    run: _Run,
    status: RunStatus,
    monotonic: Callable[[], float],
    error: str | None = None,
) -> RunResult:
    seconds = monotonic() - run.started
    CURRENT_RUN.set(None)
    store.finish_run(
        run.run_id,
        status,
        run.counts,
        error=error,
        checkpoint=run.checkpoint,
        duration_seconds=round(seconds, 3),
        details=run.details or None,
    )
    metrics.RUNS.labels(run.brand, run.entity, run.mode, status).inc()
    metrics.RUN_SECONDS.labels(run.brand, run.entity).observe(seconds)
    metrics.SEEN.labels(run.brand, run.entity).inc(run.counts.seen)
    metrics.REJECTED.labels(run.brand, run.entity).inc(run.counts.rejected)
    for action in ("inserted", "updated"):
        value = getattr(run.counts, action)
        if value:
            metrics.ROWS_WRITTEN.labels(run.brand, run.entity, action).inc(value)
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
