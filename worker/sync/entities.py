"""The entities rei-sync mirrors: where each comes from, how it is normalised, where it goes.

Listings and associates are *paged* entities: scanned page by page, delisted
after a complete scan. Lookups and geo are *catalogues*: a handful of small
by-id calls, loaded whole. Images hang off listings (see `sync/images.py`); the
image sweep refetches those of every active listing. Each kind says which kind of
run it takes (`run`, given the `RunKinds` that `sync/engine.py` binds to one run).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias, TypeVar

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
from worker.db.schema import (
    ASSOCIATES_TABLE,
    COUNTRIES_TABLE,
    IMAGES,
    LOCATIONS_TABLE,
    LOOKUP_VALUES_TABLE,
    LOOKUPS_TABLE,
    PROPERTIES_TABLE,
    STATES_TABLE,
    Reject,
    Row,
    RunStatus,
    TableSpec,
)
from worker.errors import ApiError, EmptyCatalogueError
from worker.log import get_logger
from worker.sync.coerce import source_key
from worker.sync.normalise import (
    Fingerprint,
    associate_fingerprint,
    normalise_associate,
    normalise_property,
    property_fingerprint,
)
from worker.sync.pipeline import map_bounded
from worker.sync.records import (
    lookup_value_normaliser,
    normalise_country,
    normalise_location,
    normalise_lookup,
    normalise_state,
)

log = get_logger(__name__)

Normaliser = Callable[[Any], Row | Reject]


def property_is_gone(body: Any) -> bool:
    """A `GetPropertyDetails` answer (not 404) without the record: no longer listed. Its
    status is judged by meaning, not here (`sync/statuses.py`)."""
    return not as_list(body, "GetPropertyDetails")


def associate_is_gone(body: Any) -> bool:
    return not as_list(body, "associates/{id}")


class RunKinds(Protocol):
    """The three kinds of run, bound to one run in progress (`sync/kinds.py`)."""

    def scan(self, entity: Entity) -> RunStatus: ...

    def catalogue(self, catalogue: Catalogue) -> RunStatus: ...

    def sweep(self, sweep: ImageSweep) -> RunStatus: ...


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
    status_field: str = ""
    """The raw record's status field, when a details answer can say "no longer online"."""

    def run(self, kinds: RunKinds) -> RunStatus:
        return kinds.scan(self)


@dataclass(frozen=True)
class Batch:
    """One table of a catalogue answer, and what the answer proves about the stored rows.

    Delisting is trusted only where the answer was complete: the keys of rejected
    records count as `seen`; the stored rows of a parent in `keep_scopes` (its fetch
    failed, its own record was rejected, or its sub-list came back empty) are left as
    they are; `may_delist` False (a rejected record whose id is unknown could be any
    stored row) leaves the whole table as it is.
    """

    spec: TableSpec
    items: list[Row | Reject]
    seen: list[tuple[int | None, int]]
    """(scope, key) of every record the API listed, rejected ones included."""
    keep_scopes: list[int] = field(default_factory=list)
    """Parents (`spec.parent_column`) whose stored rows this answer does not speak for."""
    may_delist: bool = True
    failed: list[Reject] = field(default_factory=list)
    """One reject per parent whose fetch failed (the parent's id, the error)."""
    empty: int = 0
    """Parents whose sub-list came back empty (not trusted: their rows are kept)."""


@dataclass(frozen=True)
class Catalogue:
    """A small entity fetched whole by `collect(client, parallelism, stop)` into table batches.

    `stop` set: no further call starts (`StopRequested`). An empty top-level answer
    raises `EmptyCatalogueError` (nothing is written or delisted).
    """

    name: str
    collect: Callable[[ReiClient, int, threading.Event | None], list[Batch]]

    def run(self, kinds: RunKinds) -> RunStatus:
        return kinds.catalogue(self)


@dataclass(frozen=True)
class ImageSweep:
    """The images of every active row of `listings`, refetched (`sync/sweep.py`)."""

    name: str = IMAGES
    listings: TableSpec = PROPERTIES_TABLE

    def run(self, kinds: RunKinds) -> RunStatus:
        return kinds.sweep(self)


EntitySpec: TypeAlias = Entity | Catalogue | ImageSweep


def _reject_key(reject: Reject) -> int | None:
    """The id a rejected record carried, when it is one we could have stored."""
    return source_key(reject.source_id)


def _top_level(client: ReiClient, path: str, what: str) -> list[Any]:
    records = as_list(client.get_json(path), what)
    if not records:
        raise EmptyCatalogueError(
            f"{path} answered an empty {what} list: not trusted, nothing written or delisted"
        )
    return records


def _top_batch(spec: TableSpec, items: list[Row | Reject]) -> Batch:
    """A catalogue's top table: rejected ids count as seen; an unknown one stops delisting."""
    seen: list[tuple[int | None, int]] = []
    may_delist = True
    for item in items:
        key = item.source_id if isinstance(item, Row) else _reject_key(item)
        if key is None:
            may_delist = False
        else:
            seen.append((None, key))
    return Batch(spec, items, seen, may_delist=may_delist)


@dataclass(frozen=True)
class _Answer:
    """The sub-list of one parent: its records, or the reject of its failed fetch."""

    parent: int
    items: list[Row | Reject]
    failed: Reject | None = None


T = TypeVar("T")


def _children(
    client: ReiClient,
    parents: list[T],
    parent_id: Callable[[T], int],
    path: Callable[[T], str],
    normalise: Callable[[T, Any], Row | Reject],
    parallelism: int,
    stop: threading.Event | None,
) -> list[_Answer]:
    """Every parent's sub-list; a parent whose fetch fails is skipped (a reject), not fatal."""

    def fetch(parent: T) -> _Answer:
        where = path(parent)
        try:
            records = as_list(client.get_json(where), where)
        except ApiError as exc:
            log.warning("sync.catalogue_scope_failed", path=where, error=str(exc))
            reason = f"{where}: fetch failed, skipped this run: {exc}"
            return _Answer(
                parent_id(parent), [], Reject(str(parent_id(parent)), reason, {"path": where})
            )
        return _Answer(parent_id(parent), [normalise(parent, record) for record in records])

    return map_bounded(fetch, parents, parallelism=parallelism, stop=stop)


def _child_batch(
    spec: TableSpec, answers: list[_Answer], keep: list[int], may_delist: bool = True
) -> Batch:
    """A child table: the stored rows of parents in `keep`, failed, empty or with a
    rejected record of unknown id are left as they are."""
    items: list[Row | Reject] = []
    seen: list[tuple[int | None, int]] = []
    keep = list(keep)
    failed: list[Reject] = []
    empty = 0
    for answer in answers:
        items.extend(answer.items)
        if answer.failed is not None:
            failed.append(answer.failed)
            keep.append(answer.parent)
            continue
        if not answer.items:
            empty += 1
            keep.append(answer.parent)
        scope = answer.parent if spec.scope else None
        for item in answer.items:
            key = item.source_id if isinstance(item, Row) else _reject_key(item)
            if key is None:
                keep.append(answer.parent)
            else:
                seen.append((item.scope_id if isinstance(item, Row) else scope, key))
    return Batch(spec, items, seen, sorted(set(keep)), may_delist, failed, empty)


def _with_parent(item: Row | Reject, column: str, parent: int) -> Row | Reject:
    """A child row without its parent id gets the one it was fetched for."""
    if isinstance(item, Row) and item.public.get(column) is None:
        return replace(item, public={**item.public, column: parent})
    return item


def _unfetched(batch: Batch, fetched: Iterable[int]) -> list[int]:
    """The keys `batch` saw whose sub-lists were not fetched (their record was rejected)."""
    asked = set(fetched)
    return [key for _, key in batch.seen if key not in asked]


def collect_lookups(
    client: ReiClient, parallelism: int, stop: threading.Event | None = None
) -> list[Batch]:
    names = [normalise_lookup(item) for item in _top_level(client, LOOKUP_NAMES_PATH, "names")]
    lookups = _top_batch(LOOKUPS_TABLE, names)
    ids = [row.source_id for row in names if isinstance(row, Row)]
    rejected = _unfetched(lookups, ids)
    answers = _children(
        client,
        ids,
        lambda lookup_id: lookup_id,
        lookup_values_path,
        lambda lookup_id, raw: lookup_value_normaliser(lookup_id)(raw),
        parallelism,
        stop,
    )
    values = _child_batch(LOOKUP_VALUES_TABLE, answers, rejected, lookups.may_delist)
    return [lookups, values]


def collect_geo(
    client: ReiClient, parallelism: int, stop: threading.Event | None = None
) -> list[Batch]:
    raw = _top_level(client, COUNTRIES_PATH, "countries")
    countries = _top_batch(COUNTRIES_TABLE, [normalise_country(c) for c in raw])
    country_ids = [row.source_id for row in countries.items if isinstance(row, Row)]
    rejected = _unfetched(countries, country_ids)
    state_answers = _children(
        client,
        country_ids,
        lambda country_id: country_id,
        states_path,
        lambda country_id, record: _with_parent(normalise_state(record), "country_id", country_id),
        parallelism,
        stop,
    )
    states = _child_batch(STATES_TABLE, state_answers, rejected, countries.may_delist)
    # Locations are asked for with the country the states were fetched for (a state's
    # own countryID may be missing). Which stored states belong to a country that was
    # not fully answered is unknown here, so then no location is delisted this run.
    pairs = [
        (answer.parent, row.source_id)
        for answer in state_answers
        for row in answer.items
        if isinstance(row, Row)
    ]
    rejected_states = _unfetched(states, (state_id for _, state_id in pairs))
    location_answers = _children(
        client,
        pairs,
        lambda pair: pair[1],
        lambda pair: locations_path(*pair),
        lambda pair, record: _with_parent(normalise_location(record), "state_id", pair[1]),
        parallelism,
        stop,
    )
    locations = _child_batch(
        LOCATIONS_TABLE,
        location_answers,
        rejected_states,
        states.may_delist and not states.keep_scopes,
    )
    return [countries, states, locations]


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
    status_field="standardStatusId",
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

ENTITIES: dict[str, Entity] = {e.name: e for e in (PROPERTIES_ENTITY, ASSOCIATES_ENTITY)}
CATALOGUES: dict[str, Catalogue] = {c.name: c for c in (LOOKUPS_CATALOGUE, GEO_CATALOGUE)}
IMAGE_SWEEP = ImageSweep()
SPECS: dict[str, EntitySpec] = {**ENTITIES, IMAGES: IMAGE_SWEEP, **CATALOGUES}
"""Every entity by the name `sync_entity` is given."""
ENTITY_NAMES = ("properties", "associates", IMAGES, "lookups", "geo")
"""Every name `sync --entity` accepts, in the order `all` runs them."""
