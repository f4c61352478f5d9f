"""The daemon's probes: `/healthz` (alive), `/readyz` (can work), `/brandz` (every brand
healthy). Each is a function of what the daemon knows at the moment it is asked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa

from worker.auth import TokenState, TokenStatus
from worker.db.migrate import current_revision, head_revision
from worker.errors import ReiSyncError
from worker.health import Probe
from worker.scheduler import SyncJob
from worker.sinks.base import Store

STALE_FACTOR = 3.0
"""A sync job is stale (unready, alert) after this many intervals without a success."""
TOKEN_STARTUP_GRACE_SECONDS = 60.0
"""How long after the start a brand may have no token yet (MISSING) and still be ready."""

LastSuccesses = dict[tuple[str, str], float]


def last_successes(sink: Store, jobs: Iterable[SyncJob]) -> LastSuccesses:
    """(brand, entity) → epoch of the job's last success by any replica, read from the
    store (the REST sink keeps runs in Supabase, not in the local database)."""
    found: LastSuccesses = {}
    for job in jobs:
        at = sink.last_success_at(job.brand, job.entity)
        if at is not None:
            found[(job.brand, job.entity)] = at.timestamp()
    return found


def healthz(running: bool) -> Probe:
    """Alive: the scheduler runs and the daemon is not stopping (`running`)."""
    return Probe(running, {"scheduler": "ok" if running else "not running"})


def readyz(running: bool, stopping: bool, engine: sa.Engine) -> Probe:
    """Ready: this process can do its work: the scheduler runs (not stopping) and the
    database answers, migrated to head.

    Nothing about one brand: a brand whose keys are refused or whose job is stale is
    `brandz`'s (and the alerts') business; as a readiness probe it would take every
    replica out of service at once and stall a rolling update.
    """
    checks: dict[str, str] = {
        "scheduler": "ok" if running else ("stopping" if stopping else "not running")
    }
    try:
        current = current_revision(engine)
        head = head_revision()
        checks["database"] = "ok" if current == head else f"at {current}, head is {head}"
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    return Probe(all(v == "ok" for v in checks.values()), checks)


def brandz(
    read_last_successes: Callable[[], LastSuccesses],
    tokens: Sequence[TokenStatus],
    jobs: Iterable[SyncJob],
    *,
    now: float,
    started_at: float,
) -> Probe:
    """Every brand healthy: its token usable (MISSING only during the start-up grace) and
    every job's last success (on any replica) within 3 intervals, counted from this
    start at the latest. For dashboards and blackbox checks, not for a probe."""
    checks: dict[str, str] = {}
    last_success: LastSuccesses = {}
    try:
        last_success = read_last_successes()
    except ReiSyncError as exc:
        checks["runs"] = f"unreadable: {type(exc).__name__}"
    starting = now - started_at < TOKEN_STARTUP_GRACE_SECONDS
    for status in tokens:
        bad = status.state in (TokenState.EXPIRED, TokenState.FAILED) or (
            status.state is TokenState.MISSING and not starting
        )
        checks[f"token:{status.brand}"] = status.state.value if bad else "ok"
    for job in jobs:
        since = max(last_success.get((job.brand, job.entity), 0.0), started_at)
        limit = STALE_FACTOR * job.schedule.nominal_seconds()
        stale = now - since > limit
        checks[job.key] = f"no success for {now - since:.0f}s (> {limit:.0f}s)" if stale else "ok"
    return Probe(all(v == "ok" for v in checks.values()), checks)
