"""The list scan of a paged entity (properties, associates).

Pages are fetched in parallel and loaded as they arrive (`sync/batches.py`); for
listings, images of new/changed listings are stored *before* the listing rows, so a
run killed in between refetches them next time; a listing whose image answer had
rejected records is written with `images_incomplete` (a hash that cannot match), so
the next scan refetches its images too; so is a listing whose image request failed
(named in `sync_rejects`, the run goes on: `sync/images.py`). After a complete,
non-resumed, non-stopped scan: proven delistings (`sync/delisting.py`), the statuses
the scan saw telling which details statuses are online (`sync/statuses.py`).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence
from contextlib import closing
from dataclasses import replace
from typing import Any

from worker.db.schema import Reject, RunStatus, UpsertResult
from worker.errors import ApiError, IncompleteScanError
from worker.sync.batches import PreparedBatch, prepare, write_batch
from worker.sync.delisting import reconcile
from worker.sync.entities import Entity
from worker.sync.images import ImageFetcher, load_images, store_images
from worker.sync.job import Job, SyncOptions, split
from worker.sync.pipeline import ScanReport, fetch_page_batches
from worker.sync.prehash import PageHasher


def run_scan(job: Job, entity: Entity) -> RunStatus:
    """Pages → fingerprints → only new/changed records normalised → their images → merge.

    Runs of pages that have already arrived are written as one batch; the images
    of a batch's new/changed listings are fetched on their own pool (at an adaptive
    concurrency, `sync/concurrency.py`) while later pages are read, and a batch is
    written (images first, then its rows) once its images are in, strictly in page
    order, at most `options.window` batches and (besides the newest) `options.window_bytes`
    of encoded rows ahead.

    A page that keeps failing ends the run `failed` once every batch before it is
    stored (checkpoint and `details.paging.failed_at` at that page); the job's next
    run then isolates failing pages (`pipeline._Planner.recover`) and stores every
    record it can reach. Only a scan that read an empty page at the end may delist.
    """
    seen: array[int] = array("q")
    """Ids of the scan (repeats possible), 8 bytes each: a set of 200k ints costs ~15 MB."""
    report = ScanReport(job.options.take)
    statuses: set[Any] = set()
    """The `entity.status_field` values seen on the online list (for `reconcile`)."""
    images = job.image_fetcher() if entity.has_images and job.options.listing_images else None
    try:
        _read(job, entity, report, images, seen, statuses)
    finally:
        if images is not None:
            images.close()
    if job.stopped():
        return RunStatus.ABORTED
    if report.unreachable:
        offsets = ", ".join(str(u.offset) for u in report.unreachable[:10])
        raise IncompleteScanError(
            f"{entity.endpoint.name}: {len(report.unreachable)} offset(s) still failing after "
            f"retries ({offsets}); every other record stored, no delisting"
        )
    if not job.may_delist or job.start > 0 or not report.complete:
        return RunStatus.SUCCEEDED
    return _delist(job, entity, seen, statuses)


def _read(
    job: Job,
    entity: Entity,
    report: ScanReport,
    images: ImageFetcher | None,
    seen: array[int],
    statuses: set[Any],
) -> None:
    """Every page into the store, batch by batch, in page order (`run_scan`)."""
    options = job.options
    hasher = PageHasher(entity.fingerprint) if entity.fingerprint is not None else None
    batches = fetch_page_batches(
        job.client,
        entity.endpoint,
        options.take,
        start=job.start,
        parallelism=options.parallelism,
        prefetch=options.prefetch,
        stop=job.stop,
        max_items=options.batch_items,
        isolate=_after_failed_page(job, entity),
        report=report,
        on_page=hasher,
    )
    window: deque[PreparedBatch] = deque()
    try:
        with closing(batches):
            for pages in batches:
                batch = prepare(job, entity, pages, seen, images, statuses)
                if hasher is not None:
                    hasher.expect_stored = batch.unchanged > 0
                window.append(batch)
                while window and (window[0].ready() or _over(window, options)):
                    _commit(job, entity, window.popleft())
                if job.stopped():
                    break
    except ApiError:
        if report.failed_at is None:
            raise
        # A page kept failing: every page before it is stored, the checkpoint at it.
        while window:
            _commit(job, entity, window.popleft())
        raise
    finally:
        _record_paging(job, entity, report)
    while window:
        _commit(job, entity, window.popleft())


def _over(window: deque[PreparedBatch], options: SyncOptions) -> bool:
    """More batches, or (besides the newest) more bytes of rows, than the window holds.

    The newest batch always stays: its images are what the pool works on while the next
    pages are read. What is held is bounded by bytes as well as by batches because a
    batch is up to `batch_items` records, so `window` batches alone could hold
    `window x batch_items` listings (measured: ~17 MB more peak RSS at 4 x 1,000 than at
    1 x 1,000, with no change in time on an image-bound cold sync).
    """
    if len(window) > options.window:
        return True
    return len(window) > 1 and sum(b.held_bytes for b in window) > options.window_bytes


def _commit(job: Job, entity: Entity, batch: PreparedBatch) -> None:
    """Write the batch, then report it page by page; the ledger is written once."""
    images = None
    if batch.images:
        fetched = [future.result() for future in batch.images]
        images = store_images(job.client, job.store, fetched)
    write_batch(job, entity, batch.rows, batch.rejects, images=images, unchanged=batch.unchanged)
    for n, (seen_on_page, checkpoint) in enumerate(batch.pages, start=1):
        job.run.add(UpsertResult(), pages=1, seen=seen_on_page)
        job.run.checkpoint = checkpoint
        job.progress(n == len(batch.pages))


def _after_failed_page(job: Job, entity: Entity) -> bool:
    """The job's run before this one ended on a page that kept failing (so isolate it)."""
    run = job.run
    for record in job.store.recent_runs(run.brand, limit=2, entity=entity.name):
        if record.id != run.run_id:
            paging = (record.details or {}).get("paging") or {}
            return record.status == RunStatus.FAILED and bool(
                paging.get("failed_at") is not None or paging.get("unreachable")
            )
    return False


def _record_paging(job: Job, entity: Entity, report: ScanReport) -> None:
    """What the scan learnt about page sizes and which offsets it could not read.

    Each unreachable offset is a reject of the entity (no source id: the record
    was never seen), so the operator sees it next to the records that were refused.
    """
    paging: dict[str, Any] = {}
    if report.cap is not None:
        paging["cap"] = report.cap
    if report.refused:
        paging["refused_takes"] = report.refused
    if paging or report.take != job.options.take:
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
        job.record_rejects(entity.name, rejects)
        job.run.add(UpsertResult(), rejected=len(rejects))
    if paging:
        job.run.details["paging"] = paging


def _delist(job: Job, entity: Entity, seen: array[int], statuses: set[Any]) -> RunStatus:
    """Delist what a complete scan proved gone; load what it missed but is still listed."""
    options = job.options
    outcome = reconcile(
        job.client,
        job.store,
        entity,
        seen,
        parallelism=options.parallelism,
        guard_minimum=options.delist_guard_minimum,
        guard_fraction=options.delist_guard_fraction,
        stop=job.stop,
        online_statuses=statuses,
    )
    job.run.details["delisting"] = outcome.details()
    job.run.counts = replace(job.run.counts, delisted=outcome.delisted)
    if outcome.still_listed:
        _load_listed(job, entity, outcome.still_listed)
    return RunStatus.DELIST_GUARD_TRIPPED if outcome.guard_tripped else RunStatus.SUCCEEDED


def _load_listed(job: Job, entity: Entity, records: Sequence[Any]) -> None:
    """Records the scan missed (drift) but whose details say listed: written like a batch,
    their images first (those of every one with `full_images`, else the stale ones)."""
    rows, rejects = split(entity.normalise(item) for item in records)
    images = None
    if entity.has_images and rows:
        targets = (
            [row.source_id for row in rows]
            if job.options.full_images
            else sorted(job.store.stale_keys(entity.table, job.brand, rows))
        )
        with job.image_fetcher() as fetcher:
            images = load_images(job.client, job.store, targets, fetcher=fetcher)
    write_batch(job, entity, rows, rejects, images=images)
