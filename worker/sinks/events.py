"""The change feed's writing side: `sync_events` rows worked out in the SQL that changes the data.

Each event is written by the statement (or in the transaction) that makes the change
it reports, so a crash can never leave one without the other. The merge becomes one
statement whose CTEs read the stored rows as they were (`old`: every CTE of a statement
sees the same snapshot), write the new ones (`merged`) and insert one event per real
change (`events`). Only public columns are compared, so an event never carries a
private value: a price hidden by `listPricePrivateYN` is NULL in the public row, and
a price that becomes private is reported as `price_hidden` without the value.

A run's events carry its id: the engine sets `CURRENT_RUN` for the run's thread (the
`Sink` protocol stays as it is), and a batch that wrote events sends
`NOTIFY rei_sync_events` with that id, delivered when the batch commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import psycopg

from worker.db.schema import TableSpec

CURRENT_RUN: ContextVar[int | None] = ContextVar("rei_sync_current_run", default=None)
"""The `sync_runs.id` whose writes are in progress in this thread (None outside a run)."""

NOTIFY_CHANNEL = "rei_sync_events"
FEED_LOCK = 7_245_119_771
"""The advisory lock key every events-writing transaction holds shared (`hold_feed_lock`)
and delivery takes exclusively to read a batch (see `feed/store.py` for why)."""

LISTING = "listing"
AGENT = "agent"
IMAGES = "images"
"""`TableSpec.feed` values: what a table's changes are reported as."""
ROW_FEEDS = (LISTING, AGENT)
"""Feeds whose events come from the table's own rows (images are counted per listing)."""

LISTING_KINDS = (
    "listed",
    "relisted",
    "price_changed",
    "price_hidden",
    "status_changed",
    "details_changed",
    "images_changed",
    "delisted",
)
AGENT_KINDS = ("agent_joined", "agent_changed", "agent_left")
KINDS = (*LISTING_KINDS, *AGENT_KINDS)

PRICE_COLUMNS = ("list_price", "list_price_currency_id")
STATUS_COLUMN = "status_id"

INSERT_EVENTS = "INSERT INTO sync_events (run_id, brand, entity, source_id, kind, payload) "


def _entity(spec: TableSpec) -> str:
    return LISTING if spec.feed in (LISTING, IMAGES) else AGENT


def _changed_columns(columns: Sequence[str], skip: Sequence[str]) -> str:
    """SQL: the sorted names of `columns` (less `skip`) whose values differ, old `o` → new `m`."""
    names = ", ".join(f"'{c}'" for c in columns if c not in skip)
    return (
        "coalesce((SELECT jsonb_agg(k ORDER BY k) FROM jsonb_each(m.doc) AS n(k, v) "
        f"WHERE k IN ({names}) AND v IS DISTINCT FROM o.doc -> k), '[]'::jsonb)"
    )


def _listing_kinds(columns: Sequence[str]) -> str:
    """The `(kind, payload)` rows of one listing (NULL kinds are dropped by the caller).

    `price_changed` needs a public price after the change; a public price that is gone
    (hidden, or no longer given) is `price_hidden`, without a value; a price hidden
    before and after gives nothing. Other changed columns are named in
    `details_changed`, which also reports a change of the public document that moved
    no column (a field without one), so that every real change has an event.
    """
    price, currency = PRICE_COLUMNS
    details = _changed_columns(columns, (*PRICE_COLUMNS, STATUS_COLUMN))
    new_price = f"m.doc ->> '{price}'"
    old_price = f"o.doc ->> '{price}'"
    priced = (
        f"{new_price} IS NOT NULL AND ({old_price} IS DISTINCT FROM {new_price} "
        f"OR o.doc ->> '{currency}' IS DISTINCT FROM m.doc ->> '{currency}')"
    )
    hidden = f"{new_price} IS NULL AND {old_price} IS NOT NULL"
    status_moved = f"o.doc -> '{STATUS_COLUMN}' IS DISTINCT FROM m.doc -> '{STATUS_COLUMN}'"
    snapshot = (
        f"jsonb_build_object('price', m.doc -> '{price}', 'currency_id', m.doc -> '{currency}', "
        f"'status_id', m.doc -> '{STATUS_COLUMN}')"
    )
    updated = "NOT m.inserted AND o.doc ->> 'delisted_at' IS NULL"
    return (
        "(VALUES "
        "(CASE WHEN m.inserted THEN 'listed' "
        f"WHEN o.doc ->> 'delisted_at' IS NOT NULL THEN 'relisted' END, {snapshot}), "
        f"(CASE WHEN {updated} AND {priced} THEN 'price_changed' END, jsonb_build_object("
        f"'old_price', o.doc -> '{price}', 'old_currency_id', o.doc -> '{currency}', "
        f"'price', m.doc -> '{price}', 'currency_id', m.doc -> '{currency}')), "
        f"(CASE WHEN {updated} AND {hidden} THEN 'price_hidden' END, '{{}}'::jsonb), "
        f"(CASE WHEN {updated} AND {status_moved} THEN 'status_changed' END, "
        f"jsonb_build_object('old_status_id', o.doc -> '{STATUS_COLUMN}', "
        f"'status_id', m.doc -> '{STATUS_COLUMN}')), "
        f"(CASE WHEN {updated} AND ({details} <> '[]'::jsonb OR (NOT ({priced}) "
        f"AND NOT ({hidden}) AND NOT ({status_moved}) "
        "AND o.doc -> 'raw' IS DISTINCT FROM m.doc -> 'raw')) "
        f"THEN 'details_changed' END, jsonb_build_object('columns', {details}))"
        ") AS e(kind, payload)"
    )


def _agent_kinds(columns: Sequence[str]) -> str:
    details = _changed_columns(columns, ())
    return (
        "(VALUES (CASE WHEN m.inserted OR o.doc ->> 'delisted_at' IS NOT NULL "
        "THEN 'agent_joined' "
        f"WHEN {details} <> '[]'::jsonb OR o.doc -> 'raw' IS DISTINCT FROM m.doc -> 'raw' "
        f"THEN 'agent_changed' END, "
        f"CASE WHEN m.inserted OR o.doc ->> 'delisted_at' IS NOT NULL THEN '{{}}'::jsonb "
        f"ELSE jsonb_build_object('columns', {details}) END)"
        ") AS e(kind, payload)"
    )


def merge_with_events_sql(spec: TableSpec, merge: str) -> str:
    """`merge` (an `INSERT … ON CONFLICT … RETURNING key, inserted`) wrapped so that the
    same statement inserts the events of the rows it wrote; still returns key, inserted.

    psycopg parameters: `run_id`, `brand`, `ids` (the batch's keys: the stored rows are
    read by primary key; a join with the stage, which has no statistics, was planned as
    a scan of the whole table per batch). Rows the hash guard skipped are not in
    `merged`, so they produce nothing: an unchanged batch writes no event.
    """
    key = spec.key
    kinds = _listing_kinds(spec.columns) if spec.feed == LISTING else _agent_kinds(spec.columns)
    return (
        f"WITH old AS (SELECT t.{key} AS key, to_jsonb(t) AS doc FROM {spec.table} t "
        f"WHERE t.brand = %(brand)s AND t.{key} = ANY(%(ids)s)), "
        f"merged AS ({merge}, to_jsonb({spec.table}) AS doc), "
        f"events AS ({INSERT_EVENTS}"
        f"SELECT %(run_id)s, %(brand)s, '{_entity(spec)}', m.{key}, e.kind, e.payload "
        f"FROM merged m LEFT JOIN old o ON o.key = m.{key} CROSS JOIN LATERAL {kinds} "
        f"WHERE e.kind IS NOT NULL ORDER BY m.{key}) "
        f"SELECT {key}, inserted FROM merged"
    )


def inserted_events_sql(spec: TableSpec) -> str:
    """The `listed` / `agent_joined` events of rows just COPY'd in (the fast path)."""
    key = spec.key
    if spec.feed == LISTING:
        kind = "'listed'"
        payload = (
            "jsonb_build_object('price', t.list_price, 'currency_id', t.list_price_currency_id, "
            "'status_id', t.status_id)"
        )
    else:
        kind, payload = "'agent_joined'", "'{}'::jsonb"
    return (
        f"{INSERT_EVENTS}SELECT %(run_id)s, t.brand, '{_entity(spec)}', t.{key}, {kind}, "
        f"{payload} FROM {spec.table} t WHERE t.brand = %(brand)s AND t.{key} = ANY(%(ids)s) "
        f"ORDER BY t.{key}"
    )


def delisted_with_events_sql(spec: TableSpec) -> str:
    """Mark `ids` delisted and insert their `delisted` / `agent_left` events; returns the count."""
    key = spec.key
    kind = "delisted" if spec.feed == LISTING else "agent_left"
    return (
        f"WITH gone AS (UPDATE {spec.table} SET delisted_at = now() WHERE brand = %(brand)s "
        f"AND {key} = ANY(%(ids)s) AND delisted_at IS NULL RETURNING {key}), "
        f"events AS ({INSERT_EVENTS}SELECT %(run_id)s, %(brand)s, '{_entity(spec)}', {key}, "
        f"'{kind}', '{{}}'::jsonb FROM gone ORDER BY {key}) "
        "SELECT count(*) FROM gone"
    )


IMAGE_SET_SQL = (
    "SELECT listing_id, photo_id, priority, content_hash FROM property_images "
    "WHERE brand = %(brand)s AND listing_id = ANY(%(ids)s)"
)
IMAGE_EVENTS_SQL = (
    f"{INSERT_EVENTS}SELECT %(run_id)s, %(brand)s, 'listing', u.listing_id, 'images_changed', "
    "jsonb_build_object('added', u.added, 'removed', u.removed, 'reordered', u.reordered, "
    "'updated', u.updated) FROM unnest(CAST(%(ids)s AS bigint[]), CAST(%(added)s AS int[]), "
    "CAST(%(removed)s AS int[]), CAST(%(reordered)s AS int[]), CAST(%(updated)s AS int[])) "
    "AS u(listing_id, added, removed, reordered, updated) "
    "WHERE EXISTS (SELECT 1 FROM properties p WHERE p.brand = %(brand)s "
    "AND p.listing_id = u.listing_id AND p.delisted_at IS NULL) ORDER BY u.listing_id"
)
"""Only for listings already stored and active: a new listing's images are written before
its row, and its `listed` event says all there is to say."""

ImageSet = dict[int, dict[int, tuple[int | None, str]]]
"""listing id → photo id → (priority, content hash)."""


def image_sets(cursor: psycopg.Cursor[Any], brand: str, listing_ids: Sequence[int]) -> ImageSet:
    cursor.execute(IMAGE_SET_SQL, {"brand": brand, "ids": list(listing_ids)})
    sets: ImageSet = {listing_id: {} for listing_id in listing_ids}
    for listing_id, photo_id, priority, digest in cursor.fetchall():
        sets.setdefault(int(listing_id), {})[int(photo_id)] = (priority, str(digest))
    return sets


def record_image_events(
    cursor: psycopg.Cursor[Any], brand: str, before: ImageSet, after: ImageSet
) -> int:
    """One `images_changed` per listing whose image set differs: added / removed / reordered
    (priority moved) / updated (same photo, other content) counts. Returns how many."""
    ids: list[int] = []
    counts: list[tuple[int, int, int, int]] = []
    for listing_id in sorted(set(before) | set(after)):
        old, new = before.get(listing_id, {}), after.get(listing_id, {})
        common = old.keys() & new.keys()
        reordered = sum(1 for p in common if old[p][0] != new[p][0])
        updated = sum(1 for p in common if old[p][0] == new[p][0] and old[p][1] != new[p][1])
        row = (len(new.keys() - old.keys()), len(old.keys() - new.keys()), reordered, updated)
        if any(row):
            ids.append(listing_id)
            counts.append(row)
    if not ids:
        return 0
    added, removed, moved, changed = (list(column) for column in zip(*counts, strict=True))
    hold_feed_lock(cursor)
    cursor.execute(
        IMAGE_EVENTS_SQL,
        {
            "run_id": CURRENT_RUN.get(),
            "brand": brand,
            "ids": ids,
            "added": added,
            "removed": removed,
            "reordered": moved,
            "updated": changed,
        },
    )
    return cursor.rowcount


def hold_feed_lock(cursor: psycopg.Cursor[Any]) -> None:
    """Before the transaction's first event id is taken: readers wait for it to end."""
    cursor.execute(f"SELECT pg_advisory_xact_lock_shared({FEED_LOCK})")


def notify(cursor: psycopg.Cursor[Any]) -> None:
    """`NOTIFY rei_sync_events, '<run id>'`: sent by Postgres when the transaction commits."""
    run_id = CURRENT_RUN.get()
    cursor.execute(
        "SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, "" if run_id is None else str(run_id))
    )
