"""`rei-sync events` and `rei-sync webhooks status|test|resume`: the change feed by hand.

Reads and delivery need the database the sync writes to directly (`DATABASE_URL` or
the embedded one); with the REST sink each command says so in one line (exit 2).
Event values may come from the API: printed as plain text, never as rich markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from worker.cli.terminal import command_settings, domain_errors, json_option, out
from worker.config import Settings
from worker.errors import ConfigError
from worker.feed.build import require_feed_database
from worker.feed.manual import (
    EventFilter,
    find_events,
    resume_subscriber,
    send_sample,
    subscriber_states,
)
from worker.sinks.events import KINDS

webhooks_app = typer.Typer(
    help="Change-feed subscribers: their state, a signed test POST, resuming a paused one.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    settings = command_settings(require_brands=False, with_brands=False)
    require_feed_database(settings)
    return settings


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError("--since", "must be an ISO date or time, e.g. 2026-12-01T08:00") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def events_command(
    brand: Annotated[str | None, typer.Option(help="Only this brand's events.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events since this ISO time (UTC if no zone).")
    ] = None,
    run: Annotated[
        int | None, typer.Option("--run", help="Only the events of this run id.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help=f"Only this kind: {', '.join(KINDS)}.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
    as_json: Annotated[bool, json_option("One JSON document per line.")] = False,
) -> None:
    """The newest change-feed events (oldest first), filtered."""
    with domain_errors():
        if since is not None and run is not None:
            raise ConfigError("--since", "give --since or --run, not both")
        if kind is not None and kind not in KINDS:
            raise ConfigError("--kind", f"unknown kind (one of {', '.join(KINDS)})")
        settings = _settings()
        where = EventFilter(
            brand=None if brand is None else brand.upper(),
            kind=kind,
            run_id=run,
            since=_since(since),
            limit=limit,
        )
        found = find_events(settings, where)
    if as_json:
        for event in found:
            typer.echo(orjson.dumps(event.document()).decode())
        return
    table = Table("id", "when", "brand", "run", "entity", "id", "kind", "change")
    for event in found:
        table.add_row(
            str(event.id),
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            Text(event.brand),
            str(event.run_id or "—"),
            event.entity,
            str(event.source_id),
            event.kind,
            Text(event.describe()),
        )
    out.print(table)


@webhooks_app.command("status")
def status_command() -> None:
    """Each configured subscriber: cursor, pending events, failures, paused."""
    with domain_errors():
        settings = _settings()
        states = subscriber_states(settings)
    if not settings.webhooks:
        out.print("no subscribers: set REI_WEBHOOK_<NAME>_URL and REI_WEBHOOK_<NAME>_SECRET")
        return
    table = Table("subscriber", "url", "state", "pending", "failures", "last ok", "last error")
    for state in states:
        cursor = state.cursor
        table.add_row(
            Text(state.webhook.name),
            Text(state.webhook.display_url),
            Text("paused", style="bold red") if cursor.paused else Text("active"),
            str(state.pending),
            str(cursor.failures),
            _when(cursor.last_success_at),
            Text(cursor.last_error or "—"),
        )
    out.print(table)


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


@webhooks_app.command("test")
def test_command(
    url: Annotated[str, typer.Argument(help="A configured subscriber's URL.")],
) -> None:
    """POST one signed sample event to URL with its subscriber's secret; print the answer."""
    with domain_errors():
        settings = command_settings(require_brands=False, with_brands=False)
        webhook, answer = send_sample(settings, url)
    if isinstance(answer, int) and 200 <= answer < 300:
        out.print(f"{webhook.name}: delivered, HTTP {answer}")
        return
    shown = f"HTTP {answer}" if isinstance(answer, int) else answer
    out.print(Text(f"{webhook.name}: not delivered ({shown})"))
    raise typer.Exit(1)


@webhooks_app.command("resume")
def resume_command(name: Annotated[str, typer.Argument(help="The subscriber's name.")]) -> None:
    """Un-pause a subscriber: delivery continues from its cursor (nothing is skipped)."""
    with domain_errors():
        resume_subscriber(_settings(), name.lower())
    out.print(Text(f"{name.lower()}: resumed"))


def register(app: typer.Typer) -> None:
    app.command("events")(events_command)
    app.add_typer(webhooks_app, name="webhooks")
