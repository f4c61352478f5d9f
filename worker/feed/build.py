"""The change feed from settings, and the one line that says the REST sink has none."""

from __future__ import annotations

import requests
import sqlalchemy as sa

from worker.clock import to_datetime
from worker.config import Settings
from worker.errors import ConfigError
from worker.feed.delivery import Deliverer, FeedWorker
from worker.feed.store import FeedStore

NEEDS_DATABASE = (
    "the change feed (events, webhooks) needs a direct database connection: set DATABASE_URL "
    "(the Supabase REST sink records no events)"
)


def require_feed_database(settings: Settings) -> None:
    """`ConfigError` when the feed cannot exist: rows go through the REST sink."""
    if settings.uses_supabase_rest:
        raise ConfigError("DATABASE_URL", NEEDS_DATABASE)


def build_deliverer(
    settings: Settings, engine: sa.Engine, session: requests.Session | None = None
) -> Deliverer:
    require_feed_database(settings)
    return Deliverer(
        FeedStore(engine),
        settings.webhooks,
        session=session,
        batch_size=settings.webhook_batch_size,
        max_failures=settings.webhook_max_failures,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def build_feed_worker(settings: Settings, engine: sa.Engine) -> FeedWorker | None:
    """The daemon's delivery thread, or None without subscribers."""
    if not settings.webhooks:
        return None
    return FeedWorker(build_deliverer(settings, engine), poll_seconds=settings.webhook_poll_seconds)


def prune(settings: Settings, engine: sa.Engine, now: float) -> tuple[int, int]:
    """The retention job: events and rejects older than `RETENTION_DAYS` deleted."""
    return FeedStore(engine).prune(to_datetime(now - settings.retention_days * 86400))
