"""The strict path: a plainly well-typed property, validated in native code in a few µs.

`normalise_property` tries `strict_property` first and takes the checked path (the
pydantic models of `sync/models.py`, ~60 µs) only when it answers None, so every reject
and every lax coercion (ids as digit strings, flags as "true", "" as null, a zone on a
date...) is exactly what the checked path makes of it. The strict path is never more
permissive: it accepts a record only when

- every field name is documented as spelled and every value is a plain JSON type
  (no container, no subclass), so classification and drift are trivial;
- msgspec validates it in strict mode (`msgspec.convert(..., strict=True)`): ids and
  counts are ints (not bools) within their column bounds, texts are strings of at most
  `MAX_TEXT_CHARS` characters, flags are bools or 0/1, dates are
  `YYYY-MM-DDTHH:MM:SS` strings, and every other known field has one of its JSON types;
- the few values that need Python do it with the checked path's own functions: decimals
  are rounded by `numeric_check` (the models' validator), dates parsed by
  `datetime.fromisoformat` (which takes every such string that pydantic takes, and
  gives the same naive datetime), coordinates by `coordinate`;
- `unstorable_text` finds nothing (NUL, lone surrogates, integers beyond 64 bits).

Anything else answers None. `tests/unit/test_normalise_strict.py` runs both paths over
valid and mutated records and asserts identical results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec import Meta

from worker.db.schema import PROPERTY_COLUMNS, Drift
from worker.sync.coerce import (
    MAX_BIGINT,
    MAX_COUNT,
    MAX_INT,
    MAX_TEXT_CHARS,
    coordinate,
    numeric_check,
    unstorable_text,
)
from worker.sync.fields import (
    FLAG,
    PLAIN_TYPES,
    PROPERTY_FIELDS,
    TEXT,
    property_public_keys,
)
from worker.sync.models import PropertyPrivateRecord, PropertyRecord


class Split(NamedTuple):
    """A normalised property before hashing: what both paths produce for a valid record."""

    source_id: int
    public: dict[str, Any]
    raw: dict[str, Any]
    private: dict[str, Any]
    private_raw: dict[str, Any]
    invalid_coordinates: int
    drift: Drift | None


_KEY = Annotated[int, Meta(ge=1, le=MAX_BIGINT)]
_TEXT = Annotated[str, Meta(max_length=MAX_TEXT_CHARS)] | None
_ID = Annotated[int, Meta(ge=0, le=MAX_BIGINT)] | None
_ID32 = Annotated[int, Meta(ge=0, le=MAX_INT)] | None
_COUNT = Annotated[int, Meta(ge=0, le=MAX_COUNT)] | None
_FLAG = bool | Literal[0, 1] | None
_NUMBER = int | float | None
"""A decimal column's value: rounded and bounded in Python (`numeric_check`)."""
LOCAL_DATE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"
"""The one date form the strict path takes: zone-less, no fraction, ASCII digits."""
_DATE = Annotated[str, Meta(pattern=LOCAL_DATE)] | None
_COORDINATE = str | int | float | None

MONEY = numeric_check(18, 2)
COMMISSION = numeric_check(18, 4)

_VALIDATED: dict[str, Any] = {
    "listingId": _KEY,
    "listingKey": _TEXT,
    "listingTitle_en": _TEXT,
    "listingTitle_es": _TEXT,
    "listingContractType": _ID32,
    "standardStatusId": _ID32,
    "listingProbableUseId": _ID32,
    "propertyTypeId": _ID32,
    "propertyGeneralLocationId": _ID32,
    "listPrice": _NUMBER,
    "listPriceCurrencyID": _ID32,
    "listPricePrivateYN": _FLAG,
    "unparsedAddressPublicYN": _FLAG,
    "bedroomsTotal": _COUNT,
    "bathroomsFull": _COUNT,
    "bathroomsHalf": _COUNT,
    "lotSizeArea": _NUMBER,
    "lotSizeUnitsId": _ID32,
    "constructionSize": _NUMBER,
    "constructionSizeUnitsId": _ID32,
    "countryId": _ID,
    "stateDepProvId": _ID,
    "locationId": _ID,
    "listingDate": _DATE,
    "listingContractDate": _DATE,
    "expirationDate": _DATE,
    "closeDate": _DATE,
    "member": _ID,
    "officecode": _TEXT,
    "publicRemarks_en": _TEXT,
    "publicRemarks_es": _TEXT,
    "furnishedYN": _FLAG,
    "maidRoomYN": _FLAG,
    "listingAgreementYN": _FLAG,
    "coolingYN": _FLAG,
    "poolPrivateYN": _FLAG,
    "latitude": _COORDINATE,
    "longitude": _COORDINATE,
    "ownerName": _TEXT,
    "ownerPhones": _TEXT,
    "ownerEmail": _TEXT,
    "privateRemarks_en": _TEXT,
    "privateRemarks_es": _TEXT,
    "showingInstruction": _TEXT,
    "listingSideComm": _NUMBER,
    "sellingSideComm": _NUMBER,
    "closeListingCommAmount": _NUMBER,
    "closeSellingCommAmount": _NUMBER,
}
"""The strict type of every field the models validate (and of the coordinates)."""


def _unvalidated(kinds: tuple[type, ...]) -> Any:
    """A field only drift looks at: any of its JSON types (`unstorable_text` bounds ints)."""
    if kinds == TEXT:
        return str | None
    if kinds == FLAG:
        return bool | int | None
    return int | float | None


_StrictProperty = msgspec.defstruct(
    "_StrictProperty",
    [("listingId", _KEY)]
    + [
        (name, _VALIDATED.get(name) or _unvalidated(kinds), None)
        for name, kinds in PROPERTY_FIELDS.expected.items()
        if name != "listingId"
    ],
)
_PUBLIC_ALIASES = {
    name: field.alias for name, field in PropertyRecord.model_fields.items() if field.alias
}
_PRIVATE_ALIASES = {
    name: field.alias for name, field in PropertyPrivateRecord.model_fields.items() if field.alias
}
_public_values = attrgetter(*(_PUBLIC_ALIASES.get(column, column) for column in PROPERTY_COLUMNS))
_private_values = attrgetter(*_PRIVATE_ALIASES.values())
_dates = attrgetter("listingDate", "listingContractDate", "expirationDate", "closeDate")
_PUBLIC_DECIMALS = (("list_price", "listPrice"), ("lot_size", "lotSizeArea"),
                    ("construction_size", "constructionSize"))  # fmt: skip
_PRIVATE_DECIMALS = (
    ("listing_side_comm", "listingSideComm", COMMISSION),
    ("selling_side_comm", "sellingSideComm", COMMISSION),
    ("close_listing_comm_amount", "closeListingCommAmount", MONEY),
    ("close_selling_comm_amount", "closeSellingCommAmount", MONEY),
)
_DOCUMENTED = PROPERTY_FIELDS.documented
_EXPECTED = len(PROPERTY_FIELDS.expected)


def strict_property(raw: Any) -> Split | None:
    """`raw` normalised (before hashing) if it takes the strict path, else None."""
    if type(raw) is not dict or not raw.keys() <= _DOCUMENTED:
        return None
    if not set(map(type, raw.values())) <= PLAIN_TYPES:
        return None
    if unstorable_text(raw) is not None:
        return None
    try:
        record: Any = msgspec.convert(raw, _StrictProperty, strict=True)
    except (msgspec.ValidationError, ValueError):
        return None
    try:
        for text in _dates(record):
            if text is not None:
                datetime.fromisoformat(text)
        public = dict(zip(PROPERTY_COLUMNS, _public_values(record), strict=True))
        for column, name in _PUBLIC_DECIMALS:
            public[column] = MONEY(getattr(record, name))
        private = dict(zip(_PRIVATE_ALIASES, _private_values(record), strict=True))
        for column, name, check in _PRIVATE_DECIMALS:
            private[column] = check(getattr(record, name))
    except ValueError:
        return None
    listing_date = record.listingDate
    public["listing_date"] = None if listing_date is None else datetime.fromisoformat(listing_date)
    address_public = record.unparsedAddressPublicYN
    price_private = record.listPricePrivateYN
    if address_public is not None:
        address_public = bool(address_public)
    if price_private is not None:
        price_private = bool(price_private)
    if price_private:
        public["list_price"] = None
    latitude = coordinate(record.latitude, 90)
    longitude = coordinate(record.longitude, 180)
    public["latitude"] = latitude
    public["longitude"] = longitude
    invalid = (record.latitude not in (None, "") and latitude is None) + (
        record.longitude not in (None, "") and longitude is None
    )
    public_raw, private_raw = _split(raw, property_public_keys(address_public, price_private))
    drift = None
    if len(raw) < _EXPECTED:
        drift = Drift((), tuple(name for name in PROPERTY_FIELDS.expected if name not in raw))
    return Split(record.listingId, public, public_raw, private, private_raw, invalid, drift)


Splitter = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]
_SPLITTERS: dict[tuple[frozenset[str], tuple[str, ...]], Splitter] = {}
MAX_SPLITTERS = 256
"""Records of one API share a handful of key orders; a bounded cache is plenty."""


def _split(
    raw: dict[str, Any], public_keys: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, private) halves of `raw`, each in `raw`'s key order, as the checked path's
    comprehensions make them; per key order, the halves are read with C item getters."""
    shape = (public_keys, tuple(raw))
    splitter = _SPLITTERS.get(shape)
    if splitter is None:
        splitter = _splitter(*shape)
        if len(_SPLITTERS) < MAX_SPLITTERS:
            _SPLITTERS[shape] = splitter
    return splitter(raw)


def _splitter(public_keys: frozenset[str], keys: tuple[str, ...]) -> Splitter:
    public = tuple(k for k in keys if k in public_keys)
    private = tuple(k for k in keys if k not in public_keys)
    get_public, get_private = _getter(public), _getter(private)

    def split(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return dict(zip(public, get_public(raw), strict=True)), dict(
            zip(private, get_private(raw), strict=True)
        )

    return split


def _getter(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """`itemgetter(*keys)`, always answering a tuple (itemgetter of one key does not)."""
    if len(keys) >= 2:
        return itemgetter(*keys)
    return lambda raw: tuple(raw[k] for k in keys)
