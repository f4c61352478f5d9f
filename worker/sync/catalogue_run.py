"""The catalogue run (lookups, geo): fetched whole, each table merged, then delisted.

Only what the answer speaks for is delisted: rejected records count as listed, and
the stored rows of a parent whose sub-list failed (a reject, the run goes on), came
back empty or was rejected are left as they are (`entities.Batch`). An empty
catalogue fails the run before anything is written (`EmptyCatalogueError`).
"""

from __future__ import annotations

from dataclasses import replace

from worker.db.schema import RunStatus, UpsertResult
from worker.log import get_logger
from worker.sinks.base import AbsentScan
from worker.sync import metrics
from worker.sync.entities import Batch, Catalogue
from worker.sync.job import Job, split

log = get_logger(__name__)


def run_catalogue(job: Job, catalogue: Catalogue) -> RunStatus:
    """Fetch the whole catalogue, merge each table, delist what it no longer lists."""
    tripped = False
    for batch in catalogue.collect(job.client, job.options.parallelism, job.stop):
        _merge(job, catalogue, batch)
        if not batch.may_delist:
            job.run.details.setdefault("delisting_skipped", []).append(batch.spec.table)
            log.warning("sync.catalogue_delisting_skipped", brand=job.brand, table=batch.spec.table)
            continue
        if not _delist(job, catalogue, batch):
            tripped = True
    return RunStatus.DELIST_GUARD_TRIPPED if tripped else RunStatus.SUCCEEDED


def _merge(job: Job, catalogue: Catalogue, batch: Batch) -> None:
    """One table's rows and rejects into the store, and what the answer left out."""
    run, spec = job.run, batch.spec
    rows, rejects = split(batch.items)
    rejects += batch.failed
    written = job.store.upsert(spec, run.brand, rows) if rows else UpsertResult()
    job.record_rejects(catalogue.name, rejects)
    run.add(written, pages=1, seen=len(batch.items), rejected=len(rejects))
    if batch.failed:
        run.add_detail("skipped_scopes", **{spec.table: len(batch.failed)})
    if batch.empty:
        run.add_detail("empty_scopes", **{spec.table: batch.empty})
    if batch.keep_scopes:
        run.add_detail("kept_scopes", **{spec.table: len(batch.keep_scopes)})


def _delist(job: Job, catalogue: Catalogue, batch: Batch) -> bool:
    """Delist the table's stored rows the answer no longer lists; False: the guard tripped."""
    run, spec = job.run, batch.spec
    scan = AbsentScan(
        batch.seen,
        guard_minimum=job.options.delist_guard_minimum,
        guard_fraction=job.options.delist_guard_fraction,
        keep_scopes=batch.keep_scopes,
    )
    delisted = job.store.delist_absent(spec, run.brand, scan)
    if delisted is None:
        metrics.DELIST_GUARD_TRIPPED.labels(run.brand, catalogue.name).inc()
        log.error("sync.delist_guard_tripped", brand=run.brand, table=spec.table)
        return False
    run.counts = replace(run.counts, delisted=run.counts.delisted + delisted)
    run.add_detail("delisted", **{spec.table: delisted})
    return True
