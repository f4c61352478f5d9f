"""`rei-sync status`: the status page's picture in the terminal (rich tables), or its JSON.

Reads only: no migration, no token request. Runs and rejects come from the store
the sync writes to (Supabase's REST API in REST mode), leases from the local
database. Token states come from the shared encrypted store
(`TOKEN_ENCRYPTION_KEY`), as a replica would adopt them; a refused-keys circuit
(FAILED) lives in the daemon's memory and shows on its page, not here. Next run
times belong to the daemon's scheduler, so this command shows each job's
schedule instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from worker.cli.terminal import (
    command_settings,
    console,
    domain_errors,
    json_option,
    safe,
    write_plain,
)

if TYPE_CHECKING:
    from worker.status.view import Badge, BrandView, Point, StatusView

STYLES = {"ok": "green", "warn": "yellow", "bad": "bold red", "idle": "cyan"}
BARS = "▁▂▃▄▅▆▇█"


def cell(value: str) -> Text:
    """Text as shown: never parsed as rich markup or emoji codes, control characters made
    visible (it may come from the API; `worker.safe_text`)."""
    return safe(value)


def badge(b: Badge) -> Text:
    return Text(b.label, style=STYLES[b.tone])


def bars(points: Sequence[Point]) -> str:
    """The durations as block characters, oldest first; `x` marks a failed run."""
    values = [p.duration_seconds or 0.0 for p in points]
    top = max(values, default=0.0) or 1.0
    return "".join(
        "x" if p.status in ("failed", "delist_guard_tripped") else BARS[int(v / top * 7)]
        for p, v in zip(points, values, strict=True)
    )


def brand_tables(brand: BrandView) -> Group:
    token = Table.grid(padding=(0, 2))
    token.add_column(style="dim")
    token.add_column()
    t = brand.token
    if t is not None:
        token.add_row("token", badge(t.state))
        token.add_row("expires", cell(t.expires_in))
        token.add_row("renews", cell(t.renews_in))
        token.add_row("fingerprint", cell(t.fingerprint or "—"))
        if t.last_error:
            token.add_row("last error", safe(t.last_error, style="red"))
    jobs = Table(
        "entity", "last run", "when", "took", "seen", "ins", "upd", "same", "rej", "delist",
        "schedule", "last 20",
        title=cell(f"{brand.brand}: {brand.summary.label}"),
        title_justify="left",
    )  # fmt: skip
    for job in brand.jobs:
        last = job.last
        counts = [str(v) for v in vars(last.counts).values()] if last is not None else ["—"] * 6
        jobs.add_row(
            cell(job.entity),
            badge(job.status),
            cell(last.started_ago if last else "—"),
            cell(last.duration if last else "—"),
            *map(cell, counts),
            cell(job.schedule or "not scheduled"),
            cell(bars(job.history)),
        )
    notes = [
        Text(f"{job.entity}: {note}", style="yellow")
        for job in brand.jobs
        if job.last is not None
        for note in job.last.notes
    ]
    return Group(jobs, *notes, token)


def print_view(console: Console, view: StatusView) -> None:
    console.print(
        Text.assemble("rei-sync status: ", badge(view.overall), safe(f" as of {view.generated}"))
    )
    if view.database_error:
        console.print(safe(view.database_error, style="bold red"))
    for brand in view.brands:
        console.print(brand_tables(brand))
    leases = Table("job", "holder", "held for", "expires", title="Leases", title_justify="left")
    for lease in view.leases:
        leases.add_row(*map(cell, (lease.job, lease.holder, lease.held_for, lease.expires_in)))
    console.print(leases if view.leases else Text("Leases: none held now", style="dim"))
    rejects = Table(
        "when", "brand", "entity", "source id", "reason", "run",
        title="Latest rejects", title_justify="left",
    )  # fmt: skip
    for r in view.rejects:
        rejects.add_row(
            *map(cell, (r.ago, r.brand, r.entity, r.source_id, r.reason, str(r.run_id)))
        )
    console.print(rejects if view.rejects else Text("Rejects: none", style="dim"))


def status_command(
    as_json: Annotated[bool, json_option("Print /status.json's document instead.")] = False,
) -> None:
    """Show brands, tokens, last runs, leases and rejects for the configured database."""
    # the scheduler's and the status page's modules only for this command
    from worker.status.payload import render_json
    from worker.status.source import settings_view

    with domain_errors():
        view = settings_view(command_settings(require_brands=False))
        if as_json:
            # Plain bytes: a rich Console would still turn `:x:` into an emoji.
            write_plain(render_json(view))
        else:
            print_view(console(), view)


def register(app: typer.Typer) -> None:
    """Add `status` to the `rei-sync` app."""
    app.command("status")(status_command)
