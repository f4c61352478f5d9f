"""Named, read-only SQL for the status page; every value is a bound parameter.

Rejects are read without their `payload` column (it may hold private fields
the engine kept for diagnosis): the page shows where a reject came from and
why, never what it contained.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from worker.status.model import DatabaseData, LeaseRow, RejectRow, RunRow

RUNS_PER_KEY = 20
REJECTS_SHOWN = 20

RECENT_RUNS = sa.text(
    """
    SELECT r.id, r.brand, r.entity, r.mode, r.status, r.started_at, r.finished_at,
           r.duration_seconds, r.seen, r.inserted, r.updated, r.unchanged, r.rejected,
           r.delisted, r.error
    FROM (SELECT DISTINCT brand, entity FROM sync_runs) AS k
    CROSS JOIN LATERAL (
        SELECT * FROM sync_runs AS s
        WHERE s.brand = k.brand AND s.entity = k.entity
        ORDER BY s.started_at DESC, s.id DESC
        LIMIT :per_key
    ) AS r
    ORDER BY r.brand, r.entity, r.started_at DESC, r.id DESC
    """
)
"""The last `:per_key` runs of every brand × entity, newest first; the first is the last run."""

LATEST_REJECTS = sa.text(
    """
    SELECT created_at, brand, entity, source_id, reason, run_id
    FROM sync_rejects
    ORDER BY id DESC
    LIMIT :limit
    """
)

CURRENT_LEASES = sa.text(
    """
    SELECT job_key, holder, acquired_at, expires_at
    FROM job_leases
    WHERE expires_at > clock_timestamp()
    ORDER BY job_key
    """
)


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def load_database(
    engine: sa.Engine, *, per_key: int = RUNS_PER_KEY, rejects: int = REJECTS_SHOWN
) -> DatabaseData:
    """Runs, rejects and leases in one read-only transaction; the error named if it fails."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            run_rows = connection.execute(RECENT_RUNS, {"per_key": per_key}).all()
            reject_rows = connection.execute(LATEST_REJECTS, {"limit": rejects}).all()
            lease_rows = connection.execute(CURRENT_LEASES).all()
    except sa.exc.SQLAlchemyError as exc:
        return DatabaseData(error=f"database unavailable: {type(exc).__name__}")
    return DatabaseData(
        runs=[
            RunRow(
                id=int(r.id),
                brand=r.brand,
                entity=r.entity,
                mode=r.mode,
                status=r.status,
                started_at=r.started_at.timestamp(),
                finished_at=_epoch(r.finished_at),
                duration_seconds=r.duration_seconds,
                seen=r.seen,
                inserted=r.inserted,
                updated=r.updated,
                unchanged=r.unchanged,
                rejected=r.rejected,
                delisted=r.delisted,
                error=r.error,
            )
            for r in run_rows
        ],
        rejects=[
            RejectRow(
                created_at=r.created_at.timestamp(),
                brand=r.brand,
                entity=r.entity,
                source_id=r.source_id,
                reason=r.reason,
                run_id=int(r.run_id),
            )
            for r in reject_rows
        ],
        leases=[
            LeaseRow(
                job_key=r.job_key,
                holder=r.holder,
                acquired_at=r.acquired_at.timestamp(),
                expires_at=r.expires_at.timestamp(),
            )
            for r in lease_rows
        ],
    )
