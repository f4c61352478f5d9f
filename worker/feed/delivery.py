"""Webhook delivery: each subscriber gets its new events in order, in signed batches.

At-least-once: a subscriber's cursor (in Postgres) moves past a batch only after a 2xx
answer, so a crash or a failed POST sends the batch again; receivers deduplicate on
each event's `idempotency_key`. A failed POST is retried after a backoff (doubling,
with full jitter, capped) and counts as a failure; after `max_failures` in a row the
subscriber is paused (shown by `rei-sync webhooks status`, the status page and the
`rei_sync_webhook_paused` metric) until `rei-sync webhooks resume NAME`.

Delivery runs on its own thread (`FeedWorker`), woken after each run and every
`poll_seconds`: a slow or failing receiver never holds up a sync.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson
import requests
from prometheus_client import Counter, Gauge

from worker.clock import Clock, system_clock
from worker.config import Webhook
from worker.errors import ReiSyncError
from worker.feed.signing import SIGNATURE_HEADER, signature_header
from worker.feed.store import Event, FeedStore
from worker.log import get_logger

log = get_logger(__name__)

DELIVERED = Counter(
    "rei_sync_webhook_events_delivered", "Events delivered (a 2xx answer).", ["subscriber"]
)
FAILED = Counter("rei_sync_webhook_failures", "Failed webhook POSTs.", ["subscriber"])
PAUSED = Gauge("rei_sync_webhook_paused", "1 while a subscriber is paused.", ["subscriber"])
PENDING = Gauge("rei_sync_webhook_pending_events", "Events not yet delivered.", ["subscriber"])

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
USER_AGENT = "rei-sync-webhooks"


def backoff_seconds(failures: int, rng: random.Random) -> float:
    """Full jitter: uniform in [0, min(max, base x 2^(failures-1))]."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, failures - 1))
    return rng.uniform(0, ceiling)


def batch_body(subscriber: str, events: Sequence[Event]) -> bytes:
    return orjson.dumps(
        {"subscriber": subscriber, "events": [event.document() for event in events]}
    )


@dataclass(frozen=True)
class Outcome:
    """What one delivery round did for one subscriber."""

    delivered: int = 0
    failures: int = 0
    paused: bool = False


def post_batch(
    session: requests.Session,
    webhook: Webhook,
    body: bytes,
    *,
    now: float,
    timeout: float,
    idempotency_key: str,
) -> int | str:
    """The answer's status code, or the name of the transport error (never its text: it may
    quote the URL, which can carry a token)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature_header(webhook.secret.get_secret_value(), int(now), body),
        "Idempotency-Key": idempotency_key,
    }
    try:
        response = session.post(
            webhook.url.get_secret_value(),
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return type(exc).__name__
    response.close()
    return response.status_code


class Deliverer:
    """Delivers pending events to each subscriber until caught up, failing, or stopped."""

    def __init__(
        self,
        store: FeedStore,
        webhooks: Sequence[Webhook],
        *,
        session: requests.Session | None = None,
        batch_size: int = 100,
        max_failures: int = 10,
        timeout_seconds: float = 10.0,
        clock: Clock = system_clock,
        sleep: Callable[[float], bool] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`sleep(seconds)` waits and returns True when delivery should stop instead."""
        self.store = store
        self.webhooks = tuple(webhooks)
        self._session = session or requests.Session()
        self._batch_size = batch_size
        self._max_failures = max_failures
        self._timeout = timeout_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._rng = rng or random.Random()

    def stop(self) -> None:
        self._stop.set()

    def open_cursors(self) -> None:
        """Create each new subscriber's cursor now (at the present), before any run writes."""
        for webhook in self.webhooks:
            self.store.cursor(webhook.name)

    def deliver_all(self) -> dict[str, Outcome]:
        return {webhook.name: self.deliver(webhook) for webhook in self.webhooks}

    def deliver(self, webhook: Webhook) -> Outcome:
        """Batches until nothing is pending; a failure is retried after its backoff until the
        subscriber is paused or delivery is stopped."""
        delivered = failures = 0
        while not self._stop.is_set():
            cursor = self.store.cursor(webhook.name)
            PAUSED.labels(webhook.name).set(1 if cursor.paused else 0)
            if cursor.paused:
                return Outcome(delivered, failures, paused=True)
            events = self.store.pending(cursor, self._batch_size)
            if not events:
                PENDING.labels(webhook.name).set(0)
                break
            answer = post_batch(
                self._session,
                webhook,
                batch_body(webhook.name, events),
                now=self._clock(),
                timeout=self._timeout,
                idempotency_key=f"{events[0].key}..{events[-1].id}",
            )
            if isinstance(answer, int) and 200 <= answer < 300:
                self.store.advance(webhook.name, events[-1])
                delivered += len(events)
                DELIVERED.labels(webhook.name).inc(len(events))
                continue
            failures += 1
            FAILED.labels(webhook.name).inc()
            error = f"HTTP {answer}" if isinstance(answer, int) else answer
            count, paused = self.store.record_failure(webhook.name, error, self._max_failures)
            log.warning(
                "webhook.failed",
                subscriber=webhook.name,
                error=error,
                failures=count,
                paused=paused,
            )
            if paused:
                PAUSED.labels(webhook.name).set(1)
                return Outcome(delivered, failures, paused=True)
            if self._sleep(backoff_seconds(count, self._rng)):
                break
        if delivered:
            log.info("webhook.delivered", subscriber=webhook.name, events=delivered)
        return Outcome(delivered, failures)


class FeedWorker:
    """A thread that runs `Deliverer.deliver_all` when woken and every `poll_seconds`.

    Errors (the database gone for a while) are logged and retried at the next wake;
    `stop()` ends a backoff wait at once and joins the thread.
    """

    def __init__(self, deliverer: Deliverer, *, poll_seconds: float) -> None:
        self._deliverer = deliverer
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rei-webhooks", daemon=True)

    def start(self) -> None:
        """Open the cursors (so a new subscriber gets every event of the runs to come), then
        start the thread."""
        self._deliverer.open_cursors()
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self._deliverer.stop()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._deliverer.deliver_all()
            except ReiSyncError as exc:
                log.warning("webhook.round_failed", error=type(exc).__name__)
            self._wake.wait(self._poll)
            self._wake.clear()
