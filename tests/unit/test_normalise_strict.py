"""The strict path (`sync/strict.py`) against the checked path (the pydantic models), over
sandbox listings and a matrix of mutated ones: whenever the strict path takes a record,
both make exactly the same split (same values, types, decimal exponents, key order), and
it takes the plainly valid ones (else it would be silently useless)."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tests.fixtures import sample_property
from worker.db.schema import Reject, Row
from worker.sandbox.data import BrandData
from worker.sync.coerce import MAX_BIGINT, MAX_COUNT, MAX_INT, MAX_TEXT_CHARS
from worker.sync.fields import ASSOCIATE_FIELDS, PROPERTY_FIELDS, Vocabulary
from worker.sync.models import AssociateRecord, PropertyPrivateRecord, PropertyRecord
from worker.sync.normalise import (
    checked_associate,
    checked_property,
    normalise_associate,
    normalise_property,
)
from worker.sync.strict import (
    _ASSOCIATE_VALIDATED,
    _VALIDATED,
    Split,
    strict_associate,
    strict_property,
)


class Text(str):
    pass


class Number(int):
    pass


class Choice(enum.IntEnum):
    ONE = 1


class Word(enum.StrEnum):
    TRUE = "true"


VALUES: tuple[Any, ...] = (
    None, "", " ", "abc", True, False, 0, 1, -1, 2, 7, 0.0, 1.0, 1.5, -0.5, 0.005, 0.015,
    5e14, 1e30, float("nan"), float("inf"), -0.0, "13", " 13", "13 ", "+14", "-1", "²", "١٣",
    "1e3", "10.005", "0.00005", "true", "false", "TRUE", " 1", "1", "0", "yes",
    MAX_INT, MAX_INT + 1, 2**53 + 1, MAX_BIGINT, MAX_BIGINT + 1, 2**64, 2**70, -(2**63),
    -(2**63) - 1, MAX_COUNT, MAX_COUNT + 1, 10**14 - 1, 10**14, 10**16 - 1, 10**16,
    "99999999999999.99995", "99999999999999.9999", "9999999999999999.99",
    "9999999999999999.995", "1e16", "NaN", "Infinity", "-0", "12.5", "90", "90.0000001",
    "-180", "180.00000005", "north", 45, 45.5, -90.0, 180.5,
    "x" * MAX_TEXT_CHARS, "x" * (MAX_TEXT_CHARS + 1), "é" * MAX_TEXT_CHARS, "a\x00b", "\ud800",
    "a\\u0000b",
    "2020-01-01T00:00:00", "2020-02-29T12:30:59", "2019-02-29T00:00:00", "2020-02-30T00:00:00",
    "2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00+05:00", "2020-01-01 00:00:00",
    "2020-01-01T00:00:00.123", "2020-01-01T00:00", "0001-01-01T00:00:00",
    "0000-01-01T00:00:00", "9999-12-31T23:59:59", "2020-01-01T24:00:00",
    "2020-01-01T23:59:60", "2020-13-01T00:00:00", "２０２０-01-01T00:00:00",
    " 2020-01-01T00:00:00", "2020-01-01t00:00:00", "31/02/2020", 1_600_000_000,
    "2020-01-01T00:00:00\n",
    "http://x.example/a.jpg", "javascript:alert(1)", "https://",
    [], [1], {}, {"a": 1}, Decimal("1.5"), b"x", Text("abc"), Text(""), Number(3),
    Choice.ONE, Word.TRUE,
)  # fmt: skip
"""Every field gets each of these: types, bounds and edge cases of every coercion."""


def brands(count: int) -> list[BrandData]:
    return [
        BrandData(
            key,
            number,
            2,
            seed=7,
            listings=count,
            associates=count,
            images_per_listing=0,
            cache_records=0,
        )
        for number, key in enumerate(("BENCH", "AZURA"))
    ]


def sandbox_listings(count: int) -> list[dict[str, Any]]:
    return [
        orjson.loads(brand.property_json(slot)) for brand in brands(count) for slot in range(count)
    ]


def sandbox_associates(count: int) -> list[dict[str, Any]]:
    return [
        orjson.loads(orjson.dumps(brand.associate_record(slot)))
        for brand in brands(count)
        for slot in range(count)
    ]


def bases() -> list[dict[str, Any]]:
    sample = sample_property()
    return [
        sample,
        sample | {"unparsedAddressPublicYN": True, "postalCode": "PC-1", "ownerName": "Owner"},
        sample | {"listPricePrivateYN": 1, "closePrice": 5, "unparsedAddressPublicYN": 1},
        sandbox_listings(1)[0],
    ]


def mutations(
    base: dict[str, Any], vocab: Vocabulary = PROPERTY_FIELDS, key: str = "listingId"
) -> Iterator[dict[str, Any]]:
    for name in vocab.expected:
        for value in VALUES:
            yield base | {name: value}
        yield {k: v for k, v in base.items() if k != name}
        yield {k if k != name else name.upper(): v for k, v in base.items()}
        yield base | {name.upper(): base.get(name)}
    yield dict(reversed(list(base.items())))
    yield base | {"someNewField": 1}
    yield base | {5: 1}
    yield {key: base[key]}


def shown(value: Any) -> Any:
    """A value with everything `==` overlooks: types, decimal exponents, key order."""
    if isinstance(value, dict):
        return [(key, shown(item)) for key, item in value.items()]
    if isinstance(value, tuple):
        return tuple(shown(item) for item in value)
    return type(value).__name__, repr(value)


def same(
    raw: Any, strict_path: Any = strict_property, checked_path: Any = checked_property
) -> bool:
    """Whether the strict path took `raw`; fails if its split differs from the checked one."""
    strict = strict_path(raw)
    if strict is None:
        return False
    checked = checked_path(raw)
    assert isinstance(checked, Split), (raw, checked)
    assert strict == checked
    assert shown(strict) == shown(checked)
    return True


def test_strict_path_validates_the_fields_the_models_do() -> None:
    aliases = {
        field.alias
        for model in (PropertyRecord, PropertyPrivateRecord)
        for field in model.model_fields.values()
    }
    assert set(_VALIDATED) == aliases | {"latitude", "longitude"}
    assert set(_ASSOCIATE_VALIDATED) == {f.alias for f in AssociateRecord.model_fields.values()}


def test_sandbox_listings_take_the_strict_path_with_the_checked_result() -> None:
    listings = sandbox_listings(1000)
    taken = sum(same(raw) for raw in listings)
    assert taken == len(listings)


def test_mutated_listings_give_the_checked_result_or_take_the_checked_path() -> None:
    taken = total = 0
    for base in bases():
        assert same(base)
        for raw in mutations(base):
            total += 1
            taken += same(raw)
    assert total > 25_000
    assert 0.1 < taken / total < 0.9, (taken, total)


def associate(raw: Any) -> bool:
    return same(raw, strict_associate, checked_associate)


def test_sandbox_associates_take_the_strict_path_with_the_checked_result() -> None:
    associates = sandbox_associates(500)
    assert sum(associate(raw) for raw in associates) == len(associates)


def test_mutated_associates_give_the_checked_result_or_take_the_checked_path() -> None:
    taken = total = 0
    bases = sandbox_associates(2)
    bases[1] |= {"urlMemberImage": None, "birthDay": None, "officeID": 0}
    for base in bases:
        assert associate(base)
        for raw in mutations(base, ASSOCIATE_FIELDS, "associateID"):
            total += 1
            taken += associate(raw)
    assert total > 4_000
    assert 0.1 < taken / total < 0.9, (taken, total)


@pytest.mark.parametrize(
    "raw", [{"associateID": 3, "birthDay": "1970-01-01"}, {"associateID": "x"}]
)
def test_normalise_associate_is_either_path(raw: Any) -> None:
    result = normalise_associate(raw)
    checked = checked_associate(raw)
    if isinstance(checked, Reject):
        assert result == checked
    else:
        assert isinstance(result, Row)
        assert (result.source_id, result.public, result.raw, result.private) == checked[:4]


@pytest.mark.parametrize("raw", [sample_property(), ["a", "list"], {"listingId": "abc"}])
def test_normalise_property_is_either_path(raw: Any) -> None:
    result = normalise_property(raw)
    checked = checked_property(raw)
    if isinstance(checked, Reject):
        assert result == checked
    else:
        assert isinstance(result, Row)
        assert (result.source_id, result.public, result.raw) == checked[:3]
        assert (result.private, result.private_raw, result.drift) == (
            checked.private,
            checked.private_raw,
            checked.drift,
        )
