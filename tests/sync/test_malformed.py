"""Malformed records at the issue's rate (5 %): every valid row loads, every bad one is quarantined.

The sandbox draws a fault per API request from a stream seeded by `fault_seed` and
spoils up to three records of an answer it hits (the first loses its key, the
others get wrong types or absurd values). Associates are pages only: fetched one
at a time (parallelism 1, prefetch 1) the run's requests, and so the spoiled
records, are the same on every run. A listings run also fetches images, on the
engine's own pool while later pages are read, so which answers the seed spoils
varies with timing; with 1,000 listings in pages of 5 it spoils ~60 answers, a
listing page among them all but certainly (miss chance ~(5/6)**60). Neither test
trusts a count: each matches every reject to the truth record it was spoiled from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sync.conftest import BRAND, Harness
from worker.config import Settings, load_settings
from worker.db.schema import Row
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sync.engine import RunResult, SyncOptions, sync_entity
from worker.sync.normalise import (
    ASSOCIATE_PRIVATE_FIELDS,
    PROPERTY_PRIVATE_FIELDS,
    PROPERTY_REJECT_DROPPED,
    normalise_associate,
    normalise_property,
)
from worker.sync.records import normalise_image

LISTINGS = 1000
ASSOCIATES = 400
TAKE = 5
RATE = 0.05
FAULT_SEED = 3
ASSOCIATES_FAULT_SEED = 3
TOLERATED = frozenset({"latitude", "yearBuilt"})
"""Spoilers the normaliser accepts by design: a numeric latitude out of range becomes NULL
(counted), and `yearBuilt` is no typed column (it stays in `raw`)."""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        seed=4, listings=LISTINGS, associates=ASSOCIATES, images_per_listing=2, brands=(BRAND,)
    )
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, migrated_db_url: str) -> Settings:
    env = {**sandbox.env(), "DATABASE_URL": migrated_db_url, "REI_PAGE_SIZE": str(TAKE)}
    return load_settings(environ=env, env_file=None)


def sync(h: Harness, entity: str) -> RunResult:
    """Pages of `TAKE`, one request at a time (for listings: the pages; images have a pool)."""
    options = SyncOptions(take=TAKE, parallelism=1, prefetch=1)
    return sync_entity(h.client, h.store, entity, options=options)


def differing_keys(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    return {k for k in a.keys() | b.keys() if k not in a or k not in b or a[k] != b[k]}


def public(record: dict[str, Any], private: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in private}


def original_of(payload: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The one truth record `payload` differs from in one field at most (the spoiled one, unless
    it is a field a reject payload leaves out)."""
    found = [c for c in candidates if len(differing_keys(c, payload)) <= 1]
    assert len(found) == 1, (payload, len(found))
    return found[0]


def test_malformed_rate_5_percent_quarantines_every_bad_record_and_loads_the_rest(
    harness: Harness,
) -> None:
    h = harness
    h.faults(malformed_rate=RATE, fault_seed=FAULT_SEED)
    result = sync(h, "properties")
    h.admin("POST", "faults/reset")
    assert result.status == "succeeded_with_rejects"

    truth = {t["listingId"]: public(t, PROPERTY_PRIVATE_FIELDS) for t in h.truth("properties")}
    rejects = h.query(
        "SELECT entity, source_id, reason, payload FROM sync_rejects WHERE run_id = :r ORDER BY id",
        r=result.run_id,
    )
    assert len(rejects) == result.counts.rejected
    for _, _, reason, payload in rejects:
        assert reason
        assert isinstance(payload, dict)
        assert not set(payload) & set(PROPERTY_REJECT_DROPPED)

    # Listings: each reject is a truth record with one field spoiled; none of them loaded.
    listing_rejects = [r for r in rejects if r[0] == "properties"]
    redacted = [public(t, PROPERTY_REJECT_DROPPED) for t in truth.values()]
    spoiled = {original_of(payload, redacted)["listingId"] for _, _, _, payload in listing_rejects}
    assert len(spoiled) == len(listing_rejects) >= 3
    stored = {
        r[0]: (r[1], r[2]) for r in h.query("SELECT listing_id, content_hash, raw FROM properties")
    }
    assert not spoiled & stored.keys()
    assert stored.keys() == truth.keys() - spoiled  # every valid listing loaded
    for listing_id, (stored_hash, raw) in stored.items():
        want = normalise_property(truth[listing_id])
        assert isinstance(want, Row)
        if stored_hash != want.content_hash:  # spoiled within what normalising accepts
            assert differing_keys(raw, want.raw) <= TOLERATED, listing_id

    # Images (fetched for the loaded listings): the same accounting by (listing, photo).
    images = {
        (i["ListingId"], i["PhotoId"]): i for i in h.truth("images") if i["ListingId"] in stored
    }
    image_rejects = [r for r in rejects if r[0] == "images"]
    bad_images = {
        (o["ListingId"], o["PhotoId"])
        for o in (original_of(p, list(images.values())) for _, _, _, p in image_rejects)
    }
    assert len(bad_images) == len(image_rejects) >= 3
    stored_images = {
        (r[0], r[1]): r[2]
        for r in h.query("SELECT listing_id, photo_id, content_hash FROM property_images")
    }
    assert stored_images.keys() == images.keys() - bad_images
    for key, stored_hash in stored_images.items():
        want_image = normalise_image(images[key])
        assert isinstance(want_image, Row)
        assert stored_hash == want_image.content_hash, key


def test_malformed_associates_at_5_percent_are_quarantined_and_the_rest_load(
    harness: Harness,
) -> None:
    h = harness
    h.faults(malformed_rate=RATE, fault_seed=ASSOCIATES_FAULT_SEED)
    result = sync(h, "associates")
    h.admin("POST", "faults/reset")
    assert result.status == "succeeded_with_rejects"
    truth = {t["associateID"]: public(t, ASSOCIATE_PRIVATE_FIELDS) for t in h.truth("associates")}
    rejects = h.query(
        "SELECT source_id, reason, payload FROM sync_rejects WHERE run_id = :r", r=result.run_id
    )
    assert len(rejects) == result.counts.rejected >= 6
    for _, reason, payload in rejects:
        assert reason
        assert not set(payload) & set(ASSOCIATE_PRIVATE_FIELDS)
    spoiled = {original_of(p, list(truth.values()))["associateID"] for _, _, p in rejects}
    assert len(spoiled) == len(rejects)
    stored = dict(h.query("SELECT associate_id, content_hash FROM associates"))
    assert stored.keys() == truth.keys() - spoiled  # every valid associate loaded
    for associate_id, stored_hash in stored.items():
        want = normalise_associate(truth[associate_id])
        assert isinstance(want, Row)
        assert stored_hash == want.content_hash, associate_id
