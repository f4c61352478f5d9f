"""The vocabulary sync and the sinks share: rows, rejects, tables, run counts and statuses.

Sync produces `Row`s and `Reject`s and hands them to a sink with the `TableSpec` of
the table they belong in; the sink answers with an `UpsertResult`, and a run's
`RunCounts` and `RunStatus` end up in `sync_runs`. Both sides import these from
here, so neither depends on the other. The column tuples are the stored columns of
each table (`migrations/`), in COPY order; the normalisers' models produce exactly
these (`tests/unit/test_schema.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Drift:
    """How a record differs from what the normaliser knows: field names only, no values."""

    unknown: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.unknown or self.missing or self.retyped)


class EncodedJson(bytes):
    """A raw document already encoded as the JSON its jsonb column stores (UTF-8).

    A scan keeps the rows waiting for their listings' images in this form
    (`sinks.encoding.encoded`): a row takes about a quarter less memory than with the
    decoded dicts (1,000 sandbox rows: 6.9 -> 5.3 MB), and the encoding is the one the
    COPY would do anyway, done once. The sinks store it as it is.
    """

    __slots__ = ()


@dataclass(frozen=True)
class Row:
    """One normalised record: typed public columns, optional private columns, both hashed."""

    source_id: int
    public: dict[str, Any]
    raw: dict[str, Any] | EncodedJson
    content_hash: str
    private: dict[str, Any] | None = None
    private_raw: dict[str, Any] | EncodedJson | None = None
    private_hash: str | None = None
    invalid_coordinates: int = 0
    scope_id: int | None = None
    """The parent id that is part of the key (an image's listing, a lookup value's catalogue)."""
    drift: Drift | None = None
    """Fields unknown, missing or of an unexpected JSON type (`drift`), for the run's counts."""


@dataclass(frozen=True)
class Reject:
    """A record that could not be stored, why, and a payload safe to keep (no private value)."""

    source_id: str | None
    reason: str
    payload: Any


@dataclass(frozen=True)
class TableSpec:
    """An entity's public table (and optional private twin), keyed by (brand, [scope,] key).

    `scope` names a parent id that is part of the primary key (the listing of an
    image, the catalogue of a lookup value); rows carry it in `Row.scope_id`.
    """

    table: str
    key: str
    columns: tuple[str, ...]
    private_table: str | None = None
    private_columns: tuple[str, ...] = ()
    scope: str | None = None
    tracks_delisting: bool = True
    parent: str | None = None
    """A column naming the record's parent when that is not part of the key (a state's
    country): with `scope`, what `AbsentScan.keep_scopes` matches."""
    feed: str | None = None
    """What the change feed reports this table's changes as (`sinks/events.py`): "listing",
    "agent", "images" (a listing's image set), or None (no events)."""

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.scope, self.key) if self.scope else (self.key,)

    @property
    def parent_column(self) -> str | None:
        return self.scope or self.parent


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    changed_ids: tuple[int, ...] = field(default=(), compare=False)
    """Keys (`Row.source_id`) of the rows inserted or updated."""

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.deleted + other.deleted,
            self.changed_ids + other.changed_ids,
        )


@dataclass(frozen=True)
class RunCounts:
    pages: int = 0
    seen: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    delisted: int = 0

    def plus(self, result: UpsertResult, *, pages: int = 0, seen: int = 0) -> RunCounts:
        return RunCounts(
            self.pages + pages,
            self.seen + seen,
            self.inserted + result.inserted,
            self.updated + result.updated,
            self.unchanged + result.unchanged,
            self.rejected,
            self.delisted,
        )


@dataclass(frozen=True)
class RunStart:
    """A run `start_run` records: its job (brand, entity), its mode, the page size it
    asks for (`take`) and the run it resumes, if any."""

    brand: str
    entity: str
    mode: str
    take: int | None = None
    resumed_from: int | None = None


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as `finish_run` stores it: its status and counts, and the error,
    the last checkpoint, the duration and the entity's details where there are any."""

    status: str
    counts: RunCounts
    error: str | None = None
    checkpoint: int | None = None
    duration_seconds: float | None = None
    details: dict[str, Any] | None = None


class RunStatus(StrEnum):
    """`sync_runs.status`. A `str`, so it is stored, compared and printed as its value."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SUCCEEDED_WITH_REJECTS = "succeeded_with_rejects"
    DELIST_GUARD_TRIPPED = "delist_guard_tripped"
    ABORTED = "aborted"
    ABANDONED = "abandoned"
    FAILED = "failed"


SUCCESS_STATUSES = (RunStatus.SUCCEEDED, RunStatus.SUCCEEDED_WITH_REJECTS)
"""Run statuses that count as a success for readiness and staleness alerts."""


@dataclass(frozen=True)
class RunRecord:
    """One `sync_runs` row as stored."""

    id: int
    brand: str
    entity: str
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: RunCounts
    checkpoint: int | None
    duration_seconds: float | None
    error: str | None
    resumed_from: int | None
    details: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> RunRecord:
        """A `sync_runs` row as either sink reads it: its times are datetimes from Postgres,
        ISO 8601 text from PostgREST's JSON."""
        finished = row["finished_at"]
        return cls(
            id=int(row["id"]),
            brand=row["brand"],
            entity=row["entity"],
            mode=row["mode"],
            status=row["status"],
            started_at=_moment(row["started_at"]),
            finished_at=None if finished is None else _moment(finished),
            counts=RunCounts(**{name: row[name] for name in RunCounts.__dataclass_fields__}),
            checkpoint=row["checkpoint"],
            duration_seconds=row["duration_seconds"],
            error=row["error"],
            resumed_from=row["resumed_from"],
            details=row["details"],
        )


def _moment(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@dataclass(frozen=True)
class RejectRecord:
    """One `sync_rejects` row without its `payload`: where the record came from and why."""

    id: int
    run_id: int
    brand: str
    entity: str
    source_id: str | None
    reason: str
    created_at: datetime


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
PROPERTY_PRIVATE_COLUMNS = (
    "owner_name",
    "owner_phones",
    "owner_email",
    "private_remarks_en",
    "private_remarks_es",
    "showing_instruction",
    "listing_side_comm",
    "selling_side_comm",
    "close_listing_comm_amount",
    "close_selling_comm_amount",
)
ASSOCIATE_COLUMNS = (
    "remax_id",
    "first_name",
    "last_name",
    "mobile",
    "email",
    "image_url",
    "office_id",
    "office_name",
    "office_code",
    "country_id",
)
ASSOCIATE_PRIVATE_COLUMNS = ("birthday",)
IMAGE_COLUMNS = ("priority", "image_url", "status")
LOOKUP_COLUMNS = ("name",)
LOOKUP_VALUE_COLUMNS = ("name_en", "name_es")
COUNTRY_COLUMNS = ("name_en", "name_es", "flag_url")
STATE_COLUMNS = ("country_id", "name_en", "name_es")
LOCATION_COLUMNS = ("state_id", "name_en", "name_es")

PROPERTIES_TABLE = TableSpec(
    "properties",
    "listing_id",
    PROPERTY_COLUMNS,
    "properties_private",
    PROPERTY_PRIVATE_COLUMNS,
    feed="listing",
)
ASSOCIATES_TABLE = TableSpec(
    "associates",
    "associate_id",
    ASSOCIATE_COLUMNS,
    "associates_private",
    ASSOCIATE_PRIVATE_COLUMNS,
    feed="agent",
)
IMAGES_TABLE = TableSpec(
    "property_images",
    "photo_id",
    IMAGE_COLUMNS,
    scope="listing_id",
    tracks_delisting=False,
    feed="images",
)
LOOKUPS_TABLE = TableSpec("lookups", "lookup_id", LOOKUP_COLUMNS)
LOOKUP_VALUES_TABLE = TableSpec(
    "lookup_values", "value_id", LOOKUP_VALUE_COLUMNS, scope="lookup_id"
)
COUNTRIES_TABLE = TableSpec("geo_countries", "country_id", COUNTRY_COLUMNS)
STATES_TABLE = TableSpec("geo_states", "state_id", STATE_COLUMNS, parent="country_id")
LOCATIONS_TABLE = TableSpec("geo_locations", "location_id", LOCATION_COLUMNS, parent="state_id")

IMAGES = "images"
"""The image sweep's entity name in `sync_runs` (its rows go to `IMAGES_TABLE`)."""
