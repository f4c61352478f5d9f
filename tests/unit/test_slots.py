"""SyncSlots: at most `limit` runs at once, one per job key, waiting runs dropped at shutdown."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from worker.slots import SyncSlots

DEADLINE = 10.0


class Runs:
    """A run function that blocks until released, recording the peak concurrency."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.started: list[tuple[str, str, float]] = []
        self.finished = threading.Semaphore(0)
        self.entered = threading.Semaphore(0)

    def __call__(self, brand: str, entity: str, fired_at: float) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            self.started.append((brand, entity, fired_at))
        self.entered.release()
        self.release.wait(DEADLINE)
        with self.lock:
            self.active -= 1
        self.finished.release()


@pytest.fixture
def runs() -> Iterator[Runs]:
    r = Runs()
    yield r
    r.release.set()


def test_fifty_brands_never_run_more_than_the_limit(runs: Runs) -> None:
    slots = SyncSlots(3, runs, clock=lambda: 1234.0)
    brands = [f"B{i}" for i in range(50)]
    assert all(slots.fire(brand, "properties") for brand in brands)
    for _ in range(3):
        assert runs.entered.acquire(timeout=DEADLINE)
    assert not runs.entered.acquire(timeout=0.05)  # the 4th waits for a slot
    runs.release.set()
    for _ in brands:
        assert runs.finished.acquire(timeout=DEADLINE)
    assert runs.peak == 3
    assert sorted(b for b, _, _ in runs.started) == sorted(brands)
    assert {at for _, _, at in runs.started} == {1234.0}
    slots.shutdown()


def test_a_job_waiting_or_running_is_not_queued_twice(runs: Runs) -> None:
    slots = SyncSlots(1, runs)
    assert slots.fire("AZURA", "properties")
    assert runs.entered.acquire(timeout=DEADLINE)
    assert not slots.fire("AZURA", "properties")  # running
    assert slots.fire("AZURA", "geo")
    assert not slots.fire("AZURA", "geo")  # waiting
    runs.release.set()
    assert runs.finished.acquire(timeout=DEADLINE)
    assert runs.finished.acquire(timeout=DEADLINE)
    assert [e for _, e, _ in runs.started] == ["properties", "geo"]
    slots.shutdown()


def test_shutdown_drops_the_waiting_runs(runs: Runs) -> None:
    slots = SyncSlots(1, runs)
    assert slots.fire("AZURA", "properties")
    assert runs.entered.acquire(timeout=DEADLINE)
    assert slots.fire("BLUE_OCEAN", "properties")
    slots.shutdown()
    runs.release.set()
    assert runs.finished.acquire(timeout=DEADLINE)
    assert not slots.fire("AZURA", "geo")
    assert [b for b, _, _ in runs.started] == ["AZURA"]
