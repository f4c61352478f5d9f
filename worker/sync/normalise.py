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

from pydantic import ValidationError

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
from worker.sync.models import AssociateRecord, PropertyPrivateRecord, PropertyRecord
from worker.sync.strict import Split, strict_associate, strict_property

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
    "Split",
    "Text",
    "Vocabulary",
    "WebUrl",
    "ascii_int",
    "associate_fingerprint",
    "checked_associate",
    "checked_property",
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
    "strict_associate",
    "strict_property",
    "too_deep",
    "undecodable",
    "unstorable",
    "vocabulary",
]


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
    """`raw` as a row, or a reject: by the strict path (`sync/strict.py`) when it takes
    the record, else by the checked path, which gives every reject its reason."""
    split = strict_property(raw)
    if split is None:
        checked = checked_property(raw)
        if isinstance(checked, Reject):
            return checked
        split = checked
    return row_of(split)


def row_of(split: Split) -> Row:
    """The row of a split record: its parts and their content hashes."""
    return Row(
        source_id=split.source_id,
        public=split.public,
        raw=split.raw,
        content_hash=content_hash(split.raw),
        private=split.private,
        private_raw=split.private_raw,
        private_hash=content_hash(split.private_raw),
        invalid_coordinates=split.invalid_coordinates,
        drift=split.drift,
    )


def checked_property(raw: Any) -> Split | Reject:
    """The checked path: any record, validated by the pydantic models."""
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
    return Split(
        record.listing_id,
        public,
        public_raw,
        private_record.model_dump(),
        private_raw,
        invalid,
        drift(known, fields.unknown, PROPERTY_FIELDS),
    )


def normalise_associate(raw: Any) -> Row | Reject:
    """As `normalise_property`, for an associate."""
    split = strict_associate(raw)
    if split is None:
        checked = checked_associate(raw)
        if isinstance(checked, Reject):
            return checked
        split = checked
    return row_of(split)


def checked_associate(raw: Any) -> Split | Reject:
    """The checked path for an associate: any record, validated by `AssociateRecord`."""
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
    return Split(
        record.associate_id,
        {column: typed[column] for column in ASSOCIATE_COLUMNS},
        public_raw,
        {"birthday": None if birthday is None else str(birthday)[:64]},
        private_raw,
        0,
        drift(known, fields.unknown, ASSOCIATE_FIELDS),
    )


def _source_id(raw: dict[str, Any], field: str) -> str | None:
    value = raw.get(field)
    return None if value is None else str(value)[:64]


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    extra = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{extra}"
