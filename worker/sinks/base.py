"""What the sync engine needs from a database, whatever the database is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from worker.db.schema import (
    Reject,
    RejectRecord,
    Row,
    RunCounts,
    RunRecord,
    TableSpec,
    UpsertResult,
)


class Sink(Protocol):
    """Entity tables: merge batches, replace child sets, delist."""

    def upsert(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> UpsertResult: ...

    def replace_children(
        self, spec: TableSpec, brand: str, scope_ids: Sequence[int], rows: Sequence[Row]
    ) -> UpsertResult: ...

    def stale_keys(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> set[int]:
        """Keys of `rows` that an upsert would write (new, changed or delisted)."""
        ...

    def stored_hashes(
        self, spec: TableSpec, brand: str, ids: Sequence[int]
    ) -> dict[int, tuple[str, str | None]]:
        """(content hash, private hash or None) of the *active* stored rows among `ids`.

        One round trip per call: the no-change path asks once per batch of pages.
        """
        ...

    def active_ids(self, spec: TableSpec, brand: str) -> set[int]: ...

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        """(active rows, sorted keys of the active rows not in `seen`): the rows a complete
        scan that saw `seen` did not see. Worked out where the rows are (Postgres: `seen`
        COPY'd into a temp table and anti-joined), so the caller holds neither set."""
        ...

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int: ...

    def delist_absent(
        self,
        spec: TableSpec,
        brand: str,
        seen: Sequence[tuple[int | None, int]],
        *,
        guard_minimum: int,
        guard_fraction: float,
        keep_scopes: Sequence[int] = (),
    ) -> int | None:
        """Delist active rows whose key is not in `seen`; `None` (and nothing delisted)
        when that would trip the guard (`exceeds_guard`). Rows whose parent
        (`spec.parent_column`) is in `keep_scopes` are left as they are (`check_keep_scopes`)."""
        ...

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None: ...


ABANDONED_ERROR = "left running by a process that stopped"
"""The error a run ended by `abandon_stale_runs` is given, unless it had one already."""


class RunLedger(Protocol):
    """The `sync_runs` table (one row per (brand, entity) run) and, read back, `sync_rejects`."""

    def start_run(
        self,
        brand: str,
        entity: str,
        mode: str,
        *,
        take: int | None = None,
        resumed_from: int | None = None,
    ) -> int: ...

    def checkpoint_run(self, run_id: int, counts: RunCounts, checkpoint: int) -> None: ...

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: RunCounts,
        error: str | None = None,
        *,
        checkpoint: int | None = None,
        duration_seconds: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def get_run(self, run_id: int) -> RunRecord | None: ...

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        """The latest `limit` runs (of one brand, one entity, or one job), newest first.

        One job's runs never overlap (its lease and `start_run` see to that), so its
        newest-first order by start time and by id are the same.
        """
        ...

    def latest_rejects(self, limit: int = 20, run_id: int | None = None) -> list[RejectRecord]:
        """The latest `limit` rejects of any run (or of run `run_id`), newest first, never
        with their payload."""
        ...

    def last_success_at(self, brand: str, entity: str) -> datetime | None:
        """When a run of this job last ended in one of `SUCCESS_STATUSES` (any replica)."""
        ...

    def abandon_stale_runs(self, brand: str | None = None, entity: str | None = None) -> int: ...


class Store(Sink, RunLedger, Protocol):
    """Everything a sync run writes: entity tables and its `sync_runs` row."""


def check_keep_scopes(spec: TableSpec, keep_scopes: Sequence[int]) -> None:
    """`delist_absent` keeps rows by their parent column: a table without one cannot."""
    if keep_scopes and spec.parent_column is None:
        raise ValueError(f"{spec.table} has no parent column to keep scopes by")


def exceeds_guard(missing: int, active: int, *, guard_minimum: int, guard_fraction: float) -> bool:
    """Whether delisting `missing` of `active` rows is more than `delist_absent` may do:
    more than max(guard_minimum, guard_fraction x active rows)."""
    return missing > max(guard_minimum, int(active * guard_fraction))
