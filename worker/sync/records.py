"""Normalisers for the small records: property images, lookup catalogues, geo.

Field casing of images is undocumented, so their keys are matched
case-insensitively; ids are plain ASCII digits; stored image and flag URLs are http or
https only; lookup values name their id and labels after the catalogue
(`mostProbableUseID`, `mostprobableUseName_EN`), so those are found by suffix.
None of these records carries private fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from worker.db.schema import Reject, Row
from worker.sync.coerce import MAX_BIGINT, MAX_INT_DIGITS, MAX_TEXT_CHARS, unstorable
from worker.sync.normalise import content_hash, not_an_object


class _Invalid(ValueError):
    pass


def _ascii_int(text: str, *, signed: bool = False) -> int | str:
    """An integer written in plain ASCII digits (a leading "-" when `signed`), else the
    text unchanged: no whitespace, no "+", no superscripts like "²" (which
    `str.isdigit()` accepts and `int()` then refuses)."""
    unsigned = text.removeprefix("-") if signed else text
    if unsigned.isascii() and unsigned.isdigit() and len(unsigned) <= MAX_INT_DIGITS:
        return int(text)
    return text


WEB_SCHEMES = ("http", "https")


def _web_url(value: Any, what: str) -> str | None:
    """A URL a website may put in `src`/`href`: http or https with a host, nothing else
    (`javascript:`, `data:`, `file:` and relative URLs are rejected)."""
    text = _text(value, what)
    if text is None or text == "":
        return text
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        raise _Invalid(f"{what}: only http and https URLs are stored")
    return text


def _id(value: Any, what: str, *, required: bool = True) -> int | None:
    if value is None or value == "":
        if required:
            raise _Invalid(f"{what}: missing")
        return None
    if isinstance(value, bool):
        raise _Invalid(f"{what}: expected an integer id, got a bool")
    if isinstance(value, str):
        value = _ascii_int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_BIGINT:
        raise _Invalid(f"{what}: expected a non-negative integer id")
    return value


def _key(value: Any, what: str) -> int:
    key = _id(value, what)
    if key is None:
        raise _Invalid(f"{what}: missing")
    return key


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{what}: expected a string")
    if len(value) > MAX_TEXT_CHARS or "\x00" in value:
        raise _Invalid(f"{what}: not storable text")
    return value


def _small_int(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        value = _ascii_int(value, signed=True)
    if not isinstance(value, int) or abs(value) > 2**31 - 1:
        raise _Invalid(f"{what}: expected a small integer")
    return value


def _guarded(build: Callable[[dict[str, Any]], Row], id_key: str) -> Callable[[Any], Row | Reject]:
    def normalise(raw: Any) -> Row | Reject:
        if not isinstance(raw, dict):
            return not_an_object(raw)
        problem = unstorable(raw)
        if problem:
            return _reject(raw, id_key, problem)
        try:
            return build(raw)
        except _Invalid as exc:
            return _reject(raw, id_key, str(exc))

    return normalise


def _reject(raw: dict[str, Any], id_key: str, reason: str) -> Reject:
    """The reject of `raw`, named by its `id_key` field (any casing) when it has one."""
    source = _lower(raw).get(id_key.lower())
    return Reject(None if source is None else str(source)[:64], reason, raw)


def _lower(raw: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in raw.items()}


def _row(key: int, raw: dict[str, Any], public: dict[str, Any], scope: int | None = None) -> Row:
    return Row(
        source_id=key, public=public, raw=raw, content_hash=content_hash(raw), scope_id=scope
    )


def _image(raw: dict[str, Any]) -> Row:
    fields = _lower(raw)
    listing_id = _key(fields.get("listingid"), "ListingId")
    photo_id = _key(fields.get("photoid"), "PhotoId")
    public = {
        "priority": _small_int(fields.get("prioridad"), "Prioridad"),
        "image_url": _web_url(fields.get("imageurl"), "ImageUrl"),
        "status": _small_int(fields.get("status"), "Status"),
    }
    return _row(photo_id, raw, public, listing_id)


def _lookup(raw: dict[str, Any]) -> Row:
    fields = _lower(raw)
    lookup_id = _key(fields.get("lookupid"), "lookupID")
    return _row(lookup_id, raw, {"name": _text(fields.get("lookupname"), "lookupName")})


def lookup_value_normaliser(lookup_id: int) -> Callable[[Any], Row | Reject]:
    """Values of catalogue `lookup_id`: id = the key ending in `id`, labels end in `_en`/`_es`."""

    def build(raw: dict[str, Any]) -> Row:
        fields = _lower(raw)
        id_keys = [k for k in fields if k.endswith("id")]
        if len(id_keys) != 1:
            raise _Invalid("value: expected exactly one *ID field")
        value_id = _key(fields[id_keys[0]], id_keys[0])
        assert value_id is not None
        labels = {
            f"name_{lang}": _text(
                next((v for k, v in fields.items() if k.endswith(f"_{lang}")), None), lang
            )
            for lang in ("en", "es")
        }
        return _row(value_id, raw, labels, lookup_id)

    return _guarded(build, "id")


def _names(fields: dict[str, Any], stem: str) -> dict[str, str | None]:
    """The labels `{stem}_en` and `{stem}_es` of a geo record as `name_en` and `name_es`."""
    return {
        f"name_{lang}": _text(fields.get(f"{stem.lower()}_{lang}"), f"{stem}_{lang}")
        for lang in ("en", "es")
    }


def _country(raw: dict[str, Any]) -> Row:
    fields = _lower(raw)
    country_id = _key(fields.get("countryid"), "countryID")
    public = {
        **_names(fields, "countryName"),
        "flag_url": _web_url(fields.get("flagurl"), "flagurl"),
    }
    return _row(country_id, raw, public)


def _state(raw: dict[str, Any]) -> Row:
    fields = _lower(raw)
    state_id = _key(fields.get("statedepprovid"), "stateDepProvID")
    public = {
        "country_id": _id(fields.get("countryid"), "countryID", required=False),
        **_names(fields, "stateDepProv"),
    }
    return _row(state_id, raw, public)


def _location(raw: dict[str, Any]) -> Row:
    fields = _lower(raw)
    location_id = _key(fields.get("locationid"), "locationId")
    public = {
        "state_id": _id(fields.get("statedepprovid"), "stateDepProvId", required=False),
        **_names(fields, "location"),
    }
    return _row(location_id, raw, public)


normalise_image = _guarded(_image, "PhotoId")
normalise_lookup = _guarded(_lookup, "lookupID")
normalise_country = _guarded(_country, "countryID")
normalise_state = _guarded(_state, "stateDepProvID")
normalise_location = _guarded(_location, "locationId")
