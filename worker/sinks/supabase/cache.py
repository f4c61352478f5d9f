"""The stored-hash cache of the Supabase sink: change detection on the client.

The stored `content_hash` (and `delisted_at`) of a brand's rows are read once per run
and table, paginated with `Range` (a page shorter than asked for is not the last:
Supabase's `max-rows` caps every answer). One sink serves concurrent runs (the daemon's
jobs share it): the cache is one per (table, brand), kept equal to the table by updating
it after each write with the table's lock held (reads of the table wait for writes in
flight), and a run's start reads afresh only the tables its entity writes or reads
(`ENTITY_TABLES`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from postgrest import CountMethod

from worker.db.schema import (
    ASSOCIATES_TABLE,
    COUNTRIES_TABLE,
    IMAGES,
    IMAGES_TABLE,
    LOCATIONS_TABLE,
    LOOKUP_VALUES_TABLE,
    LOOKUPS_TABLE,
    PROPERTIES_TABLE,
    STATES_TABLE,
    TableSpec,
)
from worker.sinks.supabase.rest import RestTables

PAGE_SIZE = 1000
"""Rows per `Range` page when reading stored hashes (Supabase's default `max-rows`)."""


def _tables(*specs: TableSpec) -> frozenset[str]:
    return frozenset(
        name for spec in specs for name in (spec.table, spec.private_table) if name is not None
    )


ENTITY_TABLES: dict[str, frozenset[str]] = {
    "properties": _tables(PROPERTIES_TABLE, IMAGES_TABLE),
    "associates": _tables(ASSOCIATES_TABLE),
    IMAGES: _tables(IMAGES_TABLE) | {PROPERTIES_TABLE.table},  # it reads the active listings
    "lookups": _tables(LOOKUPS_TABLE, LOOKUP_VALUES_TABLE),
    "geo": _tables(COUNTRIES_TABLE, STATES_TABLE, LOCATIONS_TABLE),
}
"""The tables a run of each entity reads or writes through the sink: its start reads them
afresh. A run of any other entity (a custom `Entity`) reads all of the brand's afresh."""

Key = tuple[int | None, int]
"""(scope id or None, key) of a stored row."""
Stored = dict[Key, tuple[str, bool]]
"""Key → (content_hash, delisted)."""


class HashCache:
    """The stored (hash, delisted) per key of each (table, brand), read through `rest`."""

    def __init__(self, rest: RestTables, *, page_size: int = PAGE_SIZE) -> None:
        self._rest = rest
        self._page_size = page_size
        self._lock = threading.Lock()
        """Guards `_stored`, `_table_locks` and the counter; never held across a request."""
        self._stored: dict[tuple[str, str], Stored] = {}
        self._table_locks: dict[tuple[str, str], threading.RLock] = {}
        self.requests_for_hashes = 0
        """How many pages of stored hashes were read (for tests: once per run)."""

    def forget(self, brand: str, entity: str) -> None:
        """Drop the cached hashes of the tables a run of `entity` touches (all the brand's
        for an entity not in `ENTITY_TABLES`). A run working on one of them meanwhile
        finishes its operation on the dropped copy and reads the table afresh for the next
        one, after its writes (the table's lock orders them)."""
        tables = ENTITY_TABLES.get(entity)
        with self._lock:
            for cached in [k for k in self._stored if k[1] == brand]:
                if tables is None or cached[0] in tables:
                    del self._stored[cached]

    @contextmanager
    def holding(self, spec: TableSpec, brand: str) -> Iterator[None]:
        """The lock of the brand's `spec.table` (re-entrant): held from reading the cached
        hashes to updating them after a write, so that no run caches a table while another
        run's write to it is in flight, and no two runs mutate one cache at once."""
        with self._lock:
            lock = self._table_locks.setdefault((spec.table, brand), threading.RLock())
        with lock:
            yield

    def hashes(self, spec: TableSpec, brand: str) -> Stored:
        """The brand's stored (hash, delisted) per key: read once per run, `Range`-paginated.

        Callers hold the table's lock (`holding`) while they use the result."""
        with self.holding(spec, brand):
            with self._lock:
                cached = self._stored.get((spec.table, brand))
            if cached is not None:
                return cached
            stored: Stored = {}
            tracks = spec.tracks_delisting
            columns = [*spec.key_columns, "content_hash"] + (["delisted_at"] if tracks else [])
            for row in self.pages(spec, brand, ",".join(columns)):
                scope = int(row[spec.scope]) if spec.scope else None
                delisted = tracks and row.get("delisted_at") is not None
                stored[(scope, int(row[spec.key]))] = (str(row["content_hash"]), delisted)
            with self._lock:
                self._stored[(spec.table, brand)] = stored
            return stored

    def pages(self, spec: TableSpec, brand: str, columns: str) -> Iterator[dict[str, Any]]:
        """The brand's rows of `spec.table` in key order, one `Range` page per request.

        The server may answer fewer rows than asked for (Supabase's `max-rows` caps every
        answer, and may be below `page_size`), so a short page is not the last one: the
        next page starts where this one ended, until the total the first answer counted
        (`count=exact`) is read, or, without a total, until a page is empty.
        """
        start = 0
        total: int | None = None
        while total is None or start < total:
            query = (
                self._rest.table(spec.table)
                .select(columns, count=CountMethod.exact if start == 0 else None)
                .eq("brand", brand)
            )
            for column in spec.key_columns:
                query = query.order(column)
            query.request.headers["Range-Unit"] = "items"
            query.request.headers["Range"] = f"{start}-{start + self._page_size - 1}"
            with self._lock:
                self.requests_for_hashes += 1
            response = self._rest.run(f"reading stored hashes of {spec.table}", query)
            if start == 0:
                total = response.count
            page = response.data
            if not page:
                return
            yield from page
            start += len(page)
