"""Issue 14, points 4, 5 and 8 (and issue 13, point 9): what a hostile record can make
the normaliser store. Public by allow-list, names matched case-insensitively, one
hostile record is one reject, values a website can trust."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from tests.fixtures import PROPERTY_SAMPLE
from tests.reliability.conftest import Figures
from worker.db.schema import Reject, Row
from worker.sinks.encoding import json_text
from worker.sync.drift import summary, tally
from worker.sync.normalise import (
    MAX_DEPTH,
    normalise_associate,
    normalise_property,
    property_fingerprint,
)
from worker.sync.records import normalise_country, normalise_image

SAMPLE = PROPERTY_SAMPLE
SECRET = "Jane Privateowner 555-0199"


def sample(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(SAMPLE.read_text())["result"][0]
    record.update(changes)
    return record


def row(raw: Any) -> Row:
    result = normalise_property(raw)
    assert isinstance(result, Row), result
    return result


def public_text(result: Row) -> str:
    return orjson.dumps([result.raw, result.public], default=str).decode()


@pytest.mark.parametrize(
    "field", ["OwnerName", "OWNEREMAIL", "ownerCellPhone", "sellerNationalId", "x" * 200]
)
def test_an_unclassified_or_recased_field_never_reaches_the_public_side(field: str) -> None:
    result = row(recased(**{field: SECRET}))
    assert SECRET not in public_text(result)
    assert SECRET in orjson.dumps(result.private_raw).decode()
    if field.lower() not in ("ownername", "owneremail"):
        assert result.content_hash == row(sample()).content_hash


def test_a_public_field_in_two_casings_is_rejected() -> None:
    result = normalise_property(sample(listingTitle_en=SECRET, ListingTitle_en="other"))
    assert isinstance(result, Reject)
    assert "different casing" in result.reason
    both = row(sample(ownerName="first", OwnerName=SECRET))
    assert SECRET not in public_text(both)


def recased(**changes: Any) -> dict[str, Any]:
    """The sample with some fields renamed to another casing (the old spelling gone)."""
    record = sample()
    for name, value in changes.items():
        record = {k: v for k, v in record.items() if k.lower() != name.lower()}
        record[name] = value
    return record


def test_typed_columns_match_names_case_insensitively() -> None:
    result = row(recased(ListingTitle_EN="Recased title", BEDROOMSTOTAL=4))
    assert result.public["title_en"] == "Recased title"
    assert result.public["bedrooms"] == 4


def test_a_private_list_price_hides_the_sale_price_too() -> None:
    result = row(sample(listPricePrivateYN=True, closePrice=456789, listPrice=123456))
    assert "456789" not in public_text(result)
    assert "123456" not in public_text(result)
    assert result.private_raw is not None
    assert result.private_raw["closePrice"] == 456789
    fingerprint = property_fingerprint(sample(listPricePrivateYN=True, closePrice=456789))
    assert fingerprint is not None
    assert fingerprint[1] == row(sample(listPricePrivateYN=True, closePrice=456789)).content_hash


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1000, 100_000])
def test_deep_nesting_is_one_reject(depth: int) -> None:
    for normalise, id_field in (
        (normalise_property, "listingId"),
        (normalise_associate, "associateID"),
    ):
        raw = {**sample(), id_field: 9, "extra": nested(depth)}
        assert property_fingerprint(raw) is None
        result = normalise(raw)
        assert isinstance(result, Reject)
        assert "nested deeper" in result.reason
        assert result.source_id == "9"


def test_a_literal_backslash_u0000_is_stored_byte_exact() -> None:
    text = "C:\\u0000\\path and \\\\u0000"
    result = row(sample(publicRemarks_en=text))
    assert orjson.loads(json_text(result.raw))["publicRemarks_en"] == text
    assert orjson.loads(json_text({"a": "nul\x00"}))["a"] == "nul\ufffd"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>",
        "file:///etc/passwd",
        "//evil.example/x.jpg",
        "vbscript:x",
    ],
)
def test_only_http_and_https_urls_are_stored(url: str) -> None:
    image = normalise_image({"ListingId": 1, "PhotoId": 2, "ImageUrl": url})
    assert isinstance(image, Reject)
    assert "http and https" in image.reason
    country = normalise_country({"countryID": 1, "flagurl": url})
    assert isinstance(country, Reject)
    associate = normalise_associate({"associateID": 3, "urlMemberImage": url})
    assert isinstance(associate, Reject)
    ok = normalise_image({"ListingId": 1, "PhotoId": 2, "ImageUrl": "https://cdn.example/a.jpg"})
    assert isinstance(ok, Row)


@pytest.mark.parametrize("bad", [" 13", "13 ", "+14", "²", "1_000", "٣", "0x10"])
def test_ids_are_plain_ascii_digits(bad: str) -> None:
    assert isinstance(normalise_property(sample(listingId=bad)), Reject)
    assert isinstance(normalise_property(sample(countryId=bad)), Reject)
    assert isinstance(normalise_associate({"associateID": bad}), Reject)
    assert isinstance(normalise_image({"ListingId": 1, "PhotoId": bad}), Reject)
    assert isinstance(normalise_image({"ListingId": bad, "PhotoId": 2}), Reject)
    assert isinstance(normalise_property(sample(listingId="13")), Row)


def test_field_drift_is_counted_by_name_never_by_value(figures: Figures) -> None:
    rows = [
        row(sample(ownerCellPhone=SECRET)),
        row(sample(ownerCellPhone=SECRET, bedroomsTotal="3")),
        row({k: v for k, v in sample().items() if k != "videoLink"}),
        row(sample()),
    ]
    details: dict[str, Any] = {}
    tally(details, "AZURA", "properties", rows)
    assert details["fields"]["unknown"] == {"ownerCellPhone": 2}
    assert details["fields"]["retyped"] == {"bedroomsTotal": 1}
    assert details["fields"]["missing"] == {"videoLink": 1}
    assert SECRET not in json.dumps(details)
    assert summary(details) == (
        "unknown 1 (ownerCellPhone); missing 1 (videoLink); retyped 1 (bedroomsTotal)"
    )
