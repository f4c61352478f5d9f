"""`RetryingTransport`: which failed requests are sent again, and how long it waits between."""

from __future__ import annotations

import random
from collections.abc import Callable
from email.utils import formatdate

import httpx
import pytest

from worker.retry import RetryPolicy
from worker.sinks.supabase import RetryingTransport, may_repeat

URL = "http://supabase.test/rest/v1/sync_runs"
INSERT = {"Prefer": "return=representation"}
UPSERT = {"Prefer": "resolution=merge-duplicates,return=minimal"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: Clock, **overrides: float) -> RetryPolicy:
    settings = {"max_attempts": 5, "total_cap_seconds": 120.0, **overrides}
    return RetryPolicy(
        max_attempts=int(settings["max_attempts"]),
        total_cap_seconds=settings["total_cap_seconds"],
        sleep=clock.sleep,
        clock=lambda: clock.now,
        rng=random.Random(7),
    )


def answering(
    *outcomes: int | tuple[int, str] | Exception,
) -> tuple[httpx.MockTransport, list[int]]:
    """A transport answering `outcomes` in turn (a status, (status, Retry-After), or raising);
    after them, 201. The list counts the requests it got."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) > len(outcomes):
            return httpx.Response(201, json=[{"id": 1}])
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, tuple):
            status, retry_after = outcome
            return httpx.Response(status, headers={"Retry-After": retry_after}, json={})
        return httpx.Response(outcome, json={"code": "PGRST000", "message": "down"})

    return httpx.MockTransport(handler), calls


def send(
    transport: RetryingTransport, method: str = "POST", headers: dict[str, str] | None = None
) -> httpx.Response:
    with httpx.Client(transport=transport) as client:
        return client.request(method, URL, headers=headers or {}, json={"a": 1})


def timeout(kind: Callable[..., httpx.TransportError]) -> httpx.TransportError:
    return kind("boom", request=httpx.Request("POST", URL))


def test_which_requests_may_be_repeated() -> None:
    assert may_repeat(httpx.Request("GET", URL))
    assert may_repeat(httpx.Request("PATCH", URL))
    assert may_repeat(httpx.Request("DELETE", URL))
    assert may_repeat(httpx.Request("POST", URL, headers=UPSERT))
    assert not may_repeat(httpx.Request("POST", URL, headers=INSERT))
    ignoring = {"Prefer": "resolution=ignore-duplicates"}
    assert not may_repeat(httpx.Request("POST", URL, headers=ignoring))


@pytest.mark.parametrize("status", [500, 502, 504, 503])
def test_an_insert_that_may_have_been_done_is_not_sent_again(status: int) -> None:
    clock = Clock()
    inner, calls = answering(status)
    response = send(RetryingTransport(inner, policy=policy(clock)), headers=INSERT)
    assert (response.status_code, len(calls), clock.sleeps) == (status, 1, [])
    assert response.json()["code"] == "PGRST000"


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError])
def test_an_insert_whose_answer_never_came_is_not_sent_again(
    error: Callable[..., httpx.TransportError],
) -> None:
    inner, calls = answering(timeout(error))
    with pytest.raises(error):
        send(RetryingTransport(inner, policy=policy(Clock())), headers=INSERT)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "failure",
    [429, (503, "1"), timeout(httpx.ConnectError), timeout(httpx.ConnectTimeout)],
    ids=["429", "503-retry-after", "connect-error", "connect-timeout"],
)
def test_an_insert_refused_or_never_sent_is_retried(
    failure: int | tuple[int, str] | Exception,
) -> None:
    clock = Clock()
    inner, calls = answering(failure)
    response = send(RetryingTransport(inner, policy=policy(clock)), headers=INSERT)
    assert (response.status_code, len(calls), len(clock.sleeps)) == (201, 2, 1)


@pytest.mark.parametrize(
    ("method", "headers"), [("POST", UPSERT), ("GET", {}), ("PATCH", {}), ("DELETE", {})]
)
def test_repeatable_requests_are_retried_whatever_failed(
    method: str, headers: dict[str, str]
) -> None:
    clock = Clock()
    inner, calls = answering(500, timeout(httpx.ReadTimeout), 504)
    response = send(RetryingTransport(inner, policy=policy(clock)), method, headers)
    assert (response.status_code, len(calls), len(clock.sleeps)) == (201, 4, 3)


def test_waits_are_jittered_exponential_and_capped_in_total() -> None:
    clock = Clock()
    inner, calls = answering(*[500] * 10)
    transport = RetryingTransport(inner, policy=policy(clock, max_attempts=5))
    assert send(transport, headers=UPSERT).status_code == 500
    assert len(calls) == 5
    assert transport.retries == 4
    assert all(0 <= wait <= 0.5 * 2**n for n, wait in enumerate(clock.sleeps))
    assert len(set(clock.sleeps)) == 4  # jittered, not a fixed ladder

    clock = Clock()
    inner, calls = answering(*[(503, "4")] * 10)
    capped = RetryingTransport(inner, policy=policy(clock, total_cap_seconds=10))
    assert send(capped, headers=INSERT).status_code == 503
    assert (len(calls), clock.sleeps) == (3, [4.0, 4.0])  # a third wait would end past 10 s


def test_a_retry_after_http_date_is_waited_until_that_date() -> None:
    now = 1_780_000_000.0
    clock = Clock()
    inner, calls = answering((429, formatdate(now + 9, usegmt=True)), (503, "garbage"))
    transport = RetryingTransport(inner, policy=policy(clock), clock=lambda: now)
    assert send(transport, headers=UPSERT).status_code == 201
    assert len(calls) == 3
    assert clock.sleeps[0] == 9.0
    assert clock.sleeps[1] < 9.0  # garbage is no Retry-After: the jittered backoff alone
