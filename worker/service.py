"""The daemon (`rei-sync run`): scheduler + leases + health/metrics server + signals.

Why a `BackgroundScheduler` with the main thread waiting on an `Event`, not a
`BlockingScheduler`: shutdown needs the main thread. Signal handlers only run
there, and the orderly stop (stop scheduling → ask running syncs to stop at
their next batch → wait up to the grace → release leases → close tokens) has
to run on a thread that is not one of the scheduler's. With the scheduler in
the background, `main` is a thin runner: `stop.wait()` returns the instant a
signal sets the event, no polling loop, and the shutdown code is ordinary
sequential code. A second signal skips all of it and exits at once.

Replicas: every sync job first takes its lease (`worker.leases`); a replica
that does not get it skips the run and counts the skip. Tokens go through the
encrypted Postgres store when `TOKEN_ENCRYPTION_KEY` is set, so every brand
still makes one token request per lifetime however many replicas run.

Beside it: one run of a job is `worker.runtime.Runtime.run_job` (the CLI's too), the
probes are `worker.probes`, the signal handling `worker.signals`, the daemon's own
metrics `worker.daemon_metrics`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC

import requests
import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from worker import probes
from worker.alerts import Alerter, AlertKind
from worker.auth import TokenManager, TokenState
from worker.auth.build import build_token_manager, build_token_store, require_shared_store
from worker.auth.schedule import TokenJobs, schedule_token_refresh
from worker.clock import Clock, monotonic, system_clock, utcnow
from worker.config import Settings
from worker.daemon_metrics import (
    CONSECUTIVE_FAILURES,
    INTERVAL,
    LAST_SUCCESS,
    SCHEDULER_RUNNING,
    SKIPPED,
    STARTED_AT,
)
from worker.db.engine import DEFAULT_POOL_SIZE
from worker.db.schema import SUCCESS_STATUSES, RunEnd, RunStatus
from worker.errors import ReiSyncError
from worker.feed.build import build_feed_worker, prune
from worker.health import HealthServer, Probe
from worker.leases import (
    POOL_TIMEOUT_SECONDS,
    RENEW_FRACTION,
    Lease,
    LeaseStore,
    job_key,
    lease_engine,
)
from worker.log import get_logger
from worker.runtime import Runtime
from worker.scheduler import SyncJob, add_sync_jobs, plan_sync_jobs
from worker.signals import exit_process, install_signal_handlers
from worker.slots import ActiveRuns, SyncSlots
from worker.status.source import daemon_source
from worker.sync import metrics as sync_metrics
from worker.sync.engine import RunResult
from worker.sync.entities import ENTITY_NAMES

log = get_logger(__name__)

REPEATED_FAILURES = 3
"""Consecutive failed runs of one job before the webhook alerts."""
SHUTDOWN_MARGIN_SECONDS = 2.0
"""Kept back from the grace for closing tokens and the server after the runs stop."""
SCHEDULER_THREADS = 8
"""APScheduler's pool at most: token renewals (one short request each) and handing sync
runs to the slots."""


def pool_size(engine: sa.Engine) -> int:
    """The engine's pool size (the default bound on concurrent syncs)."""
    pool = engine.pool
    return pool.size() if isinstance(pool, sa.pool.QueuePool) else DEFAULT_POOL_SIZE


RETENTION_JOB = "retention"
RETENTION_INTERVAL_SECONDS = 86400.0


class Daemon:
    """The running parts of `rei-sync run`, built from settings and an engine."""

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        tokens: TokenManager,
        *,
        leases: LeaseStore | None = None,
        alerter: Alerter | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.tokens = tokens
        ttl = settings.lease_ttl_seconds
        # Leases on a small pool of their own: a renewal never queues behind the sync jobs.
        self.leases = leases or LeaseStore(
            lease_engine(engine, pool_timeout=min(POOL_TIMEOUT_SECONDS, ttl * RENEW_FRACTION)),
            ttl_seconds=ttl,
        )
        self.alerter = alerter or Alerter(
            settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None,
            min_interval_seconds=settings.alert_min_interval_seconds,
        )
        self.runtime = Runtime(settings, engine, tokens, self.leases)
        self.sink = self.runtime.store
        self.clock = clock
        self.started_at = clock()
        self.jobs: list[SyncJob] = plan_sync_jobs(settings, list(ENTITY_NAMES))
        self.stopping = threading.Event()
        self._active = ActiveRuns()
        self._failures: dict[str, int] = {}
        self.slots = SyncSlots(
            settings.rei_max_concurrent_syncs or pool_size(engine), self.run_sync_job, clock=clock
        )
        # The scheduler's own threads only hand sync runs to the slots (at once) and run the
        # token jobs: a few whatever the number of brands.
        self.scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(min(SCHEDULER_THREADS, 2 + len(tokens.brands)))
            },
            timezone=UTC,
        )
        self.health: HealthServer | None = None
        self.token_jobs: TokenJobs | None = None
        self.feed = build_feed_worker(settings, engine)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        STARTED_AT.set(self.started_at)
        self.tokens.preload()
        self.publish_job_gauges()
        add_sync_jobs(
            self.scheduler,
            self.jobs,
            self.slots.fire,
            jitter_seconds=self.settings.sync_jitter_seconds,
            misfire_grace_seconds=self.settings.sync_misfire_grace_seconds,
            run_at_start=self.settings.run_at_start,
            now=utcnow(),
        )
        self.token_jobs = schedule_token_refresh(
            self.scheduler, self.tokens, after_run=self._alert_if_refused
        )
        self.scheduler.add_job(
            self.run_retention_job,
            IntervalTrigger(seconds=RETENTION_INTERVAL_SECONDS, timezone=UTC),
            id=RETENTION_JOB,
            name=RETENTION_JOB,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            replace_existing=True,
        )
        if self.feed is not None:
            self.feed.start()
        self.scheduler.start()
        SCHEDULER_RUNNING.set(1)
        log.info(
            "daemon.started",
            holder=self.leases.holder,
            brands=list(self.tokens.brands),
            jobs=[f"{j.key}@{j.schedule.text}" for j in self.jobs],
            token_store=self.tokens.store_name,
        )

    def publish_job_gauges(self) -> None:
        """Each job's interval, failures and last success, so the stale alert has a series.

        The last success is the one any replica recorded, however old: a restart must
        not hide a job that has been failing for days. Only a job that never succeeded
        starts from this start; the start-up grace lives in `readyz`, not in the metric.
        """
        try:
            baseline = probes.last_successes(self.sink, self.jobs)
        except ReiSyncError:
            baseline = {}
        for job in self.jobs:
            INTERVAL.labels(job.brand, job.entity).set(job.schedule.nominal_seconds())
            CONSECUTIVE_FAILURES.labels(job.brand, job.entity).set(0)
            since = baseline.get((job.brand, job.entity), self.started_at)
            LAST_SUCCESS.labels(job.brand, job.entity).set(since)

    def serve_health(self, bind: str | None = None, port: int | None = None) -> HealthServer:
        self.health = HealthServer(
            self.healthz,
            self.readyz,
            brandz=self.brandz,
            bind=self.settings.health_bind if bind is None else bind,
            port=self.settings.health_port if port is None else port,
            pages=daemon_source(self).pages(),
        ).start()
        return self.health

    def shutdown(self, grace_seconds: float) -> bool:
        """Stop scheduling, stop running syncs at their next batch, release; True if all ended."""
        deadline = monotonic() + max(0.0, grace_seconds - SHUTDOWN_MARGIN_SECONDS)
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.slots.shutdown()
        SCHEDULER_RUNNING.set(0)
        running = self._active.stop_all()
        log.info("daemon.stopping", running=running, grace_seconds=grace_seconds)
        stuck = self._active.wait(deadline)
        clean = not stuck
        if not clean:
            log.error("daemon.shutdown_timeout", still_running=list(stuck))
            self._abort_unfinished(stuck.values())
        if self.feed is not None:
            self.feed.stop(timeout=max(0.1, deadline - monotonic()))
        self.tokens.close(timeout=max(0.1, deadline - monotonic() + SHUTDOWN_MARGIN_SECONDS))
        if self.health is not None:
            self.health.stop()
        log.info("daemon.stopped", clean=clean)
        return clean

    def _abort_unfinished(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Mark the `running` rows of runs that outlived the grace `aborted`, checkpoint kept.

        The process exits right after, so they would otherwise stay `running` until
        the next start abandons them, and resume without their checkpoint.
        """
        for brand, entity in jobs:
            try:
                latest = self.sink.recent_runs(brand, limit=1, entity=entity)
                if latest and latest[0].status == RunStatus.RUNNING:
                    run = latest[0]
                    end = RunEnd(
                        RunStatus.ABORTED,
                        run.counts,
                        "stopped at shutdown: the grace period ran out",
                        checkpoint=run.checkpoint,
                    )
                    self.sink.finish_run(run.id, end)
                    log.warning("sync.aborted_at_timeout", brand=brand, entity=entity, run=run.id)
            except (ReiSyncError, sa.exc.SQLAlchemyError) as exc:
                log.error("sync.abort_failed", brand=brand, entity=entity, error=type(exc).__name__)

    # -- jobs -----------------------------------------------------------------------------

    def run_retention_job(self) -> tuple[int, int] | None:
        """Daily, under its lease: prune events and rejects older than `RETENTION_DAYS`.

        Not with the REST sink: its rejects live in Supabase, out of this engine's reach.
        """
        if self.settings.uses_supabase_rest or self.stopping.is_set():
            return None
        try:
            lease = self.leases.try_acquire(RETENTION_JOB)
            if lease is None:
                return None
            with lease:
                events, rejects = prune(self.settings, self.engine, self.clock())
        except (ReiSyncError, sa.exc.SQLAlchemyError) as exc:
            log.error("retention.failed", error=type(exc).__name__)
            return None
        log.info("retention.pruned", events=events, rejects=rejects)
        return events, rejects

    def run_sync_job(
        self, brand: str, entity: str, fired_at: float | None = None
    ) -> RunResult | None:
        """One scheduled run under the job's lease; skipped (and counted) if another holds it,
        or if another replica finished the job after `fired_at` (while this run waited).

        A domain or database error outside the run itself (taking the lease, clearing a
        dead holder's run, starting the run row) counts as a failed run too: the same
        metric, the same repeated-failure alert, one log line, never a scheduler traceback.
        """
        try:
            return self._run_sync_job(brand, entity, fired_at)
        except (ReiSyncError, sa.exc.SQLAlchemyError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:300]
            if self.stopping.is_set():
                log.warning(
                    "sync.interrupted", brand=brand, entity=entity, error=type(exc).__name__
                )
                return None
            log.error(
                "sync.failed_before_run",
                brand=brand,
                entity=entity,
                error=type(exc).__name__,
                detail=detail,
            )
            sync_metrics.RUNS.labels(brand, entity, "scheduled", "failed").inc()
            self._count_outcome(brand, entity, "failed")
            return None

    def _run_sync_job(self, brand: str, entity: str, fired_at: float | None) -> RunResult | None:
        if self.stopping.is_set():
            return None
        lease = self._take_lease(brand, entity, fired_at)
        if lease is None:
            return None
        stop = threading.Event()
        if not self._active.add(lease.key, (brand, entity), stop, self.stopping):
            lease.release()
            return None
        try:
            result = self.runtime.run_job(brand, entity, mode="scheduled", stop=stop, lease=lease)
            self._record(result)
            if self.feed is not None:
                self.feed.wake()  # deliver this run's committed events now, on its own thread
            return result
        finally:
            self._active.remove(lease.key)

    def _take_lease(self, brand: str, entity: str, fired_at: float | None) -> Lease | None:
        """The job's lease, or None (the skip counted) if another replica holds it or
        finished the job after `fired_at`."""
        lease = self.leases.try_acquire(job_key(brand, entity))
        if lease is None:
            SKIPPED.labels(brand, entity, "lease_busy").inc()
            log.info("sync.skipped", brand=brand, entity=entity, reason="lease_busy")
            return None
        if fired_at is not None and self._done_since(brand, entity, fired_at):
            lease.release()
            SKIPPED.labels(brand, entity, "done_elsewhere").inc()
            log.info("sync.skipped", brand=brand, entity=entity, reason="done_elsewhere")
            return None
        return lease

    def _done_since(self, brand: str, entity: str, fired_at: float) -> bool:
        """True if some replica finished a successful run of the job after `fired_at`."""
        last = self.sink.last_success_at(brand, entity)
        return last is not None and last.timestamp() > fired_at

    def _record(self, result: RunResult) -> None:
        """The engine counted and timed the run; the daemon keeps the job's own gauges."""
        self._count_outcome(result.brand, result.entity, result.status)

    def _count_outcome(self, brand: str, entity: str, status: str) -> None:
        """Last success, consecutive failures and the alerts that follow from a run's status."""
        key = job_key(brand, entity)
        if status in SUCCESS_STATUSES:
            LAST_SUCCESS.labels(brand, entity).set(self.clock())
            self._failures[key] = 0
        elif status == RunStatus.FAILED:
            self._failures[key] = self._failures.get(key, 0) + 1
            if self._failures[key] >= REPEATED_FAILURES:
                self.alerter.send(
                    AlertKind.REPEATED_SYNC_FAILURE,
                    brand,
                    f"{entity} failed {self._failures[key]} times in a row",
                )
        if status == RunStatus.DELIST_GUARD_TRIPPED:
            self.alerter.send(AlertKind.DELIST_GUARD, brand, f"{entity} guard tripped")
        CONSECUTIVE_FAILURES.labels(brand, entity).set(self._failures.get(key, 0))

    def _alert_if_refused(self, brand: str) -> None:
        """After a token job: alert (rate-limited) when the API refused the brand's keys."""
        states = {s.brand: s.state for s in self.tokens.status()}
        if states.get(brand) is TokenState.FAILED:
            self.alerter.send(
                AlertKind.PERMANENT_AUTH_FAILURE, brand, "the API refused the brand's keys"
            )

    # -- probes ---------------------------------------------------------------------------

    def healthz(self) -> Probe:
        return probes.healthz(self.scheduler.running and not self.stopping.is_set())

    def readyz(self) -> Probe:
        running = self.scheduler.running and not self.stopping.is_set()
        return probes.readyz(running, self.stopping.is_set(), self.engine)

    def brandz(self) -> Probe:
        return probes.brandz(
            lambda: probes.last_successes(self.sink, self.jobs),
            self.tokens.status(),
            self.jobs,
            now=self.clock(),
            started_at=self.started_at,
        )


def run_daemon(
    settings: Settings,
    engine: sa.Engine,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[Daemon], None] | None = None,
    exit_when_done: bool = False,
) -> int:
    """Run until `stop` is set (by a signal); 0 after a clean shutdown within the grace.

    A shutdown that ran out of grace exits the process with 1 at once (runs still in a
    batch are marked `aborted` first). With `exit_when_done` (`rei-sync run`) a clean
    one exits the process with 0 at once too, instead of returning.
    """
    require_shared_store(settings)
    stopped = stop or threading.Event()
    install_signal_handlers(stopped)
    with requests.Session() as session:
        tokens = build_token_manager(
            settings, store=build_token_store(settings, engine, "postgres"), session=session
        )
        daemon = Daemon(settings, engine, tokens)
        daemon.serve_health()
        daemon.start()
        if on_ready is not None:
            on_ready(daemon)
        stopped.wait()
        clean = daemon.shutdown(settings.shutdown_grace_seconds)
        if not clean:
            # Scheduler threads still inside a batch would keep the interpreter alive past
            # the grace.
            exit_process(1)
        if exit_when_done:
            exit_process(0)
    return 0
