"""`rei-sync sync`, `backfill`, `runs` and `runs show`: parse arguments, call one function.

`register(app)` adds them to the `rei-sync` Typer app (worker/cli/app.py).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

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
from rich.text import Text

from worker.auth.build import build_token_manager, build_token_store
from worker.cli.terminal import command_settings, domain_errors, err, fail, out
from worker.config import Settings
from worker.db.schema import IMAGES, RejectRecord, RunRecord, RunStatus
from worker.errors import ConfigError, LeaseBusyError
from worker.leases import Lease, LeaseStore, job_key
from worker.log import get_logger, redactor
from worker.runtime import build_client, open_engine
from worker.safe_text import safe
from worker.sinks.choose import build_store
from worker.sync.drift import summary
from worker.sync.engine import Progress as RunProgress
from worker.sync.engine import RunResult, SyncOptions, sync_entity
from worker.sync.entities import CATALOGUES, ENTITIES

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
    table.add_column("images", justify="right")
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
            images_written(r),
            f"{r.seconds:.2f}",
        )
    out.print(table)


def images_written(result: RunResult) -> str:
    """Images a run stored (new or changed): a listings run fetches those of its new and
    changed listings, the image sweep (`images`) those of every listing. Empty otherwise."""
    if result.entity == IMAGES:
        return str(result.counts.inserted + result.counts.updated)
    images = result.details.get("images")
    if not isinstance(images, dict):
        return ""
    return str(int(images.get("inserted", 0)) + int(images.get("updated", 0)))


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
            if any(r.status == RunStatus.FAILED for r in results):
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
            if any(r.status == RunStatus.FAILED for r in results):
                raise typer.Exit(1)

    runs_app = typer.Typer(
        help="Show recent sync runs, newest first; `runs show RUN_ID` for one run.",
        invoke_without_command=True,
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help: flags show as `--full`, not `--full <bool>`
    )

    @runs_app.callback()
    def runs(
        ctx: typer.Context,
        brand: Annotated[str | None, typer.Option("--brand", "-b", help="Only this brand.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
    ) -> None:
        """Show recent sync runs, newest first (a read: never changes the schema)."""
        if ctx.invoked_subcommand is not None:
            return
        with domain_errors():
            settings = command_settings(require_brands=False, with_brands=False)
            with open_engine(settings) as engine:
                records = build_store(settings, engine).recent_runs(
                    brand.upper() if brand else None, limit
                )
            if as_json:
                write_json([run_document(r) for r in records])
            else:
                print_runs(records)

    @runs_app.command("show")
    def show(
        run_id: Annotated[int, typer.Argument(metavar="RUN_ID", help="The run's id.")],
        rejects: Annotated[
            int, typer.Option(min=0, max=10_000, help="How many of its rejects to show.")
        ] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
    ) -> None:
        """One run: counts, timing, error, checkpoint, and its rejects with their reasons."""
        with domain_errors():
            settings = command_settings(require_brands=False, with_brands=False)
            with open_engine(settings) as engine:
                store = build_store(settings, engine)
                record = store.get_run(run_id)
                if record is None:
                    fail(1, f"error: no sync run {run_id}")
                found = store.latest_rejects(rejects, run_id=run_id) if rejects else []
            if as_json:
                write_json({**run_document(record), "rejects": [reject_document(r) for r in found]})
            else:
                print_run(record, found)

    app.add_typer(runs_app, name="runs")


def write_json(document: object) -> None:
    """Plain bytes on stdout: a rich Console would still turn `:x:` into an emoji."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_document(run: RunRecord) -> dict[str, Any]:
    """A run as JSON: every column of its `sync_runs` row, the error scrubbed."""
    return {
        "id": run.id,
        "brand": run.brand,
        "entity": run.entity,
        "mode": run.mode,
        "status": run.status,
        "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "counts": dataclasses.asdict(run.counts),
        "checkpoint": run.checkpoint,
        "resumed_from": run.resumed_from,
        "error": redactor.scrub(run.error) if run.error else None,
        "details": redactor.scrub_value(run.details),
    }


def reject_document(reject: RejectRecord) -> dict[str, Any]:
    """A reject as JSON: where the record came from and why, never its payload."""
    return {
        "id": reject.id,
        "source_id": reject.source_id,
        "reason": redactor.scrub(reject.reason),
        "created_at": _when(reject.created_at),
    }


def print_run(run: RunRecord, rejects: Sequence[RejectRecord]) -> None:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    c = run.counts
    duration = "" if run.duration_seconds is None else f"{run.duration_seconds:.1f}s"
    for name, value in (
        ("run", str(run.id)),
        ("brand / entity", f"{run.brand} / {run.entity}"),
        ("mode", run.mode),
        ("status", run.status),
        ("started", run.started_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()),
        ("finished", run.finished_at.strftime("%Y-%m-%d %H:%M:%S %Z") if run.finished_at else ""),
        ("took", duration),
        ("pages / seen", f"{c.pages} / {c.seen}"),
        ("inserted / updated / unchanged", f"{c.inserted} / {c.updated} / {c.unchanged}"),
        ("rejected / delisted", f"{c.rejected} / {c.delisted}"),
        ("checkpoint", "" if run.checkpoint is None else str(run.checkpoint)),
        ("resumed from", "" if run.resumed_from is None else str(run.resumed_from)),
        ("error", redactor.scrub(run.error or "")),
    ):
        facts.add_row(name, Text(value))
    out.print(facts)
    if not rejects:
        out.print(Text("rejects: none", style="dim"))
        return
    table = Table("when", "source id", "reason", title=f"rejects of run {run.id}")
    for r in rejects:
        table.add_row(
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(r.source_id or ""),
            Text(redactor.scrub(r.reason)),
        )
    out.print(table)


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
