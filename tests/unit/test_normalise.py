from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.fixtures import sample_property
from worker.db.schema import Reject, Row
from worker.sync import hashing
from worker.sync.normalise import (
    ASSOCIATE_PRIVATE_FIELDS,
    PRIVATE_ADDRESS_FIELDS,
    PRIVATE_PRICE_FIELDS,
    PROPERTY_PRIVATE_FIELDS,
    normalise_associate,
    normalise_property,
    property_fingerprint,
)
from worker.sync.records import (
    lookup_value_normaliser,
    normalise_country,
    normalise_image,
    normalise_location,
    normalise_lookup,
    normalise_state,
)


def sample() -> dict[str, Any]:
    return sample_property()


def row(raw: dict[str, Any]) -> Row:
    result = normalise_property(raw)
    assert isinstance(result, Row), result
    return result


def test_reference_sample_normalises_to_typed_columns() -> None:
    r = row(sample())
    assert r.source_id == 10744
    assert r.public["latitude"] == Decimal("12.5361701")
    assert r.public["longitude"] == Decimal("-70.0156505")
    assert r.public["list_price"] == Decimal("298000")
    assert r.public["listing_date"] == datetime(2016, 5, 16)
    assert r.public["agent_id"] == 283
    assert r.public["office_code"] == "R0700130"


def test_private_fields_leave_the_public_raw() -> None:
    raw = sample() | {
        "ownerName": "Doña Pérez",
        "ownerEmail": "x@example.com",
        "listingSideComm": 3,
    }
    r = row(raw)
    assert not set(PROPERTY_PRIVATE_FIELDS) & set(r.raw)
    assert r.private is not None
    assert r.private["owner_name"] == "Doña Pérez"
    assert r.private_raw is not None
    assert r.private_raw["ownerEmail"] == "x@example.com"
    # the address is private when unparsedAddressPublicYN is false
    assert "unparsedAddress" not in r.raw


def test_private_price_is_hidden() -> None:
    r = row(sample() | {"listPricePrivateYN": True})
    assert r.public["list_price"] is None
    assert "listPrice" not in r.raw


@pytest.mark.parametrize("value", ["", None, "north", "95.0", "NaN"])
def test_bad_coordinates_become_null_not_rejects(value: Any) -> None:
    r = row(sample() | {"latitude": value})
    assert r.public["latitude"] is None
    assert r.invalid_coordinates == (0 if value in ("", None) else 1)


def test_flags_accept_bools_and_zero_one() -> None:
    assert isinstance(normalise_property(sample() | {"maidRoomYN": 1, "furnishedYN": False}), Row)
    assert isinstance(normalise_property(sample() | {"maidRoomYN": 7}), Reject)


def test_hash_is_stable_and_sensitive_to_public_content_only() -> None:
    base = row(sample())
    assert row(dict(reversed(list(sample().items())))).content_hash == base.content_hash
    assert row(sample() | {"listPrice": 1}).content_hash != base.content_hash
    private_change = row(sample() | {"ownerName": "someone else"})
    assert private_change.content_hash == base.content_hash
    assert private_change.private_hash != base.private_hash


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"listingId": None}, "listingId"),
        ({"listingId": "abc"}, "listingId"),
        ({"listPrice": -5}, "listPrice"),
        ({"listPrice": 1e30}, "absurd"),
        ({"listingDate": "31/02/2020"}, "listingDate"),
        ({"bedroomsTotal": "many"}, "bedroomsTotal"),
        ({"listingTitle_en": "x" * 70_000}, "longer"),
        ({"publicRemarks_en": "bad\x00byte"}, "NUL"),
        ({"publicRemarks_en": "\ud800"}, "Unicode"),
    ],
)
def test_records_that_cannot_be_normalised_are_rejected_with_a_reason(
    change: dict[str, Any], fragment: str
) -> None:
    raw = sample() | change
    if change.get("listingId", 1) is None:
        del raw["listingId"]
    result = normalise_property(raw | {"ownerName": "Secret Owner"})
    assert isinstance(result, Reject)
    assert fragment in result.reason
    assert "ownerName" not in result.payload
    assert "unparsedAddress" not in result.payload
    assert "listPrice" not in result.payload


def test_non_object_record_is_rejected() -> None:
    assert isinstance(normalise_property(["not", "a", "record"]), Reject)


PRIVATE_VALUES = {
    "ownerName": "Secret Owner",
    "listingSideComm": 3.25,
    "unparsedAddress": "12 Secret Street",
    "postalCode": "SECRET-PC",
    "listPrice": 777_123,
}


@pytest.mark.parametrize(
    "broken",
    [
        {"listingId": "abc"},  # any field
        {"unparsedAddressPublicYN": "maybe"},  # the address flag itself
        {"listPricePrivateYN": 7},  # the price flag itself
        {"publicRemarks_en": "bad\x00byte"},  # unstorable text
    ],
)
@pytest.mark.parametrize("address_public", [True, False])
def test_reject_payload_never_keeps_a_field_that_may_be_private(
    broken: dict[str, Any], address_public: bool
) -> None:
    raw = sample() | PRIVATE_VALUES | {"unparsedAddressPublicYN": address_public} | broken
    result = normalise_property(raw)
    assert isinstance(result, Reject)
    dropped = {*PROPERTY_PRIVATE_FIELDS, *PRIVATE_ADDRESS_FIELDS, *PRIVATE_PRICE_FIELDS}
    assert not dropped & set(result.payload)
    text = json.dumps(result.payload)
    for value in PRIVATE_VALUES.values():
        assert str(value) not in text
    assert result.payload["listingTitle_en"] == raw["listingTitle_en"]  # the rest is kept


def test_associate_reject_payload_drops_its_private_fields() -> None:
    result = normalise_associate({"associateID": "x", "birthDay": "1980-01-01", "firstName": "A"})
    assert isinstance(result, Reject)
    assert not set(ASSOCIATE_PRIVATE_FIELDS) & set(result.payload)
    assert result.payload["firstName"] == "A"


@pytest.mark.parametrize(
    "normaliser",
    [
        normalise_property,
        normalise_associate,
        normalise_image,
        normalise_lookup,
        lookup_value_normaliser(3),
        normalise_country,
        normalise_state,
        normalise_location,
    ],
)
@pytest.mark.parametrize(
    ("record", "kind", "length"),
    [
        (["Secret Owner", "12 Secret Street"], "list", 2),
        ("Secret Owner lives at 12 Secret Street", "str", 38),
        (777_123, "int", None),
        (None, "NoneType", None),
    ],
)
def test_a_record_that_is_not_an_object_is_stored_as_its_type_and_length_only(
    normaliser: Any, record: Any, kind: str, length: int | None
) -> None:
    result = normaliser(record)
    assert isinstance(result, Reject)
    assert result.payload == {"type": kind, "length": length}
    assert kind in result.reason
    assert "Secret" not in result.reason
    assert "777" not in result.reason


def test_normaliser_version_is_part_of_every_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = sample() | {"ownerName": "x"}
    before = row(raw)
    assert property_fingerprint(raw) == (before.source_id, before.content_hash, before.private_hash)
    monkeypatch.setattr(hashing, "NORMALISER_VERSION", hashing.NORMALISER_VERSION + 1)
    after = row(raw)
    assert after.content_hash != before.content_hash
    assert after.private_hash != before.private_hash
    assert property_fingerprint(raw) == (after.source_id, after.content_hash, after.private_hash)
    image = normalise_image({"ListingId": 1, "PhotoId": 2, "ImageUrl": "https://cdn.example/u.jpg"})
    assert isinstance(image, Row)
    monkeypatch.undo()
    image_before = normalise_image(
        {"ListingId": 1, "PhotoId": 2, "ImageUrl": "https://cdn.example/u.jpg"}
    )
    assert isinstance(image_before, Row)
    assert image.content_hash != image_before.content_hash


def test_associate_birthday_is_private() -> None:
    result = normalise_associate(
        {"associateID": 283, "firstName": "Ana", "birthDay": "1980-01-01T00:00:00", "officeID": 7}
    )
    assert isinstance(result, Row)
    assert "birthDay" not in result.raw
    assert result.private == {"birthday": "1980-01-01T00:00:00"}
