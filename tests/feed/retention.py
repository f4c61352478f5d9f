"""Rows for the retention tests: a run with one reject past `RETENTION_DAYS=90` and one new."""

from __future__ import annotations

import sqlalchemy as sa


def insert_old_and_new_rejects(engine: sa.Engine) -> None:
    """A failed geo run of AZURA with rejects 'old' (100 days) and 'new' (now)."""
    with engine.begin() as c:
        run = c.execute(
            sa.text(
                "INSERT INTO sync_runs (brand, entity, status) VALUES ('AZURA', 'geo', 'failed') "
                "RETURNING id"
            )
        ).scalar_one()
        c.execute(
            sa.text(
                "INSERT INTO sync_rejects (run_id, brand, entity, reason, created_at) VALUES "
                "(:r, 'AZURA', 'geo', 'old', now() - interval '100 days'), "
                "(:r, 'AZURA', 'geo', 'new', now())"
            ),
            {"r": run},
        )
