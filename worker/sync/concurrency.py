"""Adaptive concurrency (AIMD) for the image requests of a run.

A cold sync makes one `propertyimages/{id}` request per listing, so how many are in
flight decides the image phase's speed. A fixed number is either too low for a distant
API (each request waits a round trip) or too high for a loaded one (429s). The limiter
finds the level as TCP does:

- additive increase: one more request in flight after `limit` clean answers in a row
  (about one round trip's worth), while the smoothed latency is not far above the
  best seen (`latency_tolerance`, `latency_slack_seconds`): a rising latency means the
  server is queueing, and more requests in flight would only wait longer;
- multiplicative decrease: half as many after a 429, a 503 or a transport error (a
  timeout, a refused connection); answers to requests sent before the last decrease
  do not halve it again (they were sent at the old level);
- never below `floor`, never above `cap`.

It only moves the limit: each attempt is still retried by the client's `RetryPolicy`,
a 429's `Retry-After` still honoured (the slot is held while it waits, so a throttled
run also sends fewer new requests). Every method is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from worker.clock import Clock, monotonic

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_IMAGE_CONCURRENCY_MAX = 32
"""`REI_IMAGE_CONCURRENCY_MAX`'s default: the most image requests one run has in flight."""
CONGESTED_STATUSES = frozenset({429, 503})
"""Answers that say "fewer, please": too many requests, service unavailable."""
DEFAULT_LATENCY_TOLERANCE = 2.0
DEFAULT_LATENCY_SLACK_SECONDS = 0.005
LATENCY_SMOOTHING = 0.2
"""Weight of the newest latency in the moving average (the rest: the average so far)."""


class AimdLimiter:
    """How many requests may be in flight; moved by what their answers say."""

    def __init__(
        self,
        *,
        start: int,
        cap: int,
        floor: int = 1,
        clock: Clock = monotonic,
        latency_tolerance: float = DEFAULT_LATENCY_TOLERANCE,
        latency_slack_seconds: float = DEFAULT_LATENCY_SLACK_SECONDS,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        if not 1 <= floor <= cap:
            raise ValueError(f"need 1 <= floor <= cap, got floor={floor}, cap={cap}")
        self.floor = floor
        self.cap = cap
        self._limit = min(max(start, floor), cap)
        self._clock = clock
        self._tolerance = latency_tolerance
        self._slack = latency_slack_seconds
        self._on_change = on_change
        self._cond = threading.Condition()
        self._in_flight = 0
        self._clean = 0
        self._best: float | None = None
        self._smoothed: float | None = None
        self._last_decrease = float("-inf")
        if on_change is not None:
            on_change(self._limit)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def acquire(self) -> None:
        """Wait until fewer than `limit` requests are in flight, then count one more."""
        with self._cond:
            while self._in_flight >= self._limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One request in flight for the duration of the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def observe(self, status: int | None, seconds: float) -> None:
        """One attempt's outcome: its HTTP status (None: no answer, e.g. a timeout) and
        how long it took. A 2xx/3xx or a 404 (a listing the API no longer knows) is a
        clean answer; other 4xx and 5xx are neutral (the server answered, but not as
        asked: the retries and the failure handling deal with them)."""
        with self._cond:
            if status is None or status in CONGESTED_STATUSES:
                self._decrease(self._clock() - seconds)
            elif status < 400 or status == 404:
                self._clean_answer(seconds)

    def _decrease(self, started: float) -> None:
        self._clean = 0
        if started < self._last_decrease:
            return
        self._last_decrease = self._clock()
        self._set(max(self.floor, self._limit // 2))

    def _clean_answer(self, seconds: float) -> None:
        self._best = seconds if self._best is None else min(self._best, seconds)
        self._smoothed = (
            seconds
            if self._smoothed is None
            else (1 - LATENCY_SMOOTHING) * self._smoothed + LATENCY_SMOOTHING * seconds
        )
        if self._smoothed > max(self._best * self._tolerance, self._best + self._slack):
            self._clean = 0
            return
        self._clean += 1
        if self._clean >= self._limit:
            self._clean = 0
            self._set(min(self.cap, self._limit + 1))

    def _set(self, limit: int) -> None:
        if limit == self._limit:
            return
        grew = limit > self._limit
        self._limit = limit
        if grew:
            self._cond.notify_all()
        if self._on_change is not None:
            self._on_change(limit)


class LimitedPool:
    """A pool of `limiter.cap` threads of which only `limiter.limit` run work at once.

    The threads over the limit wait for a slot, so the limit can move both ways at any
    moment without the pool being rebuilt.
    """

    def __init__(self, limiter: AimdLimiter, *, thread_name_prefix: str = "rei-limited") -> None:
        self.limiter = limiter
        self._pool = ThreadPoolExecutor(
            max_workers=limiter.cap, thread_name_prefix=thread_name_prefix
        )

    def submit(self, work: Callable[[T], R], item: T) -> Future[R]:
        return self._pool.submit(self._limited, work, item)

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`[work(x) for x in items]` in input order; the first exception is raised once
        the running calls finish, the calls not yet started are cancelled."""
        futures = [self.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> LimitedPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _limited(self, work: Callable[[T], R], item: T) -> R:
        with self.limiter.slot():
            return work(item)
