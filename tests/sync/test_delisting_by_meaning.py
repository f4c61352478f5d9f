"""Delisting decided by what the API says, not by the sandbox's status ids.

A server may give its standard statuses any ids, and may answer a removed listing's
details with its record in an offline status instead of 404. "Gone" is: the API's
not-found for that id, or a status that neither the complete scan's online list carried
nor the StandardStatus catalogue names online. A listing absent from a complete scan
whose details still say online is kept, reloaded, and counted (run details, metric).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from tests.sync.conftest import ASSOCIATES, BRAND, LISTINGS, Harness
from tests.sync.truth import assert_matches_truth
from worker.api.client import Page, PagePath
from worker.sandbox import SandboxConfig, SandboxServer

SOLD_IS_TWO = (11, 12, 13, 14, 2, 3, 4)
"""Coming Soon 11, Active 12, Under Contract 13, Pending 14; Sold 2, Expired 3, Cancelled 4."""
ACTIVE_IS_FIVE = (6, 5, 7, 14, 21, 22, 23)
"""Active 5, Coming Soon 6, Under Contract 7 (the ids that once meant "gone"); Sold 21 …"""


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxServer]:
    status_ids = getattr(request, "param", SOLD_IS_TWO)
    config = SandboxConfig(
        seed=1,
        listings=LISTINGS,
        associates=ASSOCIATES,
        images_per_listing=1,
        brands=(BRAND,),
        status_ids=status_ids,
        removed_listings="offline_status",
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


def delisted(h: Harness) -> int:
    return int(h.scalar("SELECT count(*) FROM properties WHERE delisted_at IS NOT NULL"))


def absent_listed() -> float:
    labels = {"brand": BRAND, "entity": "properties"}
    return REGISTRY.get_sample_value("rei_sync_absent_listed", labels) or 0.0


@pytest.mark.parametrize("sandbox", [SOLD_IS_TWO, ACTIVE_IS_FIVE], indirect=True)
def test_listings_answered_with_an_offline_status_of_any_id_are_delisted(harness: Harness) -> None:
    h = harness
    assert h.sync("properties").status == "succeeded"
    removed = h.epoch(changed=0, removed=0.04, added=0)["removed"]
    assert removed > 0
    run = h.sync("properties")
    assert run.status == "succeeded", run.error
    assert run.counts.delisted == removed
    assert run.details["delisting"]["confirmed_listed"] == 0
    assert delisted(h) == removed
    assert_matches_truth(h, "properties")


@pytest.mark.parametrize("sandbox", [SOLD_IS_TWO, ACTIVE_IS_FIVE], indirect=True)
def test_a_listing_the_list_leaves_out_but_details_call_online_is_kept_and_counted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    """With ACTIVE_IS_FIVE the listing is Active with id 5, which the fixed ids took for Sold."""
    h = harness
    assert h.sync("properties").status == "succeeded"
    active = sandbox.config.status_ids[1]
    hidden = next(t["listingId"] for t in h.truth("properties") if t["standardStatusId"] == active)
    inner = h.client.fetch_page

    def fetch_page(path_for: PagePath, take: int, skip: int) -> Page:
        """The hidden listing's place on its page taken by a repeat of a neighbour (as drift
        does), so the page keeps its length."""
        page = inner(path_for, take, skip)
        items = list(page.items)
        for n, item in enumerate(items):
            if item["listingId"] == hidden:
                items[n] = items[n - 1] if n else items[n + 1]
        return Page(page.skip, page.take, items)

    monkeypatch.setattr(h.client, "fetch_page", fetch_page)
    for _ in range(2):  # every complete scan misses it: counted each time, never delisted
        run = h.sync("properties")
        assert run.status == "succeeded", run.error
        assert run.details["delisting"]["confirmed_listed"] == 1
        assert run.counts.delisted == 0
        assert absent_listed() == 1
    assert delisted(h) == 0
    monkeypatch.undo()
    assert h.sync("properties").details["delisting"]["candidates"] == 0
    assert absent_listed() == 0
