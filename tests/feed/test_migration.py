"""Migration 0006 on a database with Supabase's `supabase_realtime` publication, and the
NOTIFY a batch with events sends when it commits."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa
from alembic import command

from tests.sync.conftest import BRAND
from worker.db.migrate import alembic_config
from worker.db.schema import ASSOCIATES_TABLE, Row
from worker.sinks.events import CURRENT_RUN, NOTIFY_CHANNEL
from worker.sinks.postgres import PostgresSink
from worker.sync.normalise import normalise_associate

PUBLISHED = sa.text(
    "SELECT count(*) FROM pg_publication_tables "
    "WHERE pubname = 'supabase_realtime' AND tablename = 'sync_events'"
)


def test_the_events_table_joins_an_existing_realtime_publication_only(
    db_engine: sa.Engine,
) -> None:
    config = alembic_config(db_engine)
    command.downgrade(config, "0005_supabase_roles")
    with db_engine.begin() as c:
        c.execute(sa.text("CREATE PUBLICATION supabase_realtime"))
    command.upgrade(config, "head")
    with db_engine.connect() as c:
        assert c.execute(PUBLISHED).scalar_one() == 1
    command.downgrade(config, "0005_supabase_roles")
    with db_engine.begin() as c:
        assert c.execute(PUBLISHED).scalar_one() == 0
        c.execute(sa.text("DROP PUBLICATION supabase_realtime"))
    command.upgrade(config, "head")  # and without one: a no-op
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM pg_publication")).scalar_one() == 0


def agent(associate_id: int, first_name: str) -> Row:
    row = normalise_associate(
        {"associateID": associate_id, "firstName": first_name, "lastName": "Lopez"}
    )
    assert isinstance(row, Row)
    return row


def test_a_batch_with_events_notifies_its_run_id_on_commit_and_a_quiet_one_does_not(
    db_engine: sa.Engine, migrated_db_url: str
) -> None:
    sink = PostgresSink(db_engine)
    with psycopg.connect(migrated_db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        token = CURRENT_RUN.set(41)
        try:
            sink.upsert(ASSOCIATES_TABLE, BRAND, [agent(1, "Ana"), agent(2, "Bea")])
            sink.upsert(ASSOCIATES_TABLE, BRAND, [agent(1, "Ana")])  # unchanged
            sink.upsert(ASSOCIATES_TABLE, BRAND, [agent(2, "Beatriz")])
            sink.mark_delisted(ASSOCIATES_TABLE, BRAND, [1])
        finally:
            CURRENT_RUN.reset(token)
        payloads = [n.payload for n in listener.notifies(timeout=1, stop_after=4)]
    assert payloads == ["41", "41", "41"]
    with db_engine.connect() as c:
        rows = c.execute(
            sa.text("SELECT run_id, source_id, kind, payload FROM sync_events ORDER BY id")
        ).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (41, 1, "agent_joined"),
        (41, 2, "agent_joined"),
        (41, 2, "agent_changed"),
        (41, 1, "agent_left"),
    ]
    assert rows[2][3] == {"columns": ["first_name"]}
