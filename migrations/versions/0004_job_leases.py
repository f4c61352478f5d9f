"""Job leases: one row per job key, so exactly one replica runs a job at a time.

A lease has a holder (`host:pid:random`) and an expiry the holder renews while
it works; a crashed replica's lease runs out by itself. Rows are taken with
`INSERT … ON CONFLICT … WHERE expires_at <= now`, which needs no session
state and so works through a transaction pooler.

Revision ID: 0004_job_leases
Revises: 0003_sync_entities
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_job_leases"
down_revision: str | None = "0003_sync_entities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("job_key", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("acquired_at", TSTZ, nullable=False),
        sa.Column("renewed_at", TSTZ, nullable=False),
        sa.Column("expires_at", TSTZ, nullable=False),
        sa.CheckConstraint("expires_at >= renewed_at", name="job_leases_expiry_after_renewal"),
    )
    op.execute(
        "COMMENT ON TABLE job_leases IS "
        "'Who runs each scheduled job now; rows expire unless their holder renews them.'"
    )
    op.execute("ALTER TABLE job_leases ENABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON job_leases FROM PUBLIC")


def downgrade() -> None:
    op.drop_table("job_leases")
