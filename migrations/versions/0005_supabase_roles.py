"""Safe under Supabase's roles: row-level security on every table, public listing data only.

Supabase exposes the `public` schema to its `anon` and `authenticated` roles through
PostgREST, and its default privileges grant them every new table. So every table
here gets row-level security; only the public listing data (properties, images,
associates' public columns, lookups, geo) gets a permissive `SELECT` policy for
them. Private tables (owner contact, commissions, private remarks, birthdays),
`oauth_tokens`, `sync_runs`, `sync_rejects`, `job_leases` and `alembic_version`
have no policy for them and their grants are revoked: they read nothing there.

`service_role` (the REST sink's role) gets what the sink writes, with an explicit
policy, so it works whether or not the role bypasses RLS (on Supabase it does).
The three roles are created NOLOGIN only when absent, so this is harmless on a
real Supabase project and makes a plain Postgres look like one.

Revision ID: 0005_supabase_roles
Revises: 0004_job_leases
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_supabase_roles"
down_revision: str | None = "0004_job_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PUBLIC_ROLES = ("anon", "authenticated")
ROLES = (*PUBLIC_ROLES, "service_role")

PUBLIC_TABLES = (
    "properties",
    "property_images",
    "lookups",
    "lookup_values",
    "geo_countries",
    "geo_states",
    "geo_locations",
)
"""Whole rows readable by `anon`/`authenticated`."""
ASSOCIATES_PUBLIC_COLUMNS = (
    "brand",
    "associate_id",
    "remax_id",
    "first_name",
    "last_name",
    "mobile",
    "email",
    "image_url",
    "office_id",
    "office_name",
    "office_code",
    "country_id",
    "first_seen_at",
    "updated_at",
    "delisted_at",
)
"""`associates` rows are public, but only these columns (not `raw`, `content_hash`)."""
SINK_TABLES = (
    *PUBLIC_TABLES,
    "associates",
    "properties_private",
    "associates_private",
    "sync_runs",
    "sync_rejects",
)
"""What the REST sink (as `service_role`) reads and writes."""
PRIVATE_TABLES = (
    "properties_private",
    "associates_private",
    "oauth_tokens",
    "sync_runs",
    "sync_rejects",
    "job_leases",
    "alembic_version",
)
ALL_TABLES = (*PUBLIC_TABLES, "associates", *PRIVATE_TABLES)

PUBLIC_READ_POLICY = "public_read"
SERVICE_ROLE_POLICY = "service_role_all"


def _create_roles() -> None:
    for role in ROLES:
        op.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN NOINHERIT;
                END IF;
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- created concurrently by another migrator in the same cluster
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'rei-sync: cannot create role {role} (no CREATEROLE)';
            END
            $$
            """
        )


def _existing_roles() -> set[str]:
    rows = op.get_bind().execute(
        sa.text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:roles)"), {"roles": list(ROLES)}
    )
    return {str(name) for (name,) in rows}


def upgrade() -> None:
    _create_roles()
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
    if _existing_roles() != set(ROLES):
        # A plain Postgres whose migrator may not create roles: RLS with no policy at all
        # already keeps every non-owner out; there is nobody to grant anything to.
        return
    roles = ", ".join(ROLES)
    public_roles = ", ".join(PUBLIC_ROLES)
    for table in ALL_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {roles}")
    for table in PUBLIC_TABLES:
        op.execute(f"GRANT SELECT ON {table} TO {public_roles}")
        op.execute(
            f"CREATE POLICY {PUBLIC_READ_POLICY} ON {table} FOR SELECT TO {public_roles} "
            "USING (true)"
        )
    columns = ", ".join(ASSOCIATES_PUBLIC_COLUMNS)
    op.execute(f"GRANT SELECT ({columns}) ON associates TO {public_roles}")
    op.execute(
        f"CREATE POLICY {PUBLIC_READ_POLICY} ON associates FOR SELECT TO {public_roles} "
        "USING (true)"
    )
    for table in SINK_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO service_role")
        op.execute(
            f"CREATE POLICY {SERVICE_ROLE_POLICY} ON {table} TO service_role "
            "USING (true) WITH CHECK (true)"
        )
    op.execute("GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role")
    op.execute("GRANT USAGE ON SEQUENCE sync_runs_id_seq, sync_rejects_id_seq TO service_role")


def downgrade() -> None:
    roles = ", ".join(ROLES)
    if _existing_roles() != set(ROLES):
        for table in ALL_TABLES:
            if table not in ("oauth_tokens", "job_leases"):
                op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        return
    for table in SINK_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {SERVICE_ROLE_POLICY} ON {table}")
    for table in (*PUBLIC_TABLES, "associates"):
        op.execute(f"DROP POLICY IF EXISTS {PUBLIC_READ_POLICY} ON {table}")
    op.execute("REVOKE USAGE ON SEQUENCE sync_runs_id_seq, sync_rejects_id_seq FROM service_role")
    for table in ALL_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {roles}")
        if table not in ("oauth_tokens", "job_leases"):  # those had RLS from their own migration
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    # The roles stay: they are cluster-wide and may be Supabase's own.
