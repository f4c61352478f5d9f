"""Building the daemon's APScheduler 3.x jobs from settings.

Two kinds of job:
- one **token job per brand**, a one-shot date job armed at the brand's
  `next_refresh_at` and re-armed after each run, so the token is renewed
  before any request would have to wait for it;
- **sync jobs per brand × entity**, each on its own schedule.

A schedule setting is an interval (`90s`, `15m`, `1h`, `1d`, bare seconds) or a
five-field cron expression (`0 3 * * *`, UTC, standard day-of-week numbers:
0 and 7 are Sunday); `off` disables the job. Every
job is `coalesce=True` (missed runs collapse into one), `max_instances=1`
(never overlapping in one process; the lease covers other processes) with a
misfire grace time and jitter, so replicas started together do not hit the
API in lock-step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from worker.config import Settings
from worker.errors import ConfigError, ConfigErrors
from worker.leases import job_key

SCHEDULE_SETTINGS: dict[str, str] = {
    "properties": "sync_properties_schedule",
    "associates": "sync_associates_schedule",
    "lookups": "sync_lookups_schedule",
    "geo": "sync_geo_schedule",
    "images": "sync_images_full_schedule",
}
"""Entity name → the setting holding its schedule. `properties` runs also fetch the images of
new and changed listings; `images` is the full sweep of every active listing's images."""

MAX_JITTER_SHARE = 0.1
"""Jitter never exceeds this share of a job's interval (short test schedules stay regular)."""

_INTERVAL = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: exactly one of `interval_seconds` and `cron` is set."""

    text: str
    interval_seconds: float | None = None
    cron: str | None = None

    def trigger(self, jitter_seconds: float) -> BaseTrigger:
        jitter = min(jitter_seconds, self.nominal_seconds() * MAX_JITTER_SHARE) or None
        if self.interval_seconds is not None:
            return IntervalTrigger(seconds=self.interval_seconds, jitter=jitter, timezone=UTC)
        return cron_trigger(str(self.cron), jitter=jitter)

    def nominal_seconds(self, now: datetime | None = None) -> float:
        """The interval, or for cron the gap between the next two fire times after `now`."""
        if self.interval_seconds is not None:
            return self.interval_seconds
        trigger = cron_trigger(str(self.cron))
        start = now or datetime(2026, 1, 1, tzinfo=UTC)
        first = trigger.get_next_fire_time(None, start)
        second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
        if first is None or second is None:
            return 86400.0
        return float((second - first).total_seconds())


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
"""Standard cron day-of-week numbers: 0 (and 7) is Sunday."""


def cron_day_of_week(field: str) -> str:
    """A standard cron day-of-week field in APScheduler 3's terms.

    APScheduler's `CronTrigger` counts 0 = Monday, standard cron 0 (or 7) =
    Sunday, so numbers (single, ranges, lists, steps) become day names; names and
    a bare `*` pass through. `ValueError` for a number outside 0-7 or a reversed range.
    """
    items: list[str] = []
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        if base == "*" and not step_text:
            return "*"
        if not re.fullmatch(r"\*|\d+(-\d+)?", base) or (step_text and not step_text.isdigit()):
            items.append(item)  # names (mon-fri) or something APScheduler will judge
            continue
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = 0, 6
        else:
            low, _, high = base.partition("-")
            first, last = int(low), int(high or low)
            if step_text and not high:
                last = 7  # `n/step`: from n to the end of the week
        if not 0 <= first <= last <= 7 or step < 1:
            raise ValueError(f"day of week {item!r} is not within 0-7 (0 and 7 are Sunday)")
        for day in range(first, last + 1, step):
            name = _DAY_NAMES[day % 7]
            if name not in items:
                items.append(name)
    return ",".join(items)


def cron_trigger(cron: str, jitter: float | None = None) -> CronTrigger:
    """A five-field standard cron expression (UTC) as an APScheduler `CronTrigger`."""
    minute, hour, day, month, day_of_week = cron.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=cron_day_of_week(day_of_week),
        timezone=UTC,
        jitter=jitter,
    )


def parse_schedule(variable: str, text: str) -> Schedule | None:
    """`Schedule`, or None for `off`; `ConfigError` naming `variable` when it is neither."""
    value = text.strip().lower()
    if value in ("", "off", "none", "disabled"):
        return None
    match = _INTERVAL.match(value)
    if match:
        seconds = float(match["amount"]) * _UNIT_SECONDS[match["unit"] or "s"]
        if seconds <= 0:
            raise ConfigError(variable, "interval must be positive")
        return Schedule(text, interval_seconds=seconds)
    fields = value.split()
    if len(fields) == 5:
        try:
            cron_trigger(" ".join(fields))
        except ValueError as exc:
            raise ConfigError(variable, f"invalid cron expression: {exc}") from None
        return Schedule(text, cron=" ".join(fields))
    raise ConfigError(
        variable, "must be an interval like 15m / 1h / 1d or a 5-field cron expression, or off"
    )


@dataclass(frozen=True)
class SyncJob:
    brand: str
    entity: str
    schedule: Schedule

    @property
    def key(self) -> str:
        return job_key(self.brand, self.entity)


def plan_sync_jobs(settings: Settings, entities: list[str]) -> list[SyncJob]:
    """Every enabled (brand, entity) job, for the entities the sync engine knows."""
    jobs: list[SyncJob] = []
    errors: list[ConfigError] = []
    for entity in entities:
        field = SCHEDULE_SETTINGS.get(entity)
        if field is None:
            continue
        try:
            schedule = parse_schedule(field.upper(), str(getattr(settings, field)))
        except ConfigError as exc:
            errors.append(exc)
            continue
        if schedule is None:
            continue
        jobs.extend(SyncJob(brand.key, entity, schedule) for brand in settings.brands)
    ConfigErrors.raise_if_any(errors)
    return jobs


def add_sync_jobs(
    scheduler: BaseScheduler,
    jobs: list[SyncJob],
    run: Callable[[str, str], object],
    *,
    jitter_seconds: float,
    misfire_grace_seconds: float,
    run_at_start: bool,
    now: datetime,
) -> None:
    for job in jobs:
        extra = {"next_run_time": now} if run_at_start else {}
        scheduler.add_job(
            run,
            job.schedule.trigger(jitter_seconds),
            args=(job.brand, job.entity),
            id=job.key,
            name=job.key,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(misfire_grace_seconds)),
            replace_existing=True,
            **extra,
        )
