"""The REI API CCA read endpoints: route matching (case-insensitive segments) and bodies.

`route()` only recognises a path; `Route.call()` runs it for an authorised
brand. Between the two, the server applies faults and the bearer-token check,
in the order the vendor's stack does: routing, then [Authorize], then binding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from worker.sandbox import responses as r
from worker.sandbox.catalogue import COUNTRIES_BY_ID, GEO, LOOKUPS, LOOKUPS_BY_ID, STATES_BY_ID
from worker.sandbox.data import BrandData
from worker.sandbox.faults import spoil
from worker.sandbox.state import SandboxState

_INT = re.compile(r"-?[0-9]{1,10}")
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Call:
    brand: BrandData
    state: SandboxState
    accept: str | None
    malformed: float | None
    """The detail draw of a malformed-records fault, or None."""


Handler = Callable[[Call, list[int], list[str]], r.Response]
"""Answers a request from its path parameters, bound to integers (and as written)."""


@dataclass(frozen=True)
class Route:
    endpoint: str
    """The name counted in `/_sandbox/stats`."""
    handler: Handler
    names: tuple[str, ...]
    """The path parameters' names, as the invalid-request answer gives them."""
    params: list[str]

    def call(self, call: Call) -> r.Response:
        """Binding (each parameter an int32, or the invalid-request 404), then the handler."""
        ids: list[int] = []
        for name, text in zip(self.names, self.params, strict=True):
            number = _int(text)
            if number is None:
                return r.invalid_parameter(name, text, "It must be an integer.", call.accept)
            ids.append(number)
        return self.handler(call, ids, self.params)


def _int(value: str) -> int | None:
    if not _INT.fullmatch(value):
        return None
    number = int(value)
    return number if -_INT32_MAX - 1 <= number <= _INT32_MAX else None


def _page(call: Call, ids: list[int], params: list[str]) -> tuple[int, int] | r.Response:
    """A list page's (records served, skip), or the answer refusing its take/skip or failing it."""
    (take, skip), (take_text, skip_text) = ids, params
    if take < 1:
        return r.invalid_parameter("take", take_text, "The minimum is 1.", call.accept)
    limit = call.state.config.max_take
    if call.state.faults.settings.take_limit:
        limit = min(limit, call.state.faults.settings.take_limit)
    if take > limit:
        return r.invalid_parameter("take", take_text, f"The maximum is {limit}.", call.accept)
    if skip < 0:
        return r.invalid_parameter("skip", skip_text, "The minimum is 0.", call.accept)
    # How many records the page answers (`page_cap`); a `failing_offsets` hit fails it.
    faults = call.state.faults.settings
    served = min(take, faults.page_cap) if faults.page_cap else take
    if any(skip <= offset < skip + served for offset in faults.failing_offsets):
        return r.server_error(500, call.accept)
    return served, skip


def _records(call: Call, parts: list[bytes], key_field: str) -> bytes:
    """A JSON array of serialised records, spoiled if a malformed fault hit this request."""
    if call.malformed is None or not parts:
        return b"[" + b",".join(parts) + b"]"
    records = [orjson.loads(p) for p in parts]
    return orjson.dumps(spoil(records, call.malformed, key_field))


def get_properties(call: Call, ids: list[int], params: list[str]) -> r.Response:
    page = _page(call, ids, params)
    if isinstance(page, r.Response):
        return page
    served, skip = page
    brand = call.brand
    with brand.lock:
        drift = call.state.faults.settings
        if drift.drift and skip > 0:
            brand.insert_front(drift.drift_inserts)
        parts = [brand.property_json(slot) for slot in brand.listings_page(served, skip)]
    return r.Response(200, b'{"result":' + _records(call, parts, "listingId") + b"}")


def get_property_details(call: Call, ids: list[int], params: list[str]) -> r.Response:
    (listing_id,) = ids
    brand = call.brand
    with brand.lock:
        slot = brand.listing_slot(listing_id)
        removed = None if slot is not None else brand.removed_listing_slot(listing_id)
        if slot is not None:
            part = brand.property_json(slot)
        elif removed is not None and call.state.config.removed_listings == "offline_status":
            part = brand.offline_json(removed)
        else:
            return r.not_found(f"Property {listing_id} was not found.", call.accept)
    return r.Response(200, b'{"result":' + _records(call, [part], "listingId") + b"}")


def get_associates(call: Call, ids: list[int], params: list[str]) -> r.Response:
    page = _page(call, ids, params)
    if isinstance(page, r.Response):
        return page
    served, skip = page
    brand = call.brand
    with brand.lock:
        slots = brand.associates_page(served, skip)
        parts = [orjson.dumps(brand.associate_record(s)) for s in slots]
    return r.Response(200, _records(call, parts, "associateID"))


def get_associate(call: Call, ids: list[int], params: list[str]) -> r.Response:
    (associate_id,) = ids
    brand = call.brand
    with brand.lock:
        slot = brand.associate_slot(associate_id)
        if slot is None:
            return r.not_found(f"Associate {associate_id} was not found.", call.accept)
        part = orjson.dumps(brand.associate_record(slot))
    return r.Response(200, _records(call, [part], "associateID"))


NOT_JSON_BODY = b'[{"ListingId": '
"""A JSON answer cut short: the image answer of a listing failing in mode `not_json`."""


def _failing_images(call: Call, listing_id: int, text: str) -> r.Response | None:
    """The answer of a listing whose images always fail (`failing_images_*` knobs), or None."""
    mode = call.state.faults.image_failure(listing_id)
    if mode == "500":
        return r.server_error(500, call.accept)
    if mode == "not_json":
        return r.Response(200, NOT_JSON_BODY)
    if mode == "model_state_404":
        return r.invalid_parameter("listingId", text, "It could not be read.", call.accept)
    return None


def get_images(call: Call, ids: list[int], params: list[str]) -> r.Response:
    (listing_id,) = ids
    failing = _failing_images(call, listing_id, params[0])
    if failing is not None:
        return failing
    brand = call.brand
    with brand.lock:
        slot = brand.listing_slot(listing_id)
        if slot is None:
            return r.not_found(f"Property {listing_id} was not found.", call.accept)
        images = brand.images(slot)
    return r.Response(200, _records(call, [orjson.dumps(i) for i in images], "ListingId"))


def get_image(call: Call, ids: list[int], params: list[str]) -> r.Response:
    listing_id, photo_id = ids
    brand = call.brand
    with brand.lock:
        slot = brand.listing_slot(listing_id)
        images = [] if slot is None else brand.images(slot)
    found = [orjson.dumps(i) for i in images if i["PhotoId"] == photo_id]
    if not found:
        return r.not_found(f"Image {photo_id} of property {listing_id} was not found.", call.accept)
    return r.Response(200, _records(call, found, "ListingId"))


def get_lookup_names(call: Call, ids: list[int], params: list[str]) -> r.Response:
    return r.json_response([lookup.names_entry() for lookup in LOOKUPS])


def get_lookup_details(call: Call, ids: list[int], params: list[str]) -> r.Response:
    (lookup_id,) = ids
    lookup = LOOKUPS_BY_ID.get(lookup_id)
    if lookup is None:
        return r.not_found(f"Lookup {lookup_id} was not found.", call.accept)
    details = lookup.details()
    if lookup.name == "StandardStatus":  # in this server's ids (`status_ids`)
        status_ids = call.state.config.status_ids
        details = [{**d, lookup.id_key: status_ids[d[lookup.id_key] - 1]} for d in details]
    return r.json_response(details)


def get_countries(call: Call, ids: list[int], params: list[str]) -> r.Response:
    return r.json_response([country.record() for country in GEO])


def get_states(call: Call, ids: list[int], params: list[str]) -> r.Response:
    (country_id,) = ids
    country = COUNTRIES_BY_ID.get(country_id)
    if country is None:
        return r.not_found(f"Country {country_id} was not found.", call.accept)
    return r.json_response([state.record() for state in country.states])


def get_locations(call: Call, ids: list[int], params: list[str]) -> r.Response:
    country_id, state_id = ids
    state = STATES_BY_ID.get(state_id)
    if state is None or state.country_id != country_id:
        return r.not_found(f"State {state_id} of country {country_id} was not found.", call.accept)
    return r.json_response([location.record() for location in state.locations])


_PATTERNS: tuple[tuple[str, tuple[str, ...], Handler], ...] = (
    ("GetProperties", ("getproperties", "take", "{take}", "skip", "{skip}"), get_properties),
    ("GetPropertyDetails", ("getpropertydetails", "{listingId}"), get_property_details),
    ("associates", ("associates", "take", "{take}", "skip", "{skip}"), get_associates),
    ("associates/{id}", ("associates", "{associateId}"), get_associate),
    ("propertyimages", ("propertyimages", "{listingId}"), get_images),
    ("propertyimagesdetails", ("propertyimagesdetails", "{listingId}", "{photoId}"), get_image),
    ("lookups/names", ("lookups", "names"), get_lookup_names),
    ("lookups/detailsbyid", ("lookups", "detailsbyid", "{id}"), get_lookup_details),
    ("geo/countries", ("geo", "countries"), get_countries),
    (
        "geo/StateProvincesInaCountry",
        ("geo", "countries", "{countryId}", "stateprovincesinacountry"),
        get_states,
    ),
    (
        "geo/LocationsInAStateProvince",
        (
            "geo",
            "countries",
            "{countryId}",
            "stateprovincesinacountry",
            "{stateId}",
            "locationsinastateprovince",
        ),
        get_locations,
    ),
)
"""Each endpoint's name, path (lower case; `{name}` is an integer parameter) and handler."""

ENDPOINTS = tuple(name for name, _, _ in _PATTERNS)


def route(segments: list[str]) -> Route | None:
    """Match path segments below `/api/v1/` (case-insensitively, as IIS/ASP.NET do)."""
    lowered = [s.lower() for s in segments]
    for endpoint, pattern, handler in _PATTERNS:
        if len(pattern) != len(lowered):
            continue
        names: list[str] = []
        params: list[str] = []
        for want, got, raw in zip(pattern, lowered, segments, strict=True):
            if want.startswith("{"):
                names.append(want[1:-1])
                params.append(raw)
            elif want != got:
                break
        else:
            return Route(endpoint, handler, tuple(names), params)
    return None
