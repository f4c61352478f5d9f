"""Rule 10: renew each brand's token at its `refresh_at`, so no request ever waits for one.

One one-shot job per brand (`token:<BRAND>`), armed at the manager's
`next_refresh_at` (the token's `refresh_at`, or the failure gate's retry time)
and re-armed after every run and whenever a token changes by another path (a
401, a STALE background refresh, another replica's token adopted). A periodic
safety check re-arms any brand whose job went missing or drifted, so a lost
job cannot leave a brand to expire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from worker.auth.manager import TokenManager
from worker.auth.token import Token
from worker.clock import Clock, system_clock, to_datetime
from worker.log import get_logger

SAFETY_INTERVAL_SECONDS = 60.0
MISFIRE_GRACE_SECONDS = 3600
"""A token job that fires late still runs: being late is the very thing it exists to fix."""
DRIFT_TOLERANCE_SECONDS = 1.0
SAFETY_JOB_ID = "token:safety-check"

log = get_logger(__name__)


def token_job_id(brand: str) -> str:
    return f"token:{brand}"


@dataclass
class TokenJobs:
    """The token jobs on one scheduler (APScheduler 3.x `BaseScheduler`)."""

    scheduler: Any
    manager: TokenManager
    safety_interval_seconds: float = SAFETY_INTERVAL_SECONDS
    after_run: Callable[[str], None] | None = None
    """Called with the brand after each run (the daemon alerts on a FAILED brand from here)."""
    clock: Clock = system_clock
    """The scheduler's time (APScheduler runs on the system clock): no job is armed before it."""

    def install(self) -> TokenJobs:
        self.manager.add_listener(self._on_new_token)
        self.scheduler.add_job(
            self.safety_check,
            IntervalTrigger(seconds=self.safety_interval_seconds, timezone=UTC),
            id=SAFETY_JOB_ID,
            name=SAFETY_JOB_ID,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        for brand in self.manager.brands:
            self.arm(brand)
        return self

    def run_brand(self, brand: str) -> None:
        """The job body: renew if due (errors are recorded by the manager), then re-arm."""
        try:
            self.manager.refresh_if_due(brand)
            if self.after_run is not None:
                self.after_run(brand)
        finally:
            self.arm(brand)

    def arm(self, brand: str) -> None:
        """Arm the brand's job at `next_refresh_at`, or now if that has passed.

        A stored token's `refresh_at` may lie hours in the past (the daemon was down);
        APScheduler drops a `DateTrigger` that is later than its misfire grace, which
        would leave the brand with no job until the safety check. Now is never too late.
        """
        at = self._due_at(brand)
        self.scheduler.add_job(
            self.run_brand,
            DateTrigger(run_date=to_datetime(at), timezone=UTC),
            args=(brand,),
            id=token_job_id(brand),
            name=token_job_id(brand),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            replace_existing=True,
        )

    def safety_check(self) -> list[str]:
        """Re-arm brands whose job is missing or no longer matches `next_refresh_at`."""
        rearmed = []
        for brand in self.manager.brands:
            job = self.scheduler.get_job(token_job_id(brand))
            wanted = self._due_at(brand)
            scheduled = _epoch(job.next_run_time) if job is not None else None
            overdue = scheduled is not None and scheduled <= wanted and wanted <= self.clock()
            if scheduled is None or (
                abs(scheduled - wanted) > DRIFT_TOLERANCE_SECONDS and not overdue
            ):
                self.arm(brand)
                rearmed.append(brand)
        if rearmed:
            log.info("token.jobs_rearmed", brands=rearmed)
        return rearmed

    def _due_at(self, brand: str) -> float:
        return max(self.manager.next_refresh_at(brand), self.clock())

    def _on_new_token(self, brand: str, _token: Token) -> None:
        self.arm(brand)


def schedule_token_refresh(
    scheduler: Any,
    manager: TokenManager,
    *,
    safety_interval_seconds: float = SAFETY_INTERVAL_SECONDS,
    after_run: Callable[[str], None] | None = None,
    clock: Clock = system_clock,
) -> TokenJobs:
    """Install one token job per brand plus the safety check on `scheduler`; return them."""
    return TokenJobs(scheduler, manager, safety_interval_seconds, after_run, clock).install()


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None
