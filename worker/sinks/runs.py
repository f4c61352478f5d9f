"""The `sync_runs` ledger in Postgres: start (abandoning stale runs), checkpoint, finish, read;
and the latest `sync_rejects`, read without their payload."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from worker.db.schema import SUCCESS_STATUSES, RejectRecord, RunCounts, RunEnd, RunRecord, RunStart
from worker.sinks.base import ABANDONED_ERROR
from worker.sinks.dberrors import translate_db_errors

ABANDON_STALE = sa.text(
    "UPDATE sync_runs SET status = 'abandoned', finished_at = now(), "
    "error = coalesce(error, :abandoned) "
    "WHERE status = 'running' "
    "AND (CAST(:brand AS text) IS NULL OR brand = :brand) "
    "AND (CAST(:entity AS text) IS NULL OR entity = :entity)"
)
START_RUN = sa.text(
    "INSERT INTO sync_runs (brand, entity, mode, status, take, resumed_from) "
    "VALUES (:brand, :entity, :mode, 'running', :take, :resumed_from) RETURNING id"
)
CHECKPOINT_RUN = sa.text(
    "UPDATE sync_runs SET pages = :pages, seen = :seen, inserted = :inserted, "
    "updated = :updated, unchanged = :unchanged, rejected = :rejected, delisted = :delisted, "
    "checkpoint = :checkpoint WHERE id = :id"
)
FINISH_RUN = sa.text(
    "UPDATE sync_runs SET status = :status, finished_at = now(), pages = :pages, "
    "seen = :seen, inserted = :inserted, updated = :updated, unchanged = :unchanged, "
    "rejected = :rejected, delisted = :delisted, error = :error, "
    "checkpoint = coalesce(:checkpoint, checkpoint), duration_seconds = :duration, "
    "details = CAST(:details AS jsonb) WHERE id = :id"
)
RUN_COLUMNS = (
    "id, brand, entity, mode, status, started_at, finished_at, pages, seen, inserted, updated, "
    "unchanged, rejected, delisted, checkpoint, duration_seconds, error, resumed_from, details"
)
GET_RUN = sa.text(f"SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = :id")
RECENT_RUNS = sa.text(
    f"SELECT {RUN_COLUMNS} FROM sync_runs "
    "WHERE (CAST(:brand AS text) IS NULL OR brand = :brand) "
    "AND (CAST(:entity AS text) IS NULL OR entity = :entity) "
    "ORDER BY id DESC LIMIT :limit"
)
"""The latest runs of every job, one brand or one entity (the primary key gives the order)."""
RECENT_JOB_RUNS = sa.text(
    f"SELECT {RUN_COLUMNS} FROM sync_runs WHERE brand = :brand AND entity = :entity "
    "ORDER BY started_at DESC, id DESC LIMIT :limit"
)
"""The latest runs of one brand × entity, read in order from `sync_runs_key_started`."""
LATEST_REJECTS = sa.text(
    "SELECT id, run_id, brand, entity, source_id, reason, created_at FROM sync_rejects "
    "WHERE (CAST(:run_id AS bigint) IS NULL OR run_id = :run_id) "
    "ORDER BY id DESC LIMIT :limit"
)
"""Never `payload`: it may hold private fields kept for diagnosis."""
LAST_SUCCESS = sa.text(
    "SELECT max(finished_at) FROM sync_runs "
    "WHERE brand = :brand AND entity = :entity AND status = ANY(:statuses)"
)


@translate_db_errors
class PostgresRunLedger:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def start_run(self, start: RunStart) -> int:
        """A new `running` row; runs of this key still `running` are marked `abandoned` first.

        Only one run per (brand, entity) is live at a time (the scheduler's lease
        guarantees it across replicas), so a `running` row here is a dead process's.
        """
        with self._engine.begin() as connection:
            connection.execute(ABANDON_STALE, _stale(start.brand, start.entity))
            run_id = connection.execute(START_RUN, start.__dict__).scalar_one()
        return int(run_id)

    def checkpoint_run(self, run_id: int, counts: RunCounts, checkpoint: int) -> None:
        # One UPDATE, atomic on its own: in autocommit it is one round trip (no BEGIN, COMMIT).
        autocommit = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as connection:
            connection.execute(
                CHECKPOINT_RUN, {"id": run_id, "checkpoint": checkpoint, **counts.__dict__}
            )

    def finish_run(self, run_id: int, end: RunEnd) -> None:
        details = None if end.details is None else orjson.dumps(end.details).decode()
        with self._engine.begin() as connection:
            connection.execute(
                FINISH_RUN,
                {
                    "id": run_id,
                    "status": end.status,
                    "error": end.error,
                    "checkpoint": end.checkpoint,
                    "duration": end.duration_seconds,
                    "details": details,
                    **end.counts.__dict__,
                },
            )

    def get_run(self, run_id: int) -> RunRecord | None:
        with self._engine.connect() as connection:
            row = connection.execute(GET_RUN, {"id": run_id}).mappings().first()
        return None if row is None else RunRecord.from_row(row)

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        query = RECENT_JOB_RUNS if brand is not None and entity is not None else RECENT_RUNS
        with self._engine.connect() as connection:
            rows = connection.execute(
                query, {"brand": brand, "entity": entity, "limit": limit}
            ).mappings()
            return [RunRecord.from_row(row) for row in rows]

    def latest_rejects(self, limit: int = 20, run_id: int | None = None) -> list[RejectRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(LATEST_REJECTS, {"limit": limit, "run_id": run_id}).mappings()
            return [RejectRecord(**row) for row in rows]

    def last_success_at(self, brand: str, entity: str) -> datetime | None:
        with self._engine.connect() as connection:
            value = connection.execute(
                LAST_SUCCESS,
                {"brand": brand, "entity": entity, "statuses": list(SUCCESS_STATUSES)},
            ).scalar_one()
        return value if isinstance(value, datetime) else None

    def abandon_stale_runs(self, brand: str | None = None, entity: str | None = None) -> int:
        """Mark every `running` run (of one key, one brand, or all) `abandoned`; returns how many.

        For a process that starts up and knows no run of its own can be live.
        """
        with self._engine.begin() as connection:
            result = connection.execute(ABANDON_STALE, _stale(brand, entity))
        return int(result.rowcount)


def _stale(brand: str | None, entity: str | None) -> dict[str, Any]:
    """The parameters of `ABANDON_STALE`."""
    return {"brand": brand, "entity": entity, "abandoned": ABANDONED_ERROR}
