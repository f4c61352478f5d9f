"""The change feed: one `sync_events` row per real change, a price history, webhook cursors.

`sync_events` is written by the sink in the transaction that changes the rows, and
carries public values only (see docs/CHANGE_FEED.md), so it is public under RLS like
the listing tables; `listing_price_history` is a `security_invoker` view over it, so
the reader's own RLS applies (a plain view would read as its owner). Where the
database has Supabase's `supabase_realtime` publication the events table joins it.
`webhook_cursors` (one row per subscriber: the last event delivered, failures,
paused) is private like `sync_runs`.

Revision ID: 0006_change_feed
Revises: 0005_supabase_roles
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_change_feed"
down_revision: str | None = "0005_supabase_roles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSTZ = sa.DateTime(timezone=True)
ROLES = ("anon", "authenticated", "service_role")
PUBLIC_ROLES = "anon, authenticated"

PRICE_HISTORY_VIEW = """
CREATE VIEW listing_price_history WITH (security_invoker = true) AS
SELECT brand, source_id AS listing_id, id AS event_id, run_id, created_at AS changed_at, kind,
       CAST(payload ->> 'price' AS numeric) AS price,
       CAST(payload ->> 'currency_id' AS integer) AS currency_id,
       CAST(payload ->> 'old_price' AS numeric) AS old_price,
       CAST(payload ->> 'old_currency_id' AS integer) AS old_currency_id
FROM sync_events
WHERE entity = 'listing' AND kind IN ('listed', 'relisted', 'price_changed', 'price_hidden')
"""


def _has_roles() -> bool:
    found = op.get_bind().execute(
        sa.text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:roles)"),
        {"roles": list(ROLES)},
    )
    return int(found.scalar_one()) == len(ROLES)


def _has_realtime() -> bool:
    found = op.get_bind().execute(
        sa.text("SELECT count(*) FROM pg_publication WHERE pubname = 'supabase_realtime'")
    )
    return int(found.scalar_one()) > 0


def upgrade() -> None:
    op.create_table(
        "sync_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.BigInteger()),
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("created_at", TSTZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("sync_events_brand_id", "sync_events", ["brand", "id"])
    op.create_index("sync_events_run", "sync_events", ["run_id"])
    op.create_index("sync_events_source", "sync_events", ["brand", "entity", "source_id", "id"])
    op.create_index("sync_events_created", "sync_events", ["created_at"])
    op.create_index("sync_rejects_created", "sync_rejects", ["created_at"])
    op.create_table(
        "webhook_cursors",
        sa.Column("subscriber", sa.Text(), primary_key=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("paused_at", TSTZ),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_attempt_at", TSTZ),
        sa.Column("last_success_at", TSTZ),
    )
    op.execute(PRICE_HISTORY_VIEW)
    for table in ("sync_events", "webhook_cursors"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE ALL ON {table} FROM PUBLIC")
    op.execute("REVOKE ALL ON listing_price_history FROM PUBLIC")
    if _has_roles():
        op.execute(f"REVOKE ALL ON sync_events, webhook_cursors FROM {', '.join(ROLES)}")
        op.execute(f"GRANT SELECT ON sync_events, listing_price_history TO {PUBLIC_ROLES}")
        op.execute(
            f"CREATE POLICY public_read ON sync_events FOR SELECT TO {PUBLIC_ROLES} USING (true)"
        )
    if _has_realtime():
        op.execute("ALTER PUBLICATION supabase_realtime ADD TABLE sync_events")


def downgrade() -> None:
    if _has_realtime():
        op.execute(
            "DO $$ BEGIN ALTER PUBLICATION supabase_realtime DROP TABLE sync_events; "
            "EXCEPTION WHEN undefined_object THEN NULL; END $$"
        )
    op.execute("DROP VIEW listing_price_history")
    op.drop_table("webhook_cursors")
    op.drop_index("sync_rejects_created", table_name="sync_rejects")
    op.drop_table("sync_events")
