"""The entities rei-sync mirrors: where each comes from, how it is normalised, where it goes.

Listings and associates are *paged* entities: scanned page by page, delisted
after a complete scan. Lookups and geo are *catalogues*: a handful of small
by-id calls, loaded whole. Images hang off listings (see `sync/images.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.api.client import ReiClient
from worker.api.endpoints import (
    ASSOCIATES,
    COUNTRIES_PATH,
    LOOKUP_NAMES_PATH,
    PROPERTIES,
    PagedEndpoint,
    as_list,
    associate_path,
    locations_path,
    lookup_values_path,
    property_details_path,
    states_path,
)
from worker.sinks.base import TableSpec
from worker.sync.normalise import (
    ASSOCIATE_COLUMNS,
    ASSOCIATE_PRIVATE_COLUMNS,
    PROPERTY_COLUMNS,
    PROPERTY_PRIVATE_COLUMNS,
    Fingerprint,
    Reject,
    Row,
    associate_fingerprint,
    normalise_associate,
    normalise_property,
    property_fingerprint,
)
from worker.sync.pipeline import map_bounded
from worker.sync.records import (
    COUNTRY_COLUMNS,
    IMAGE_COLUMNS,
    LOCATION_COLUMNS,
    LOOKUP_COLUMNS,
    LOOKUP_VALUE_COLUMNS,
    STATE_COLUMNS,
    lookup_value_normaliser,
    normalise_country,
    normalise_location,
    normalise_lookup,
    normalise_state,
)

INACTIVE_STATUS_IDS = frozenset({5, 6, 7})
"""`StandardStatus` catalogue: 5 Sold, 6 Expired, 7 Cancelled. Anything else is still listed."""

Normaliser = Callable[[Any], Row | Reject]


def property_is_gone(body: Any) -> bool:
    """A `GetPropertyDetails` answer (not 404) that still means "no longer listed"."""
    records = as_list(body, "GetPropertyDetails")
    if not records:
        return True
    status = records[0].get("standardStatusId") if isinstance(records[0], dict) else None
    return status in INACTIVE_STATUS_IDS


def associate_is_gone(body: Any) -> bool:
    return not as_list(body, "associates/{id}")


@dataclass(frozen=True)
class Entity:
    """A paged entity: full scans, content-hash merge, proven delistings."""

    name: str
    endpoint: PagedEndpoint
    normalise: Normaliser
    table: TableSpec
    details_path: Callable[[int], str]
    is_gone: Callable[[Any], bool]
    has_images: bool = False
    fingerprint: Callable[[Any], Fingerprint | None] | None = None
    """Id and hashes of a raw record without normalising it (see `property_fingerprint`)."""
    id_field: str = ""
    """The raw record's id field (for `fingerprint`)."""


Batch = tuple[TableSpec, list[Row | Reject]]


@dataclass(frozen=True)
class Catalogue:
    """A small entity fetched whole by `collect(client, parallelism, stop)` into table batches.

    `stop` set: no further call starts (`StopRequested`).
    """

    name: str
    collect: Callable[[ReiClient, int, threading.Event | None], list[Batch]]


PROPERTIES_TABLE = TableSpec(
    "properties", "listing_id", PROPERTY_COLUMNS, "properties_private", PROPERTY_PRIVATE_COLUMNS
)
ASSOCIATES_TABLE = TableSpec(
    "associates", "associate_id", ASSOCIATE_COLUMNS, "associates_private", ASSOCIATE_PRIVATE_COLUMNS
)
IMAGES_TABLE = TableSpec(
    "property_images", "photo_id", IMAGE_COLUMNS, scope="listing_id", tracks_delisting=False
)
LOOKUPS_TABLE = TableSpec("lookups", "lookup_id", LOOKUP_COLUMNS)
LOOKUP_VALUES_TABLE = TableSpec(
    "lookup_values", "value_id", LOOKUP_VALUE_COLUMNS, scope="lookup_id"
)
COUNTRIES_TABLE = TableSpec("geo_countries", "country_id", COUNTRY_COLUMNS)
STATES_TABLE = TableSpec("geo_states", "state_id", STATE_COLUMNS)
LOCATIONS_TABLE = TableSpec("geo_locations", "location_id", LOCATION_COLUMNS)


def collect_lookups(
    client: ReiClient, parallelism: int, stop: threading.Event | None = None
) -> list[Batch]:
    names = [
        normalise_lookup(item) for item in as_list(client.get_json(LOOKUP_NAMES_PATH), "names")
    ]
    ids = [row.source_id for row in names if isinstance(row, Row)]

    def values(lookup_id: int) -> list[Row | Reject]:
        body = client.get_json(lookup_values_path(lookup_id))
        normalise = lookup_value_normaliser(lookup_id)
        return [normalise(item) for item in as_list(body, f"lookup {lookup_id}")]

    all_values = [
        v for chunk in map_bounded(values, ids, parallelism=parallelism, stop=stop) for v in chunk
    ]
    return [(LOOKUPS_TABLE, names), (LOOKUP_VALUES_TABLE, all_values)]


def collect_geo(
    client: ReiClient, parallelism: int, stop: threading.Event | None = None
) -> list[Batch]:
    countries = [
        normalise_country(c) for c in as_list(client.get_json(COUNTRIES_PATH), "countries")
    ]
    country_ids = [row.source_id for row in countries if isinstance(row, Row)]

    def states_of(country_id: int) -> list[Row | Reject]:
        body = client.get_json(states_path(country_id))
        return [normalise_state(item) for item in as_list(body, "states")]

    states = [
        s
        for chunk in map_bounded(states_of, country_ids, parallelism=parallelism, stop=stop)
        for s in chunk
    ]
    pairs = [
        (int(row.public["country_id"] or 0), row.source_id)
        for row in states
        if isinstance(row, Row)
    ]

    def locations_of(pair: tuple[int, int]) -> list[Row | Reject]:
        body = client.get_json(locations_path(*pair))
        return [normalise_location(item) for item in as_list(body, "locations")]

    locations = [
        loc
        for chunk in map_bounded(locations_of, pairs, parallelism=parallelism, stop=stop)
        for loc in chunk
    ]
    return [(COUNTRIES_TABLE, countries), (STATES_TABLE, states), (LOCATIONS_TABLE, locations)]


PROPERTIES_ENTITY = Entity(
    "properties",
    PROPERTIES,
    normalise_property,
    PROPERTIES_TABLE,
    property_details_path,
    property_is_gone,
    has_images=True,
    fingerprint=property_fingerprint,
    id_field="listingId",
)
ASSOCIATES_ENTITY = Entity(
    "associates",
    ASSOCIATES,
    normalise_associate,
    ASSOCIATES_TABLE,
    associate_path,
    associate_is_gone,
    fingerprint=associate_fingerprint,
    id_field="associateID",
)
LOOKUPS_CATALOGUE = Catalogue("lookups", collect_lookups)
GEO_CATALOGUE = Catalogue("geo", collect_geo)
IMAGES = "images"

ENTITIES: dict[str, Entity] = {e.name: e for e in (PROPERTIES_ENTITY, ASSOCIATES_ENTITY)}
CATALOGUES: dict[str, Catalogue] = {c.name: c for c in (LOOKUPS_CATALOGUE, GEO_CATALOGUE)}
ENTITY_NAMES = ("properties", "associates", IMAGES, "lookups", "geo")
"""Every name `sync --entity` accepts, in the order `all` runs them."""
