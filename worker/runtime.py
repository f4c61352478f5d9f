"""Turns Settings into the running parts: the database engine and the API clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
import sqlalchemy as sa

from worker.api.client import ReiClient
from worker.auth import TokenManager
from worker.config import Brand, Settings, database_errors
from worker.db.embedded import start_embedded_postgres
from worker.db.engine import create_db_engine
from worker.db.migrate import require_current_schema, upgrade_head
from worker.errors import ConfigErrors
from worker.log import get_logger

log = get_logger(__name__)


def database_url(settings: Settings) -> str:
    """`DATABASE_URL`, or the embedded server in `REI_SYNC_HOME` when that was asked for."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    ConfigErrors.raise_if_any(database_errors(settings))
    url = start_embedded_postgres(settings.rei_sync_home)
    log.info("db.embedded", data_folder=str(settings.rei_sync_home.resolve() / "pgdata"))
    return url


@contextmanager
def open_engine(
    settings: Settings, *, migrate: bool = False, check_schema: bool = True
) -> Iterator[sa.Engine]:
    """A connected engine whose schema is this code's: upgraded first with `migrate`,
    otherwise checked (`SchemaError` naming `rei-sync migrate`). `check_schema=False` for
    callers that report the schema themselves (`doctor`) or migrate it (`migrate`)."""
    engine = create_db_engine(database_url(settings), pooler=settings.database_pooler)
    try:
        # Connect now: an unreachable database is one clear error at the start (the
        # commands' `domain_errors` turn it into one line), not a warning per brand later.
        with engine.connect():
            pass
        if migrate:
            upgrade_head(engine)
        elif check_schema:
            require_current_schema(engine)
        yield engine
    finally:
        engine.dispose()


def build_client(
    settings: Settings, brand: Brand, tokens: TokenManager, session: requests.Session
) -> ReiClient:
    return ReiClient(
        brand,
        tokens,
        session=session,
        connect_timeout=settings.rei_connect_timeout_seconds,
        read_timeout=settings.rei_read_timeout_seconds,
    )
