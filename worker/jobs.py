"""Runs by hand (`rei-sync sync`, `backfill`, `demo`): each brand × entity in turn, under
the same lease the daemon's job takes, through one `Runtime`; and the run ledger read
back (`rei-sync runs`, `runs show`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from worker.config import Settings
from worker.db.schema import IMAGES, RejectRecord, RunRecord
from worker.errors import ConfigError, LeaseBusyError
from worker.leases import Lease, LeaseStore, job_key
from worker.log import redactor
from worker.runtime import open_engine, open_runtime
from worker.sinks.choose import build_store
from worker.sync.engine import Progress, RunResult
from worker.sync.entities import CATALOGUES, ENTITIES

Say = Callable[[str], None]
"""Where a line for the operator goes (the CLI: one safe line on stderr)."""


@dataclass(frozen=True)
class SyncRequest:
    """Runs by hand: every brand of `brands` (none: every configured brand) × `entities`.

    `parallelism` unset: `REI_SYNC_PARALLELISM`. `resume` runs that run's entity only.
    `wait`: poll while another process holds a job's lease instead of failing.
    """

    brands: Sequence[str]
    entities: Sequence[str]
    mode: str = "manual"
    full: bool = False
    parallelism: int | None = None
    resume: RunRecord | None = None
    wait: bool = False


def run_sync(
    settings: Settings,
    request: SyncRequest,
    *,
    say: Say,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> list[RunResult]:
    """Migrate, then one run per brand x entity, in order; failures are reported, not raised.

    Each run holds the job's lease, the same one the daemon's job takes: another holder →
    `LeaseBusyError` (exit 1), or with `request.wait` poll until it is free.
    """
    keys = request.brands
    brands = [settings.brand(key) for key in keys] if keys else list(settings.brands)
    resume = request.resume
    names = [resume.entity] if resume is not None else list(request.entities)
    results: list[RunResult] = []
    with open_runtime(settings, migrate=True) as runtime:
        options = runtime.options(parallelism=request.parallelism, full=request.full)
        for brand in brands:
            for name in names:
                halt = stop or threading.Event()
                key = job_key(brand.key, name)
                lease = take_lease(runtime.leases, key, request.wait, halt, say)
                result = runtime.run_job(
                    brand.key,
                    name,
                    mode=request.mode,
                    stop=halt,
                    lease=lease,
                    options=options,
                    resume=resume,
                    on_progress=on_progress,
                )
                if result.error:
                    say(redactor.scrub(f"{brand.key}/{name}: {result.error}"))
                results.append(result)
    return results


def take_lease(
    leases: LeaseStore, key: str, wait: bool, cancel: threading.Event, say: Say
) -> Lease:
    """The job's lease now; busy: `LeaseBusyError`, or with `wait` poll until `cancel`."""
    lease = leases.try_acquire(key)
    if lease is not None:
        return lease
    if not wait:
        raise LeaseBusyError(key, leases.holder_of(key))
    holder = leases.holder_of(key) or "another process"
    say(f"waiting for job {key} (lease held by {holder})")
    return leases.acquire(key, wait=True, cancel=cancel)


def resumable_run(settings: Settings, brand: str, run_id: int) -> RunRecord:
    """Run `run_id` if `backfill --brand BRAND --resume RUN_ID` can continue it (migrates)."""
    with open_engine(settings, migrate=True) as engine:
        record = build_store(settings, engine).get_run(run_id)
    if record is None:
        raise ConfigError("--resume", f"no sync run {run_id}")
    if record.brand != brand.upper():
        raise ConfigError("--resume", f"run {run_id} is for brand {record.brand}, not {brand}")
    if record.entity in CATALOGUES:
        raise ConfigError(
            "--resume",
            f"run {run_id} is a {record.entity} run: catalogues are fetched whole and have no "
            f"checkpoint; run `rei-sync backfill --brand {brand} --entity {record.entity}`",
        )
    if record.entity not in ENTITIES and record.entity != IMAGES:
        raise ConfigError("--resume", f"run {run_id} has unknown entity {record.entity}")
    return record


def recent_runs(settings: Settings, brand: str | None, limit: int) -> list[RunRecord]:
    """The latest `limit` runs (of one brand), newest first; a read: never migrates."""
    with open_engine(settings) as engine:
        return build_store(settings, engine).recent_runs(brand, limit)


def run_with_rejects(
    settings: Settings, run_id: int, rejects: int
) -> tuple[RunRecord, list[RejectRecord]] | None:
    """Run `run_id` and its latest `rejects` rejects, or None if there is no such run."""
    with open_engine(settings) as engine:
        store = build_store(settings, engine)
        record = store.get_run(run_id)
        if record is None:
            return None
        return record, store.latest_rejects(rejects, run_id=run_id) if rejects else []
