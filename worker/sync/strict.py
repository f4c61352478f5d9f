"""The strict path: a plainly well-typed property or associate, validated in native code.

`normalise_property` tries `strict_property` first (`normalise_associate`,
`strict_associate`) and takes the checked path (the pydantic models of `sync/models.py`,
2-2.5 x dearer, `bench/normalise_micro.py`) only when it answers None, so every reject
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
  gives the same naive datetime), coordinates by `coordinate`, an associate's image URL
  by `web_url`;
- `unstorable_text` finds nothing (NUL, lone surrogates, integers beyond 64 bits).

Anything else answers None. `tests/unit/test_normalise_strict.py` runs both paths over
valid and mutated records and asserts identical results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec import Meta

from worker.db.schema import ASSOCIATE_COLUMNS, PROPERTY_COLUMNS, Drift
from worker.sync.coerce import (
    MAX_BIGINT,
    MAX_COUNT,
    MAX_INT,
    MAX_TEXT_CHARS,
    coordinate,
    numeric_check,
    unstorable_text,
    web_url,
)
from worker.sync.fields import (
    ASSOCIATE_FIELDS,
    FLAG,
    PLAIN_TYPES,
    PROPERTY_FIELDS,
    TEXT,
    property_public_keys,
)
from worker.sync.models import AssociateRecord, PropertyPrivateRecord, PropertyRecord


class Split(NamedTuple):
    """A normalised record before hashing: what both paths produce for a valid one."""

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
LOCAL_DATE = r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\Z"
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


_PUBLIC_ALIASES = {
    name: field.alias for name, field in PropertyRecord.model_fields.items() if field.alias
}
_PRIVATE_ALIASES = {
    name: field.alias for name, field in PropertyPrivateRecord.model_fields.items() if field.alias
}
_ORDER = [
    *(_PUBLIC_ALIASES.get(column, column) for column in PROPERTY_COLUMNS),
    *_PRIVATE_ALIASES.values(),
]
_ORDER += [name for name in PROPERTY_FIELDS.expected if name not in _ORDER]
_StrictProperty = msgspec.defstruct(
    "_StrictProperty",
    [
        (name, _VALIDATED[name])
        if name == "listingId"
        else (name, _VALIDATED.get(name) or _unvalidated(PROPERTY_FIELDS.expected[name]), None)
        for name in _ORDER
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
"""Every documented field, the public columns first then the private ones (in their
orders, so one `astuple` reads both); an undocumented name is a validation error."""
_PUBLIC_END = len(PROPERTY_COLUMNS)
_PRIVATE_END = _PUBLIC_END + len(_PRIVATE_ALIASES)
_dates = attrgetter("listingDate", "listingContractDate", "expirationDate", "closeDate")
"""`listingDate` first: the only one stored (the others are validated, as the model does)."""
_public_decimals = attrgetter("listPrice", "lotSizeArea", "constructionSize")
_private_decimals = attrgetter(
    "listingSideComm", "sellingSideComm", "closeListingCommAmount", "closeSellingCommAmount"
)
_EXPECTED = len(PROPERTY_FIELDS.expected)


def _decimals(check: Callable[[Any], Decimal | None], scale: int) -> Callable[[Any], Any]:
    """`check` (a `numeric_check`) made cheap for the values a listing has: None is None,
    an int in range skips `str()` and the comparisons (same Decimal), a float is looked up
    once per value (commissions and sizes repeat; `Decimal(str(f))` depends on the value
    only, except for the sign of a zero, which is never cached)."""
    step = Decimal(1).scaleb(-scale)
    cache: dict[float, Decimal | None] = {}

    def rounded(value: int | float | None) -> Decimal | None:
        if value is None:
            return None
        if type(value) is int and 0 <= value < MONEY_LIMIT:
            return Decimal(value).quantize(step)
        if type(value) is not float or not value:
            return check(value)
        cached = cache.get(value)
        if cached is None:
            cached = check(value)
            if len(cache) < MAX_CACHED:
                cache[value] = cached
        return cached

    return rounded


MONEY_LIMIT = 10**14
"""Below the limit of both `numeric(18, 2)` and `numeric(18, 4)`: an int under it is valid."""
MAX_CACHED = 4096
_money = _decimals(MONEY, 2)
_commission = _decimals(COMMISSION, 4)
_parse_date = datetime.fromisoformat


def strict_property(raw: Any) -> Split | None:
    """`raw` normalised (before hashing) if it takes the strict path, else None."""
    if type(raw) is not dict or not PLAIN_TYPES.issuperset(map(type, raw.values())):
        return None
    if unstorable_text(raw) is not None:
        return None
    try:
        record: Any = msgspec.convert(raw, _StrictProperty, strict=True)
        listing_date, *others = _dates(record)
        if listing_date is not None:
            listing_date = _parse_date(listing_date)
        for text in others:
            if text is not None:
                _parse_date(text)
        list_price, lot_size, construction_size = map(_money, _public_decimals(record))
        listing_comm, selling_comm, close_listing, close_selling = _private_decimals(record)
        listing_comm = _commission(listing_comm)
        selling_comm = _commission(selling_comm)
        close_listing = _money(close_listing)
        close_selling = _money(close_selling)
    except (msgspec.ValidationError, ValueError):
        return None
    values = msgspec.structs.astuple(record)
    private = dict(zip(_PRIVATE_ALIASES, values[_PUBLIC_END:_PRIVATE_END], strict=True))
    private["listing_side_comm"] = listing_comm
    private["selling_side_comm"] = selling_comm
    private["close_listing_comm_amount"] = close_listing
    private["close_selling_comm_amount"] = close_selling
    address_public = record.unparsedAddressPublicYN
    price_private = record.listPricePrivateYN
    if address_public is not None:
        address_public = bool(address_public)
    if price_private is not None:
        price_private = bool(price_private)
    public = dict(zip(PROPERTY_COLUMNS, values[:_PUBLIC_END], strict=True))
    public["list_price"] = None if price_private else list_price
    public["lot_size"] = lot_size
    public["construction_size"] = construction_size
    public["listing_date"] = listing_date
    latitude = public["latitude"] = coordinate(record.latitude, 90)
    longitude = public["longitude"] = coordinate(record.longitude, 180)
    invalid = (record.latitude not in (None, "") and latitude is None) + (
        record.longitude not in (None, "") and longitude is None
    )
    public_raw, private_raw = _split(raw, property_public_keys(address_public, price_private))
    drift = None
    if len(raw) < _EXPECTED:
        drift = Drift((), tuple(name for name in PROPERTY_FIELDS.expected if name not in raw))
    return Split(record.listingId, public, public_raw, private, private_raw, invalid, drift)


_ASSOCIATE_VALIDATED: dict[str, Any] = {
    "associateID": _KEY,
    "remaxID": _TEXT,
    "firstName": _TEXT,
    "lastName": _TEXT,
    "mobile": _TEXT,
    "remaxEmail": _TEXT,
    "urlMemberImage": _TEXT,
    "officeID": _ID,
    "officeName": _TEXT,
    "officeCode": _TEXT,
    "officeCountryID": _ID,
}
"""The strict type of every field `AssociateRecord` validates (the URL's scheme by `web_url`)."""
_ASSOCIATE_ALIASES = {
    name: field.alias for name, field in AssociateRecord.model_fields.items() if field.alias
}
_ASSOCIATE_ORDER = [_ASSOCIATE_ALIASES[column] for column in ASSOCIATE_COLUMNS]
_ASSOCIATE_ORDER += [name for name in ASSOCIATE_FIELDS.expected if name not in _ASSOCIATE_ORDER]
_StrictAssociate = msgspec.defstruct(
    "_StrictAssociate",
    [
        (name, _ASSOCIATE_VALIDATED[name])
        if name == "associateID"
        else (
            name,
            _ASSOCIATE_VALIDATED.get(name) or _unvalidated(ASSOCIATE_FIELDS.expected[name]),
            None,
        )
        for name in _ASSOCIATE_ORDER
    ],
    kw_only=True,
    forbid_unknown_fields=True,
)
_ASSOCIATE_END = len(ASSOCIATE_COLUMNS)


def strict_associate(raw: Any) -> Split | None:
    """As `strict_property`, for an associate."""
    if type(raw) is not dict or not PLAIN_TYPES.issuperset(map(type, raw.values())):
        return None
    if unstorable_text(raw) is not None:
        return None
    try:
        record: Any = msgspec.convert(raw, _StrictAssociate, strict=True)
        web_url(record.urlMemberImage)
    except (msgspec.ValidationError, ValueError):
        return None
    values = msgspec.structs.astuple(record)
    public = dict(zip(ASSOCIATE_COLUMNS, values[:_ASSOCIATE_END], strict=True))
    public_raw, private_raw = _split(raw, ASSOCIATE_FIELDS.public)
    birthday = record.birthDay
    private = {"birthday": None if birthday is None else birthday[:64]}
    drift = None
    if len(raw) < len(ASSOCIATE_FIELDS.expected):
        drift = Drift((), tuple(name for name in ASSOCIATE_FIELDS.expected if name not in raw))
    return Split(record.associateID, public, public_raw, private, private_raw, 0, drift)


_SPLITTERS: dict[tuple[frozenset[str], tuple[str, ...]], tuple[tuple[str, ...], Any]] = {}
MAX_SPLITTERS = 256
"""Records of one API share a handful of key orders; a bounded cache is plenty."""


def _split(
    raw: dict[str, Any], public_keys: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, private) halves of `raw`, each in `raw`'s key order, as the checked path's
    comprehensions make them, without a Python step per field: the public half is a copy
    less the (dozen) private keys, the private half read by a C item getter, both
    prepared once per key order."""
    shape = (public_keys, tuple(raw))
    split = _SPLITTERS.get(shape)
    if split is None:
        private = tuple(k for k in shape[1] if k not in public_keys)
        split = private, itemgetter(*private) if len(private) >= 2 else None
        if len(_SPLITTERS) < MAX_SPLITTERS:
            _SPLITTERS[shape] = split
    private, values = split
    public_raw = raw.copy()
    for key in private:
        del public_raw[key]
    if values is None:
        return public_raw, {k: raw[k] for k in private}
    return public_raw, dict(zip(private, values(raw), strict=True))
