"""Alembic environment: online migrations only, serialised by a transaction-scoped advisory lock.

The lock is `pg_advisory_xact_lock`, not a session lock, so concurrent
migrators (replicas starting together) stay safe through a transaction pooler.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from worker.db.engine import create_db_engine

MIGRATION_LOCK_KEY = 0x7265_6973_796E_63  # "reisync"


def run_migrations_online() -> None:
    engine: sa.Engine | None = context.config.attributes.get("engine")
    owned = engine is None
    if engine is None:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("DATABASE_URL is not set (or use `rei-sync migrate`)")
        engine = create_db_engine(url, pooler=os.environ.get("DATABASE_POOLER"))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=False)
            with context.begin_transaction():
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                context.run_migrations()
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
