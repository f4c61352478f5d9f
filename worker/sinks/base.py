"""What the sync engine needs from a database, whatever the database is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from worker.db.schema import (
    Reject,
    RejectRecord,
    Row,
    RunCounts,
    RunEnd,
    RunRecord,
    RunStart,
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

    def delist_absent(self, spec: TableSpec, brand: str, scan: AbsentScan) -> int | None:
        """Delist the active rows a complete answer no longer lists (`AbsentScan`); `None`,
        and nothing delisted, when that would trip the scan's guard."""
        ...

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None: ...


ABANDONED_ERROR = "left running by a process that stopped"
"""The error a run ended by `abandon_stale_runs` is given, unless it had one already."""


class RunLedger(Protocol):
    """The `sync_runs` table (one row per (brand, entity) run) and, read back, `sync_rejects`."""

    def start_run(self, start: RunStart) -> int: ...

    def checkpoint_run(self, run_id: int, counts: RunCounts, checkpoint: int) -> None: ...

    def finish_run(self, run_id: int, end: RunEnd) -> None: ...

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


@dataclass(frozen=True)
class AbsentScan:
    """The `delist_absent` contract, stated once for every sink.

    `seen` holds the (scope, key) pairs a complete answer listed (scope `None` for an
    unscoped table); every other active row is delisted, except rows whose parent
    (`spec.parent_column`) is in `keep_scopes` (their part of the answer failed), and
    nothing at all when that would be more than the guard allows.
    """

    seen: Sequence[tuple[int | None, int]]
    guard_minimum: int
    guard_fraction: float
    keep_scopes: Sequence[int] = ()

    def check(self, spec: TableSpec) -> None:
        """Rows are kept by their parent column: a table without one cannot keep scopes."""
        if self.keep_scopes and spec.parent_column is None:
            raise ValueError(f"{spec.table} has no parent column to keep scopes by")

    def exceeds_guard(self, missing: int, active: int) -> bool:
        """Whether delisting `missing` of `active` rows is more than may be done at once:
        more than max(guard_minimum, guard_fraction x active rows)."""
        return missing > max(self.guard_minimum, int(active * self.guard_fraction))
