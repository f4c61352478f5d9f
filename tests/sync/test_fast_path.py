"""The no-change fast path: a raw record's fingerprint equals the hashes of its normalised row,
so skipping unchanged records never skips a change; and pages are handed over in runs."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
import requests

from tests.unit.test_pipeline import Endpoint, FakeClient
from worker.db.schema import Reject, Row
from worker.sandbox import SandboxConfig, SandboxServer
from worker.sync.normalise import (
    NORMALISER_VERSION,
    associate_fingerprint,
    content_hash,
    normalise_associate,
    normalise_property,
    property_fingerprint,
)
from worker.sync.pipeline import fetch_page_batches


@pytest.fixture(scope="module")
def records() -> dict[str, list[Any]]:
    """Sandbox listings and associates, some of them spoiled (malformed answers)."""
    config = SandboxConfig(seed=5, listings=300, associates=60, brands=("AZURA",))
    with SandboxServer(config, host="127.0.0.1", port=0).start() as server:
        env = server.env_for("AZURA")
        base = env["REMAX_AZURA_API_URL"]
        token = requests.post(
            f"{base}/oauth/token",
            data={
                "grant_type": "password",
                "apikey": env["REMAX_AZURA_API_KEY"],
                "secretkey": env["REMAX_AZURA_SECRET_KEY"],
                "integratorID": env["REMAX_AZURA_INTEGRATOR_ID"],
            },
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"bearer {token}", "Accept": "application/json"}
        requests.post(f"{server.admin_url}/faults", json={"malformed_rate": 0.5}, timeout=10)
        listings, associates = [], []
        for skip in range(0, 300, 50):
            body = requests.get(
                f"{base}/GetProperties/take/50/skip/{skip}", headers=headers, timeout=10
            )
            listings.extend(body.json()["result"])
        for skip in range(0, 60, 20):
            body = requests.get(
                f"{base}/associates/take/20/skip/{skip}", headers=headers, timeout=10
            )
            associates.extend(body.json())
    return {"properties": listings, "associates": associates}


@pytest.mark.parametrize(
    ("entity", "fingerprint", "normalise"),
    [
        ("properties", property_fingerprint, normalise_property),
        ("associates", associate_fingerprint, normalise_associate),
    ],
)
def test_fingerprint_is_the_normalised_rows_id_and_hashes(
    records: dict[str, list[Any]], entity: str, fingerprint: Any, normalise: Any
) -> None:
    matched = 0
    for raw in records[entity]:
        result = normalise(raw)
        printed = fingerprint(raw)
        if printed is None:
            continue
        if isinstance(result, Reject):
            continue  # stored rows are valid rows, so a reject can never match a stored hash
        assert isinstance(result, Row)
        assert printed == (result.source_id, result.content_hash, result.private_hash)
        matched += 1
    assert matched > len(records[entity]) // 3


def test_fingerprint_follows_the_address_and_price_privacy_flags(
    records: dict[str, list[Any]],
) -> None:
    raw = copy.deepcopy(
        next(r for r in records["properties"] if isinstance(normalise_property(r), Row))
    )
    for address_public in (True, False, None, 0, 1):
        for price_private in (True, False, None, 0, 1):
            raw["unparsedAddressPublicYN"] = address_public
            raw["listPricePrivateYN"] = price_private
            row = normalise_property(raw)
            assert isinstance(row, Row)
            assert property_fingerprint(raw) == (row.source_id, row.content_hash, row.private_hash)


def test_a_record_that_is_not_plainly_well_formed_has_no_fingerprint() -> None:
    assert property_fingerprint({"listingId": "12"}) is None
    assert property_fingerprint({"listingId": True}) is None
    assert property_fingerprint({"listingId": 5, "listPricePrivateYN": "maybe"}) is None
    assert property_fingerprint(["not", "a", "record"]) is None
    assert associate_fingerprint({"associateID": 0}) is None


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_both_splits_of_a_record_give_the_fingerprint_of_its_row(
    records: dict[str, list[Any]],
) -> None:
    """Names all documented as spelled (the copy-and-delete split), and the same record
    with an unknown field or another casing (`classify`'s walk): each fingerprint is the
    one of the record's own row, containers in a documented field included."""
    base = next(r for r in records["properties"] if isinstance(normalise_property(r), Row))
    for raw in (
        base,
        base | {"garageNotes": {"a": [1, {"b": "c"}]}},
        base | {"vendorNewField": "x"},
        {("ownername" if k == "ownerName" else k): v for k, v in base.items()},
        {("LISTINGTITLE_EN" if k == "listingTitle_en" else k): v for k, v in base.items()},
    ):
        row = normalise_property(raw)
        assert isinstance(row, Row)
        assert property_fingerprint(raw) == (row.source_id, row.content_hash, row.private_hash)


def test_a_too_deep_record_never_matches_a_stored_row(records: dict[str, list[Any]]) -> None:
    """Nested past MAX_DEPTH in a documented field: normalising rejects it, and its
    fingerprint, if it has one, is not the stored row's (nor a crash, past orjson's limit)."""
    base = next(r for r in records["properties"] if isinstance(normalise_property(r), Row))
    stored = normalise_property(base)
    assert isinstance(stored, Row)
    for depth in (17, 300, 100_000):
        raw = base | {"garageNotes": _nested(depth)}
        assert isinstance(normalise_property(raw), Reject)
        found = property_fingerprint(raw)
        assert found is None or found[1:] != (stored.content_hash, stored.private_hash)
    assert property_fingerprint(base | {"garageNotes": _nested(300)}) is None


def test_content_hash_is_the_same_for_large_documents_fed_in_chunks() -> None:
    import hashlib

    import orjson

    document = {"text": "ñ" * 5000, "n": list(range(300))}
    prefix = f"rei-sync normaliser v{NORMALISER_VERSION}\n".encode()
    data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    whole = hashlib.sha256(prefix + data).hexdigest()[:32]
    assert content_hash(document) == whole


def test_pages_already_fetched_are_handed_over_together_in_order() -> None:
    client = FakeClient(95)
    stream = fetch_page_batches(
        client,  # type: ignore[arg-type]
        Endpoint(),
        10,
        parallelism=4,
        prefetch=10,
        max_items=30,
    )
    time.sleep(0.05)
    batches = list(stream)
    flat = [page.skip for batch in batches for page in batch]
    assert flat == [*range(0, 100, 10), 95], "then the end-of-list probe after the short page"
    assert all(sum(len(p.items) for p in batch[:-1]) < 30 for batch in batches)
    assert any(len(batch) > 1 for batch in batches)
