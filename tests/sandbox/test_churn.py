"""Epochs (changed / removed / added), drift during a scan, and the truth endpoint."""

from __future__ import annotations

from typing import Any

from tests.sandbox.conftest import Admin, Client
from worker.sandbox import SandboxConfig, SandboxServer


def _by_id(records: list[dict[str, Any]], key: str) -> dict[int, dict[str, Any]]:
    return {r[key]: r for r in records}


def test_truth_is_what_the_api_serves(client: Client, admin: Admin) -> None:
    assert admin.truth("AZURA", "properties") == client.scan()
    assert admin.truth("AZURA", "associates") == client.json("associates/take/1000/skip/0")
    listing = client.properties(1)[0]["listingId"]
    images = [i for i in admin.truth("AZURA", "images") if i["ListingId"] == listing]
    assert images == client.json(f"propertyimages/{listing}")
    lookups = admin.truth("AZURA", "lookups")
    assert [entry["lookup"] for entry in lookups] == client.json("lookups/names")
    geo = admin.truth("AZURA", "geo")
    assert [entry["country"] for entry in geo] == client.json("geo/countries")


def test_truth_rejects_unknown_brand_or_entity(admin: Admin) -> None:
    for params in ({"brand": "NOPE"}, {"brand": "AZURA", "entity": "offices"}):
        response = admin.session.get(f"{admin.url}/truth", params=params)
        assert response.status_code == 400


def test_epoch_defaults_change_remove_and_add_exact_counts(admin: Admin, client: Client) -> None:
    before = _by_id(admin.truth("AZURA", "properties"), "listingId")
    report = admin.post("epoch")
    assert report["epoch"] == 1
    azura = report["brands"]["AZURA"]
    assert azura["properties"] == {"changed": 4, "removed": 1, "added": 1}
    assert (azura["changed"], azura["removed"], azura["added"]) == (4, 1, 1)
    after = _by_id(admin.truth("AZURA", "properties"), "listingId")
    removed = before.keys() - after.keys()
    added = after.keys() - before.keys()
    changed = [i for i in before.keys() & after.keys() if before[i] != after[i]]
    assert (len(changed), len(removed), len(added)) == (4, 1, 1)
    gone = next(iter(removed))
    assert client.get(f"GetPropertyDetails/{gone}").status_code == 404
    assert gone not in {r["listingId"] for r in client.scan()}
    new = next(iter(added))
    assert client.properties(1)[0]["listingId"] == new


def test_epoch_fractions_and_images_and_associates(admin: Admin) -> None:
    """Removed associates hand their listings on (a transfer), which also counts as a change."""
    before = _by_id(admin.truth("AZURA", "properties"), "listingId")
    images_before = _by_id(admin.truth("AZURA", "images"), "PhotoId")
    assoc_before = _by_id(admin.truth("AZURA", "associates"), "associateID")
    report = admin.post("epoch", {"changed": 0.1, "removed": 0.1, "added": 0.1})
    counts = report["brands"]["AZURA"]
    assert counts["associates"] == {"changed": 3, "removed": 3, "added": 3}
    assert counts["properties"]["removed"] == counts["properties"]["added"] == 20
    assert counts["properties"]["changed"] >= 20

    after = _by_id(admin.truth("AZURA", "properties"), "listingId")
    kept = before.keys() & after.keys()
    changed = [i for i in kept if before[i] != after[i]]
    assert len(changed) == counts["properties"]["changed"]

    images_after = _by_id(admin.truth("AZURA", "images"), "PhotoId")
    old = {p: i for p, i in images_before.items() if i["ListingId"] in kept}
    new = {p: i for p, i in images_after.items() if i["ListingId"] in kept}
    img = counts["images"]
    assert (img["changed"], img["removed"], img["added"]) == (54, 54, 54)  # 10 % of 180 x 3
    assert len(old.keys() - new.keys()) == img["removed"]
    assert len(new.keys() - old.keys()) == img["added"]
    assert sum(old[p] != new[p] for p in old.keys() & new.keys()) == img["changed"]

    assoc_after = _by_id(admin.truth("AZURA", "associates"), "associateID")
    assert len(assoc_before.keys() - assoc_after.keys()) == 3
    assert {r["member"] for r in after.values()} <= assoc_after.keys()


def test_epochs_are_deterministic_per_seed() -> None:
    def run() -> list[Any]:
        with SandboxServer(SandboxConfig(listings=100)).start() as srv:
            admin = Admin(srv)
            admin.post("epoch", {"changed": 0.2, "removed": 0.1, "added": 0.1})
            return admin.truth("BLUE_OCEAN", "properties")

    assert run() == run()


def test_drift_inserts_at_the_front_between_pages(client: Client, admin: Admin) -> None:
    original = {r["listingId"] for r in client.scan()}
    admin.post("faults", {"drift": True})
    seen: list[int] = []
    skip = 0
    while True:
        page = client.properties(20, skip)
        seen.extend(r["listingId"] for r in page)
        if len(page) < 20:
            break
        skip += 20
    assert original <= set(seen)
    assert len(seen) > len(set(seen))
    truth = {r["listingId"] for r in admin.truth("AZURA", "properties")}
    assert len(truth) == 200 + skip // 20
    assert client.properties(1)[0]["listingId"] == max(truth)


def test_listing_keys_are_unique_and_survive_transfers(admin: Admin) -> None:
    before = {r["listingId"]: r["listingKey"] for r in admin.truth("AZURA", "properties")}
    assert len(set(before.values())) == len(before)
    admin.post("epoch", {"changed": 0.0, "removed": 0.0, "added": 0.0})
    admin.post("epoch", {"changed": 0.0, "removed": 0.2, "added": 0.0})
    after = {r["listingId"]: r["listingKey"] for r in admin.truth("AZURA", "properties")}
    assert all(before[i] == key for i, key in after.items())
