"""Rule 10 with a real APScheduler (started paused: nothing fires) and a fake clock."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from tests.auth.conftest import FakeClock, FakeRequester
from worker.auth.manager import TokenManager
from worker.auth.schedule import (
    MISFIRE_GRACE_SECONDS,
    SAFETY_JOB_ID,
    schedule_token_refresh,
    token_job_id,
)
from worker.auth.token import TokenState
from worker.config import Brand
from worker.errors import TransientAuthError


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


@pytest.fixture
def manager(brands: tuple[Brand, ...], requester: FakeRequester, clock: FakeClock) -> TokenManager:
    return TokenManager(brands, requester=requester, clock=clock, rng=random.Random(3))


def next_run(scheduler: BackgroundScheduler, brand: str) -> float:
    job = scheduler.get_job(token_job_id(brand))
    assert job is not None
    return float(job.next_run_time.timestamp())


def test_one_job_per_brand_plus_a_safety_check(
    scheduler: BackgroundScheduler, manager: TokenManager, clock: FakeClock
) -> None:
    schedule_token_refresh(scheduler, manager)
    ids = sorted(job.id for job in scheduler.get_jobs())
    assert ids == sorted([SAFETY_JOB_ID, "token:AZURA", "token:BLUE_OCEAN"])
    # no token yet: due now
    assert next_run(scheduler, "AZURA") == pytest.approx(clock(), abs=1e-3)


def test_the_job_renews_and_rearms_at_the_new_refresh_at(
    scheduler: BackgroundScheduler,
    manager: TokenManager,
    requester: FakeRequester,
    clock: FakeClock,
) -> None:
    jobs = schedule_token_refresh(scheduler, manager)
    jobs.run_brand("AZURA")
    assert requester.calls == 1
    refresh_at = manager.status()[0].refresh_at
    assert refresh_at is not None
    assert next_run(scheduler, "AZURA") == pytest.approx(refresh_at, abs=1e-3)
    # firing early does nothing but re-arm
    jobs.run_brand("AZURA")
    assert requester.calls == 1
    # at refresh_at the token is renewed before any request needed it
    clock.now = refresh_at
    jobs.run_brand("AZURA")
    assert requester.calls == 2
    assert manager.status()[0].state is TokenState.FRESH
    new_refresh_at = manager.status()[0].refresh_at
    assert new_refresh_at is not None
    assert new_refresh_at > refresh_at
    assert next_run(scheduler, "AZURA") == pytest.approx(new_refresh_at, abs=1e-3)


def test_a_token_renewed_by_another_path_rearms_the_job(
    scheduler: BackgroundScheduler, manager: TokenManager
) -> None:
    schedule_token_refresh(scheduler, manager)
    manager.get_valid_token("BLUE_OCEAN")
    refresh_at = manager.status()[1].refresh_at
    assert refresh_at is not None
    assert next_run(scheduler, "BLUE_OCEAN") == pytest.approx(refresh_at, abs=1e-3)


def test_a_failing_refresh_rearms_at_the_retry_time(
    scheduler: BackgroundScheduler,
    manager: TokenManager,
    requester: FakeRequester,
    clock: FakeClock,
) -> None:
    jobs = schedule_token_refresh(scheduler, manager)
    requester.fail_always = lambda: TransientAuthError("AZURA", "token endpoint answered HTTP 503")
    jobs.run_brand("AZURA")
    retry_at = manager.status()[0].retry_at
    assert retry_at is not None
    assert clock() <= retry_at <= clock() + 1
    assert next_run(scheduler, "AZURA") == pytest.approx(retry_at, abs=1e-3)


def test_the_safety_check_rearms_missing_or_drifted_jobs(
    scheduler: BackgroundScheduler, manager: TokenManager
) -> None:
    jobs = schedule_token_refresh(scheduler, manager)
    jobs.run_brand("AZURA")
    jobs.run_brand("BLUE_OCEAN")
    assert jobs.safety_check() == []
    scheduler.remove_job(token_job_id("AZURA"))
    assert jobs.safety_check() == ["AZURA"]
    assert scheduler.get_job(token_job_id("AZURA")) is not None


def test_a_refused_token_whose_renewal_failed_is_retried_by_the_job(
    scheduler: BackgroundScheduler,
    manager: TokenManager,
    requester: FakeRequester,
    clock: FakeClock,
    leak_guard: io.StringIO,
) -> None:
    jobs = schedule_token_refresh(scheduler, manager)
    jobs.run_brand("AZURA")
    refused = manager.get_valid_token("AZURA")
    requester.script.append(TransientAuthError("AZURA", "token endpoint answered HTTP 503"))
    with pytest.raises(TransientAuthError):
        manager.force_refresh("AZURA", rejected=refused)
    failure = [line for line in leak_guard.getvalue().splitlines() if "refresh_failed" in line]
    assert '"still_serving_valid_token": false' in failure[-1]
    assert manager.needs_refresh("AZURA")
    retry_at = manager.status()[0].retry_at
    assert retry_at is not None
    assert clock() <= retry_at <= clock() + 1
    # the job is due at the gate's retry time, not at the refused token's refresh_at
    assert manager.next_refresh_at("AZURA") == retry_at
    assert jobs.safety_check() == ["AZURA"]
    assert next_run(scheduler, "AZURA") == pytest.approx(retry_at, abs=1e-3)
    clock.now = retry_at
    calls = requester.calls
    jobs.run_brand("AZURA")
    assert requester.calls == calls + 1
    assert manager.get_valid_token("AZURA") not in (refused,)
    assert not manager.needs_refresh("AZURA")


def test_a_refresh_at_hours_in_the_past_is_armed_now_not_dropped_as_a_misfire(
    scheduler: BackgroundScheduler, manager: TokenManager, clock: FakeClock
) -> None:
    """Point 8(a): APScheduler drops a DateTrigger later than its misfire grace; arm at now."""
    manager.get_valid_token("AZURA")
    refresh_at = manager.status()[0].refresh_at
    assert refresh_at is not None
    scheduler_now = [refresh_at + 5 * MISFIRE_GRACE_SECONDS]  # the daemon was down for hours
    jobs = schedule_token_refresh(scheduler, manager, clock=lambda: scheduler_now[0])
    assert next_run(scheduler, "AZURA") == pytest.approx(scheduler_now[0], abs=1e-3)
    scheduler_now[0] += 120
    assert jobs.safety_check() == []  # an overdue job is due, not drifted: no re-arm churn
