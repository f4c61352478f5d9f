"""Raw API records → typed rows (public + private) with a content hash, or a reject with a reason.

Choices, documented once: how raw values are coerced and bounded by their columns in
`sync/coerce.py`; which fields are public, private or unknown, drift and nesting in
`sync/fields.py`. Here:
- The content hash covers the public `raw` (private fields have their own hash)
  and `NORMALISER_VERSION`, so a change anywhere in the public payload is seen, and
  so is a change to how records are normalised; nothing else is.
- A reject's payload never holds a private value: it keeps only the fields public
  whatever a flag says (the address and prices are left out), and a record that is
  not an object is kept as its type and length only.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.api.salvage import Undecodable
from worker.db.schema import ASSOCIATE_COLUMNS, PROPERTY_COLUMNS, Reject, Row
from worker.sync.coerce import (
    ASCII_DIGITS,
    MAX_BIGINT,
    MAX_COUNT,
    MAX_INT,
    MAX_INT_DIGITS,
    MAX_TEXT_CHARS,
    Commission,
    Count,
    Flag,
    Id,
    Id32,
    Key,
    LocalDate,
    Money,
    Size,
    Text,
    WebUrl,
    ascii_int,
    coordinate,
    drop_zone,
    numeric,
    source_key,
    unstorable,
    unstorable_text,
)
from worker.sync.fields import (
    ASSOCIATE_FIELDS,
    ASSOCIATE_PRIVATE_FIELDS,
    ASSOCIATE_PUBLIC_FIELDS,
    COORDINATE,
    FLAG,
    MAX_DEPTH,
    NUMBER,
    PLAIN_TYPES,
    PRIVATE_ADDRESS_FIELDS,
    PRIVATE_PRICE_FIELDS,
    PROPERTY_FIELDS,
    PROPERTY_PRIVATE_FIELDS,
    PROPERTY_PUBLIC_FIELDS,
    PROPERTY_REJECT_DROPPED,
    TEXT,
    TEXT_FIELDS,
    TOO_DEEP,
    Fields,
    Vocabulary,
    classify,
    drift,
    nested,
    private_side,
    property_public_keys,
    public_only,
    too_deep,
    vocabulary,
)
from worker.sync.hashing import (
    HASH_CHUNK_BYTES,
    NORMALISER_VERSION,
    Fingerprint,
    associate_fingerprint,
    content_hash,
    property_fingerprint,
)

__all__ = [
    "ASCII_DIGITS",
    "ASSOCIATE_FIELDS",
    "ASSOCIATE_PRIVATE_FIELDS",
    "ASSOCIATE_PUBLIC_FIELDS",
    "COORDINATE",
    "FLAG",
    "HASH_CHUNK_BYTES",
    "MAX_BIGINT",
    "MAX_COUNT",
    "MAX_DEPTH",
    "MAX_INT",
    "MAX_INT_DIGITS",
    "MAX_TEXT_CHARS",
    "NORMALISER_VERSION",
    "NUMBER",
    "PLAIN_TYPES",
    "PRIVATE_ADDRESS_FIELDS",
    "PRIVATE_PRICE_FIELDS",
    "PROPERTY_FIELDS",
    "PROPERTY_PRIVATE_FIELDS",
    "PROPERTY_PUBLIC_FIELDS",
    "PROPERTY_REJECT_DROPPED",
    "TEXT",
    "TEXT_FIELDS",
    "TOO_DEEP",
    "AssociateRecord",
    "Commission",
    "Count",
    "Fields",
    "Fingerprint",
    "Flag",
    "Id",
    "Id32",
    "Key",
    "LocalDate",
    "Money",
    "PropertyPrivateRecord",
    "PropertyRecord",
    "Size",
    "Text",
    "Vocabulary",
    "WebUrl",
    "ascii_int",
    "associate_fingerprint",
    "classify",
    "content_hash",
    "coordinate",
    "drift",
    "normalise_associate",
    "normalise_property",
    "not_an_object",
    "numeric",
    "property_fingerprint",
    "source_key",
    "too_deep",
    "undecodable",
    "unstorable",
    "vocabulary",
]


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


def undecodable(raw: Undecodable) -> Reject:
    """The reject of a record a salvaged page could not decode: its length only."""
    return Reject(raw.source_id, raw.reason, {"length": raw.length})


def not_an_object(raw: Any) -> Reject:
    """The reject of a record that is not an object: its payload is the type and length only
    (a list or string can hold anything, private values included)."""
    kind = type(raw).__name__
    length = len(raw) if isinstance(raw, str | bytes | list | tuple | dict) else None
    return Reject(None, f"record is a {kind}, not an object", {"type": kind, "length": length})


def normalise_property(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return undecodable(raw) if isinstance(raw, Undecodable) else not_an_object(raw)
    if nested(raw) and too_deep(raw):
        return Reject(_source_id(raw, "listingId"), TOO_DEEP, public_only(raw, PROPERTY_FIELDS))
    fields = classify(raw, PROPERTY_FIELDS)
    known = fields.known
    source_id = _source_id(known, "listingId")
    if fields.problem:
        return Reject(source_id, fields.problem, public_only(raw, PROPERTY_FIELDS))
    problem = unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, public_only(raw, PROPERTY_FIELDS))
    try:
        record = PropertyRecord.model_validate(known)
        private_record = PropertyPrivateRecord.model_validate(known)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), public_only(raw, PROPERTY_FIELDS))
    public_keys = property_public_keys(record.address_public, record.list_price_private)
    public_raw = {k: v for k, v in known.items() if k in public_keys}
    private_raw = private_side(raw, known, public_keys, fields.unknown)
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
    typed["listing_date"] = drop_zone(record.listing_date)
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


def normalise_associate(raw: Any) -> Row | Reject:
    if not isinstance(raw, dict):
        return undecodable(raw) if isinstance(raw, Undecodable) else not_an_object(raw)
    if nested(raw) and too_deep(raw):
        return Reject(_source_id(raw, "associateID"), TOO_DEEP, public_only(raw, ASSOCIATE_FIELDS))
    fields = classify(raw, ASSOCIATE_FIELDS)
    known = fields.known
    source_id = _source_id(known, "associateID")
    problem = fields.problem or unstorable_text(raw)
    if problem:
        return Reject(source_id, problem, public_only(raw, ASSOCIATE_FIELDS))
    try:
        record = AssociateRecord.model_validate(known)
    except ValidationError as exc:
        return Reject(source_id, _reason(exc), public_only(raw, ASSOCIATE_FIELDS))
    public_raw = {k: v for k, v in known.items() if k in ASSOCIATE_FIELDS.public}
    private_raw = private_side(raw, known, ASSOCIATE_FIELDS.public, fields.unknown)
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


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"
