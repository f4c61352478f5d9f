"""Gathering a `Snapshot` (tokens, jobs, runs, rejects, leases) and serving it as `/` and
`/status.json`. Runs and rejects come from the store the sync writes to (Supabase in REST
mode), leases from the engine's database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from apscheduler.schedulers.base import BaseScheduler

from worker.auth.build import build_token_manager, build_token_store
from worker.auth.manager import TokenStatus
from worker.clock import Clock, system_clock
from worker.config import Settings
from worker.health import Page
from worker.log import redactor
from worker.runtime import open_engine
from worker.scheduler import SyncJob, plan_sync_jobs
from worker.sinks.base import RunLedger
from worker.sinks.choose import build_store
from worker.status.model import JobInfo, Snapshot
from worker.status.page import render_html
from worker.status.payload import render_json
from worker.status.queries import load_database
from worker.status.view import Scrub, StatusView, build_view
from worker.sync.entities import ENTITY_NAMES

if TYPE_CHECKING:
    from worker.service import Daemon

HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"


def job_infos(jobs: Sequence[SyncJob], scheduler: BaseScheduler | None = None) -> list[JobInfo]:
    """The planned jobs with their next fire time when a scheduler runs them."""
    infos = []
    for job in jobs:
        scheduled = scheduler.get_job(job.key) if scheduler is not None else None
        next_time: datetime | None = getattr(scheduled, "next_run_time", None)
        infos.append(
            JobInfo(
                job.brand,
                job.entity,
                job.schedule.text,
                next_time.timestamp() if next_time is not None else None,
            )
        )
    return infos


class StatusSource:
    """Reads everything the status page shows, each time it is asked (nothing is cached)."""

    def __init__(
        self,
        engine: sa.Engine,
        ledger: RunLedger,
        tokens: Callable[[], list[TokenStatus]],
        jobs: Callable[[], list[JobInfo]],
        *,
        holder: str | None = None,
        clock: Clock = system_clock,
        scrub: Scrub = redactor.scrub,
    ) -> None:
        self._engine = engine
        self._ledger = ledger
        self._tokens = tokens
        self._jobs = jobs
        self._holder = holder
        self._clock = clock
        self._scrub = scrub

    def snapshot(self) -> Snapshot:
        tokens = self._tokens()
        jobs = self._jobs()
        brands = dict.fromkeys([t.brand for t in tokens] + [j.brand for j in jobs])
        return Snapshot(
            now=self._clock(),
            tokens=tokens,
            jobs=jobs,
            database=load_database(self._engine, self._ledger, brands),
            holder=self._holder,
        )

    def view(self) -> StatusView:
        return build_view(self.snapshot(), self._scrub)

    def html(self) -> tuple[str, bytes]:
        return HTML_TYPE, render_html(self.view()).encode()

    def json(self) -> tuple[str, bytes]:
        return JSON_TYPE, render_json(self.view()).encode()

    def pages(self) -> dict[str, Page]:
        return {"/": self.html, "/status.json": self.json}


def daemon_source(daemon: Daemon) -> StatusSource:
    """The status of a running daemon: its store's runs, its token manager, its scheduler's
    jobs, its lease id."""
    return StatusSource(
        daemon.engine,
        daemon.sink,
        daemon.tokens.status,
        lambda: job_infos(daemon.jobs, daemon.scheduler),
        holder=daemon.leases.holder,
        clock=daemon.clock,
    )


def settings_view(settings: Settings) -> StatusView:
    """The picture `rei-sync status` shows, from the configured database and stores.

    Reads only: no migration, no token request (the shared store's tokens are
    loaded, as a replica would adopt them). Each job shows its schedule, not a next
    run time: that belongs to a daemon's scheduler.
    """
    jobs = plan_sync_jobs(settings, list(ENTITY_NAMES))
    with open_engine(settings) as engine:
        tokens = build_token_manager(settings, store=build_token_store(settings, engine))
        try:
            tokens.preload()
            source = StatusSource(
                engine,
                build_store(settings, engine),
                tokens.status,
                lambda: job_infos(jobs),
                scrub=redactor.scrub,
            )
            return source.view()
        finally:
            tokens.close()
