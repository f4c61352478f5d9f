"""Every synced entity: property images, lookup catalogues, geo; richer sync_runs.

Images are keyed (brand, listing_id, photo_id) and deleted when the API drops
them (the stored set equals the API's); catalogues and geo carry `delisted_at`
like listings. `sync_runs` gains duration, the run it resumed, and `details`
(image counts, invalid coordinates, delisting candidates) as JSONB.

Revision ID: 0003_sync_entities
Revises: 0002_oauth_tokens
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_sync_entities"
down_revision: str | None = "0002_oauth_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSTZ = sa.DateTime(timezone=True)


def _tracking(*, delisting: bool = True) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False),
        sa.Column("first_seen_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TSTZ, nullable=False, server_default=sa.func.now()),
    ]
    if delisting:
        columns.append(sa.Column("delisted_at", TSTZ, nullable=True))
    return columns


def upgrade() -> None:
    op.create_table(
        "property_images",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("listing_id", sa.BigInteger(), nullable=False),
        sa.Column("photo_id", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer()),
        sa.Column("image_url", sa.Text()),
        sa.Column("status", sa.Integer()),
        *_tracking(delisting=False),
        sa.PrimaryKeyConstraint("brand", "listing_id", "photo_id"),
    )
    op.create_table(
        "lookups",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("lookup_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "lookup_id"),
    )
    op.create_table(
        "lookup_values",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("lookup_id", sa.BigInteger(), nullable=False),
        sa.Column("value_id", sa.BigInteger(), nullable=False),
        sa.Column("name_en", sa.Text()),
        sa.Column("name_es", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "lookup_id", "value_id"),
    )
    op.create_table(
        "geo_countries",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("country_id", sa.BigInteger(), nullable=False),
        sa.Column("name_en", sa.Text()),
        sa.Column("name_es", sa.Text()),
        sa.Column("flag_url", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "country_id"),
    )
    op.create_table(
        "geo_states",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("state_id", sa.BigInteger(), nullable=False),
        sa.Column("country_id", sa.BigInteger()),
        sa.Column("name_en", sa.Text()),
        sa.Column("name_es", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "state_id"),
    )
    op.create_table(
        "geo_locations",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=False),
        sa.Column("state_id", sa.BigInteger()),
        sa.Column("name_en", sa.Text()),
        sa.Column("name_es", sa.Text()),
        *_tracking(),
        sa.PrimaryKeyConstraint("brand", "location_id"),
    )
    op.create_index(
        "associates_brand_active",
        "associates",
        ["brand"],
        postgresql_where=sa.text("delisted_at IS NULL"),
    )
    op.add_column("sync_runs", sa.Column("duration_seconds", sa.Float()))
    op.add_column("sync_runs", sa.Column("resumed_from", sa.BigInteger()))
    op.add_column("sync_runs", sa.Column("take", sa.Integer()))
    op.add_column("sync_runs", sa.Column("details", postgresql.JSONB()))
    op.create_index(
        "sync_runs_running",
        "sync_runs",
        ["brand", "entity"],
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("sync_runs_running", table_name="sync_runs")
    for column in ("details", "take", "resumed_from", "duration_seconds"):
        op.drop_column("sync_runs", column)
    op.drop_index("associates_brand_active", table_name="associates")
    for table in (
        "geo_locations",
        "geo_states",
        "geo_countries",
        "lookup_values",
        "lookups",
        "property_images",
    ):
        op.drop_table(table)
