"""Retrying idempotent GETs: exponential backoff with full jitter, `Retry-After`, a time cap.

Time is injected (`sleep`, `clock`, `rng`) so tests move it instead of waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from worker.errors import ApiError, ApiStatusError
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
    ("full jitter"); a `Retry-After` from the server is a lower bound. The next wait
    is never started if it would end past `total_cap_seconds` from the first attempt.
    """

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay_seconds: float = DEFAULT_BASE_DELAY_SECONDS
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS
    total_cap_seconds: float = DEFAULT_TOTAL_CAP_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, error: ApiError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        jittered = self.rng.uniform(0.0, ceiling)
        if isinstance(error, ApiStatusError) and error.retry_after is not None:
            return max(jittered, min(error.retry_after, self.max_delay_seconds))
        return jittered


NO_RETRY = RetryPolicy(max_attempts=1)


def with_retries(call: Callable[[], T], policy: RetryPolicy, *, what: str) -> T:
    """`call()`; retryable `ApiError`s are retried per `policy`, the last one is raised."""
    started = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except ApiError as exc:
            if not exc.retryable or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, exc)
            if policy.clock() - started + wait > policy.total_cap_seconds:
                raise
            log.warning(
                "api.retry", what=what, attempt=attempt, wait=round(wait, 3), error=str(exc)
            )
            policy.sleep(wait)
