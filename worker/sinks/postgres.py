"""Postgres sink: COPY a batch into a temp table, then one merge that writes only changed rows.

Each batch is one transaction. The temp table is `ON COMMIT DROP`, so nothing
outlives the transaction and the sink works through a transaction pooler.
Table and column names come from `TableSpec` constants, never from data; every
value is a bound parameter or COPY data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import sqlalchemy as sa

from worker.db.schema import Reject, Row, TableSpec, UpsertResult
from worker.sinks import events
from worker.sinks.base import AbsentScan
from worker.sinks.dberrors import translate_db_errors
from worker.sinks.encoding import json_text as _json
from worker.sinks.encoding import storable as _storable
from worker.sinks.encoding import unique_rows as _unique
from worker.sinks.pgcopy import copy_records as _copy
from worker.sinks.pgcopy import private_records as _private_records
from worker.sinks.pgcopy import public_records as _public_records
from worker.sinks.pgsql import (
    INSERT_REJECTS,
    SEEN_TABLE,
    active_ids_sql,
    count_active_sql,
    create_stage_sql,
    delete_missing_children_sql,
    delist_absent_sql,
    delisting_candidates_sql,
    mark_delisted_sql,
    merge_sql,
    stage_table,
    stale_keys_sql,
    stored_hashes_sql,
    stored_keys_sql,
)
from worker.sinks.runs import PostgresRunLedger

__all__ = ["PostgresSink", "merge_sql"]  # merge_sql: where it was before `pgsql`


@translate_db_errors
class PostgresSink(PostgresRunLedger):
    """Entity tables and the run ledger of one database.

    Database errors are left to `translate_db_errors` (no method catches them itself):
    a lost connection becomes a retryable `DatabaseUnavailableError`, and no message
    carries a row's values (see `dberrors`).
    """

    def upsert(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> UpsertResult:
        unique = _unique(rows)
        if not unique:
            return UpsertResult()
        with self._engine.begin() as connection:
            cursor = _cursor(connection)
            if spec.feed != events.IMAGES:
                return self._upsert(cursor, spec, brand, unique)
            scopes = sorted({r.scope_id for r in unique if r.scope_id is not None})
            before = events.image_sets(cursor, brand, scopes)
            result = self._upsert(cursor, spec, brand, unique)
            _record_image_events(cursor, brand, before, result, scopes)
            return result

    def replace_children(
        self, spec: TableSpec, brand: str, scope_ids: Sequence[int], rows: Sequence[Row]
    ) -> UpsertResult:
        """Make the stored children of each parent in `scope_ids` exactly `rows`, atomically."""
        if not scope_ids:
            return UpsertResult()
        unique = _unique(rows)
        with self._engine.begin() as connection:
            cursor = _cursor(connection)
            feed = spec.feed == events.IMAGES
            before = events.image_sets(cursor, brand, scope_ids) if feed else {}
            result = self._upsert(cursor, spec, brand, unique) if unique else UpsertResult()
            cursor.execute(
                delete_missing_children_sql(spec),
                {
                    "brand": brand,
                    "scopes": list(scope_ids),
                    "kept_scopes": [r.scope_id for r in unique],
                    "kept_keys": [r.source_id for r in unique],
                },
            )
            result += UpsertResult(deleted=cursor.rowcount)
            if feed:
                _record_image_events(cursor, brand, before, result, scope_ids)
            return result

    def stale_keys(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> set[int]:
        if spec.scope is not None:
            raise ValueError("stale_keys is for tables keyed by one id")
        wanted = {row.source_id: row.content_hash for row in rows}
        with self._engine.connect() as connection:
            result = connection.execute(stale_keys_sql(spec), {"brand": brand, "ids": list(wanted)})
            stored: dict[int, str] = {int(key): str(digest) for key, digest in result}
        return {key for key, digest in wanted.items() if stored.get(key) != digest}

    def stored_hashes(
        self, spec: TableSpec, brand: str, ids: Sequence[int]
    ) -> dict[int, tuple[str, str | None]]:
        if spec.scope is not None:
            raise ValueError("stored_hashes is for tables keyed by one id")
        if not ids:
            return {}
        # One statement, no transaction: no BEGIN before it, no ROLLBACK when it is returned.
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            cursor = _cursor(connection)
            cursor.execute(stored_hashes_sql(spec), {"brand": brand, "ids": list(ids)})
            return {
                int(key): (str(public), None if private is None else str(private))
                for key, public, private in cursor.fetchall()
            }

    def active_ids(self, spec: TableSpec, brand: str) -> set[int]:
        with self._engine.connect() as connection:
            return set(connection.execute(active_ids_sql(spec), {"brand": brand}).scalars())

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        """`seen` COPY'd into a temp table (text, 50,000 ids a write), then an anti-join."""
        with self._engine.begin() as connection:
            cursor = _cursor(connection)
            cursor.execute(f"CREATE TEMP TABLE {SEEN_TABLE} (id bigint) ON COMMIT DROP")
            with cursor.copy(f"COPY {SEEN_TABLE} (id) FROM STDIN") as copy:
                for offset in range(0, len(seen), 50_000):
                    chunk = seen[offset : offset + 50_000]
                    copy.write("".join(f"{key}\n" for key in chunk))
            cursor.execute(f"ANALYZE {SEEN_TABLE}")
            cursor.execute(delisting_candidates_sql(spec), {"brand": brand})
            candidates = [int(key) for (key,) in cursor.fetchall()]
            cursor.execute(
                f"SELECT count(*) FROM {spec.table} WHERE brand = %(brand)s "
                "AND delisted_at IS NULL",
                {"brand": brand},
            )
            row = cursor.fetchone()
        return (0 if row is None else int(row[0])), candidates

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self._engine.begin() as connection:
            if spec.feed not in events.ROW_FEEDS:
                result = connection.execute(
                    mark_delisted_sql(spec), {"brand": brand, "ids": list(ids)}
                )
                return int(result.rowcount)
            cursor = _cursor(connection)
            events.hold_feed_lock(cursor)
            cursor.execute(
                events.delisted_with_events_sql(spec),
                {"brand": brand, "ids": list(ids), "run_id": events.CURRENT_RUN.get()},
            )
            found = cursor.fetchone()
            delisted = 0 if found is None else int(found[0])
            if delisted:
                events.notify(cursor)
        return delisted

    def delist_absent(self, spec: TableSpec, brand: str, scan: AbsentScan) -> int | None:
        scan.check(spec)
        with self._engine.connect() as connection, connection.begin() as transaction:
            active = connection.execute(count_active_sql(spec), {"brand": brand}).scalar_one()
            result = connection.execute(
                delist_absent_sql(spec),
                {
                    "brand": brand,
                    "scopes": [-1 if scope is None else scope for scope, _ in scan.seen],
                    "keys": [key for _, key in scan.seen],
                    "keep": list(scan.keep_scopes),
                },
            )
            if scan.exceeds_guard(result.rowcount, active):
                transaction.rollback()
                return None
        return int(result.rowcount)

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None:
        if not rejects:
            return
        with self._engine.begin() as connection:
            connection.execute(
                INSERT_REJECTS,
                [
                    {
                        "run_id": run_id,
                        "brand": brand,
                        "entity": entity,
                        "source_id": _storable(r.source_id),
                        "reason": _storable(r.reason),
                        "payload": _json(r.payload),
                    }
                    for r in rejects
                ],
            )

    def _upsert(
        self, cursor: psycopg.Cursor[Any], spec: TableSpec, brand: str, rows: list[Row]
    ) -> UpsertResult:
        """New keys are COPY'd straight into the tables; stored ones go through the merge.

        A key is new when no row (active or delisted) has it: one query. The direct COPY
        runs under a savepoint; a unique violation (a concurrent writer inserted one of
        them meanwhile) rolls it back and the whole batch takes the merge instead.
        """
        # Key order for the direct COPY too: concurrent writers lock shared keys in one order.
        rows = sorted(rows, key=lambda r: (r.scope_id or 0, r.source_id))
        if spec.feed in events.ROW_FEEDS:
            events.hold_feed_lock(cursor)
        stored = _stored_keys(cursor, spec, brand, rows)
        new = [r for r in rows if _key(spec, r) not in stored]
        merged = [r for r in rows if _key(spec, r) in stored] if new else rows
        changed: list[tuple[int, bool]] = []
        if new:
            if _copy_new(cursor, spec, brand, new):
                changed.extend((r.source_id, True) for r in new)
                _refresh_statistics(cursor, spec, len(new))
                if spec.feed in events.ROW_FEEDS:
                    cursor.execute(
                        events.inserted_events_sql(spec),
                        {
                            "brand": brand,
                            "ids": [r.source_id for r in new],
                            "run_id": events.CURRENT_RUN.get(),
                        },
                    )
            else:
                merged = rows
        if merged:
            changed.extend(self._merge_rows(cursor, spec, brand, merged))
        if changed and spec.feed in events.ROW_FEEDS:
            events.notify(cursor)
        inserted = sum(1 for _, was_inserted in changed if was_inserted)
        return UpsertResult(
            inserted,
            len(changed) - inserted,
            len(rows) - len(changed),
            changed_ids=tuple(key for key, _ in changed),
        )

    def _merge_rows(
        self, cursor: psycopg.Cursor[Any], spec: TableSpec, brand: str, rows: list[Row]
    ) -> list[tuple[int, bool]]:
        changed = _merge(
            cursor,
            spec.table,
            spec.key_columns,
            spec.columns,
            _public_records(spec, brand, rows),
            tracks_delisting=spec.tracks_delisting,
            feed=spec if spec.feed in events.ROW_FEEDS else None,
            brand=brand,
        )
        if spec.private_table is not None:
            _merge(
                cursor,
                spec.private_table,
                spec.key_columns,
                spec.private_columns,
                _private_records(spec, brand, rows),
                tracks_delisting=False,
            )
        return changed


def _key(spec: TableSpec, row: Row) -> tuple[int | None, int]:
    return (row.scope_id if spec.scope else None, row.source_id)


def _stored_keys(
    cursor: psycopg.Cursor[Any], spec: TableSpec, brand: str, rows: list[Row]
) -> set[tuple[int | None, int]]:
    ids = list({r.scope_id if spec.scope else r.source_id for r in rows})
    cursor.execute(stored_keys_sql(spec), {"brand": brand, "ids": ids})
    return {(None if scope is None else int(scope), int(key)) for scope, key in cursor.fetchall()}


def _copy_new(cursor: psycopg.Cursor[Any], spec: TableSpec, brand: str, rows: list[Row]) -> bool:
    """COPY rows whose keys are not stored into the table (and its private twin) directly.

    False, with nothing written, when a key turned out to be stored after all.
    """
    cursor.execute("SAVEPOINT rei_sync_direct")
    try:
        _copy(
            cursor, spec.table, spec.key_columns, spec.columns, _public_records(spec, brand, rows)
        )
        if spec.private_table is not None:
            _copy(
                cursor,
                spec.private_table,
                spec.key_columns,
                spec.private_columns,
                _private_records(spec, brand, rows),
            )
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT rei_sync_direct")
        return False
    return True


ANALYZE_GROWTH = 0.1
"""Re-analyse a table's key columns when one COPY adds this fraction of its known rows."""


def _refresh_statistics(cursor: psycopg.Cursor[Any], spec: TableSpec, copied: int) -> None:
    """ANALYZE the key columns of a table that a direct COPY just grew by >= 10 %.

    A table filled by a first sync has no statistics until autovacuum gets to it, and
    then the planner answers `stored_hashes` (key = ANY(ids) AND delisted_at IS NULL)
    by walking the partial active-rows index over the whole brand: every batch reads
    every row stored so far (quadratic in a cold run, 190 ms a batch at 20k rows in the
    no-change run that follows). Key columns only: the `raw` jsonb is what makes a full
    ANALYZE slow. Rows this transaction inserted count, so the first batch already helps.
    """
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = CAST(%s AS regclass)", (spec.table,))
    found = cursor.fetchone()
    known = -1.0 if found is None else float(found[0])
    if known >= 0 and copied < ANALYZE_GROWTH * known:
        return
    keys = ["brand", *spec.key_columns]
    active = ["delisted_at"] if spec.tracks_delisting else []
    cursor.execute(f"ANALYZE {spec.table} ({', '.join([*keys, *active])})")
    if spec.private_table is not None:
        cursor.execute(f"ANALYZE {spec.private_table} ({', '.join(keys)})")


def _merge(
    cursor: psycopg.Cursor[Any],
    table: str,
    keys: Sequence[str],
    columns: Sequence[str],
    records: list[tuple[Any, ...]],
    *,
    tracks_delisting: bool,
    feed: TableSpec | None = None,
    brand: str | None = None,
) -> list[tuple[int, bool]]:
    """COPY `records` into `table`'s stage, then merge: three round trips.

    The stage is created per transaction and dropped at commit (transaction-pooler
    safe); a second merge into the same table in one transaction empties it first.
    With `feed` (the public table of listings or agents), the merge statement also
    writes the change feed's events (`events.merge_with_events_sql`).
    """
    cursor.execute(create_stage_sql(table, keys, columns))
    _copy(cursor, stage_table(table), keys, columns, records)
    merge = merge_sql(table, keys, columns, tracks_delisting=tracks_delisting)
    if feed is None:
        cursor.execute(merge)
    else:
        cursor.execute(
            events.merge_with_events_sql(feed, merge),
            {
                "brand": brand,
                "run_id": events.CURRENT_RUN.get(),
                "ids": [record[1] for record in records],  # (brand, key, ...): one-key tables
            },
        )
    return [(int(row[0]), bool(row[1])) for row in cursor.fetchall()]


def _record_image_events(
    cursor: psycopg.Cursor[Any],
    brand: str,
    before: events.ImageSet,
    result: UpsertResult,
    scopes: Sequence[int],
) -> None:
    """The `images_changed` events of a write to `property_images` (nothing when it changed
    nothing: the no-change path reads no image set twice)."""
    if not (result.inserted or result.updated or result.deleted):
        return
    after = events.image_sets(cursor, brand, scopes)
    if events.record_image_events(cursor, brand, before, after):
        events.notify(cursor)


def _cursor(connection: sa.Connection) -> psycopg.Cursor[Any]:
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver.cursor()
