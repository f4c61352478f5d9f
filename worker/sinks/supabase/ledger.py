"""The `sync_runs` ledger through PostgREST, as `worker/sinks/runs.py` keeps it in Postgres:
start (abandoning stale runs), checkpoint, finish, read; and the latest `sync_rejects`,
read without their payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from postgrest import APIError, CountMethod, ReturnMethod
from supabase import Client

from worker.clock import Clock, system_clock
from worker.db.schema import (
    SUCCESS_STATUSES,
    RejectRecord,
    RunCounts,
    RunEnd,
    RunRecord,
    RunStart,
    RunStatus,
)
from worker.sinks.base import ABANDONED_ERROR
from worker.sinks.supabase.rest import RestTables, sink_error

REJECT_COLUMNS = "id,run_id,brand,entity,source_id,reason,created_at"
"""What `latest_rejects` selects: never `payload` (it may hold private fields)."""
RUN_KEY = "run_key"
"""The `details` field of a running run that `start_run` finds it by (see there)."""


class SupabaseRunLedger:
    """The run ledger of a Supabase project, through its REST API."""

    def __init__(self, client: Client, *, clock: Clock = system_clock) -> None:
        self._rest = RestTables(client, clock)

    def start_run(self, start: RunStart) -> int:
        """A new `running` row (stale `running` rows of the key are abandoned first).

        Before anything is written, `_starting` begins whatever else the run's start
        begins (the sink's "once per run").

        Idempotent without a second insert: the row carries a run key made here (in
        `details`, which `finish_run` replaces; `get_run` and `recent_runs` never show
        it). The insert is not retried once it may have been done (see `may_repeat`): if
        its answer is lost, the run is looked up by its key, so a run committed without
        an answer is found, not inserted again. If it is not found the start fails
        (`SinkError`) and nothing is retried: were the insert committed after all, its
        row is abandoned by the job's next start, as a crashed worker's is. (A unique
        run-key column would allow an upsert instead, but needs a migration a REST-only
        deployment may not have applied.)
        """
        self._starting(start.brand, start.entity)
        self.abandon_stale_runs(start.brand, start.entity)
        key = uuid.uuid4().hex
        insert = self._rest.table("sync_runs").insert(
            {**start.__dict__, "status": RunStatus.RUNNING, "details": {RUN_KEY: key}},
            returning=ReturnMethod.representation,
        )
        try:
            response: Any = insert.execute()
        except (APIError, httpx.HTTPError) as exc:
            found = self._run_by_key(start.brand, start.entity, key)
            if found is None:
                raise sink_error("starting a run", exc) from None
            return found
        return int(response.data[0]["id"])

    def _run_by_key(self, brand: str, entity: str, key: str) -> int | None:
        query = (
            self._rest.table("sync_runs")
            .select("id")
            .eq("brand", brand)
            .eq("entity", entity)
            .eq(f"details->>{RUN_KEY}", key)
        )
        try:
            rows: Any = query.execute().data
        except (APIError, httpx.HTTPError):
            return None
        return int(rows[0]["id"]) if rows else None

    def checkpoint_run(self, run_id: int, counts: RunCounts, checkpoint: int) -> None:
        self._rest.run(
            "checkpointing a run",
            self._rest.table("sync_runs")
            .update({**counts.__dict__, "checkpoint": checkpoint}, returning=ReturnMethod.minimal)
            .eq("id", run_id),
        )

    def finish_run(self, run_id: int, end: RunEnd) -> None:
        values: dict[str, Any] = {
            **end.counts.__dict__,
            "status": end.status,
            "finished_at": self._rest.now(),
            "error": end.error,
            "duration_seconds": end.duration_seconds,
            "details": end.details,
        }
        if end.checkpoint is not None:
            values["checkpoint"] = end.checkpoint
        self._rest.run(
            "finishing a run",
            self._rest.table("sync_runs")
            .update(values, returning=ReturnMethod.minimal)
            .eq("id", run_id),
        )

    def get_run(self, run_id: int) -> RunRecord | None:
        response = self._rest.run(
            "reading a run", self._rest.table("sync_runs").select("*").eq("id", run_id)
        )
        return RunRecord.from_row(_without_run_key(response.data[0])) if response.data else None

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        query = self._rest.table("sync_runs").select("*")
        if brand is not None:
            query = query.eq("brand", brand)
        if entity is not None:
            query = query.eq("entity", entity)
        if brand is not None and entity is not None:  # in the order of sync_runs_key_started
            query = query.order("started_at", desc=True)
        query = query.order("id", desc=True).limit(limit)
        rows = self._rest.run("reading runs", query).data
        return [RunRecord.from_row(_without_run_key(row)) for row in rows]

    def latest_rejects(self, limit: int = 20, run_id: int | None = None) -> list[RejectRecord]:
        query = self._rest.table("sync_rejects").select(REJECT_COLUMNS)
        if run_id is not None:
            query = query.eq("run_id", run_id)
        query = query.order("id", desc=True)
        rows = self._rest.run("reading rejects", query.limit(limit)).data
        return [
            RejectRecord(
                id=int(row["id"]),
                run_id=int(row["run_id"]),
                brand=row["brand"],
                entity=row["entity"],
                source_id=row["source_id"],
                reason=row["reason"],
                created_at=_when(row["created_at"]) or datetime.fromtimestamp(0, UTC),
            )
            for row in rows
        ]

    def last_success_at(self, brand: str, entity: str) -> datetime | None:
        query = (
            self._rest.table("sync_runs")
            .select("finished_at")
            .eq("brand", brand)
            .eq("entity", entity)
            .in_("status", list(SUCCESS_STATUSES))
            .not_.is_("finished_at", "null")
            .order("finished_at", desc=True)
            .limit(1)
        )
        rows = self._rest.run("reading the last success", query).data
        return _when(rows[0]["finished_at"]) if rows else None

    def abandon_stale_runs(self, brand: str | None = None, entity: str | None = None) -> int:
        total = 0
        for has_error in (False, True):
            values: dict[str, Any] = {
                "status": RunStatus.ABANDONED,
                "finished_at": self._rest.now(),
            }
            if not has_error:
                values["error"] = ABANDONED_ERROR
            query = (
                self._rest.table("sync_runs")
                .update(values, count=CountMethod.exact, returning=ReturnMethod.minimal)
                .eq("status", RunStatus.RUNNING)
            )
            query = query.not_.is_("error", "null") if has_error else query.is_("error", "null")
            if brand is not None:
                query = query.eq("brand", brand)
            if entity is not None:
                query = query.eq("entity", entity)
            total += self._rest.run("abandoning stale runs", query).count or 0
        return total

    def _starting(self, brand: str, entity: str) -> None:
        """What else a run's start begins, before its row is written (for the sink)."""


def _without_run_key(row: dict[str, Any]) -> dict[str, Any]:
    """A `sync_runs` row with `start_run`'s run key taken out of `details` (None if that
    was all of it)."""
    details = row["details"]
    if isinstance(details, dict) and RUN_KEY in details:
        details = {k: v for k, v in details.items() if k != RUN_KEY} or None
    return {**row, "details": details}


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))
