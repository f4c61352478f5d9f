"""SQLAlchemy engines on psycopg 3, safe behind a transaction pooler."""

from __future__ import annotations

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


def create_db_engine(
    url: str, *, pooler: str | None = None, pool_size: int = DEFAULT_POOL_SIZE
) -> sa.Engine:
    """An engine whose connections never use server-side prepared statements behind a pooler."""
    connect_args: dict[str, object] = {"connect_timeout": 10, "application_name": "rei-sync"}
    if behind_transaction_pooler(url, pooler):
        connect_args["prepare_threshold"] = None
    return sa.create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
    )
