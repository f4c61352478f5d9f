"""Retrying idempotent calls: exponential backoff with full jitter, `Retry-After`, a time cap.

Shared by the API client (`ApiError`s) and the Supabase sink's transport (`SinkError`s):
which family is retried is the caller's `retry_on`; an error's `retryable` and
`retry_after` say whether and how soon.

Time is injected (`sleep`, `clock`, `rng`) so tests move it instead of waiting. A
policy given a `stop` event waits with `stop.wait(seconds)` (or the injected `sleep`)
and ends the call with `StopRequested` as soon as the event is set.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from worker.clock import monotonic
from worker.clock import sleep as system_sleep
from worker.errors import ApiError, ReiSyncError, StopRequested
from worker.log import get_logger

log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BASE_DELAY_SECONDS = 0.5
DEFAULT_MAX_DELAY_SECONDS = 30.0
DEFAULT_TOTAL_CAP_SECONDS = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a failed idempotent call.

    Delay before retry n (1-based) is uniform in [0, min(max_delay, base * 2**(n-1))]
    ("full jitter"); a `Retry-After` from the server is a lower bound, honoured in
    full: one longer than `max_delay_seconds` is not shortened (retrying early would
    only be refused again), the call gives up with that error instead. The next wait
    is never started if it would end past `total_cap_seconds` from the first attempt.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay_seconds: float = DEFAULT_BASE_DELAY_SECONDS
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS
    total_cap_seconds: float = DEFAULT_TOTAL_CAP_SECONDS
    sleep: Callable[[float], None] = system_sleep
    clock: Callable[[], float] = monotonic
    rng: random.Random = field(default_factory=random.Random)
    stop: threading.Event | None = None
    """Set: the wait in progress ends at once and the call raises `StopRequested`."""

    def delay(self, attempt: int, error: ReiSyncError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        jittered = self.rng.uniform(0.0, ceiling)
        requested = _retry_after(error)
        if requested is not None:
            return max(jittered, requested)
        return jittered

    def pause(self, seconds: float) -> None:
        """Wait `seconds`, waking early when `stop` is set (then `StopRequested`)."""
        if self.stop is None:
            self.sleep(seconds)
            return
        if self.stop.is_set():
            raise StopRequested("stop requested")
        if self.sleep is system_sleep:  # real time: let `stop` cut the wait short
            self.stop.wait(seconds)
        else:
            self.sleep(seconds)
        if self.stop.is_set():
            raise StopRequested("stop requested during a retry backoff")

    def stopping(self, stop: threading.Event | None) -> RetryPolicy:
        """This policy, its waits woken by `stop`."""
        return self if stop is None or stop is self.stop else replace(self, stop=stop)


def _retry_after(error: ReiSyncError) -> float | None:
    return error.retry_after


NO_RETRY = RetryPolicy(max_attempts=1)


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    what: str,
    on_retry: Callable[[ReiSyncError], None] | None = None,
    retry_on: type[ReiSyncError] = ApiError,
) -> T:
    """`call()`; retryable errors of the `retry_on` family are retried per `policy`, the
    last one is raised (any other error at once).

    `on_retry` is told of each failure that is about to be retried (for the metrics).
    """
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except retry_on as exc:
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc)
            requested = _retry_after(exc)
            remaining = policy.total_cap_seconds - (policy.clock() - started)
            if requested is not None and (
                requested > policy.max_delay_seconds or requested > remaining
            ):
                log.warning(
                    "api.retry_after_too_long",
                    what=what,
                    attempt=attempt,
                    retry_after=requested,
                    max_delay=policy.max_delay_seconds,
                    remaining=round(remaining, 3),
                    error=str(exc),
                )
                raise
            if wait > remaining:
                raise
            log.warning(
                "api.retry", what=what, attempt=attempt, wait=round(wait, 3), error=str(exc)
            )
            if on_retry is not None:
                on_retry(exc)
            policy.pause(wait)
