"""A stop request ends a run `aborted` promptly, even in the middle of a retry backoff."""

from __future__ import annotations

import random
import threading

import pytest

from tests.sync.conftest import BRAND, TAKE, Harness
from worker.api.client import ReiClient
from worker.auth.build import build_token_manager
from worker.config import Settings
from worker.retry import RetryPolicy
from worker.sync.engine import SyncOptions, sync_entity


class StopDuringBackoff:
    """A fake sleep: records every wait and sets `stop` during the `at`-th one."""

    def __init__(self, stop: threading.Event, at: int) -> None:
        self.stop = stop
        self.at = at
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            if len(self.sleeps) >= self.at:
                self.stop.set()


@pytest.mark.parametrize("entity", ["properties", "lookups", "geo"])
def test_a_5xx_storm_with_stop_set_mid_backoff_ends_the_run_aborted_promptly(
    harness: Harness, settings: Settings, entity: str
) -> None:
    h = harness
    stop = threading.Event()
    sleep = StopDuringBackoff(stop, at=2)
    client = ReiClient(
        settings.brand(BRAND),
        build_token_manager(settings, session=h.session),
        session=h.session,
        retry=RetryPolicy(max_attempts=50, sleep=sleep, rng=random.Random(1)),
        read_timeout=5,
    )
    client.get_json("lookups/names")  # the token, before the storm
    h.faults(error_rate=1.0, error_statuses=[500, 502, 503])
    result = sync_entity(
        client, h.store, entity, options=SyncOptions(take=TAKE, parallelism=4), stop=stop
    )
    assert result.status == "aborted"
    assert result.error is None
    # Each of the (at most 4) calls in flight wakes from its wait and gives up: no call
    # goes on retrying after the stop, and no new call starts.
    assert len(sleep.sleeps) <= 2 + 4
    status = h.scalar("SELECT status FROM sync_runs WHERE id = :id", id=result.run_id)
    assert status == "aborted"
