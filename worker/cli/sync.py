"""`rei-sync sync`, `backfill`, `runs` and `runs show`: parse arguments, call one function.

`register(app)` adds them to the `rei-sync` Typer app (worker/cli/app.py). The runs
themselves are `worker.jobs.run_sync`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from worker.cli.terminal import (
    command_settings,
    domain_errors,
    err,
    fail,
    json_option,
    out,
    safe,
    write_json,
)
from worker.clock import monotonic
from worker.db.schema import IMAGES, RejectRecord, RunCounts, RunRecord, RunStatus
from worker.jobs import SyncRequest, recent_runs, resumable_run, run_sync, run_with_rejects
from worker.log import get_logger, redactor
from worker.sync.drift import summary
from worker.sync.engine import Progress as RunProgress
from worker.sync.engine import RunResult

if TYPE_CHECKING:
    from rich.progress import TaskID

log = get_logger(__name__)

PLAIN_PROGRESS_EVERY_SECONDS = 10.0


ALL_ENTITIES = ("properties", "associates", "lookups", "geo")
"""What `--entity all` runs. Images of new/changed listings come with `properties`;
the full image sweep is `--entity images` (or `--full`)."""


class EntityChoice(StrEnum):
    properties = "properties"
    associates = "associates"
    images = "images"
    lookups = "lookups"
    geo = "geo"
    all = "all"


def entity_names(choices: Sequence[EntityChoice]) -> list[str]:
    names: list[str] = []
    for choice in choices or [EntityChoice.all]:
        for name in ALL_ENTITIES if choice is EntityChoice.all else (choice.value,):
            if name not in names:
                names.append(name)
    return names


def err_line(text: str) -> None:
    """A line from the run for the operator: stderr, as plain text."""
    err.print(safe(text))


def report(results: Sequence[RunResult]) -> None:
    """The summary table; exit 1 if any run failed."""
    print_results(results)
    if any(r.status == RunStatus.FAILED for r in results):
        raise typer.Exit(1)


def entity_option(verb: str) -> Any:
    """`--entity/-e`, repeatable; `verb` says what the command does with the entities."""
    return typer.Option("--entity", "-e", help=f"What to {verb} (repeatable). Default: all.")


ParallelismOption = Annotated[
    int | None,
    typer.Option(min=1, max=32, help="Concurrent API requests. Default: REI_SYNC_PARALLELISM (4)."),
]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="Wait while another process runs the same job.")
]


def sync_command(
    brand: Annotated[
        list[str] | None,
        typer.Option(
            "--brand", "-b", help="Brand key (repeatable). Default: every configured brand."
        ),
    ] = None,
    entity: Annotated[list[EntityChoice] | None, entity_option("sync")] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Also refetch the images of every listing.")
    ] = False,
    parallelism: ParallelismOption = None,
    wait: WaitOption = False,
) -> None:
    """Run one full sync now for the configured brands, then exit (migrates first)."""
    names = entity_names(entity or [])
    sync_and_report(SyncRequest(brand or [], names, full=full, parallelism=parallelism, wait=wait))


def backfill_command(
    brand: Annotated[str, typer.Option("--brand", "-b", help="Brand key.")],
    entity: Annotated[list[EntityChoice] | None, entity_option("load")] = None,
    resume: Annotated[
        int | None,
        typer.Option("--resume", help="Continue run RUN_ID from its checkpoint (no delisting)."),
    ] = None,
    parallelism: ParallelismOption = None,
    wait: WaitOption = False,
) -> None:
    """Load one brand in full with progress; `--resume` continues an interrupted run."""
    names = entity_names(entity or [])
    request = SyncRequest([brand], names, mode="backfill", parallelism=parallelism, wait=wait)
    sync_and_report(request, resume=resume)


def sync_and_report(request: SyncRequest, *, resume: int | None = None) -> None:
    """`sync` and `backfill`: the runs (a backfill's with progress), their summary, the exit.

    `resume` (a backfill's, of its one brand) is checked before anything runs."""
    with domain_errors():
        settings = command_settings()
        if resume is not None:
            record = resumable_run(settings, request.brands[0], resume)
            request = dataclasses.replace(request, resume=record)
        progress = progress_reporter(out) if request.mode == "backfill" else nullcontext(None)
        with progress as on_progress:
            results = run_sync(settings, request, say=err_line, on_progress=on_progress)
        report(results)


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
    as_json: Annotated[bool, json_option("Print them as JSON.")] = False,
) -> None:
    """Show recent sync runs, newest first (a read: never changes the schema)."""
    if ctx.invoked_subcommand is not None:
        return
    with domain_errors():
        settings = command_settings(require_brands=False, with_brands=False)
        records = recent_runs(settings, brand.upper() if brand else None, limit)
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
    as_json: Annotated[bool, json_option("Print it as JSON.")] = False,
) -> None:
    """One run: counts, timing, error, checkpoint, and its rejects with their reasons."""
    with domain_errors():
        settings = command_settings(require_brands=False, with_brands=False)
        shown = run_with_rejects(settings, run_id, rejects)
        if shown is None:
            fail(1, f"error: no sync run {run_id}")
        record, found = shown
        if as_json:
            write_json({**run_document(record), "rejects": [reject_document(r) for r in found]})
        else:
            print_run(record, found)


def register(app: typer.Typer) -> None:
    """Add `sync`, `backfill` and `runs` to the `rei-sync` app."""
    app.command("sync")(sync_command)
    app.command("backfill")(backfill_command)
    app.add_typer(runs_app, name="runs")


def print_results(results: Sequence[RunResult]) -> None:
    table = Table(title="sync summary")
    for column in ("run", "brand", "entity", "status"):
        table.add_column(column)
    numbers = ("pages", "seen", "inserted", "updated", "unchanged", "rejected", "delisted")
    for column in (*numbers, "images", "seconds"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.run_id),
            *map(safe, (r.brand, r.entity, r.status)),
            *count_cells(r.counts),
            images_written(r),
            f"{r.seconds:.2f}",
        )
    out.print(table)


def count_cells(c: RunCounts) -> list[str]:
    """A run's pages, seen, inserted, updated, unchanged, rejected and delisted, as cells."""
    return [
        str(v)
        for v in (c.pages, c.seen, c.inserted, c.updated, c.unchanged, c.rejected, c.delisted)
    ]


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
        table.add_row(
            str(run.id),
            *map(safe, (run.brand, run.entity, run.mode, run.status)),
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            *count_cells(run.counts),
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
        with progress_bars(console) as on_rich:
            yield on_rich
        return
    last = [0.0]

    def on_plain(p: RunProgress) -> None:
        now = monotonic()
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


@contextmanager
def progress_bars(console: Console) -> Iterator[Callable[[RunProgress], None]]:
    """The bars of a backfill on a terminal; `rich.progress` is imported only for them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
            tasks[key] = bars.add_task(f"{p.brand}/{p.entity} pages", total=None, rows=0, rate=0)
        rate = int(p.counts.seen / p.seconds) if p.seconds > 0 else 0
        bars.update(tasks[key], completed=p.counts.pages, rows=p.counts.seen, rate=rate)

    with bars:
        yield on_rich


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
