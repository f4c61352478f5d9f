from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from worker.sync.normalise import (
    PROPERTY_PRIVATE_FIELDS,
    Reject,
    Row,
    normalise_associate,
    normalise_property,
)

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "property-sample.json"


def sample() -> dict[str, Any]:
    record: dict[str, Any] = json.loads(SAMPLE.read_text())["result"][0]
    return record


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


def test_non_object_record_is_rejected() -> None:
    assert isinstance(normalise_property(["not", "a", "record"]), Reject)


def test_associate_birthday_is_private() -> None:
    result = normalise_associate(
        {"associateID": 283, "firstName": "Ana", "birthDay": "1980-01-01T00:00:00", "officeID": 7}
    )
    assert isinstance(result, Row)
    assert "birthDay" not in result.raw
    assert result.private == {"birthday": "1980-01-01T00:00:00"}
