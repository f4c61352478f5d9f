"""Raw API records → typed rows (public + private) with a content hash, or a reject with a reason.

Choices, documented once:
- Coordinates arrive as strings (sometimes empty/null/garbage): parsed to numeric,
  anything unparsable or out of range becomes NULL (counted, not rejected).
- `…YN` flags arrive as bools or 0/1: both become bool.
- Dates arrive zone-less (`YYYY-MM-DDTHH:MM:SS`, the office's local time): stored
  as `timestamp without time zone`, exactly as given. A zone, if ever sent, is dropped
  after keeping the wall-clock time.
- Public by allow-list: only fields known to be public (`PROPERTY_PUBLIC_FIELDS`,
  `ASSOCIATE_PUBLIC_FIELDS`; the address and the list and sale prices when their flags
  say so) reach the public row and its `raw`. Everything else — owner contact, private
  remarks, showing instructions, commissions, an associate's birthday, and every field
  nobody has classified yet — lives only in the private table. Field names are matched
  case-insensitively (the spec fixes no casing) and stored under their documented
  names; a record naming a public field in two casings is rejected (a private one
  keeps both copies on the private side). Each row carries its
  `Drift` (unknown, missing and re-typed field names) for the run's counts.
- Records nested deeper than `MAX_DEPTH` are rejected before any hashing: every walk
  over a record is bounded.
- Ids are integers or plain ASCII digit strings (not " 13", "+14", "²").
- The content hash covers the public `raw` (private fields have their own hash)
  and `NORMALISER_VERSION`, so a change anywhere in the public payload is seen, and
  so is a change to how records are normalised; nothing else is.
- Every typed field is bounded by its column (`migrations/`): an `Integer` column
  gets `Id32`, a `BigInteger` one `Id`, a `Numeric(p, s)` one `numeric(p, s)`, so a
  value the column cannot hold is a reject, never a failed COPY
  (`tests/integration/test_column_bounds.py` checks them against a migrated database).
- A reject's payload never holds a private value: it keeps only the fields public
  whatever a flag says (the address and prices are left out), and a record that is
  not an object is kept as its type and length only.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from worker.api.salvage import Undecodable
from worker.db.schema import ASSOCIATE_COLUMNS, PROPERTY_COLUMNS, Drift, Reject, Row

MAX_TEXT_CHARS = 65_535
ASCII_DIGITS = re.compile(r"[0-9]{1,20}")
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1
"""The largest value of a Postgres `integer` column."""
MAX_INT_DIGITS = 20
"""Longer digit strings are no id we can store (and `int()` refuses past 4,300 digits)."""


def ascii_int(text: str) -> int | None:
    """The integer `text` writes in ASCII digits (optionally signed, spaces around), else None.

    The one guard for numbers given as text: `str.isdigit()` also accepts superscripts
    like "²", which `int()` then refuses with a ValueError.
    """
    digits = text.strip()
    unsigned = digits.removeprefix("-")
    if unsigned.isascii() and unsigned.isdigit() and len(unsigned) <= MAX_INT_DIGITS:
        return int(digits)
    return None


def source_key(source_id: str | None) -> int | None:
    """The storable key (0 to MAX_BIGINT) a reject's source id names, else None."""
    key = None if source_id is None else ascii_int(source_id)
    return key if key is not None and 0 <= key <= MAX_BIGINT else None


NORMALISER_VERSION = 2
"""Mixed into every content hash (`content_hash`). Bump it whenever a change here or in
`records.py` changes what a stored row holds for the same raw record: a new or renamed
column, a different parsing, rounding, bound or privacy rule. The stored hashes then
match no record, so the next run rewrites every row once (counted as updated; the
fast path and the merge skip only rows whose hash matches) and is back to
"unchanged" after that. A change that stores exactly the same rows needs no bump."""

PROPERTY_PRIVATE_FIELDS = (
    "ownerName",
    "ownerPhones",
    "ownerEmail",
    "privateRemarks_en",
    "privateRemarks_es",
    "showingInstruction",
    "listingSideComm",
    "sellingSideComm",
    "closeListingCommAmount",
    "closeSellingCommAmount",
)
PRIVATE_ADDRESS_FIELDS = ("unparsedAddress", "postalCode")
PRIVATE_PRICE_FIELDS = ("listPrice", "closePrice")
"""Private together when `listPricePrivateYN` is set: the sale price tells the list price."""
ASSOCIATE_PRIVATE_FIELDS = ("birthDay",)
PROPERTY_REJECT_DROPPED = (
    *PROPERTY_PRIVATE_FIELDS,
    *PRIVATE_ADDRESS_FIELDS,
    *PRIVATE_PRICE_FIELDS,
)
"""Never in a rejected property's payload, which keeps only `PROPERTY_PUBLIC_FIELDS`: the
flags that say whether the address and prices are private may be what is broken."""
PROPERTY_PUBLIC_FIELDS = (
    "listingId", "listingKey", "listingContractType", "listingTitle_en", "listingTitle_es",
    "publicRemarks_en", "publicRemarks_es", "standardStatusId", "listingProbableUseId",
    "propertyTypeId", "propertyGeneralLocationId", "propertyNewYN", "furnishedYN",
    "listingContractDate", "expirationDate", "listingAgreementYN", "countryId",
    "stateDepProvId", "locationId", "latitude", "longitude", "mapId",
    "unparsedAddressPublicYN", "garageYN", "garageCovered", "garageOpen", "garageSpaces",
    "garageNotes", "maidRoomYN", "coolingYN", "coolingNotes", "poolPrivateYN", "viewYN",
    "viewNotes", "bedroomsTotal", "bedroomsNotes", "bathroomsFull", "bathroomsNotes",
    "bathroomsHalf", "bathroomsHalfNotes", "stories", "storiesNotes", "lotSizeArea",
    "lotSizeUnitsId", "constructionSizeLiving", "constructionSizeGarage",
    "constructionSizeUnitsId", "yearBuilt", "associationYN", "associationNotes",
    "gatedCommunityYN", "listPriceCurrencyID", "listPricePrivateYN", "closePriceCurrencyID",
    "closeDate", "videoLink", "member", "listingDate", "constructionSizeTotal",
    "constructionSize", "swimmingPoolNotes", "seo_title", "seo_description", "seo_keywords",
    "officecode",
)  # fmt: skip
"""Every property field known to be public: only these reach the public `raw` (and, with
their flags, the address and price fields). A field nobody has classified — a new one
from the vendor, or a known one in an unknown casing that collides — goes to the
private side."""
ASSOCIATE_PUBLIC_FIELDS = (
    "associateID", "remaxID", "firstName", "lastName", "mobile", "remaxEmail",
    "urlMemberImage", "officeID", "officeName", "officeCountryID", "countryName_en",
    "stateDepProvOffice", "stateDepProv_en", "officeCode",
)  # fmt: skip
"""An agent's public profile (work phone and e-mail included); everything else is private."""
MAX_DEPTH = 16
"""Records nested deeper than this (a listing is 1 level deep) are rejected before any
hashing or validation: every walk over a record is bounded by it."""


HASH_CHUNK_BYTES = 2047
"""hashlib releases the GIL for inputs of 2048 bytes or more; a listing is ~2.4 kB. In a
busy process (page, image and database threads) getting the GIL back costs up to a
switch interval (5 ms) per hash: profiling showed content_hash at ~0.4 ms a record under
load, 2x pydantic. Fed in smaller chunks, the digest is the same and the GIL is kept."""


@functools.cache
def _hash_prefix(version: int) -> bytes:
    return f"rei-sync normaliser v{version}\n".encode()


def content_hash(document: dict[str, Any]) -> str:
    """sha256 of `NORMALISER_VERSION` and the key-sorted JSON, first 32 hex digits (the
    stored `content_hash`, and the fast path's fingerprint: both come from here)."""
    data = memoryview(orjson.dumps(document, option=orjson.OPT_SORT_KEYS))
    digest = hashlib.sha256(_hash_prefix(NORMALISER_VERSION))
    for offset in range(0, len(data), HASH_CHUNK_BYTES):
        digest.update(data[offset : offset + HASH_CHUNK_BYTES])
    return digest.hexdigest()[:32]


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return value.strip().lower() in ("1", "true")
    raise ValueError("expected a bool or 0/1")


def _zone_less(value: Any) -> Any:
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def _drop_zone(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None and value.tzinfo else value


def numeric(precision: int, scale: int) -> Any:
    """A non-negative number a Postgres `numeric(precision, scale)` column holds: rounded
    to `scale` places as Postgres would (half away from zero), below 10^(precision-scale)
    after rounding; anything else is a validation error."""
    limit = Decimal(10) ** (precision - scale)
    step = Decimal(1).scaleb(-scale)

    def check(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise ValueError("expected a number, got a bool")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if number.is_finite() and 0 <= number < limit:
            number = number.quantize(step, rounding=ROUND_HALF_UP)
            if number < limit:
                return number
        raise ValueError(f"absurd value (must be at least 0 and below {limit:.0e})")

    return BeforeValidator(check)


def _text(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string")
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"string longer than {MAX_TEXT_CHARS} characters")
    return value


def _plain_id(value: Any) -> Any:
    """An id is an integer or a string of plain ASCII digits: not a bool, not " 13",
    "+14" or "²" (which pydantic's lax mode or `str.isdigit()` would take)."""
    if isinstance(value, bool):
        raise ValueError("expected an integer id, got a bool")
    if isinstance(value, str) and value != "" and not ASCII_DIGITS.fullmatch(value):
        raise ValueError("expected an id of plain ASCII digits")
    return value


def _web_url(value: Any) -> Any:
    """http/https with a host only: a website puts this in `src` (no `javascript:`)."""
    value = _text(value)
    if value:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("only http and https URLs are stored")
    return value


Flag = Annotated[bool | None, BeforeValidator(_flag)]
WebUrl = Annotated[str | None, BeforeValidator(_web_url)]
Key = Annotated[int, BeforeValidator(_plain_id), Field(ge=1, le=MAX_BIGINT)]
Text = Annotated[str | None, BeforeValidator(_text)]
Money = Annotated[Decimal | None, numeric(18, 2)]
"""A `Numeric(18, 2)` column: prices, closing commission amounts."""
Size = Annotated[Decimal | None, numeric(18, 2)]
"""A `Numeric(18, 2)` column: lot and construction sizes."""
Commission = Annotated[Decimal | None, numeric(18, 4)]
"""A `Numeric(18, 4)` column: listing/selling side commissions."""
MAX_COUNT = 10_000
Count = Annotated[int | None, Field(ge=0, le=MAX_COUNT)]
"""Rooms: an `Integer` column, bounded tighter on purpose (more is a broken record)."""
Id = Annotated[int | None, Field(ge=0, le=MAX_BIGINT), BeforeValidator(_plain_id)]
"""An id in a `BigInteger` column."""
Id32 = Annotated[int | None, Field(ge=0, le=MAX_INT), BeforeValidator(_plain_id)]
"""An id in an `Integer` column (catalogue values: contract type, status, units...)."""
LocalDate = Annotated[datetime | None, BeforeValidator(_zone_less)]


class PropertyRecord(BaseModel):
    """The public, typed view of a property. Field aliases are the API's names."""

    model_config = ConfigDict(extra="ignore", strict=False)

    listing_id: Key = Field(alias="listingId")
    listing_key: Text = Field(None, alias="listingKey")
    title_en: Text = Field(None, alias="listingTitle_en")
    title_es: Text = Field(None, alias="listingTitle_es")
    contract_type_id: Id32 = Field(None, alias="listingContractType")
    status_id: Id32 = Field(None, alias="standardStatusId")
    probable_use_id: Id32 = Field(None, alias="listingProbableUseId")
    property_type_id: Id32 = Field(None, alias="propertyTypeId")
    general_location_id: Id32 = Field(None, alias="propertyGeneralLocationId")
    list_price: Money = Field(None, alias="listPrice")
    list_price_currency_id: Id32 = Field(None, alias="listPriceCurrencyID")
    list_price_private: Flag = Field(None, alias="listPricePrivateYN")
    address_public: Flag = Field(None, alias="unparsedAddressPublicYN")
    bedrooms: Count = Field(None, alias="bedroomsTotal")
    bathrooms_full: Count = Field(None, alias="bathroomsFull")
    bathrooms_half: Count = Field(None, alias="bathroomsHalf")
    lot_size: Size = Field(None, alias="lotSizeArea")
    lot_size_units_id: Id32 = Field(None, alias="lotSizeUnitsId")
    construction_size: Size = Field(None, alias="constructionSize")
    construction_size_units_id: Id32 = Field(None, alias="constructionSizeUnitsId")
    country_id: Id = Field(None, alias="countryId")
    state_id: Id = Field(None, alias="stateDepProvId")
    location_id: Id = Field(None, alias="locationId")
    listing_date: LocalDate = Field(None, alias="listingDate")
    listing_contract_date: LocalDate = Field(None, alias="listingContractDate")
    expiration_date: LocalDate = Field(None, alias="expirationDate")
    close_date: LocalDate = Field(None, alias="closeDate")
    agent_id: Id = Field(None, alias="member")
    office_code: Text = Field(None, alias="officecode")
    remarks_en: Text = Field(None, alias="publicRemarks_en")
    remarks_es: Text = Field(None, alias="publicRemarks_es")
    furnished: Flag = Field(None, alias="furnishedYN")
    maid_room: Flag = Field(None, alias="maidRoomYN")
    listing_agreement: Flag = Field(None, alias="listingAgreementYN")
    cooling: Flag = Field(None, alias="coolingYN")
    pool_private: Flag = Field(None, alias="poolPrivateYN")


class PropertyPrivateRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    owner_name: Text = Field(None, alias="ownerName")
    owner_phones: Text = Field(None, alias="ownerPhones")
    owner_email: Text = Field(None, alias="ownerEmail")
    private_remarks_en: Text = Field(None, alias="privateRemarks_en")
    private_remarks_es: Text = Field(None, alias="privateRemarks_es")
    showing_instruction: Text = Field(None, alias="showingInstruction")
    listing_side_comm: Commission = Field(None, alias="listingSideComm")
    selling_side_comm: Commission = Field(None, alias="sellingSideComm")
    close_listing_comm_amount: Money = Field(None, alias="closeListingCommAmount")
    close_selling_comm_amount: Money = Field(None, alias="closeSellingCommAmount")


class AssociateRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    associate_id: Key = Field(alias="associateID")
    remax_id: Text = Field(None, alias="remaxID")
    first_name: Text = Field(None, alias="firstName")
    last_name: Text = Field(None, alias="lastName")
    mobile: Text = Field(None, alias="mobile")
    email: Text = Field(None, alias="remaxEmail")
    image_url: WebUrl = Field(None, alias="urlMemberImage")
    office_id: Id = Field(None, alias="officeID")
    office_name: Text = Field(None, alias="officeName")
    office_code: Text = Field(None, alias="officeCode")
    country_id: Id = Field(None, alias="officeCountryID")


def coordinate(value: Any, limit: int) -> Decimal | None:
    """A coordinate string → numeric(10,7), or None when empty, garbage or out of range."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > limit:
        return None
    return number.quantize(Decimal("0.0000001"))


def undecodable(raw: Undecodable) -> Reject:
    """The reject of a record a salvaged page could not decode: its length only."""
    return Reject(raw.source_id, raw.reason, {"length": raw.length})


def not_an_object(raw: Any) -> Reject:
    """The reject of a record that is not an object: its payload is the type and length only
    (a list or string can hold anything, private values included)."""
    kind = type(raw).__name__
    length = len(raw) if isinstance(raw, str | bytes | list | tuple | dict) else None
    return Reject(None, f"record is a {kind}, not an object", {"type": kind, "length": length})


@dataclass(frozen=True)
class Fields:
    """A record's fields by what the normaliser knows of them (names as documented)."""

    known: dict[str, Any]
    """Known fields, under their documented names whatever casing the record used."""
    unknown: tuple[str, ...]
    """Fields nobody has classified, as the record named them: private, counted."""
    problem: str | None = None
    """Why the record cannot be classified (a public field twice, in two casings)."""


TEXT_FIELDS = frozenset(
    {
        "listingKey", "listingTitle_en", "listingTitle_es", "publicRemarks_en",
        "publicRemarks_es", "listingContractDate", "expirationDate", "closeDate",
        "listingDate", "videoLink", "seo_title", "seo_description", "seo_keywords",
        "officecode", "unparsedAddress", "postalCode", "ownerName", "ownerPhones", "ownerEmail",
        "privateRemarks_en", "privateRemarks_es", "showingInstruction", "remaxID", "firstName",
        "lastName", "mobile", "remaxEmail", "urlMemberImage", "officeName", "countryName_en",
        "stateDepProv_en", "officeCode", "birthDay",
    }
)  # fmt: skip
TEXT: tuple[type, ...] = (str,)
NUMBER: tuple[type, ...] = (int, float)
FLAG: tuple[type, ...] = (bool, int)
COORDINATE: tuple[type, ...] = (str, int, float)


def _expected(name: str) -> tuple[type, ...]:
    """The JSON types a known field arrives as (null is always fine)."""
    if name.endswith("YN"):
        return FLAG
    if name in ("latitude", "longitude"):
        return COORDINATE
    return TEXT if name in TEXT_FIELDS or name.endswith("Notes") else NUMBER


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """What the normaliser knows of one entity's fields."""

    names: dict[str, str]
    """Lower-cased name → documented name, for every classified field."""
    documented: frozenset[str]
    public: frozenset[str]
    """Fields public whatever a flag says."""
    expected: dict[str, tuple[type, ...]]
    """Documented name → the JSON types it arrives as."""
    allowed: frozenset[tuple[str, type]]
    """Every (documented name, exact type) a record may carry, null included."""


def vocabulary(public: tuple[str, ...], *private: tuple[str, ...]) -> Vocabulary:
    names = {name.lower(): name for group in (public, *private) for name in group}
    expected = {name: _expected(name) for name in names.values()}
    allowed = frozenset(
        (name, kind) for name, kinds in expected.items() for kind in (*kinds, type(None))
    )
    return Vocabulary(names, frozenset(names.values()), frozenset(public), expected, allowed)


def classify(raw: dict[str, Any], vocab: Vocabulary) -> Fields:
    """Match `raw`'s field names case-insensitively against `names` (lower → documented).

    Fast path: a record whose every name is documented as spelled is its own `known`
    (set operations on the keys, no per-field Python work)."""
    names = vocab.names
    documented = vocab.documented
    extra = raw.keys() - documented
    if not extra:
        return Fields(raw, ())
    known = {k: v for k, v in raw.items() if k in documented}
    unknown: list[str] = []
    for key in extra:
        name = names.get(key.lower()) if isinstance(key, str) else None
        if name is None:
            unknown.append(str(key))
        elif name in known and name in vocab.public:
            return Fields(known, tuple(unknown), f"{name}: appears twice (different casing)")
        elif name in known:
            unknown.append(key)  # a private field twice: both copies stay private
        else:
            known[name] = raw[key]
    return Fields(known, tuple(unknown))


PROPERTY_FIELDS = vocabulary(
    PROPERTY_PUBLIC_FIELDS, PROPERTY_PRIVATE_FIELDS, PRIVATE_ADDRESS_FIELDS, PRIVATE_PRICE_FIELDS
)
ASSOCIATE_FIELDS = vocabulary(ASSOCIATE_PUBLIC_FIELDS, ASSOCIATE_PRIVATE_FIELDS)


def drift(known: dict[str, Any], unknown: tuple[str, ...], vocab: Vocabulary) -> Drift | None:
    """Unknown fields, known fields absent, and known fields of another JSON type (a bool
    where a number belongs counts too). Fast path in C: the record's (name, type) pairs
    are a subset of the allowed ones and it names every known field."""
    pairs = set(zip(known, map(type, known.values()), strict=True))
    retyped: tuple[str, ...] = ()
    if not pairs <= vocab.allowed:
        retyped = tuple(sorted(name for name, kind in pairs - vocab.allowed))
    missing: tuple[str, ...] = ()
    if len(known) < len(vocab.expected):
        missing = tuple(name for name in vocab.expected if name not in known)
    if not (unknown or missing or retyped):
        return None
    return Drift(unknown, missing, retyped)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests containers more than `limit` levels deep (iterative: a
    hostile 100,000-level document costs no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _nested(raw: dict[str, Any]) -> bool:
    """A cheap pre-check: only a record with a container value can be too deep."""
    types = set(map(type, raw.values()))
    return dict in types or list in types or len(types - PLAIN_TYPES) > 0


PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


TOO_DEEP = f"record: nested deeper than {MAX_DEPTH} levels"


def normalise_property(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return undecodable(raw) if isinstance(raw, Undecodable) else not_an_object(raw)
    if _nested(raw) and too_deep(raw):
        return Reject(_source_id(raw, "listingId"), TOO_DEEP, _public_only(raw, PROPERTY_FIELDS))
    fields = classify(raw, PROPERTY_FIELDS)
    known = fields.known
    source_id = _source_id(known, "listingId")
    if fields.problem:
        return Reject(source_id, fields.problem, _public_only(raw, PROPERTY_FIELDS))
    problem = _unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, _public_only(raw, PROPERTY_FIELDS))
    try:
        record = PropertyRecord.model_validate(known)
        private_record = PropertyPrivateRecord.model_validate(known)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), _public_only(raw, PROPERTY_FIELDS))
    public_keys = _property_public_keys(record.address_public, record.list_price_private)
    public_raw = {k: v for k, v in known.items() if k in public_keys}
    private_raw = _private_side(raw, known, public_keys, fields.unknown)
    latitude = coordinate(known.get("latitude"), 90)
    longitude = coordinate(known.get("longitude"), 180)
    invalid = sum(
        1
        for value, parsed in (
            (known.get("latitude"), latitude),
            (known.get("longitude"), longitude),
        )
        if value not in (None, "") and parsed is None
    )
    typed = record.model_dump()
    typed["listing_date"] = _drop_zone(record.listing_date)
    typed["latitude"] = latitude
    typed["longitude"] = longitude
    if record.list_price_private:
        typed["list_price"] = None
    public = {column: typed[column] for column in PROPERTY_COLUMNS}
    return Row(
        source_id=record.listing_id,
        public=public,
        raw=public_raw,
        content_hash=content_hash(public_raw),
        private=private_record.model_dump(),
        private_raw=private_raw,
        private_hash=content_hash(private_raw),
        invalid_coordinates=invalid,
        drift=drift(known, fields.unknown, PROPERTY_FIELDS),
    )


def _private_side(
    raw: dict[str, Any], known: dict[str, Any], public: frozenset[str], unknown: tuple[str, ...]
) -> dict[str, Any]:
    """Known private fields under their documented names, unknown ones as they came."""
    private = {k: v for k, v in known.items() if k not in public}
    for key in unknown:
        private[key] = raw[key]
    return private


def _public_only(raw: dict[str, Any], vocab: Vocabulary) -> dict[str, Any]:
    """A reject's payload: only fields public whatever a flag says (the flags that would
    make the address or price public may be what is broken)."""
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        name = vocab.names.get(key.lower()) if isinstance(key, str) else None
        if name in vocab.public:
            kept[key] = value
    return kept


Fingerprint = tuple[int, str, str]
"""(source id, content hash, private hash) of a raw record, as its normalised `Row` has them."""


@functools.cache
def _property_public_keys(
    address_public: bool | None, price_private: bool | None
) -> frozenset[str]:
    keys = set(PROPERTY_PUBLIC_FIELDS)
    if address_public is True:
        keys.update(PRIVATE_ADDRESS_FIELDS)
    if not price_private:
        keys.update(PRIVATE_PRICE_FIELDS)
    return frozenset(keys)


def _raw_id(raw: dict[str, Any], field: str) -> int | None:
    value = raw.get(field)
    if type(value) is not int or not 1 <= value <= MAX_BIGINT:
        return None
    return value


def property_fingerprint(raw: Any) -> Fingerprint | None:
    """The id and both hashes `normalise_property(raw)` would give, without validating.

    Cheap (no pydantic): the no-change path compares it with the stored hashes and
    normalises only the records that differ. `None` when the record is not plainly
    well-formed (no integer id, a flag that would not validate, nesting, a field in
    two casings): normalise it to know.
    """
    if not isinstance(raw, dict) or _nested(raw):
        return None
    fields = classify(raw, PROPERTY_FIELDS)
    known = fields.known
    source_id = _raw_id(known, "listingId")
    if source_id is None or fields.problem:
        return None
    try:
        address_public = _flag(known.get("unparsedAddressPublicYN"))
        price_private = _flag(known.get("listPricePrivateYN"))
    except ValueError:
        return None
    public_keys = _property_public_keys(address_public, price_private)
    public_raw = {k: v for k, v in known.items() if k in public_keys}
    private_raw = _private_side(raw, known, public_keys, fields.unknown)
    try:
        return source_id, content_hash(public_raw), content_hash(private_raw)
    except TypeError:
        return None


def associate_fingerprint(raw: Any) -> Fingerprint | None:
    """As `property_fingerprint`, for associates."""
    if not isinstance(raw, dict) or _nested(raw):
        return None
    fields = classify(raw, ASSOCIATE_FIELDS)
    source_id = _raw_id(fields.known, "associateID")
    if source_id is None or fields.problem:
        return None
    public_raw = {k: v for k, v in fields.known.items() if k in ASSOCIATE_FIELDS.public}
    private_raw = _private_side(raw, fields.known, ASSOCIATE_FIELDS.public, fields.unknown)
    try:
        return source_id, content_hash(public_raw), content_hash(private_raw)
    except TypeError:
        return None


def normalise_associate(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return undecodable(raw) if isinstance(raw, Undecodable) else not_an_object(raw)
    if _nested(raw) and too_deep(raw):
        return Reject(_source_id(raw, "associateID"), TOO_DEEP, _public_only(raw, ASSOCIATE_FIELDS))
    fields = classify(raw, ASSOCIATE_FIELDS)
    known = fields.known
    source_id = _source_id(known, "associateID")
    problem = fields.problem or _unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, _public_only(raw, ASSOCIATE_FIELDS))
    try:
        record = AssociateRecord.model_validate(known)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), _public_only(raw, ASSOCIATE_FIELDS))
    public_raw = {k: v for k, v in known.items() if k in ASSOCIATE_FIELDS.public}
    private_raw = _private_side(raw, known, ASSOCIATE_FIELDS.public, fields.unknown)
    typed = record.model_dump()
    birthday = known.get("birthDay")
    return Row(
        source_id=record.associate_id,
        public={column: typed[column] for column in ASSOCIATE_COLUMNS},
        raw=public_raw,
        content_hash=content_hash(public_raw),
        private={"birthday": None if birthday is None else str(birthday)[:64]},
        private_raw=private_raw,
        private_hash=content_hash(private_raw),
        drift=drift(known, fields.unknown, ASSOCIATE_FIELDS),
    )


def _source_id(raw: dict[str, Any], field: str) -> str | None:
    value = raw.get(field)
    return None if value is None else str(value)[:64]


def _unstorable_text(raw: dict[str, Any]) -> str | None:
    """What Postgres text/jsonb or the content hash cannot hold, anywhere in the record (nested
    values and keys too): NUL, lone surrogates, integers beyond 64 bits. Such a record is
    rejected, not crashed on.

    Fast path: orjson refuses lone surrogates, non-text keys and (with
    OPT_STRICT_INTEGER) integers beyond 53 bits, and writes a NUL as `\\u0000`; a record
    it encodes without any of these is storable. Anything else takes the exact walk,
    which names the offending field (a backslash + "u0000" in text only costs the walk)."""
    try:
        encoded = orjson.dumps(raw, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return unstorable(raw)
    return unstorable(raw) if b"\\u0000" in encoded else None


def unstorable(value: Any, where: str = "") -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where or 'record'}: contains a NUL byte"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where or 'record'}: text is not valid Unicode"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value <= MAX_BIGINT:
            return f"{where or 'record'}: integer out of the 64-bit range"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            problem = unstorable(key, name) if isinstance(key, str) else None
            problem = problem or unstorable(item, name)
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = unstorable(item, f"{where}[{index}]")
            if problem:
                return problem
    return None


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"
