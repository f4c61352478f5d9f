"""Resuming the image sweep: it continues after its checkpoint listing id, not from 0."""

from __future__ import annotations

import threading

from tests.sync.conftest import TAKE, Harness
from tests.sync.truth import assert_matches_truth
from worker.sync.engine import Progress, SyncOptions, sync_entity


def image_requests(h: Harness) -> int:
    return sum(h.admin("GET", "stats")["requests"].get("propertyimages", {}).values())


def test_an_aborted_image_sweep_resumes_after_its_checkpoint(harness: Harness) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    h.execute("DELETE FROM property_images")
    listing_ids = [r[0] for r in h.query("SELECT listing_id FROM properties ORDER BY 1")]
    stop = threading.Event()

    def stop_after_first_batch(_: Progress) -> None:
        stop.set()

    first = sync_entity(
        h.client,
        h.store,
        "images",
        options=SyncOptions(take=TAKE),
        stop=stop,
        on_progress=stop_after_first_batch,
    )
    assert first.status == "aborted"
    assert first.checkpoint == listing_ids[TAKE - 1]
    record = h.store.get_run(first.run_id)
    assert record is not None
    assert record.checkpoint == listing_ids[TAKE - 1]

    h.admin("POST", "stats/reset")
    resumed = sync_entity(
        h.client, h.store, "images", options=SyncOptions(take=TAKE), resume=record
    )
    assert resumed.status == "succeeded"
    assert resumed.details["resumed_from_checkpoint"] == record.checkpoint
    assert resumed.counts.seen == len(listing_ids) - TAKE
    assert image_requests(h) == len(listing_ids) - TAKE
    assert resumed.checkpoint == listing_ids[-1]
    resumed_record = h.store.get_run(resumed.run_id)
    assert resumed_record is not None
    assert (resumed_record.mode, resumed_record.resumed_from) == ("backfill", first.run_id)
    assert_matches_truth(h, "images")
