"""One bad listing never fails a run: its images, its delisting confirmation, its id.

A listing whose `propertyimages/{id}` keeps failing (HTTP 500 after every retry, the
API's invalid-request 404 with `ModelState`, a 200 that is not JSON, a token refused
for that one request) is stored marked not up to date, named in `sync_rejects` (entity
`images`, its listing id, a reason that carries none of the answer), counted in the run,
the metrics and the status page; delisting still runs; the next run fetches it again. A
candidate whose delisting confirmation fails is kept and counted. A source id that
`str.isdigit()` takes for a number ("²") is a reject, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.sync.conftest import BRAND, LISTINGS, Harness
from tests.sync.truth import assert_matches_truth
from worker.api.client import Page, PagePath
from worker.errors import AuthError
from worker.status.queries import load_runs
from worker.status.view import run_notes
from worker.sync.engine import RunResult
from worker.sync.images import INCOMPLETE_MARK

BODY_TEXT = ("An error has occurred", "The request is invalid", "is not valid", '{"ListingId')
"""What the failing answers' bodies say: none of it may reach a reject's reason."""


def metric(name: str, entity: str = "properties") -> float:
    return REGISTRY.get_sample_value(name, {"brand": BRAND, "entity": entity}) or 0.0


def failed_image_fetches() -> float:
    """Image requests that failed after their retries (both the scan and the sweep)."""
    labels = {"brand": BRAND, "outcome": "error"}
    return REGISTRY.get_sample_value("rei_sync_image_fetches_total", labels) or 0.0


def listing_ids(h: Harness) -> list[int]:
    return sorted(t["listingId"] for t in h.truth("properties"))


def marked(h: Harness) -> set[int]:
    rows = h.query(
        "SELECT listing_id FROM properties WHERE content_hash LIKE :m", m=f"{INCOMPLETE_MARK}%"
    )
    return {r[0] for r in rows}


def image_rejects(h: Harness, run: RunResult) -> dict[str, str]:
    rows = h.query(
        "SELECT source_id, reason, payload->>'ListingId' FROM sync_rejects "
        "WHERE run_id = :r AND entity = 'images'",
        r=run.run_id,
    )
    assert all(r[0] == r[2] for r in rows), rows  # the listing id, in both places
    return {r[0]: r[1] for r in rows}


def wrap_get(h: Harness, monkeypatch: pytest.MonkeyPatch, fail: Callable[[str], None]) -> None:
    """Calls `fail(path)` before each `get_json_or_none` of the harness client."""
    inner = h.client.get_json_or_none

    def get(path: str) -> Any:
        fail(path)
        return inner(path)

    monkeypatch.setattr(h.client, "get_json_or_none", get)


@pytest.mark.parametrize("mode", ["500", "not_json", "model_state_404"])
def test_a_listing_whose_images_keep_failing_is_stored_named_and_retried(
    harness: Harness, mode: str
) -> None:
    h = harness
    bad = listing_ids(h)[5:7]
    h.faults(failing_images_ids=bad, failing_images_mode=mode)
    failed_before = failed_image_fetches()

    first = h.sync("properties")
    assert first.status == "succeeded_with_rejects", first.error
    assert first.counts.inserted == LISTINGS  # every listing stored
    assert "delisting" in first.details  # the scan was complete: delisting ran
    assert first.details["images"]["failed"] == 2
    reasons = image_rejects(h, first)
    assert set(reasons) == {str(i) for i in bad}
    for listing, reason in reasons.items():
        assert f"propertyimages/{listing}" in reason
        assert not any(text in reason for text in BODY_TEXT), reason
    assert marked(h) == set(bad)  # stored, not up to date
    assert failed_image_fetches() - failed_before == 2
    stored = h.scalar("SELECT count(*) FROM property_images WHERE listing_id = ANY(:b)", b=bad)
    assert stored == 0
    shown = [r for r in load_runs(h.store, [BRAND]) if r.id == first.run_id]
    assert run_notes(shown[0])[0].startswith("2 listings whose images could not be fetched")

    h.faults(failing_images_ids=[])
    second = h.sync("properties")
    assert second.status == "succeeded"
    assert (second.counts.inserted, second.counts.updated) == (0, 2)
    assert marked(h) == set()
    assert_matches_truth(h, "properties")
    assert_matches_truth(h, "images")


def test_a_token_refused_for_one_image_request_is_that_listings_failure(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    bad = listing_ids(h)[0]

    def fail(path: str) -> None:
        if path == f"propertyimages/{bad}":
            raise AuthError(BRAND, f"token rejected twice on {path}")

    wrap_get(h, monkeypatch, fail)
    run = h.sync("properties")
    assert run.status == "succeeded_with_rejects", run.error
    assert run.counts.inserted == LISTINGS
    assert set(image_rejects(h, run)) == {str(bad)}
    assert marked(h) == {bad}


def test_the_image_sweep_goes_on_past_a_listing_whose_images_fail(harness: Harness) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    bad = listing_ids(h)[-1]
    h.faults(failing_images_ids=[bad], failing_images_mode="500")
    before = failed_image_fetches()
    sweep = h.sync("images")
    assert sweep.status == "succeeded_with_rejects", sweep.error
    assert sweep.details["images"]["failed"] == 1
    assert set(image_rejects(h, sweep)) == {str(bad)}
    assert failed_image_fetches() - before == 1
    assert_matches_truth(h, "images")  # its stored images were kept


def test_a_failing_delisting_confirmation_keeps_the_listing_and_is_counted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    removed = h.epoch(changed=0, removed=0.04, added=0)["removed"]
    assert removed > 1

    def fail(path: str) -> None:
        if path.startswith("GetPropertyDetails/"):
            raise AuthError(BRAND, f"token rejected twice on {path}")

    wrap_get(h, monkeypatch, fail)
    before = metric("rei_sync_delist_unconfirmed_total")
    run = h.sync("properties")
    assert run.status == "succeeded", run.error
    assert run.counts.delisted == 0
    assert run.details["delisting"]["unconfirmed"] == removed
    assert metric("rei_sync_delist_unconfirmed_total") - before == removed
    assert h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL") == 0

    monkeypatch.undo()
    confirmed = h.sync("properties")
    assert confirmed.counts.delisted == removed
    assert_matches_truth(h, "properties")


@pytest.mark.parametrize("source_id", ["²", "١٢", "12\u00b3"])
def test_a_source_id_that_isdigit_accepts_but_int_refuses_is_a_reject(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, source_id: str
) -> None:
    h = harness
    inner = h.client.fetch_page

    def fetch_page(path_for: PagePath, take: int, skip: int) -> Page:
        page = inner(path_for, take, skip)
        if skip == 0 and page.items:
            page.items[0] = {**page.items[0], "listingId": source_id}
        return page

    monkeypatch.setattr(h.client, "fetch_page", fetch_page)
    run = h.sync("properties")
    assert run.status == "succeeded_with_rejects", run.error
    assert run.counts.inserted == LISTINGS - 1
    rejected = h.query("SELECT source_id FROM sync_rejects WHERE run_id = :r", r=run.run_id)
    assert [r[0] for r in rejected] == [source_id]
