"""The Supabase sink's entity tables: only new or changed rows are sent (see `cache`), as
batched upserts (`on_conflict` on the natural key, `Prefer: resolution=merge-duplicates,
return=minimal`). Image sets are replaced per listing (upsert the new ones, delete the
ones the API dropped); delistings are `PATCH`es of `delisted_at`; rejects are rows like
any other.

PostgREST has no multi-statement transactions, so a batch is not atomic as it is in
Postgres: a run killed mid-batch leaves some rows written, which the next run's hash
comparison simply finds unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from postgrest import ReturnMethod
from supabase import Client

from worker.clock import Clock, system_clock
from worker.db.schema import Reject, Row, TableSpec, UpsertResult
from worker.sinks.base import AbsentScan
from worker.sinks.encoding import json_text, storable, unique_rows
from worker.sinks.supabase.cache import PAGE_SIZE, HashCache, Key
from worker.sinks.supabase.ledger import SupabaseRunLedger
from worker.sinks.supabase.rest import chunks

BATCH_SIZE = 500
"""Rows per upsert request."""
FILTER_CHUNK = 200
"""Ids per `in.(…)` filter, to keep URLs short."""


class SupabaseSink(SupabaseRunLedger):
    """Entity tables and the run ledger of a Supabase project, through its REST API."""

    def __init__(
        self,
        client: Client,
        *,
        page_size: int = PAGE_SIZE,
        batch_size: int = BATCH_SIZE,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(client, clock=clock)
        self._batch_size = batch_size
        self._cache = HashCache(self._rest, page_size=page_size)

    @property
    def requests_for_hashes(self) -> int:
        """How many pages of stored hashes were read (for tests: once per run)."""
        return self._cache.requests_for_hashes

    def upsert(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> UpsertResult:
        unique = unique_rows(rows)
        if not unique:
            return UpsertResult()
        if spec.private_table is not None:
            self._write(
                self._private_spec(spec),
                brand,
                [(r, r.private_hash or "", self._private_record(spec, brand, r)) for r in unique],
            )
        written = self._write(
            spec,
            brand,
            [(r, r.content_hash, self._record(spec, brand, r)) for r in unique],
        )
        inserted = sum(1 for was_new, _ in written if was_new)
        return UpsertResult(
            inserted,
            len(written) - inserted,
            len(unique) - len(written),
            changed_ids=tuple(key for _, key in written),
        )

    def replace_children(
        self, spec: TableSpec, brand: str, scope_ids: Sequence[int], rows: Sequence[Row]
    ) -> UpsertResult:
        if not scope_ids:
            return UpsertResult()
        assert spec.scope is not None
        with self._cache.holding(spec, brand):
            result = self.upsert(spec, brand, rows)
            stored = self._cache.hashes(spec, brand)
            kept = {(r.scope_id, r.source_id) for r in rows}
            scopes = set(scope_ids)
            dropped: dict[int, list[int]] = {}
            for scope, key in stored:
                if scope in scopes and (scope, key) not in kept:
                    dropped.setdefault(int(scope), []).append(key)
            deleted = 0
            for scope, keys in dropped.items():
                for chunk in chunks(keys, FILTER_CHUNK):
                    self._rest.run(
                        f"deleting rows of {spec.table}",
                        self._rest.table(spec.table)
                        .delete(returning=ReturnMethod.minimal)
                        .eq("brand", brand)
                        .eq(spec.scope, scope)
                        .in_(spec.key, chunk),
                    )
                    for key in chunk:
                        stored.pop((scope, key), None)
                    deleted += len(chunk)
        return result + UpsertResult(deleted=deleted)

    def stale_keys(self, spec: TableSpec, brand: str, rows: Sequence[Row]) -> set[int]:
        if spec.scope is not None:
            raise ValueError("stale_keys is for tables keyed by one id")
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            return {
                r.source_id
                for r in rows
                if stored.get((None, r.source_id)) != (r.content_hash, False)
            }

    def stored_hashes(
        self, spec: TableSpec, brand: str, ids: Sequence[int]
    ) -> dict[int, tuple[str, str | None]]:
        """(content hash, private hash or None) of the active stored rows among `ids`."""
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            active: dict[int, str] = {}
            for key in ids:
                entry = stored.get((None, key))
                if entry is not None and not entry[1]:
                    active[key] = entry[0]
        private: dict[int, str] = {}
        if spec.private_table is not None:
            private_spec = self._private_spec(spec)
            with self._cache.holding(private_spec, brand):
                secrets = self._cache.hashes(private_spec, brand)
                for key in active:
                    secret = secrets.get((None, key))
                    if secret is not None:
                        private[key] = secret[0]
        return {key: (digest, private.get(key)) for key, digest in active.items()}

    def active_ids(self, spec: TableSpec, brand: str) -> set[int]:
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            return {key for (_, key), (_, delisted) in stored.items() if not delisted}

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        active = self.active_ids(spec, brand)
        return len(active), sorted(active.difference(seen))

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int:
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            active = [(None, i) for i in dict.fromkeys(ids) if (None, i) in stored]
            active = [k for k in active if not stored[k][1]]
            return self._delist(spec, brand, active)

    def delist_absent(self, spec: TableSpec, brand: str, scan: AbsentScan) -> int | None:
        scan.check(spec)
        parent = spec.parent_column
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            active = [key for key, (_, delisted) in stored.items() if not delisted]
            wanted = {(scope if spec.scope else None, key) for scope, key in scan.seen}
            missing = [key for key in active if key not in wanted]
            if scan.keep_scopes and missing and parent is not None:
                kept = set(scan.keep_scopes)
                if spec.scope:
                    missing = [key for key in missing if key[0] not in kept]
                else:
                    parents = {
                        int(row[spec.key]): row.get(parent)
                        for row in self._cache.pages(spec, brand, f"{spec.key},{parent}")
                    }
                    missing = [key for key in missing if parents.get(key[1]) not in kept]
            if scan.exceeds_guard(len(missing), len(active)):
                return None
            return self._delist(spec, brand, missing)

    def record_rejects(
        self, run_id: int, brand: str, entity: str, rejects: Sequence[Reject]
    ) -> None:
        """Insert the rejects, in batches; a batch is never sent twice (`may_repeat`), so
        a batch whose answer is lost fails the call: it may or may not be stored, never
        twice."""
        records = [
            {
                "run_id": run_id,
                "brand": brand,
                "entity": entity,
                "source_id": storable(r.source_id),
                "reason": storable(r.reason),
                "payload": orjson.loads(json_text(r.payload)),
            }
            for r in rejects
        ]
        for batch in chunks(records, self._batch_size):
            self._rest.run(
                "recording rejects",
                self._rest.table("sync_rejects").insert(batch, returning=ReturnMethod.minimal),
            )

    def _starting(self, brand: str, entity: str) -> None:
        """The start of "once per run": the stored hashes of the tables this entity
        touches (`ENTITY_TABLES`) are read afresh; other runs' caches are kept."""
        self._cache.forget(brand, entity)

    @staticmethod
    def _private_spec(spec: TableSpec) -> TableSpec:
        assert spec.private_table is not None
        return TableSpec(
            spec.private_table,
            spec.key,
            spec.private_columns,
            scope=spec.scope,
            tracks_delisting=False,
        )

    def _write(
        self,
        spec: TableSpec,
        brand: str,
        candidates: list[tuple[Row, str, dict[str, Any]]],
    ) -> list[tuple[bool, int]]:
        """Upsert the candidates whose hash differs from the stored one; (was new, key) each."""
        with self._cache.holding(spec, brand):
            stored = self._cache.hashes(spec, brand)
            changed = [
                (row, digest, record)
                for row, digest, record in candidates
                if stored.get(_key(spec, row)) != (digest, False)
            ]
            on_conflict = ",".join(("brand", *spec.key_columns))
            written: list[tuple[bool, int]] = []
            for batch in chunks(changed, self._batch_size):
                self._rest.run(
                    f"upsert into {spec.table}",
                    self._rest.table(spec.table).upsert(
                        [record for _, _, record in batch],
                        on_conflict=on_conflict,
                        returning=ReturnMethod.minimal,
                    ),
                )
                for row, digest, _ in batch:
                    key = _key(spec, row)
                    written.append((key not in stored, row.source_id))
                    stored[key] = (digest, False)
        return written

    def _record(self, spec: TableSpec, brand: str, row: Row) -> dict[str, Any]:
        record: dict[str, Any] = {"brand": brand, **_key_values(spec, row)}
        record.update({c: _plain(row.public[c]) for c in spec.columns})
        record["raw"] = orjson.loads(json_text(row.raw))
        record["content_hash"] = row.content_hash
        record["updated_at"] = self._rest.now()
        if spec.tracks_delisting:
            record["delisted_at"] = None
        return record

    def _private_record(self, spec: TableSpec, brand: str, row: Row) -> dict[str, Any]:
        record: dict[str, Any] = {"brand": brand, **_key_values(spec, row)}
        record.update({c: _plain((row.private or {}).get(c)) for c in spec.private_columns})
        record["raw"] = orjson.loads(json_text(row.private_raw or {}))
        record["content_hash"] = row.private_hash
        record["updated_at"] = self._rest.now()
        return record

    def _delist(self, spec: TableSpec, brand: str, keys: Sequence[Key]) -> int:
        """Set `delisted_at` of `keys`; callers hold the table's lock (`HashCache.holding`)."""
        stored = self._cache.hashes(spec, brand)
        by_scope: dict[int | None, list[int]] = {}
        for scope, key in keys:
            by_scope.setdefault(scope, []).append(key)
        now = self._rest.now()
        for scope, ids in by_scope.items():
            for chunk in chunks(ids, FILTER_CHUNK):
                query = (
                    self._rest.table(spec.table)
                    .update({"delisted_at": now}, returning=ReturnMethod.minimal)
                    .eq("brand", brand)
                    .in_(spec.key, chunk)
                    .is_("delisted_at", "null")
                )
                if spec.scope is not None:
                    query = query.eq(spec.scope, scope)
                self._rest.run(f"delisting rows of {spec.table}", query)
                for key in chunk:
                    digest, _ = stored[(scope, key)]
                    stored[(scope, key)] = (digest, True)
        return len(keys)


def _key(spec: TableSpec, row: Row) -> Key:
    return (row.scope_id if spec.scope else None, row.source_id)


def _key_values(spec: TableSpec, row: Row) -> dict[str, Any]:
    if spec.scope:
        return {spec.scope: row.scope_id, spec.key: row.source_id}
    return {spec.key: row.source_id}


def _plain(value: Any) -> Any:
    """A JSON value PostgREST casts back exactly (numerics as strings, times as ISO 8601)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        return storable(value)
    return value
