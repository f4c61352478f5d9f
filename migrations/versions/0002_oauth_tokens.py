"""Shared, encrypted OAuth tokens: one row per brand and credentials fingerprint.

The token itself is only ever stored as Fernet ciphertext; `token_fingerprint`
(first 8 hex of its SHA-256) lets operators tell tokens apart without it.

Revision ID: 0002_oauth_tokens
Revises: 0001_initial
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_oauth_tokens"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oauth_tokens",
        sa.Column("brand", sa.Text(), nullable=False),
        sa.Column("credentials_fingerprint", sa.Text(), nullable=False),
        sa.Column("token_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("token_fingerprint", sa.Text(), nullable=False),
        sa.Column("obtained_at", TSTZ, nullable=False),
        sa.Column("expires_at", TSTZ, nullable=False),
        sa.Column("refresh_at", TSTZ, nullable=False),
        sa.Column("updated_at", TSTZ, nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("brand", "credentials_fingerprint", name="oauth_tokens_pkey"),
        sa.CheckConstraint("refresh_at <= expires_at", name="oauth_tokens_refresh_before_expiry"),
    )
    op.execute(
        "COMMENT ON TABLE oauth_tokens IS "
        "'Per-brand API tokens, Fernet-encrypted with TOKEN_ENCRYPTION_KEY; never plaintext.'"
    )
    # Row-level security with no policy: only the owner (the worker) can read it,
    # never Supabase's anon/authenticated roles.
    op.execute("ALTER TABLE oauth_tokens ENABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON oauth_tokens FROM PUBLIC")


def downgrade() -> None:
    op.drop_table("oauth_tokens")
