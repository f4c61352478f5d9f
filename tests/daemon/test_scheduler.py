"""`worker.scheduler`: schedule parsing, cron day-of-week semantics, the jobs it adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.scheduler import cron_day_of_week, parse_schedule

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
