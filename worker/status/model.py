"""The status page's inputs: plain records, gathered by `source`, turned into a view by `view`."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.auth.manager import TokenStatus


@dataclass(frozen=True)
class RunRow:
    """One `sync_runs` row (times as epoch seconds). No payload, no checkpoint details."""

    id: int
    brand: str
    entity: str
    mode: str
    status: str
    started_at: float
    finished_at: float | None
    duration_seconds: float | None
    seen: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    delisted: int
    error: str | None
    images_failed: int = 0
    """Listings whose image request failed (stored, fetched again next run)."""
    delist_unconfirmed: int = 0
    """Delisting candidates kept because their confirmation call failed."""
    absent_listed: int = 0
    """Listings absent from the complete scan whose details still said online."""
    fields: str | None = None
    """Unknown, missing and re-typed record fields of the run (`worker/sync/drift.py`)."""

    @property
    def changes(self) -> int:
        """Rows the run wrote: inserted + updated + delisted."""
        return self.inserted + self.updated + self.delisted


@dataclass(frozen=True)
class RejectRow:
    """A `sync_rejects` row without its payload: only where it came from and why."""

    created_at: float
    brand: str
    entity: str
    source_id: str | None
    reason: str
    run_id: int


@dataclass(frozen=True)
class LeaseRow:
    job_key: str
    holder: str
    acquired_at: float
    expires_at: float


@dataclass(frozen=True)
class JobInfo:
    """A scheduled sync job: its schedule text and, in the daemon, its next fire time."""

    brand: str
    entity: str
    schedule: str
    next_run_at: float | None = None


@dataclass(frozen=True)
class ChangeRow:
    """One change-feed event: public values only (`sync_events`)."""

    created_at: float
    brand: str
    entity: str
    source_id: int
    kind: str
    summary: str
    run_id: int | None


@dataclass(frozen=True)
class SubscriberRow:
    """A webhook subscriber's cursor: never its URL or secret."""

    name: str
    paused: bool
    failures: int
    pending: int
    last_error: str | None
    last_success_at: float | None


@dataclass(frozen=True)
class DatabaseData:
    runs: list[RunRow] = field(default_factory=list)
    """The last runs per brand × entity, newest first within each key."""
    rejects: list[RejectRow] = field(default_factory=list)
    """The latest rejects, newest first."""
    leases: list[LeaseRow] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)
    """The latest change-feed events of each brand, newest first within each."""
    subscribers: list[SubscriberRow] = field(default_factory=list)
    error: str | None = None
    """Why the database part could not be read (one line, no secret), else None."""


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows, read at `now` (epoch seconds)."""

    now: float
    tokens: list[TokenStatus]
    jobs: list[JobInfo]
    database: DatabaseData
    holder: str | None = None
    """This replica's lease holder id (the daemon), or None (the CLI)."""
