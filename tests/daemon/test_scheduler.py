"""`worker.scheduler`: schedule parsing, cron day-of-week semantics, the jobs it adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from worker.config import load_settings
from worker.errors import ConfigError
from worker.leases import job_key
from worker.scheduler import (
    MAX_JITTER_SHARE,
    add_sync_jobs,
    cron_day_of_week,
    parse_schedule,
    plan_sync_jobs,
)

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # 2026-01-05 is a Monday


def next_fires(text: str, count: int, after: datetime = MONDAY) -> list[datetime]:
    schedule = parse_schedule("SYNC_GEO_SCHEDULE", text)
    assert schedule is not None
    trigger = schedule.trigger(0)
    fires: list[datetime] = []
    previous: datetime | None = None
    now = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        fires.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return fires


@pytest.mark.parametrize("text", ["0 3 * * 0", "0 3 * * 7", "0 3 * * sun"])
def test_cron_day_zero_and_seven_are_sunday(text: str) -> None:
    fires = next_fires(text, 3)
    assert [f.strftime("%A") for f in fires] == ["Sunday"] * 3
    assert fires[0] == datetime(2026, 1, 11, 3, 0, tzinfo=UTC)


def test_cron_weekday_ranges_lists_and_steps_use_standard_numbers() -> None:
    assert {f.strftime("%a") for f in next_fires("0 3 * * 1-5", 10)} == {
        "Mon", "Tue", "Wed", "Thu", "Fri",
    }  # fmt: skip
    assert {f.strftime("%a") for f in next_fires("0 3 * * 0,6", 6)} == {"Sat", "Sun"}
    assert {f.strftime("%a") for f in next_fires("0 3 * * */2", 8)} == {
        "Sun", "Tue", "Thu", "Sat",
    }  # fmt: skip
    assert cron_day_of_week("1-7") == "mon,tue,wed,thu,fri,sat,sun"
    assert cron_day_of_week("mon-fri") == "mon-fri"
    assert cron_day_of_week("*") == "*"


def test_cron_weekly_nominal_interval_is_a_week() -> None:
    schedule = parse_schedule("SYNC_GEO_SCHEDULE", "0 3 * * 0")
    assert schedule is not None
    assert schedule.nominal_seconds() == 7 * 86400


# -- parse_schedule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400), (" 2H ", 7200),
     ("1.5m", 90), ("30 s", 30)],
)  # fmt: skip
def test_interval_forms(text: str, seconds: float) -> None:
    schedule = parse_schedule("SYNC_PROPERTIES_SCHEDULE", text)
    assert schedule is not None
    assert schedule.interval_seconds == seconds
    assert schedule.cron is None
    assert schedule.nominal_seconds() == seconds


def test_cron_expression() -> None:
    schedule = parse_schedule("SYNC_LOOKUPS_SCHEDULE", "0  3 * * *")
    assert schedule is not None
    assert schedule.cron == "0 3 * * *"
    assert schedule.interval_seconds is None
    assert schedule.nominal_seconds() == 86400
    every_15 = parse_schedule("SYNC_LOOKUPS_SCHEDULE", "*/15 * * * *")
    assert every_15 is not None
    assert every_15.nominal_seconds() == 900


@pytest.mark.parametrize("text", ["off", "OFF", "none", "disabled", "", "  "])
def test_off_disables(text: str) -> None:
    assert parse_schedule("SYNC_GEO_SCHEDULE", text) is None


@pytest.mark.parametrize(
    "text", ["0s", "0", "soon", "15 minutes", "1w", "0 3 * *", "61 * * * *", "0 3 * * 8",
             "0 3 * * 5-1", "0 25 * * *"],
)  # fmt: skip
def test_invalid_schedule_names_the_variable(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_schedule("SYNC_ASSOCIATES_SCHEDULE", text)
    assert raised.value.variable == "SYNC_ASSOCIATES_SCHEDULE"
    assert "SYNC_ASSOCIATES_SCHEDULE" in str(raised.value)


def test_plan_names_the_setting_at_fault() -> None:
    settings = load_settings(environ={**BRAND_ENV, "SYNC_GEO_SCHEDULE": "every day"}, env_file=None)
    with pytest.raises(ConfigError, match="SYNC_GEO_SCHEDULE"):
        plan_sync_jobs(settings, ["geo"])


# -- jitter, job options, keys --------------------------------------------------------------


def test_jitter_is_capped_at_a_share_of_the_interval() -> None:
    short = parse_schedule("X", "10s")
    assert short is not None
    trigger = short.trigger(jitter_seconds=30)
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.jitter == pytest.approx(10 * MAX_JITTER_SHARE)
    long = parse_schedule("X", "1h")
    assert long is not None
    long_trigger = long.trigger(jitter_seconds=30)
    assert isinstance(long_trigger, IntervalTrigger)
    assert long_trigger.jitter == 30
    cron = parse_schedule("X", "*/10 * * * *")
    assert cron is not None
    cron_trigger = cron.trigger(jitter_seconds=300)
    assert isinstance(cron_trigger, CronTrigger)
    assert cron_trigger.jitter == pytest.approx(600 * MAX_JITTER_SHARE)
    assert short.trigger(jitter_seconds=0).jitter is None


BRAND_ENV = {
    f"REMAX_{brand}_{part}": value
    for brand in ("AZURA", "BLUE_OCEAN")
    for part, value in (
        ("API_URL", "https://example.invalid/api/v1"),
        ("API_KEY", "k"),
        ("INTEGRATOR_ID", "i"),
        ("SECRET_KEY", "s"),
    )
}


def test_added_jobs_coalesce_one_instance_misfire_grace_and_job_keys() -> None:
    settings = load_settings(
        environ={
            **BRAND_ENV,
            "SYNC_PROPERTIES_SCHEDULE": "15m",
            "SYNC_ASSOCIATES_SCHEDULE": "0 3 * * 0",
            "SYNC_LOOKUPS_SCHEDULE": "off",
        },
        env_file=None,
    )
    jobs = plan_sync_jobs(settings, ["properties", "associates", "lookups", "unknown"])
    assert [(j.brand, j.entity) for j in jobs] == [
        ("AZURA", "properties"), ("BLUE_OCEAN", "properties"),
        ("AZURA", "associates"), ("BLUE_OCEAN", "associates"),
    ]  # fmt: skip
    scheduler = BackgroundScheduler(timezone=UTC)
    now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    calls: list[tuple[str, str]] = []
    add_sync_jobs(
        scheduler,
        jobs,
        lambda brand, entity: calls.append((brand, entity)),
        jitter_seconds=5,
        misfire_grace_seconds=42.7,
        run_at_start=True,
        now=now,
    )
    added = {job.id: job for job in scheduler.get_jobs()}
    assert set(added) == {job_key(j.brand, j.entity) for j in jobs}
    for job in jobs:
        aps = added[job.key]
        assert job.key == job_key(job.brand, job.entity) == f"sync:{job.brand}:{job.entity}"
        assert aps.coalesce is True
        assert aps.max_instances == 1
        assert aps.misfire_grace_time == 42
        assert aps.args == (job.brand, job.entity)
        assert aps.next_run_time == now  # run at start
    assert isinstance(added["sync:AZURA:associates"].trigger, CronTrigger)

    later = BackgroundScheduler(timezone=UTC)
    add_sync_jobs(
        later, jobs[:1], print, jitter_seconds=0, misfire_grace_seconds=0.2,
        run_at_start=False, now=now,
    )  # fmt: skip
    (only,) = later.get_jobs()
    assert only.misfire_grace_time == 1  # never 0 (APScheduler would reject it)
    assert not hasattr(only, "next_run_time") or only.next_run_time != now
