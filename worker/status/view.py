"""The view model: pure functions from a `Snapshot` to what every state renders as.

Every state carries a text label and a tone (`ok`, `warn`, `bad`, `idle`); the
page colours by tone but always prints the label, so nothing is said by
colour alone. Free text (errors, reasons) goes through the injected `scrub`
(the daemon passes the log redactor) and is cut to its first line; a reject reason
is shown whole, on one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from worker.auth.manager import TokenStatus
from worker.auth.token import TokenState
from worker.scheduler import SCHEDULE_SETTINGS
from worker.status import format as fmt
from worker.status.model import (
    ChangeRow,
    JobInfo,
    LeaseRow,
    RejectRow,
    RunRow,
    Snapshot,
    SubscriberRow,
)

Tone = Literal["ok", "warn", "bad", "idle"]
Scrub = Callable[[str], str]
TONE_RANK: dict[Tone, int] = {"idle": 0, "ok": 1, "warn": 2, "bad": 3}
"""For summaries: `idle` (never run, running, no token yet) is the weakest signal, so a
brand whose jobs succeeded is Healthy while a daily job still waits for its first turn;
it is Waiting only when nothing at all has happened."""


@dataclass(frozen=True)
class Badge:
    """A state as words: `label` is always shown; `tone` only adds colour."""

    label: str
    tone: Tone
    description: str


TOKEN_BADGES: dict[TokenState, Badge] = {
    TokenState.FRESH: Badge("FRESH", "ok", "valid; renewed ahead of expiry"),
    TokenState.STALE: Badge("STALE", "warn", "still valid; a renewal is due or running"),
    TokenState.EXPIRED: Badge("EXPIRED", "bad", "expired; requests wait for a new token"),
    TokenState.MISSING: Badge("MISSING", "idle", "no token yet in this process"),
    TokenState.FAILED: Badge("FAILED", "bad", "the API refused the brand's keys"),
}

RUN_BADGES: dict[str, Badge] = {
    "succeeded": Badge("Succeeded", "ok", "the run finished"),
    "succeeded_with_rejects": Badge(
        "Succeeded with rejects", "warn", "the run finished; some records were rejected"
    ),
    "running": Badge("Running", "idle", "the run is in progress"),
    "aborted": Badge("Aborted", "warn", "stopped on request; resumable from its checkpoint"),
    "abandoned": Badge("Abandoned", "warn", "left running by a process that stopped"),
    "delist_guard_tripped": Badge(
        "Delist guard tripped", "bad", "too many rows would have been delisted; nothing delisted"
    ),
    "failed": Badge("Failed", "bad", "the run ended with an error"),
}
REASON_CHARS = 2000
"""A reject reason is shown whole (one line), up to this: its first line may be attacker
text that would hide the real reason behind it."""
NEVER_RUN = Badge("Never run", "idle", "no run recorded yet")


def token_badge(state: TokenState) -> Badge:
    return TOKEN_BADGES[state]


def run_badge(status: str | None) -> Badge:
    if status is None:
        return NEVER_RUN
    return RUN_BADGES.get(status, Badge(status.replace("_", " ").capitalize(), "idle", status))


def worst(tones: Iterable[Tone]) -> Tone:
    """The strongest signal among `tones`: bad > warn > ok > idle (none at all: idle)."""
    return max(tones, key=TONE_RANK.__getitem__, default="idle")


@dataclass(frozen=True)
class TokenView:
    state: Badge
    expires_at: float | None
    expires_in: str
    refresh_at: float | None
    renews_in: str
    fingerprint: str | None
    source: str | None
    last_error: str | None
    retry_in: str | None


@dataclass(frozen=True)
class Point:
    """One of the last runs, for the sparkline: oldest first."""

    started_at: float
    status: str
    duration_seconds: float | None
    changes: int


@dataclass(frozen=True)
class Counts:
    seen: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    delisted: int


@dataclass(frozen=True)
class LastRun:
    id: int
    mode: str
    started_at: float
    started: str
    started_ago: str
    duration_seconds: float | None
    duration: str
    counts: Counts
    error: str | None
    notes: list[str] = field(default_factory=list)
    """Listings the run kept but could not finish (one line each kind; counts only)."""
    fields: str | None = None
    """Record fields the run did not expect, one line (`worker.sync.drift.summary`)."""


@dataclass(frozen=True)
class JobView:
    entity: str
    schedule: str | None
    """None: not scheduled here (runs came from the CLI or another replica's settings)."""
    status: Badge
    last: LastRun | None
    next_run_at: float | None
    next_run: str
    history: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class BrandView:
    brand: str
    summary: Badge
    token: TokenView | None
    jobs: list[JobView]


@dataclass(frozen=True)
class LeaseView:
    job: str
    holder: str
    mine: bool
    held_for: str
    expires_in: str


@dataclass(frozen=True)
class RejectView:
    at: float
    ago: str
    brand: str
    entity: str
    source_id: str
    reason: str
    run_id: int


@dataclass(frozen=True)
class ChangeView:
    at: float
    ago: str
    brand: str
    entity: str
    source_id: int
    kind: str
    summary: str
    run_id: int | None


@dataclass(frozen=True)
class SubscriberView:
    name: str
    state: Badge
    pending: int
    failures: int
    last_ok: str
    last_error: str


SUBSCRIBER_BADGES = {
    False: Badge("Active", "ok", "events are delivered after each run"),
    True: Badge("Paused", "bad", "too many failed deliveries: rei-sync webhooks resume NAME"),
}


@dataclass(frozen=True)
class StatusView:
    generated_at: float
    generated: str
    holder: str | None
    overall: Badge
    brands: list[BrandView]
    leases: list[LeaseView]
    rejects: list[RejectView]
    database_error: str | None
    changes: list[ChangeView] = field(default_factory=list)
    subscribers: list[SubscriberView] = field(default_factory=list)


def _keep(text: str) -> str:
    return text


def token_view(status: TokenStatus, now: float, scrub: Scrub = _keep) -> TokenView:
    error = fmt.first_line(status.last_error)
    return TokenView(
        state=token_badge(status.state),
        expires_at=status.expires_at,
        expires_in=fmt.relative(status.expires_at, now),
        refresh_at=status.refresh_at,
        renews_in=fmt.relative(status.refresh_at, now),
        fingerprint=status.fingerprint,
        source=status.source,
        last_error=None if error is None else scrub(error),
        retry_in=None if status.retry_at is None else fmt.relative(status.retry_at, now),
    )


def last_run(run: RunRow, now: float, scrub: Scrub = _keep) -> LastRun:
    error = fmt.first_line(run.error)
    return LastRun(
        id=run.id,
        mode=run.mode,
        started_at=run.started_at,
        started=fmt.clock_time(run.started_at),
        started_ago=fmt.relative(run.started_at, now),
        duration_seconds=run.duration_seconds,
        duration=fmt.duration(run.duration_seconds),
        counts=Counts(
            run.seen, run.inserted, run.updated, run.unchanged, run.rejected, run.delisted
        ),
        error=None if error is None else scrub(error),
        notes=run_notes(run),
        fields=None if run.fields is None else scrub(run.fields),
    )


def _listings(n: int) -> str:
    return f"{n:,} listing" + ("" if n == 1 else "s")


def run_notes(run: RunRow) -> list[str]:
    """What needs a look although the run finished: failed images, kept candidates."""
    notes = []
    if run.images_failed:
        notes.append(
            f"{_listings(run.images_failed)} whose images could not be fetched "
            "(stored, fetched again next run; see the rejects)"
        )
    if run.delist_unconfirmed:
        notes.append(f"{_listings(run.delist_unconfirmed)} kept: the delisting confirmation failed")
    if run.absent_listed:
        notes.append(
            f"{_listings(run.absent_listed)} absent from the list but online in their details"
        )
    return notes


def history(runs: list[RunRow]) -> list[Point]:
    """Newest-first rows → oldest-first points (left to right on the sparkline)."""
    return [Point(r.started_at, r.status, r.duration_seconds, r.changes) for r in reversed(runs)]


def job_view(
    entity: str, job: JobInfo | None, runs: list[RunRow], now: float, scrub: Scrub = _keep
) -> JobView:
    latest = runs[0] if runs else None
    next_at = job.next_run_at if job else None
    return JobView(
        entity=entity,
        schedule=job.schedule if job else None,
        status=run_badge(latest.status if latest else None),
        last=last_run(latest, now, scrub) if latest else None,
        next_run_at=next_at,
        next_run=fmt.relative(next_at, now) if job else "not scheduled",
        history=history(runs),
    )


def _entity_order(entity: str) -> tuple[int, str]:
    order = list(SCHEDULE_SETTINGS)
    return (order.index(entity) if entity in order else len(order), entity)


def brand_names(snapshot: Snapshot) -> list[str]:
    """Configured brands in their order, then any brand only the database knows, sorted."""
    named = [t.brand for t in snapshot.tokens] + [j.brand for j in snapshot.jobs]
    known = list(dict.fromkeys(named))
    extra = sorted({r.brand for r in snapshot.database.runs} - set(known))
    return known + extra


def brand_view(brand: str, snapshot: Snapshot, scrub: Scrub = _keep) -> BrandView:
    now = snapshot.now
    token = next((t for t in snapshot.tokens if t.brand == brand), None)
    jobs = {j.entity: j for j in snapshot.jobs if j.brand == brand}
    runs: dict[str, list[RunRow]] = {}
    for run in snapshot.database.runs:
        if run.brand == brand:
            runs.setdefault(run.entity, []).append(run)
    entities = sorted(set(jobs) | set(runs), key=_entity_order)
    job_views = [job_view(e, jobs.get(e), runs.get(e, []), now, scrub) for e in entities]
    token_v = token_view(token, now, scrub) if token else None
    tones = [j.status.tone for j in job_views] + ([token_v.state.tone] if token_v else [])
    return BrandView(brand, summary_badge(worst(tones)), token_v, job_views)


def summary_badge(tone: Tone) -> Badge:
    return {
        "ok": Badge("Healthy", "ok", "token valid and last runs succeeded"),
        "idle": Badge("Waiting", "idle", "nothing has run yet"),
        "warn": Badge("Attention", "warn", "something needs a look"),
        "bad": Badge("Failing", "bad", "a token or a run is failing"),
    }[tone]


def lease_view(lease: LeaseRow, now: float, holder: str | None) -> LeaseView:
    return LeaseView(
        job=lease.job_key,
        holder=lease.holder,
        mine=holder is not None and lease.holder == holder,
        held_for=fmt.span(now - lease.acquired_at),
        expires_in=fmt.relative(lease.expires_at, now),
    )


def reject_view(reject: RejectRow, now: float, scrub: Scrub = _keep) -> RejectView:
    return RejectView(
        at=reject.created_at,
        ago=fmt.relative(reject.created_at, now),
        brand=reject.brand,
        entity=reject.entity,
        source_id=reject.source_id or fmt.NOTHING,
        reason=scrub(fmt.one_line(reject.reason, REASON_CHARS) or ""),
        run_id=reject.run_id,
    )


def change_view(change: ChangeRow, now: float, scrub: Scrub = _keep) -> ChangeView:
    return ChangeView(
        at=change.created_at,
        ago=fmt.relative(change.created_at, now),
        brand=change.brand,
        entity=change.entity,
        source_id=change.source_id,
        kind=change.kind,
        summary=scrub(change.summary),
        run_id=change.run_id,
    )


def subscriber_view(row: SubscriberRow, now: float, scrub: Scrub = _keep) -> SubscriberView:
    return SubscriberView(
        name=row.name,
        state=SUBSCRIBER_BADGES[row.paused],
        pending=row.pending,
        failures=row.failures,
        last_ok=fmt.relative(row.last_success_at, now) if row.last_success_at else fmt.NOTHING,
        last_error=scrub(row.last_error or fmt.NOTHING),
    )


def build_view(snapshot: Snapshot, scrub: Scrub = _keep) -> StatusView:
    now = snapshot.now
    brands = [brand_view(b, snapshot, scrub) for b in brand_names(snapshot)]
    db_error = fmt.first_line(snapshot.database.error)
    tones = [b.summary.tone for b in brands] + (["bad"] if db_error else [])
    overall = summary_badge(worst(tones)) if brands or db_error else summary_badge("idle")
    return StatusView(
        generated_at=now,
        generated=fmt.clock_time(now),
        holder=snapshot.holder,
        overall=overall,
        brands=brands,
        leases=[lease_view(x, now, snapshot.holder) for x in snapshot.database.leases],
        rejects=[reject_view(x, now, scrub) for x in snapshot.database.rejects],
        database_error=db_error,
        changes=[change_view(x, now, scrub) for x in snapshot.database.changes],
        subscribers=[subscriber_view(x, now, scrub) for x in snapshot.database.subscribers],
    )
