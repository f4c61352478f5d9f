"""Which fields a record has, by what the normaliser knows of them: public, private, unknown.

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
- A reject's payload keeps only the fields public whatever a flag says (`public_only`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from worker.db.schema import Drift

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


def nested(raw: dict[str, Any]) -> bool:
    """A cheap pre-check: only a record with a container value can be too deep."""
    types = set(map(type, raw.values()))
    return dict in types or list in types or len(types - PLAIN_TYPES) > 0


PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


TOO_DEEP = f"record: nested deeper than {MAX_DEPTH} levels"


def private_side(
    raw: dict[str, Any], known: dict[str, Any], public: frozenset[str], unknown: tuple[str, ...]
) -> dict[str, Any]:
    """Known private fields under their documented names, unknown ones as they came."""
    private = {k: v for k, v in known.items() if k not in public}
    for key in unknown:
        private[key] = raw[key]
    return private


def public_only(raw: dict[str, Any], vocab: Vocabulary) -> dict[str, Any]:
    """A reject's payload: only fields public whatever a flag says (the flags that would
    make the address or price public may be what is broken)."""
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        name = vocab.names.get(key.lower()) if isinstance(key, str) else None
        if name in vocab.public:
            kept[key] = value
    return kept


@functools.cache
def property_public_keys(address_public: bool | None, price_private: bool | None) -> frozenset[str]:
    keys = set(PROPERTY_PUBLIC_FIELDS)
    if address_public is True:
        keys.update(PRIVATE_ADDRESS_FIELDS)
    if not price_private:
        keys.update(PRIVATE_PRICE_FIELDS)
    return frozenset(keys)
