"""Every typed column of every entity table, read from a migrated database: the normaliser
accepts the largest value the column holds and rejects anything larger, so no record can
pass validation and then fail the COPY (which fails the run on every run, and quotes the
value in the error). A new or retyped column without a matching bound fails here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.fixtures import sample_property
from worker.db.schema import (
    ASSOCIATES_TABLE,
    COUNTRIES_TABLE,
    IMAGES_TABLE,
    LOCATIONS_TABLE,
    LOOKUP_VALUES_TABLE,
    LOOKUPS_TABLE,
    PROPERTIES_TABLE,
    STATES_TABLE,
    Reject,
    Row,
)
from worker.sinks.postgres import PostgresSink
from worker.sync.normalise import (
    MAX_COUNT,
    AssociateRecord,
    PropertyPrivateRecord,
    PropertyRecord,
    normalise_associate,
    normalise_property,
)
from worker.sync.records import (
    lookup_value_normaliser,
    normalise_country,
    normalise_image,
    normalise_location,
    normalise_lookup,
    normalise_state,
)

INTEGER_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}
UNTYPED = {"text", "jsonb", "timestamp with time zone", "timestamp without time zone"}
"""Column types with no numeric bound (texts are bounded by `MAX_TEXT_CHARS`; a parsed
datetime always fits a timestamp)."""

SPECS = (
    PROPERTIES_TABLE,
    ASSOCIATES_TABLE,
    IMAGES_TABLE,
    LOOKUPS_TABLE,
    LOOKUP_VALUES_TABLE,
    COUNTRIES_TABLE,
    STATES_TABLE,
    LOCATIONS_TABLE,
)
SPEC_OF = {
    table: spec for spec in SPECS for table in (spec.table, spec.private_table) if table is not None
}

TIGHTER: dict[tuple[str, str], int] = {
    ("properties", "bedrooms"): MAX_COUNT,
    ("properties", "bathrooms_full"): MAX_COUNT,
    ("properties", "bathrooms_half"): MAX_COUNT,
}
"""Columns the normaliser bounds tighter than the column on purpose (a sanity bound)."""

DERIVED = {("lookup_values", "lookup_id"): ("lookups", "lookup_id")}
"""Columns filled from another table's validated column, not from a record's field."""


def property_base(n: int) -> dict[str, Any]:
    return sample_property() | {"listingId": n, "unparsedAddressPublicYN": True}


def _alias(model: type[Any], column: str) -> str:
    alias = model.model_fields[column].alias
    assert alias is not None
    return str(alias)


Normaliser = Callable[[Any], Row | Reject]


@dataclass(frozen=True)
class Probe:
    """Normalises a valid record of `table` with `value` in `column`; the value stored."""

    build: Callable[[Any, int], Any]
    normalise: Normaliser
    read: Callable[[Row], Any]


def _public(column: str) -> Callable[[Row], Any]:
    return lambda row: row.public[column]


def _private(column: str) -> Callable[[Row], Any]:
    return lambda row: (row.private or {})[column]


def _source(row: Row) -> Any:
    return row.source_id


def _scope(row: Row) -> Any:
    return row.scope_id


def probe(table: str, column: str) -> Probe | None:
    if table == "properties" and column == "listing_id":
        return Probe(lambda v, n: property_base(1) | {"listingId": v}, normalise_property, _source)
    if table == "properties" and column in ("latitude", "longitude"):
        return Probe(
            lambda v, n: property_base(n) | {column: v}, normalise_property, _public(column)
        )
    if table == "properties" and column in PropertyRecord.model_fields:
        field = _alias(PropertyRecord, column)
        return Probe(
            lambda v, n: property_base(n) | {field: v}, normalise_property, _public(column)
        )
    if table == "properties_private" and column == "listing_id":
        return probe("properties", "listing_id")
    if table == "properties_private" and column in PropertyPrivateRecord.model_fields:
        field = _alias(PropertyPrivateRecord, column)
        return Probe(
            lambda v, n: property_base(n) | {field: v}, normalise_property, _private(column)
        )
    if table in ("associates", "associates_private") and column == "associate_id":
        return Probe(lambda v, n: {"associateID": v}, normalise_associate, _source)
    if table == "associates" and column in AssociateRecord.model_fields:
        field = _alias(AssociateRecord, column)
        return Probe(
            lambda v, n: {"associateID": n, field: v}, normalise_associate, _public(column)
        )
    image = {"listing_id": "ListingId", "photo_id": "PhotoId", "priority": "Prioridad"}
    if table == "property_images" and column in (*image, "status"):
        base = {"ListingId": 1, "PhotoId": 1, "ImageUrl": "https://example.com/1.jpg"}
        field = image.get(column, "Status")
        read = {"listing_id": _scope, "photo_id": _source}.get(column, _public(column))
        return Probe(lambda v, n: base | {"PhotoId": n} | {field: v}, normalise_image, read)
    catalogue: dict[tuple[str, str], tuple[Normaliser, dict[str, Any], str]] = {
        ("lookups", "lookup_id"): (normalise_lookup, {"lookupName": "x"}, "lookupID"),
        ("lookup_values", "value_id"): (lookup_value_normaliser(1), {"x_en": "x"}, "useID"),
        ("geo_countries", "country_id"): (normalise_country, {}, "countryID"),
        ("geo_states", "state_id"): (normalise_state, {}, "stateDepProvID"),
        ("geo_states", "country_id"): (normalise_state, {"stateDepProvID": 1}, "countryID"),
        ("geo_locations", "location_id"): (normalise_location, {}, "locationId"),
        ("geo_locations", "state_id"): (normalise_location, {"locationId": 1}, "stateDepProvId"),
    }
    if (table, column) not in catalogue:
        return None
    normaliser, base, field = catalogue[table, column]
    read = _source if column == SPEC_OF[table].key else _public(column)
    return Probe(lambda v, n: base | {field: v}, normaliser, read)


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    data_type: str
    precision: int | None
    scale: int | None

    @property
    def maximum(self) -> int | Decimal:
        if self.data_type in INTEGER_MAX:
            return INTEGER_MAX[self.data_type]
        assert self.data_type == "numeric", self
        assert self.precision is not None, self
        scale = self.scale or 0
        return Decimal(10) ** (self.precision - scale) - Decimal(1).scaleb(-scale)


def entity_columns(engine: sa.Engine) -> list[Column]:
    with engine.connect() as connection:
        found = connection.execute(
            sa.text(
                "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = ANY(:tables) "
                "ORDER BY table_name, ordinal_position"
            ),
            {"tables": list(SPEC_OF)},
        ).all()
    assert {r[0] for r in found} == set(SPEC_OF)
    return [Column(*r) for r in found]


def typed(engine: sa.Engine) -> list[Column]:
    columns = entity_columns(engine)
    unknown = [c for c in columns if c.data_type not in UNTYPED and c.data_type not in INTEGER_MAX]
    unknown = [c for c in unknown if c.data_type != "numeric"]
    assert not unknown, f"no bound check for these column types: {unknown}"
    return [c for c in columns if c.data_type not in UNTYPED]


def as_input(value: int | Decimal) -> Any:
    """How the API would send it: an integer as a JSON integer, a decimal as a string (a JSON
    float cannot carry 18 significant digits)."""
    return value if isinstance(value, int) else str(value)


def stored(p: Probe, value: int | Decimal, n: int) -> tuple[Row | Reject, Any]:
    result = p.normalise(p.build(as_input(value), n))
    return result, p.read(result) if isinstance(result, Row) else None


def test_every_typed_column_bounds_the_normaliser(db_engine: sa.Engine) -> None:
    sink = PostgresSink(db_engine)
    columns = typed(db_engine)
    assert len(columns) > 30  # the query found the tables
    by_name = {(c.table, c.name): c for c in columns}
    for n, column in enumerate(columns, start=1000):
        where = f"{column.table}.{column.name} ({column.data_type})"
        if (column.table, column.name) in DERIVED:
            source = by_name[DERIVED[column.table, column.name]]
            assert source.maximum <= column.maximum, where
            continue
        p = probe(column.table, column.name)
        assert p is not None, f"{where}: no normaliser field is checked against it"
        bound = TIGHTER.get((column.table, column.name), column.maximum)
        assert bound <= column.maximum, where
        if column.name in ("latitude", "longitude"):
            bound = Decimal(90 if column.name == "latitude" else 180)
            assert bound <= column.maximum, where
        result, value = stored(p, bound, n)
        assert isinstance(result, Row), f"{where}: the maximum {bound} is rejected: {result}"
        assert value == bound, f"{where}: the maximum {bound} is stored as {value}"
        # ... and the database takes it (the row goes through the sink's COPY/merge).
        spec = SPEC_OF[column.table]
        assert sink.upsert(spec, f"B{n}", [result]).inserted == 1, where
        result, value = stored(p, bound + 1, n)
        assert value != bound + 1, f"{where}: {bound + 1} passes, the column cannot hold it"
        if column.name not in ("latitude", "longitude"):  # out-of-range coordinates are NULL
            assert isinstance(result, Reject), where


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listPriceCurrencyID", 2**35),
        ("standardStatusId", 2**31),
        ("lotSizeUnitsId", 2**31),
        ("listPrice", "10000000000000000"),
        ("lotSizeArea", "9999999999999999.995"),  # rounds to 10^16
        ("listingSideComm", 5e14),
        ("sellingSideComm", "99999999999999.99995"),  # rounds to 10^14
        ("closeListingCommAmount", "1e16"),
    ],
)
def test_values_a_column_cannot_hold_are_rejected_and_never_fail_the_batch(
    db_engine: sa.Engine, field: str, value: Any
) -> None:
    bad = normalise_property(property_base(2) | {field: value, "ownerName": "Secret Owner"})
    assert isinstance(bad, Reject)
    assert "absurd" in bad.reason or "less than or equal" in bad.reason
    good = normalise_property(property_base(3))
    assert isinstance(good, Row)
    assert PostgresSink(db_engine).upsert(PROPERTIES_TABLE, "AZURA", [good]).inserted == 1


def test_decimals_are_rounded_as_the_column_rounds() -> None:
    result = normalise_property(
        property_base(4) | {"listPrice": "10.005", "listingSideComm": "1.00005"}
    )
    assert isinstance(result, Row)
    assert result.public["list_price"] == Decimal("10.01")
    assert result.private is not None
    assert result.private["listing_side_comm"] == Decimal("1.0001")
