"""The entities rei-sync mirrors: where each comes from, how it is normalised, where it goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.api.endpoints import ASSOCIATES, PROPERTIES, PagedEndpoint
from worker.sinks.base import TableSpec
from worker.sync.normalise import (
    ASSOCIATE_COLUMNS,
    ASSOCIATE_PRIVATE_COLUMNS,
    PROPERTY_COLUMNS,
    PROPERTY_PRIVATE_COLUMNS,
    Reject,
    Row,
    normalise_associate,
    normalise_property,
)


@dataclass(frozen=True)
class Entity:
    name: str
    endpoint: PagedEndpoint
    normalise: Callable[[Any], Row | Reject]
    table: TableSpec


PROPERTIES_ENTITY = Entity(
    "properties",
    PROPERTIES,
    normalise_property,
    TableSpec(
        "properties", "listing_id", PROPERTY_COLUMNS, "properties_private", PROPERTY_PRIVATE_COLUMNS
    ),
)
ASSOCIATES_ENTITY = Entity(
    "associates",
    ASSOCIATES,
    normalise_associate,
    TableSpec(
        "associates",
        "associate_id",
        ASSOCIATE_COLUMNS,
        "associates_private",
        ASSOCIATE_PRIVATE_COLUMNS,
    ),
)
ENTITIES: dict[str, Entity] = {e.name: e for e in (PROPERTIES_ENTITY, ASSOCIATES_ENTITY)}
