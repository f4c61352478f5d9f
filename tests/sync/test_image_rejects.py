"""A listing whose image answer had rejected (malformed) records converges on the next
properties run, on both sinks, without the image sweep; a permanently malformed image is
asked for once a run, recorded each time, and never makes the listing row be rewritten.

The sandbox spoils answers at random; here the image answers of chosen listings are
spoiled on purpose (the first image record loses its `PhotoId`), by wrapping the client's
`get_json_or_none`, so which listings are hit is known.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sync.conftest import Harness
from tests.sync.truth import assert_matches_truth
from worker.api.endpoints import property_images_path
from worker.config import Settings, load_settings
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sync.engine import RunResult
from worker.sync.images import INCOMPLETE_MARK

LISTINGS = 30
TAKE = 10


class SpoiledImages:
    """Wraps the harness client: image answers of `listings` lose the first record's key."""

    def __init__(self, h: Harness) -> None:
        self.listings: set[int] = set()
        self.requests: dict[int, int] = {}
        self._inner = h.client.get_json_or_none

    def __call__(self, path: str) -> Any:
        body = self._inner(path)
        if not path.startswith("propertyimages/"):
            return body
        listing = int(path.rsplit("/", 1)[1])
        assert path == property_images_path(listing)
        self.requests[listing] = self.requests.get(listing, 0) + 1
        if listing in self.listings and body:
            body = copy.deepcopy(body)
            records = body["result"] if isinstance(body, dict) else body
            records[0].pop("PhotoId")
        return body


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        seed=2, listings=LISTINGS, associates=5, images_per_listing=2, brands=("AZURA",)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, migrated_db_url: str) -> Settings:
    env = {**sandbox.env(), "DATABASE_URL": migrated_db_url, "REI_PAGE_SIZE": str(TAKE)}
    return load_settings(environ=env, env_file=None)


@pytest.fixture
def h(harness_on_each_store: Harness) -> Harness:
    return harness_on_each_store


@pytest.fixture
def spoiled(h: Harness, monkeypatch: pytest.MonkeyPatch) -> SpoiledImages:
    wrapper = SpoiledImages(h)
    monkeypatch.setattr(h.client, "get_json_or_none", wrapper)
    return wrapper


def listing_ids(h: Harness) -> list[int]:
    return sorted(t["listingId"] for t in h.truth("properties"))


def marked(h: Harness) -> set[int]:
    rows = h.query(
        "SELECT listing_id FROM properties WHERE content_hash LIKE :m", m=f"{INCOMPLETE_MARK}%"
    )
    return {r[0] for r in rows}


def image_rejects(h: Harness, run: RunResult) -> list[str | None]:
    rows = h.query(
        "SELECT payload->>'ListingId' FROM sync_rejects WHERE run_id = :r AND entity = 'images'",
        r=run.run_id,
    )
    return sorted(r[0] for r in rows)


def test_a_listing_with_rejected_images_converges_on_the_next_run(
    h: Harness, spoiled: SpoiledImages
) -> None:
    bad = set(listing_ids(h)[3:5])
    spoiled.listings = set(bad)
    first = h.sync("properties")
    assert first.status == "succeeded_with_rejects"
    assert image_rejects(h, first) == sorted(str(i) for i in bad)  # quarantined
    assert first.details["images"]["incomplete"] == 2
    assert marked(h) == bad  # stored, but not as up to date
    assert first.counts.inserted == LISTINGS
    stored_images = h.scalar("SELECT count(*) FROM property_images")
    assert stored_images == len(h.truth("images")) - 2

    spoiled.listings.clear()  # the next answer is fine (the sandbox spoils at random)
    spoiled.requests.clear()
    second = h.sync("properties")
    assert second.status == "succeeded"
    assert spoiled.requests == {i: 1 for i in bad}  # only the incomplete ones, once
    assert (second.counts.inserted, second.counts.updated) == (0, 2)
    assert second.details["images"]["inserted"] == 2
    assert marked(h) == set()
    assert_matches_truth(h, "properties")
    assert_matches_truth(h, "images")  # no image sweep

    spoiled.requests.clear()
    steady = h.sync("properties")
    assert (steady.status, steady.counts.updated, steady.counts.unchanged) == (
        "succeeded",
        0,
        LISTINGS,
    )
    assert spoiled.requests == {}


def test_a_permanently_malformed_image_is_retried_each_run_without_rewrites(
    h: Harness, spoiled: SpoiledImages
) -> None:
    ids = listing_ids(h)
    bad = ids[7]
    spoiled.listings = {bad}
    valid = sum(1 for i in h.truth("images") if i["ListingId"] == bad) - 1
    h.sync("properties")
    assert marked(h) == {bad}
    versions = h.row_versions("properties"), h.row_versions("properties_private")
    image_versions = h.row_versions("property_images")
    for _ in range(2):
        spoiled.requests.clear()
        again = h.sync("properties")
        assert again.status == "succeeded_with_rejects"
        assert spoiled.requests == {bad: 1}  # one image request a run
        assert image_rejects(h, again) == [str(bad)]  # recorded each time
        assert (again.counts.inserted, again.counts.updated) == (0, 0)
        assert again.counts.unchanged == LISTINGS
        assert again.details["images"] == {
            "listings": 1,
            "inserted": 0,
            "updated": 0,
            "unchanged": valid,
            "deleted": 0,
            "rejected": 1,
            "incomplete": 1,
            "failed": 0,
        }
        assert marked(h) == {bad}
        # nothing rewritten: neither the marked row nor the image kept from the answer
        assert (h.row_versions("properties"), h.row_versions("properties_private")) == versions
        assert h.row_versions("property_images") == image_versions

    spoiled.listings.clear()  # fixed at the source: the next run converges
    fixed = h.sync("properties")
    assert (fixed.status, fixed.counts.updated) == ("succeeded", 1)
    assert marked(h) == set()
    assert_matches_truth(h, "properties")
    assert_matches_truth(h, "images")


def test_a_spoiled_answer_never_deletes_stored_images(h: Harness, spoiled: SpoiledImages) -> None:
    assert h.sync("properties").status == "succeeded"
    bad = listing_ids(h)[0]
    spoiled.listings = {bad}
    sweep = h.sync("images")
    assert sweep.status == "succeeded_with_rejects"
    assert sweep.details["images"]["incomplete"] == 1
    assert sweep.details["images"]["deleted"] == 0
    assert_matches_truth(h, "images")  # the photo whose record was spoiled is still there
