"""`rei-sync sync`, `backfill` and `runs`: parse arguments, call the engine, print a table.

`register(app)` adds them to the `rei-sync` Typer app (worker/cli.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import requests
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from worker.auth.build import build_token_manager, build_token_store
from worker.config import Settings
from worker.errors import ConfigError
from worker.leases import Lease, LeaseBusyError, LeaseStore, job_key
from worker.log import get_logger, redactor
from worker.runtime import build_client, open_engine
from worker.safe_text import safe
from worker.sinks.base import RunRecord
from worker.sinks.choose import build_store
from worker.sync.drift import summary
from worker.sync.engine import Progress as RunProgress
from worker.sync.engine import RunResult, SyncOptions, sync_entity
from worker.sync.entities import CATALOGUES, ENTITIES, IMAGES
from worker.terminal import command_settings, domain_errors, err, out

log = get_logger(__name__)

PLAIN_PROGRESS_EVERY_SECONDS = 10.0


class EntityChoice(StrEnum):
    properties = "properties"
    associates = "associates"
    images = "images"
    lookups = "lookups"
    geo = "geo"
    all = "all"


ALL_ENTITIES = ("properties", "associates", "lookups", "geo")
"""What `--entity all` runs. Images of new/changed listings come with `properties`;
the full image sweep is `--entity images` (or `--full`)."""


def entity_names(choices: Sequence[EntityChoice]) -> list[str]:
    names: list[str] = []
    for choice in choices or [EntityChoice.all]:
        for name in ALL_ENTITIES if choice is EntityChoice.all else (choice.value,):
            if name not in names:
                names.append(name)
    return names


def run_sync(
    settings: Settings,
    brand_keys: Sequence[str],
    entities: Sequence[EntityChoice],
    *,
    full: bool = False,
    mode: str = "manual",
    parallelism: int | None = None,
    resume: RunRecord | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
    wait: bool = False,
) -> list[RunResult]:
    """Migrate, then one run per brand x entity, in order; failures are reported, not raised.

    Each run holds the job's lease, the same one the daemon's job takes: another holder →
    `LeaseBusyError` (exit 1), or with `wait` poll until it is free. `parallelism`
    unset: `REI_SYNC_PARALLELISM`.
    """
    brands = [settings.brand(key) for key in brand_keys] if brand_keys else list(settings.brands)
    names = [resume.entity] if resume is not None else entity_names(entities)
    options = SyncOptions(
        take=settings.rei_page_size,
        parallelism=parallelism or settings.rei_sync_parallelism,
        full_images=full,
    )
    results: list[RunResult] = []
    with open_engine(settings, migrate=True) as engine, requests.Session() as session:
        store = build_store(settings, engine)
        leases = LeaseStore(engine, ttl_seconds=settings.lease_ttl_seconds)
        tokens = build_token_manager(
            settings, store=build_token_store(settings, engine), session=session
        )
        try:
            for brand in brands:
                client = build_client(settings, brand, tokens, session)
                for name in names:
                    halt = stop or threading.Event()
                    with _take_lease(leases, job_key(brand.key, name), wait, halt).keep(halt.set):
                        result = sync_entity(
                            client,
                            store,
                            name,
                            options=options,
                            mode=mode,
                            stop=halt,
                            resume=resume,
                            on_progress=on_progress,
                        )
                    if result.error:
                        err.print(safe(redactor.scrub(f"{brand.key}/{name}: {result.error}")))
                    results.append(result)
        finally:
            tokens.close()
    return results


def _take_lease(leases: LeaseStore, key: str, wait: bool, cancel: threading.Event) -> Lease:
    lease = leases.try_acquire(key)
    if lease is not None:
        return lease
    if not wait:
        raise LeaseBusyError(key, leases.holder_of(key))
    holder = leases.holder_of(key) or "another process"
    err.print(safe(f"waiting for job {key} (lease held by {holder})"), soft_wrap=True)
    return leases.acquire(key, wait=True, cancel=cancel)


def print_results(results: Sequence[RunResult]) -> None:
    table = Table(title="sync summary")
    for column in ("run", "brand", "entity", "status"):
        table.add_column(column)
    for column in ("pages", "seen", "inserted", "updated", "unchanged", "rejected", "delisted"):
        table.add_column(column, justify="right")
    table.add_column("seconds", justify="right")
    for r in results:
        c = r.counts
        table.add_row(
            str(r.run_id),
            safe(r.brand),
            safe(r.entity),
            safe(r.status),
            *(str(v) for v in (c.pages, c.seen, c.inserted, c.updated, c.unchanged)),
            str(c.rejected),
            str(c.delisted),
            f"{r.seconds:.2f}",
        )
    out.print(table)


def print_runs(runs: Sequence[RunRecord]) -> None:
    table = Table(title="recent runs")
    for column in ("run", "brand", "entity", "mode", "status", "started"):
        table.add_column(column)
    for column in ("pages", "seen", "ins", "upd", "same", "rej", "delisted", "checkpoint", "secs"):
        table.add_column(column, justify="right")
    table.add_column("error")
    table.add_column("fields")
    for run in runs:
        c = run.counts
        table.add_row(
            str(run.id),
            safe(run.brand),
            safe(run.entity),
            safe(run.mode),
            safe(run.status),
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            *(str(v) for v in (c.pages, c.seen, c.inserted, c.updated, c.unchanged)),
            str(c.rejected),
            str(c.delisted),
            "" if run.checkpoint is None else str(run.checkpoint),
            "" if run.duration_seconds is None else f"{run.duration_seconds:.1f}",
            safe(redactor.scrub(run.error or "")[:80]),
            safe(summary(run.details) or ""),
        )
    out.print(table)


@contextmanager
def progress_reporter(console: Console) -> Iterator[Callable[[RunProgress], None]]:
    """Rich bars (pages, rows, rows/s) on a terminal; a log line every few seconds otherwise."""
    if console.is_terminal:
        bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows {task.fields[rows]} · {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            console=console,
        )
        tasks: dict[tuple[str, str], TaskID] = {}

        def on_rich(p: RunProgress) -> None:
            key = (p.brand, p.entity)
            if key not in tasks:
                tasks[key] = bars.add_task(
                    f"{p.brand}/{p.entity} pages", total=None, rows=0, rate=0
                )
            rate = int(p.counts.seen / p.seconds) if p.seconds > 0 else 0
            bars.update(tasks[key], completed=p.counts.pages, rows=p.counts.seen, rate=rate)

        with bars:
            yield on_rich
        return
    last = [0.0]

    def on_plain(p: RunProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= PLAIN_PROGRESS_EVERY_SECONDS:
            last[0] = now
            rate = round(p.counts.seen / p.seconds) if p.seconds > 0 else 0
            log.info(
                "sync.progress",
                brand=p.brand,
                entity=p.entity,
                pages=p.counts.pages,
                rows=p.counts.seen,
                rows_per_second=rate,
                checkpoint=p.checkpoint,
            )

    yield on_plain


def register(app: typer.Typer) -> None:
    """Add `sync`, `backfill` and `runs` to the `rei-sync` app."""

    @app.command()
    def sync(
        brand: Annotated[
            list[str] | None,
            typer.Option(
                "--brand", "-b", help="Brand key (repeatable). Default: every configured brand."
            ),
        ] = None,
        entity: Annotated[
            list[EntityChoice] | None,
            typer.Option("--entity", "-e", help="What to sync (repeatable). Default: all."),
        ] = None,
        full: Annotated[
            bool, typer.Option("--full", help="Also refetch the images of every listing.")
        ] = False,
        parallelism: Annotated[
            int | None,
            typer.Option(
                min=1, max=32, help="Concurrent API requests. Default: REI_SYNC_PARALLELISM (4)."
            ),
        ] = None,
        wait: Annotated[
            bool, typer.Option("--wait", help="Wait while another process runs the same job.")
        ] = False,
    ) -> None:
        """Run one full sync now for the configured brands, then exit (migrates first)."""
        with domain_errors():
            settings = command_settings()
            results = run_sync(
                settings, brand or [], entity or [], full=full, parallelism=parallelism, wait=wait
            )
            print_results(results)
            if any(r.status == "failed" for r in results):
                raise typer.Exit(1)

    @app.command()
    def backfill(
        brand: Annotated[str, typer.Option("--brand", "-b", help="Brand key.")],
        entity: Annotated[
            list[EntityChoice] | None,
            typer.Option("--entity", "-e", help="What to load (repeatable). Default: all."),
        ] = None,
        resume: Annotated[
            int | None,
            typer.Option(
                "--resume", help="Continue run RUN_ID from its checkpoint (no delisting)."
            ),
        ] = None,
        parallelism: Annotated[
            int | None,
            typer.Option(
                min=1, max=32, help="Concurrent API requests. Default: REI_SYNC_PARALLELISM (4)."
            ),
        ] = None,
        wait: Annotated[
            bool, typer.Option("--wait", help="Wait while another process runs the same job.")
        ] = False,
    ) -> None:
        """Load one brand in full with progress; `--resume` continues an interrupted run."""
        with domain_errors():
            settings = command_settings()
            record = _resumable(settings, brand, resume) if resume is not None else None
            with progress_reporter(out) as on_progress:
                results = run_sync(
                    settings,
                    [brand],
                    entity or [],
                    mode="backfill",
                    parallelism=parallelism,
                    resume=record,
                    on_progress=on_progress,
                    wait=wait,
                )
            print_results(results)
            if any(r.status == "failed" for r in results):
                raise typer.Exit(1)

    @app.command()
    def runs(
        brand: Annotated[str | None, typer.Option("--brand", "-b", help="Only this brand.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
    ) -> None:
        """Show recent sync runs, newest first."""
        with domain_errors():
            settings = command_settings(require_brands=False, with_brands=False)
            with open_engine(settings, migrate=True) as engine:
                records = build_store(settings, engine).recent_runs(
                    brand.upper() if brand else None, limit
                )
            print_runs(records)


def _resumable(settings: Settings, brand: str, run_id: int) -> RunRecord:
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
