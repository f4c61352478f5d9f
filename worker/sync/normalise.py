"""Raw API records → typed rows (public + private) with a content hash, or a reject with a reason.

Choices, documented once:
- Coordinates arrive as strings (sometimes empty/null/garbage): parsed to numeric,
  anything unparsable or out of range becomes NULL (counted, not rejected).
- `…YN` flags arrive as bools or 0/1: both become bool.
- Dates arrive zone-less (`YYYY-MM-DDTHH:MM:SS`, the office's local time): stored
  as `timestamp without time zone`, exactly as given. A zone, if ever sent, is dropped
  after keeping the wall-clock time.
- Private fields (owner contact, private remarks, showing instructions,
  commissions; a private price or address; an associate's birthday) leave the
  public row *and* its `raw`: they live only in the private table.
- The content hash covers the public `raw` (private fields have their own hash)
  and `NORMALISER_VERSION`, so a change anywhere in the public payload is seen, and
  so is a change to how records are normalised; nothing else is.
- Every typed field is bounded by its column (`migrations/`): an `Integer` column
  gets `Id32`, a `BigInteger` one `Id`, a `Numeric(p, s)` one `numeric(p, s)`, so a
  value the column cannot hold is a reject, never a failed COPY
  (`tests/integration/test_column_bounds.py` checks them against a migrated database).
- A reject's payload never holds a private value: every field that *can* be private
  (the address and price too, whatever their flags say) is left out, and a record
  that is not an object is kept as its type and length only.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

MAX_TEXT_CHARS = 65_535
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


NORMALISER_VERSION = 1
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
PRIVATE_PRICE_FIELDS = ("listPrice",)
ASSOCIATE_PRIVATE_FIELDS = ("birthDay",)
PROPERTY_REJECT_DROPPED = (
    *PROPERTY_PRIVATE_FIELDS,
    *PRIVATE_ADDRESS_FIELDS,
    *PRIVATE_PRICE_FIELDS,
)
"""Left out of a rejected property's payload: every field that may be private. The flags
that say whether the address and price are private may be what is broken, so both are
always treated as private there."""


@dataclass(frozen=True)
class Row:
    """One normalised record: typed public columns, optional private columns, both hashed."""

    source_id: int
    public: dict[str, Any]
    raw: dict[str, Any]
    content_hash: str
    private: dict[str, Any] | None = None
    private_raw: dict[str, Any] | None = None
    private_hash: str | None = None
    invalid_coordinates: int = 0
    scope_id: int | None = None
    """The parent id that is part of the key (an image's listing, a lookup value's catalogue)."""


@dataclass(frozen=True)
class Reject:
    source_id: str | None
    reason: str
    payload: Any


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


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer id, got a bool")
    return value


Flag = Annotated[bool | None, BeforeValidator(_flag)]
Key = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=MAX_BIGINT)]
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
Id = Annotated[int | None, Field(ge=0, le=MAX_BIGINT)]
"""An id in a `BigInteger` column."""
Id32 = Annotated[int | None, Field(ge=0, le=MAX_INT)]
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
    image_url: Text = Field(None, alias="urlMemberImage")
    office_id: Id = Field(None, alias="officeID")
    office_name: Text = Field(None, alias="officeName")
    office_code: Text = Field(None, alias="officeCode")
    country_id: Id = Field(None, alias="officeCountryID")


PROPERTY_COLUMNS = (
    "listing_key",
    "title_en",
    "title_es",
    "contract_type_id",
    "status_id",
    "probable_use_id",
    "property_type_id",
    "general_location_id",
    "list_price",
    "list_price_currency_id",
    "bedrooms",
    "bathrooms_full",
    "bathrooms_half",
    "lot_size",
    "lot_size_units_id",
    "construction_size",
    "construction_size_units_id",
    "country_id",
    "state_id",
    "location_id",
    "latitude",
    "longitude",
    "listing_date",
    "agent_id",
    "office_code",
)
PROPERTY_PRIVATE_COLUMNS = tuple(PropertyPrivateRecord.model_fields)
ASSOCIATE_COLUMNS = tuple(f for f in AssociateRecord.model_fields if f != "associate_id")
ASSOCIATE_PRIVATE_COLUMNS = ("birthday",)


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


def not_an_object(raw: Any) -> Reject:
    """The reject of a record that is not an object: its payload is the type and length only
    (a list or string can hold anything, private values included)."""
    kind = type(raw).__name__
    length = len(raw) if isinstance(raw, str | bytes | list | tuple | dict) else None
    return Reject(None, f"record is a {kind}, not an object", {"type": kind, "length": length})


def normalise_property(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return not_an_object(raw)
    source_id = _source_id(raw, "listingId")
    problem = _unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, _strip(raw, PROPERTY_REJECT_DROPPED))
    try:
        record = PropertyRecord.model_validate(raw)
        private_record = PropertyPrivateRecord.model_validate(raw)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), _strip(raw, PROPERTY_REJECT_DROPPED))
    private_keys = _property_private_keys(record.address_public, record.list_price_private)
    public_raw = _strip(raw, private_keys)
    private_raw = {k: raw.get(k) for k in private_keys if k in raw}
    latitude = coordinate(raw.get("latitude"), 90)
    longitude = coordinate(raw.get("longitude"), 180)
    invalid = sum(
        1
        for value, parsed in ((raw.get("latitude"), latitude), (raw.get("longitude"), longitude))
        if value not in (None, "") and parsed is None
    )
    fields = record.model_dump()
    fields["listing_date"] = _drop_zone(record.listing_date)
    fields["latitude"] = latitude
    fields["longitude"] = longitude
    if record.list_price_private:
        fields["list_price"] = None
    public = {column: fields[column] for column in PROPERTY_COLUMNS}
    return Row(
        source_id=record.listing_id,
        public=public,
        raw=public_raw,
        content_hash=content_hash(public_raw),
        private=private_record.model_dump(),
        private_raw=private_raw,
        private_hash=content_hash(private_raw),
        invalid_coordinates=invalid,
    )


Fingerprint = tuple[int, str, str]
"""(source id, content hash, private hash) of a raw record, as its normalised `Row` has them."""


def _property_private_keys(address_public: bool | None, price_private: bool | None) -> list[str]:
    keys = list(PROPERTY_PRIVATE_FIELDS)
    if address_public is not True:
        keys.extend(PRIVATE_ADDRESS_FIELDS)
    if price_private:
        keys.extend(PRIVATE_PRICE_FIELDS)
    return keys


def _raw_id(raw: dict[str, Any], field: str) -> int | None:
    value = raw.get(field)
    if type(value) is not int or not 1 <= value <= MAX_BIGINT:
        return None
    return value


def property_fingerprint(raw: Any) -> Fingerprint | None:
    """The id and both hashes `normalise_property(raw)` would give, without validating.

    Cheap (no pydantic): the no-change path compares it with the stored hashes and
    normalises only the records that differ. `None` when the record is not plainly
    well-formed (no integer id, a flag that would not validate): normalise it to know.
    """
    if not isinstance(raw, dict):
        return None
    source_id = _raw_id(raw, "listingId")
    if source_id is None:
        return None
    try:
        address_public = _flag(raw.get("unparsedAddressPublicYN"))
        price_private = _flag(raw.get("listPricePrivateYN"))
    except ValueError:
        return None
    private_keys = _property_private_keys(address_public, price_private)
    private_raw = {k: raw[k] for k in private_keys if k in raw}
    return source_id, content_hash(_strip(raw, private_keys)), content_hash(private_raw)


def associate_fingerprint(raw: Any) -> Fingerprint | None:
    """As `property_fingerprint`, for associates."""
    if not isinstance(raw, dict):
        return None
    source_id = _raw_id(raw, "associateID")
    if source_id is None:
        return None
    private_raw = {k: raw[k] for k in ASSOCIATE_PRIVATE_FIELDS if k in raw}
    return source_id, content_hash(_strip(raw, ASSOCIATE_PRIVATE_FIELDS)), content_hash(private_raw)


def normalise_associate(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return not_an_object(raw)
    source_id = _source_id(raw, "associateID")
    problem = _unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, _strip(raw, ASSOCIATE_PRIVATE_FIELDS))
    try:
        record = AssociateRecord.model_validate(raw)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), _strip(raw, ASSOCIATE_PRIVATE_FIELDS))
    public_raw = _strip(raw, ASSOCIATE_PRIVATE_FIELDS)
    private_raw = {k: raw.get(k) for k in ASSOCIATE_PRIVATE_FIELDS if k in raw}
    fields = record.model_dump()
    birthday = raw.get("birthDay")
    return Row(
        source_id=record.associate_id,
        public={column: fields[column] for column in ASSOCIATE_COLUMNS},
        raw=public_raw,
        content_hash=content_hash(public_raw),
        private={"birthday": None if birthday is None else str(birthday)[:64]},
        private_raw=private_raw,
        private_hash=content_hash(private_raw),
    )


def _strip(raw: dict[str, Any], keys: list[str] | tuple[str, ...]) -> dict[str, Any]:
    drop = set(keys)
    return {k: v for k, v in raw.items() if k not in drop}


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
