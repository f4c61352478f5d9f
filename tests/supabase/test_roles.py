"""Supabase's roles against the migrated schema, with real Postgres roles named as Supabase
names them (`anon`, `authenticated`, `service_role`; the migration creates them when absent).

Every table in `public` is found from the catalogue, so a table added later is checked
too: it must have row-level security, and unless it is listed here as public listing
data, `anon` and `authenticated` get permission denied or 0 rows from it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from psycopg import errors

from tests.sync.conftest import BRAND, Harness
from worker.config import load_settings
from worker.db.migrate import alembic_config, current_revision, head_revision
from worker.db.schema import Reject, RunStart
from worker.leases import LeaseStore
from worker.sandbox import SandboxConfig, SandboxServer

PUBLIC_TABLES = {
    "properties",
    "property_images",
    "lookups",
    "lookup_values",
    "geo_countries",
    "geo_states",
    "geo_locations",
    "associates",
    "sync_events",
}
"""Listing data the website may read (associates: only their public columns; the change
feed carries public values only)."""
PUBLIC_VIEWS = {"listing_price_history"}
"""Views the website may read: each is `security_invoker`, so the reader's RLS applies."""
ASSOCIATES_PUBLIC = "brand, associate_id, first_name, last_name, email, office_name"
PUBLIC_ROLES = ("anon", "authenticated")


@pytest.fixture
def populated(db_engine: sa.Engine) -> sa.Engine:
    """Every table holds rows: a small sandbox sync, a reject, a lease and a token row."""
    config = SandboxConfig(seed=2, listings=12, associates=4, images_per_listing=1, brands=(BRAND,))
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        env = {**server.env(), "DATABASE_URL": "postgresql://unused/x"}
        harness = Harness(server, load_settings(environ=env, env_file=None), db_engine)
        try:
            for entity in ("properties", "associates", "lookups", "geo"):
                assert harness.sync(entity).status == "succeeded"
        finally:
            harness.session.close()
    run = harness.store.start_run(RunStart(BRAND, "properties", "manual"))
    harness.store.record_rejects(run, BRAND, "properties", [Reject("1", "test", {"a": 1})])
    assert LeaseStore(db_engine, holder="test").try_acquire("sync:AZURA:geo") is not None
    with db_engine.begin() as c:
        c.execute(sa.text("INSERT INTO webhook_cursors (subscriber) VALUES ('site')"))
        c.execute(
            sa.text(
                "INSERT INTO oauth_tokens (brand, credentials_fingerprint, token_ciphertext, "
                "token_fingerprint, obtained_at, expires_at, refresh_at) VALUES "
                "('AZURA', 'f', 'x', 't', now(), now() + interval '1 day', now())"
            )
        )
    return db_engine


def public_tables(url: str) -> list[str]:
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [str(r[0]) for r in rows]


def as_role(url: str, role: str, sql: str) -> Any:
    """`sql`'s first value as `role` (SET LOCAL ROLE, as PostgREST does), or the error."""
    with psycopg.connect(url) as c, c.transaction(force_rollback=True):
        c.execute(f"SET LOCAL ROLE {role}")
        try:
            row = c.execute(sql).fetchone()
        except errors.InsufficientPrivilege as exc:
            return exc
        return None if row is None else row[0]


@pytest.mark.parametrize("supabase_default_grants", [False, True], ids=["migrated", "supabase"])
def test_anon_reads_public_rows_and_nothing_private(
    populated: sa.Engine, migrated_db_url: str, supabase_default_grants: bool
) -> None:
    url = migrated_db_url
    if supabase_default_grants:
        # What a Supabase project's default privileges do to every new table: RLS alone
        # must still keep the private tables empty for the public roles.
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO anon, authenticated")
    tables = public_tables(url)
    assert set(tables) > PUBLIC_TABLES
    assert {"properties_private", "associates_private", "oauth_tokens", "job_leases"} < set(tables)
    with psycopg.connect(url) as c:
        without_rls = c.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relrowsecurity"
        ).fetchall()
        views = c.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind = 'v' AND NOT ('security_invoker=true' = ANY(coalesce(reloptions, '{}')))"
        ).fetchall()
        all_views = c.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type <> 'BASE TABLE'"
        ).fetchall()
        owner_counts = {
            t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in tables
        }
    assert without_rls == []
    assert views == []  # a view that is not security_invoker would bypass RLS
    assert {str(v[0]) for v in all_views} == PUBLIC_VIEWS  # review a new one here
    for role in PUBLIC_ROLES:
        for view in PUBLIC_VIEWS:
            assert as_role(url, role, f"SELECT count(*) FROM {view}") > 0, (role, view)
    assert all(owner_counts[t] > 0 for t in tables), owner_counts  # every table holds data
    for role in PUBLIC_ROLES:
        for table in tables:
            columns = ASSOCIATES_PUBLIC if table == "associates" else "*"
            answer = as_role(url, role, f"SELECT count(*) FROM (SELECT {columns} FROM {table}) t")
            if table in PUBLIC_TABLES:
                assert answer == owner_counts[table], (role, table, answer)
            else:
                assert isinstance(answer, errors.InsufficientPrivilege) or answer == 0, (
                    role,
                    table,
                    answer,
                )
        denied = as_role(
            url,
            role,
            "INSERT INTO lookups (brand, lookup_id, raw, content_hash) "
            "VALUES ('X', 1, '{}', 'h') RETURNING 1",
        )
        assert isinstance(denied, errors.InsufficientPrivilege)
        if not supabase_default_grants:
            assert isinstance(as_role(url, role, "SELECT raw FROM associates"), Exception)


def test_service_role_writes_the_sink_tables_but_not_tokens_or_leases(
    populated: sa.Engine, migrated_db_url: str
) -> None:
    url = migrated_db_url
    assert as_role(url, "service_role", "SELECT count(*) FROM properties_private") > 0
    assert (
        as_role(
            url,
            "service_role",
            "INSERT INTO sync_runs (brand, entity, status) VALUES ('X', 'geo', 'running') "
            "RETURNING id",
        )
        is not None
    )
    for table in ("oauth_tokens", "job_leases", "alembic_version"):
        answer = as_role(url, "service_role", f"SELECT count(*) FROM {table}")
        assert isinstance(answer, errors.InsufficientPrivilege), table


def test_the_migration_downgrades_and_upgrades_again(db_engine: sa.Engine) -> None:
    config = alembic_config(db_engine)
    command.downgrade(config, "0004_job_leases")
    with db_engine.connect() as c:
        policies = c.execute(sa.text("SELECT count(*) FROM pg_policies")).scalar_one()
    assert policies == 0
    command.upgrade(config, "head")
    assert current_revision(db_engine) == head_revision()
