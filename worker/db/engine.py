"""SQLAlchemy engines on psycopg 3, safe behind a transaction pooler."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa


def sqlalchemy_url(url: str) -> str:
    """Accept `postgres://`, `postgresql://` and `postgresql+psycopg://`; always use psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("not a URL")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported scheme {scheme!r}: use postgresql://")


def libpq_url(url: str) -> str:
    """The same URL in the form psycopg.connect() takes."""
    return "postgresql://" + sqlalchemy_url(url).partition("://")[2]


def behind_transaction_pooler(url: str, pooler: str | None = None) -> bool:
    """Supabase's pooler listens on 6543; `DATABASE_POOLER=transaction` says so explicitly."""
    if pooler is not None:
        return pooler == "transaction"
    try:
        return urlsplit(libpq_url(url)).port == 6543
    except ValueError:
        return False


DEFAULT_POOL_SIZE = 5
"""Connections kept per engine (as many again may overflow): also the default bound on
concurrent sync runs in a daemon (`REI_MAX_CONCURRENT_SYNCS`)."""


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled connection idle this long is pinged before it is handed out again."""


def create_db_engine(
    url: str,
    *,
    pooler: str | None = None,
    pool_size: int = DEFAULT_POOL_SIZE,
    clock: Callable[[], float] = time.monotonic,
) -> sa.Engine:
    """An engine whose connections never use server-side prepared statements behind a
    pooler, and whose idle connections are checked before use (`ping_idle_connections`)."""
    connect_args: dict[str, object] = {"connect_timeout": 10, "application_name": "rei-sync"}
    if behind_transaction_pooler(url, pooler):
        connect_args["prepare_threshold"] = None
    engine = sa.create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
    )
    ping_idle_connections(engine, clock)
    return engine


def ping_idle_connections(engine: sa.Engine, clock: Callable[[], float]) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections idle `PING_AFTER_IDLE_SECONDS` or more.

    `pool_pre_ping` costs a round trip on every checkout. A scan checks a connection out
    twice per batch (the hash query, the checkpoint), and in a process whose page threads
    hold the GIL each round trip waits up to a switch interval to get it back: the pings
    were ~15 % of a no-change run's loader time. A connection used a moment ago is alive;
    one that sat in the pool (between runs, after a restart of the server) is pinged, and
    one that fails the ping is replaced, as with `pool_pre_ping`.
    """

    @sa.event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = clock()

    @sa.event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or clock() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(f"idle connection failed its ping: {exc}") from exc
