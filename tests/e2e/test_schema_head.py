"""`worker.db.revision.at_head`: the sync's schema check without Alembic, on real databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import with_database
from worker.db.engine import create_db_engine
from worker.db.migrate import upgrade_head
from worker.db.revision import HEAD_REVISION, at_head


@pytest.fixture
def empty_engine(pg_server_url: str) -> Iterator[sa.Engine]:
    name = f"reisync_head_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(with_database(pg_server_url, name))
    yield engine
    engine.dispose()
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        return at_head(connection)


def test_only_a_database_at_this_codes_head_is_at_head(empty_engine: sa.Engine) -> None:
    assert not check(empty_engine)  # no alembic_version table
    upgrade_head(empty_engine)
    assert check(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = '0005_supabase_roles'")
        )
    assert not check(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO alembic_version VALUES (:head)"), {"head": HEAD_REVISION}
        )
    assert not check(empty_engine)  # two heads: Alembic's to judge
