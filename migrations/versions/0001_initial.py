"""Initial schema: properties (+ private), associates (+ private), sync runs and rejects.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSTZ = sa.DateTime(timezone=True)


def _tracking() -> list[sa.Column[object]]:
    return [
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("first_seen_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.Column("delisted_at", TSTZ, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "properties",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("listing_id", sa.BigInteger(), nullable=False),
        sa.Column("listing_key", sa.Text()),
        sa.Column("title_en", sa.Text()),
        sa.Column("title_es", sa.Text()),
        sa.Column("contract_type_id", sa.Integer()),
        sa.Column("status_id", sa.Integer()),
        sa.Column("probable_use_id", sa.Integer()),
        sa.Column("property_type_id", sa.Integer()),
        sa.Column("general_location_id", sa.Integer()),
        sa.Column("list_price", sa.Numeric(18, 2)),
        sa.Column("list_price_currency_id", sa.Integer()),
        sa.Column("bedrooms", sa.Integer()),
        sa.Column("bathrooms_full", sa.Integer()),
        sa.Column("bathrooms_half", sa.Integer()),
        sa.Column("lot_size", sa.Numeric(18, 2)),
        sa.Column("lot_size_units_id", sa.Integer()),
        sa.Column("construction_size", sa.Numeric(18, 2)),
        sa.Column("construction_size_units_id", sa.Integer()),
        sa.Column("country_id", sa.BigInteger()),
        sa.Column("state_id", sa.BigInteger()),
        sa.Column("location_id", sa.BigInteger()),
        sa.Column("latitude", sa.Numeric(10, 7)),
        sa.Column("longitude", sa.Numeric(10, 7)),
        sa.Column("listing_date", sa.DateTime(timezone=False)),
        sa.Column("agent_id", sa.BigInteger()),
        sa.Column("office_code", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "listing_id"),
    )
    op.create_index(
        "properties_brand_active",
        "properties",
        ["brand"],
        postgresql_where=sa.text("delisted_at IS NULL"),
    )
    op.create_table(
        "properties_private",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("listing_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_name", sa.Text()),
        sa.Column("owner_phones", sa.Text()),
        sa.Column("owner_email", sa.Text()),
        sa.Column("private_remarks_en", sa.Text()),
        sa.Column("private_remarks_es", sa.Text()),
        sa.Column("showing_instruction", sa.Text()),
        sa.Column("listing_side_comm", sa.Numeric(18, 4)),
        sa.Column("selling_side_comm", sa.Numeric(18, 4)),
        sa.Column("close_listing_comm_amount", sa.Numeric(18, 2)),
        sa.Column("close_selling_comm_amount", sa.Numeric(18, 2)),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("updated_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("brand", "listing_id"),
    )
    op.create_table(
        "associates",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("associate_id", sa.BigInteger(), nullable=False),
        sa.Column("remax_id", sa.Text()),
        sa.Column("first_name", sa.Text()),
        sa.Column("last_name", sa.Text()),
        sa.Column("mobile", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("image_url", sa.Text()),
        sa.Column("office_id", sa.BigInteger()),
        sa.Column("office_name", sa.Text()),
        sa.Column("office_code", sa.Text()),
        sa.Column("country_id", sa.BigInteger()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "associate_id"),
    )
    op.create_table(
        "associates_private",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("associate_id", sa.BigInteger(), nullable=False),
        sa.Column("birthday", sa.Text()),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("updated_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("brand", "associate_id"),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False, server_default="manual"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", TSTZ),
        sa.Column("pages", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("delisted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("checkpoint", sa.Integer()),
        sa.Column("error", sa.Text()),
    )
    op.create_index(
        "sync_runs_key_started", "sync_runs", ["brand", "entity", sa.text("started_at DESC")]
    )
    op.create_table(
        "sync_rejects",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "run_id",
            sa.BigInteger(),
            sa.ForeignKey("sync_runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB()),
        sa.Column("created_at", TSTZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("sync_rejects_run", "sync_rejects", ["run_id"])


def downgrade() -> None:
    for table in (
        "sync_rejects",
        "sync_runs",
        "associates_private",
        "associates",
        "properties_private",
        "properties",
    ):
        op.drop_table(table)
