"""The change feed by hand (`rei-sync events`, `webhooks status|test|resume`): each command's
one call. All but `send_sample` need the database the sync writes to directly: the
commands check `require_feed_database` first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import requests

from worker.clock import Clock, system_clock
from worker.config import Settings, Webhook
from worker.errors import ConfigError
from worker.feed.delivery import batch_body, post_batch
from worker.feed.store import Cursor, Event, FeedStore
from worker.runtime import open_engine

SAMPLE = Event(
    id=0,
    run_id=None,
    brand="SAMPLE",
    entity="listing",
    source_id=4711,
    kind="price_changed",
    payload={"old_price": 250000, "price": 237500, "old_currency_id": 1, "currency_id": 1},
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
"""What `webhooks test` posts: an event of the real shape that no run produced."""


@dataclass(frozen=True)
class EventFilter:
    """`events`' filters; None: any."""

    brand: str | None = None
    kind: str | None = None
    run_id: int | None = None
    since: datetime | None = None
    limit: int = 100


@dataclass(frozen=True)
class SubscriberState:
    webhook: Webhook
    cursor: Cursor
    pending: int


def find_events(settings: Settings, where: EventFilter) -> list[Event]:
    """The newest events matching `where`, oldest first (a read: never migrates)."""
    with open_engine(settings) as engine:
        return FeedStore(engine).find(
            brand=where.brand,
            kind=where.kind,
            run_id=where.run_id,
            since=where.since,
            limit=where.limit,
        )


def subscriber_states(settings: Settings) -> list[SubscriberState]:
    """Each configured subscriber's cursor and how many events wait for it."""
    states: list[SubscriberState] = []
    with open_engine(settings) as engine:
        store = FeedStore(engine)
        for webhook in settings.webhooks:
            cursor = store.cursor(webhook.name)
            states.append(SubscriberState(webhook, cursor, store.count_pending(cursor)))
    return states


def send_sample(
    settings: Settings, url: str, *, clock: Clock = system_clock
) -> tuple[Webhook, int | str]:
    """POST `SAMPLE` to the subscriber configured at `url`, signed with its secret: the
    subscriber and the answer's status code (or the transport error's name)."""
    webhook = configured_webhook(settings, url)
    with requests.Session() as session:
        answer = post_batch(
            session,
            webhook,
            batch_body(webhook.name, [SAMPLE]),
            now=clock(),
            timeout=settings.webhook_timeout_seconds,
            idempotency_key=SAMPLE.key,
        )
    return webhook, answer


def configured_webhook(settings: Settings, url: str) -> Webhook:
    for webhook in settings.webhooks:
        if webhook.url.get_secret_value().rstrip("/") == url.strip().rstrip("/"):
            return webhook
    raise ConfigError(
        "URL",
        "is not a configured subscriber's: set REI_WEBHOOK_<NAME>_URL to it and "
        "REI_WEBHOOK_<NAME>_SECRET (the sample is signed with that secret)",
    )


def resume_subscriber(settings: Settings, name: str) -> None:
    """Un-pause subscriber `name`: delivery continues from its cursor."""
    with open_engine(settings) as engine:
        resumed = FeedStore(engine).resume(name)
    if not resumed:
        raise ConfigError("NAME", "no cursor for that subscriber yet")
