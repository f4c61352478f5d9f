"""A backfill killed with SIGKILL mid-run: the next run converges, `--resume` continues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from tests.sync.conftest import BRAND, Harness
from tests.sync.truth import assert_matches_truth
from worker.sync.engine import SyncOptions, sync_entity

POLL_SECONDS = 0.05
DEADLINE_SECONDS = 60


def test_sigkill_mid_run_then_resume_and_converge(harness: Harness, migrated_db_url: str) -> None:
    h = harness
    h.faults(latency_ms=40)
    env = {
        **os.environ,
        **h.sandbox.env(),
        "DATABASE_URL": migrated_db_url,
        "REI_PAGE_SIZE": "10",
        "LOG_FORMAT": "json",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "worker", "backfill", "--brand", BRAND, "--entity", "properties"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    waiter = threading.Event()
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while time.monotonic() < deadline:
            progress = h.query("SELECT id, checkpoint FROM sync_runs WHERE status = 'running'")
            if progress and (progress[0][1] or 0) >= 30:
                break
            assert child.poll() is None, "backfill finished before it could be killed"
            waiter.wait(POLL_SECONDS)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    killed_id = progress[0][0]
    killed = h.store.get_run(killed_id)
    assert killed is not None
    assert killed.status == "running"
    assert killed.checkpoint is not None
    h.admin("POST", "faults/reset")

    resumed = sync_entity(
        h.client, h.store, "properties", options=SyncOptions(take=10), resume=killed
    )
    assert resumed.status == "succeeded"
    assert resumed.details["resumed_from_checkpoint"] == killed.checkpoint
    assert "delisting" not in resumed.details
    record = h.store.get_run(resumed.run_id)
    assert record is not None
    assert (record.mode, record.resumed_from) == ("backfill", killed_id)
    assert resumed.counts.seen == h.scalar("SELECT count(*) FROM properties") - killed.checkpoint
    after_kill = h.store.get_run(killed_id)
    assert after_kill is not None
    assert after_kill.status == "abandoned"

    assert h.sync("properties").status == "succeeded"
    assert_matches_truth(h, "properties")
    assert_matches_truth(h, "images")
