"""What the sync engine needs from a database, whatever the database is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from worker.sync.normalise import Reject, Row


@dataclass(frozen=True)
class TableSpec:
    """An entity's public table (and optional private twin), keyed by (brand, key)."""

    table: str
    key: str
    columns: tuple[str, ...]
    private_table: str | None = None
    private_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class RunCounts:
    pages: int = 0
    seen: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    delisted: int = 0


class Sink(Protocol):
    def upsert(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> UpsertResult: ...

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None: ...

    def start_run(self, brand: str, entity: str, mode: str) -> int: ...

    def finish_run(
        self, run_id: int, status: str, counts: RunCounts, error: str | None = None
    ) -> None: ...
