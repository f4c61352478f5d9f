"""A global bound on concurrent sync runs in one daemon, whatever the number of brands.

APScheduler fires every (brand, entity) job on its schedule; the job body only hands the
run to `SyncSlots`, a pool of `limit` threads, so at most `limit` runs (each with its page
and image threads and its database connections) go at once and the rest wait their turn.
A job already waiting or running is not queued twice. Each queued run carries the time it
was fired, so a run that waited can see that another replica has done it since (then it
is skipped, not repeated): with several replicas, whichever has a free slot takes the job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import Gauge

from worker.clock import Clock, monotonic, system_clock
from worker.leases import job_key
from worker.log import get_logger

log = get_logger(__name__)

SLOTS = Gauge("rei_sync_sync_slots", "Sync runs this process runs at once at most.")
RUNNING = Gauge("rei_sync_syncs_running", "Sync runs in progress in this process.")
WAITING = Gauge("rei_sync_syncs_waiting", "Sync runs fired and waiting for a free slot.")

RunJob = Callable[[str, str, float], object]
"""(brand, entity, fired_at) → the run's result; `fired_at` is epoch seconds."""


class SyncSlots:
    """Runs `run(brand, entity, fired_at)` on at most `limit` threads, one per job key."""

    def __init__(self, limit: int, run: RunJob, *, clock: Clock = system_clock) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._run = run
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="rei-sync-job")
        self._lock = threading.Lock()
        self._waiting: set[str] = set()
        self._running: set[str] = set()
        SLOTS.set(limit)
        RUNNING.set(0)
        WAITING.set(0)

    def fire(self, brand: str, entity: str) -> bool:
        """Queue the job's run (the scheduler's job function: it returns at once).

        False when the same job is still waiting or running: its next run is that one.
        """
        key = job_key(brand, entity)
        with self._lock:
            if key in self._waiting or key in self._running:
                log.info("sync.already_queued", brand=brand, entity=entity)
                return False
            self._waiting.add(key)
            self._publish()
        try:
            self._pool.submit(self._slot, key, brand, entity, self._clock())
        except RuntimeError:  # the pool is shut down: the daemon is stopping
            with self._lock:
                self._waiting.discard(key)
                self._publish()
            return False
        return True

    def _slot(self, key: str, brand: str, entity: str, fired_at: float) -> None:
        with self._lock:
            self._waiting.discard(key)
            self._running.add(key)
            self._publish()
        try:
            self._run(brand, entity, fired_at)
        finally:
            with self._lock:
                self._running.discard(key)
                self._publish()

    def _publish(self) -> None:
        RUNNING.set(len(self._running))
        WAITING.set(len(self._waiting))

    def shutdown(self) -> None:
        """Drop the runs still waiting; the running ones are stopped by the daemon."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._waiting.clear()
            self._publish()


@dataclass
class ActiveRuns:
    """Stop events of the sync runs in progress, so shutdown can ask each to stop."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Condition = field(init=False)
    events: dict[str, threading.Event] = field(default_factory=dict)
    jobs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Job key → (brand, entity) of the same runs, to mark them `aborted` on a timeout."""

    def __post_init__(self) -> None:
        self.done = threading.Condition(self.lock)

    def add(
        self, key: str, job: tuple[str, str], stop: threading.Event, closed: threading.Event
    ) -> bool:
        """Track a starting run; False (not tracked) once `closed` (the daemon is stopping)."""
        with self.lock:
            if closed.is_set():
                return False
            self.events[key] = stop
            self.jobs[key] = job
            return True

    def remove(self, key: str) -> None:
        with self.done:
            self.events.pop(key, None)
            self.jobs.pop(key, None)
            self.done.notify_all()

    def stop_all(self) -> list[str]:
        """Ask every run in progress to stop at its next batch; their job keys."""
        with self.lock:
            for event in self.events.values():
                event.set()
            return list(self.events)

    def wait(self, deadline: float) -> dict[str, tuple[str, str]]:
        """Wait until every run has ended or the `deadline` (monotonic) passed; those left."""
        with self.done:
            while self.events:
                left = deadline - monotonic()
                if left <= 0:
                    break
                self.done.wait(left)
            return dict(self.jobs) if self.events else {}
