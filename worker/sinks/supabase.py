"""Supabase REST sink: the same `Store` contract as the Postgres sink, through PostgREST.

For deployments that only have a project URL and the service-role key (the
`rei-sync[supabase]` extra). Change detection works as in Postgres, but on the
client: the stored `content_hash` (and `delisted_at`) of a brand's rows are read
once per run and table, paginated with `Range` (a page shorter than asked for is not
the last: Supabase's `max-rows` caps every answer), and only new or changed rows are
sent, as batched upserts (`on_conflict` on the natural key, `Prefer:
resolution=merge-duplicates, return=minimal`). Image sets are replaced per listing
(upsert the new ones, delete the ones the API dropped); delistings are `PATCH`es
of `delisted_at`; runs and rejects are rows like any other.

PostgREST has no multi-statement transactions, so a batch is not atomic as it is
in Postgres: a run killed mid-batch leaves some rows written, which the next run's
hash comparison simply finds unchanged. Requests are retried at the HTTP transport
with the project's `RetryPolicy` (full jitter, `Retry-After`, a total time cap), but
a request is sent again only when doing it twice is the same as once (reads, `PATCH`,
`DELETE`, upserts with `resolution=merge-duplicates`) or when the failure proves it
was not done (no connection, 429, 503 with `Retry-After`): a plain insert (a run, a
reject) whose answer is lost may have been committed (see `start_run`).

One sink serves concurrent runs (the daemon's jobs share it): the stored-hash cache is
one per (table, brand), kept equal to the table by updating it after each write with
the table's lock held (reads of the table wait for writes in flight), and a run's start
reads afresh only the tables its entity writes or reads (`ENTITY_TABLES`).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import orjson
from postgrest import APIError, CountMethod, ReturnMethod, SyncRequestBuilder
from supabase import Client, ClientOptions, create_client

from worker.clock import Clock, system_clock
from worker.clock import sleep as system_sleep
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
    SUCCESS_STATUSES,
    Reject,
    RejectRecord,
    Row,
    RunCounts,
    RunRecord,
    RunStatus,
    TableSpec,
    UpsertResult,
)
from worker.errors import SinkError
from worker.retry import (
    DEFAULT_BASE_DELAY_SECONDS,
    DEFAULT_MAX_DELAY_SECONDS,
    DEFAULT_TOTAL_CAP_SECONDS,
    RetryPolicy,
    with_retries,
)
from worker.retry_after import retry_after_seconds
from worker.sinks.base import check_keep_scopes, exceeds_guard
from worker.sinks.encoding import json_text, storable, unique_rows

PAGE_SIZE = 1000
"""Rows per `Range` page when reading stored hashes (Supabase's default `max-rows`)."""
BATCH_SIZE = 500
"""Rows per upsert request."""
FILTER_CHUNK = 200
"""Ids per `in.(…)` filter, to keep URLs short."""
RETRY_ATTEMPTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures before the request left: sending it again cannot do it twice."""
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
ABANDONED_ERROR = "left running by a process that stopped"
REJECT_COLUMNS = "id,run_id,brand,entity,source_id,reason,created_at"
"""What `latest_rejects` selects: never `payload` (it may hold private fields)."""
RUN_KEY = "run_key"
"""The `details` field of a running run that `start_run` finds it by (see there)."""


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
T = TypeVar("T")


def may_repeat(request: httpx.Request) -> bool:
    """Whether doing `request` twice is the same as doing it once.

    Reads, `PATCH`es (they set values) and `DELETE`s can be repeated; a `POST` only
    when it is an upsert that merges duplicates. A plain insert cannot: its answer may
    be lost after the server committed it.
    """
    if request.method != "POST":
        return True
    return "resolution=merge-duplicates" in request.headers.get("Prefer", "")


class _FailedAnswer(SinkError):
    """A retryable error status, kept to be returned if it is the last attempt's."""

    retryable = True

    def __init__(
        self, request: httpx.Request, response: httpx.Response, retry_after: float | None
    ) -> None:
        super().__init__(f"HTTP {response.status_code} on {request.url.path}")
        self.response = response
        self.retry_after = retry_after


class _NoAnswer(SinkError):
    """A timeout or a network error, kept to be raised if it is the last attempt's."""

    def __init__(self, request: httpx.Request, error: httpx.HTTPError, retryable: bool) -> None:
        super().__init__(f"{type(error).__name__} on {request.url.path}")
        self.error = error
        self.retryable = retryable


class RetryingTransport(httpx.BaseTransport):
    """Retries a request that failed with 5xx/429, a timeout or a connection error, per
    `RetryPolicy` (`worker/retry.py`: full jitter, `Retry-After`, a total time cap).

    A request that cannot be repeated (`may_repeat`) is retried only when the failure
    proves it was not done: no connection was made (`NOT_SENT`), or the server refused it
    (429, or 503 with `Retry-After`). Any other failure of it is answered as it came.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = system_sleep,
        clock: Clock = system_clock,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._clock = clock
        """Wall clock (epoch seconds) that a `Retry-After` HTTP-date is counted from."""
        base = policy or RetryPolicy(
            max_attempts=RETRY_ATTEMPTS,
            base_delay_seconds=DEFAULT_BASE_DELAY_SECONDS,
            max_delay_seconds=DEFAULT_MAX_DELAY_SECONDS,
            total_cap_seconds=DEFAULT_TOTAL_CAP_SECONDS,
            sleep=sleep,
        )
        self._policy = dataclasses.replace(base, sleep=self._counted(base.sleep))
        self.retries = 0

    def _counted(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        def counted(seconds: float) -> None:
            self.retries += 1
            sleep(seconds)

        return counted

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a body sent again must be in memory
        repeatable = may_repeat(request)

        def attempt() -> httpx.Response:
            try:
                response = self._inner.handle_request(request)
            except (httpx.TimeoutException, httpx.NetworkError) as exc:
                raise _NoAnswer(request, exc, repeatable or isinstance(exc, NOT_SENT)) from exc
            status = response.status_code
            if status not in RETRY_STATUSES:
                return response
            refused = status == 429 or (status == 503 and "Retry-After" in response.headers)
            if not (repeatable or refused):
                return response
            response.read()  # returned as it is if no retry follows
            response.close()
            retry_after = retry_after_seconds(
                response.headers.get("Retry-After"), now=self._clock()
            )
            raise _FailedAnswer(request, response, retry_after)

        try:
            return with_retries(
                attempt, self._policy, what=f"supabase {request.method}", retry_on=SinkError
            )
        except _FailedAnswer as exc:
            return exc.response
        except _NoAnswer as exc:
            raise exc.error from None

    def close(self) -> None:
        self._inner.close()


def create_supabase_client(
    url: str,
    service_role_key: str,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = system_sleep,
    retry: RetryPolicy | None = None,
    read_timeout: float = READ_TIMEOUT_SECONDS,
) -> Client:
    """A supabase-py client whose PostgREST calls go through `RetryingTransport`
    (with `retry`, or the default policy sleeping with `sleep`)."""
    http = httpx.Client(
        transport=RetryingTransport(transport, policy=retry, sleep=sleep),
        timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
        follow_redirects=True,
    )
    options = ClientOptions(
        httpx_client=http, postgrest_client_retry=False, auto_refresh_token=False
    )
    options.persist_session = False
    return create_client(url, service_role_key, options=options)


class SupabaseSink:
    """Entity tables and the run ledger of a Supabase project, through its REST API."""

    def __init__(
        self,
        client: Client,
        *,
        page_size: int = PAGE_SIZE,
        batch_size: int = BATCH_SIZE,
        clock: Clock = system_clock,
    ) -> None:
        self._client = client
        self._page_size = page_size
        self._batch_size = batch_size
        self._clock = clock
        self._lock = threading.Lock()
        """Guards `_stored`, `_table_locks` and the counter; never held across a request."""
        self._stored: dict[tuple[str, str], Stored] = {}
        self._table_locks: dict[tuple[str, str], threading.RLock] = {}
        self.requests_for_hashes = 0
        """How many pages of stored hashes were read (for tests: once per run)."""

    # --- entity tables ---------------------------------------------------------------------

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
        with self._holding(spec, brand):
            result = self.upsert(spec, brand, rows)
            stored = self._hashes(spec, brand)
            kept = {(r.scope_id, r.source_id) for r in rows}
            scopes = set(scope_ids)
            dropped: dict[int, list[int]] = {}
            for scope, key in stored:
                if scope in scopes and (scope, key) not in kept:
                    dropped.setdefault(int(scope), []).append(key)
            deleted = 0
            for scope, keys in dropped.items():
                for chunk in _chunks(keys, FILTER_CHUNK):
                    self._run(
                        f"deleting rows of {spec.table}",
                        self._table(spec.table)
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
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            return {
                r.source_id
                for r in rows
                if stored.get((None, r.source_id)) != (r.content_hash, False)
            }

    def stored_hashes(
        self, spec: TableSpec, brand: str, ids: Sequence[int]
    ) -> dict[int, tuple[str, str | None]]:
        """(content hash, private hash or None) of the active stored rows among `ids`."""
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            active: dict[int, str] = {}
            for key in ids:
                entry = stored.get((None, key))
                if entry is not None and not entry[1]:
                    active[key] = entry[0]
        private: dict[int, str] = {}
        if spec.private_table is not None:
            private_spec = self._private_spec(spec)
            with self._holding(private_spec, brand):
                secrets = self._hashes(private_spec, brand)
                for key in active:
                    secret = secrets.get((None, key))
                    if secret is not None:
                        private[key] = secret[0]
        return {key: (digest, private.get(key)) for key, digest in active.items()}

    def active_ids(self, spec: TableSpec, brand: str) -> set[int]:
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            return {key for (_, key), (_, delisted) in stored.items() if not delisted}

    def delisting_candidates(
        self, spec: TableSpec, brand: str, seen: Sequence[int]
    ) -> tuple[int, list[int]]:
        active = self.active_ids(spec, brand)
        return len(active), sorted(active.difference(seen))

    def mark_delisted(self, spec: TableSpec, brand: str, ids: Sequence[int]) -> int:
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            active = [(None, i) for i in dict.fromkeys(ids) if (None, i) in stored]
            active = [k for k in active if not stored[k][1]]
            return self._delist(spec, brand, active)

    def delist_absent(
        self,
        spec: TableSpec,
        brand: str,
        seen: Sequence[tuple[int | None, int]],
        *,
        guard_minimum: int,
        guard_fraction: float,
        keep_scopes: Sequence[int] = (),
    ) -> int | None:
        check_keep_scopes(spec, keep_scopes)
        parent = spec.parent_column
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            active = [key for key, (_, delisted) in stored.items() if not delisted]
            wanted = {(scope if spec.scope else None, key) for scope, key in seen}
            missing = [key for key in active if key not in wanted]
            if keep_scopes and missing and parent is not None:
                kept = set(keep_scopes)
                if spec.scope:
                    missing = [key for key in missing if key[0] not in kept]
                else:
                    parents = {
                        int(row[spec.key]): row.get(parent)
                        for row in self._pages(spec, brand, f"{spec.key},{parent}")
                    }
                    missing = [key for key in missing if parents.get(key[1]) not in kept]
            if exceeds_guard(
                len(missing),
                len(active),
                guard_minimum=guard_minimum,
                guard_fraction=guard_fraction,
            ):
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
        for batch in _chunks(records, self._batch_size):
            self._run(
                "recording rejects",
                self._table("sync_rejects").insert(batch, returning=ReturnMethod.minimal),
            )

    # --- the run ledger ----------------------------------------------------------------------

    def start_run(
        self,
        brand: str,
        entity: str,
        mode: str,
        *,
        take: int | None = None,
        resumed_from: int | None = None,
    ) -> int:
        """A new `running` row (stale `running` rows of the key are abandoned first).

        Also the start of "once per run": the stored hashes of the tables this entity
        touches (`ENTITY_TABLES`) are read afresh; other runs' caches are kept.

        Idempotent without a second insert: the row carries a run key made here (in
        `details`, which `finish_run` replaces; `get_run` and `recent_runs` never show
        it). The insert is not retried once it may have been done (see `may_repeat`): if
        its answer is lost, the run is looked up by its key, so a run committed without
        an answer is found, not inserted again. If it is not found the start fails
        (`SinkError`) and nothing is retried: were the insert committed after all, its
        row is abandoned by the job's next start, as a crashed worker's is. (A unique
        run-key column would allow an upsert instead, but needs a migration a REST-only
        deployment may not have applied.)
        """
        self._forget(brand, entity)
        self.abandon_stale_runs(brand, entity)
        key = uuid.uuid4().hex
        insert = self._table("sync_runs").insert(
            {
                "brand": brand,
                "entity": entity,
                "mode": mode,
                "status": RunStatus.RUNNING,
                "take": take,
                "resumed_from": resumed_from,
                "details": {RUN_KEY: key},
            },
            returning=ReturnMethod.representation,
        )
        try:
            response: Any = insert.execute()
        except (APIError, httpx.HTTPError) as exc:
            found = self._run_by_key(brand, entity, key)
            if found is None:
                raise _sink_error("starting a run", exc) from None
            return found
        return int(response.data[0]["id"])

    def _run_by_key(self, brand: str, entity: str, key: str) -> int | None:
        query = (
            self._table("sync_runs")
            .select("id")
            .eq("brand", brand)
            .eq("entity", entity)
            .eq(f"details->>{RUN_KEY}", key)
        )
        try:
            rows: Any = query.execute().data
        except (APIError, httpx.HTTPError):
            return None
        return int(rows[0]["id"]) if rows else None

    def checkpoint_run(self, run_id: int, counts: RunCounts, checkpoint: int) -> None:
        self._run(
            "checkpointing a run",
            self._table("sync_runs")
            .update({**counts.__dict__, "checkpoint": checkpoint}, returning=ReturnMethod.minimal)
            .eq("id", run_id),
        )

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: RunCounts,
        error: str | None = None,
        *,
        checkpoint: int | None = None,
        duration_seconds: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {
            **counts.__dict__,
            "status": status,
            "finished_at": self._now(),
            "error": error,
            "duration_seconds": duration_seconds,
            "details": details,
        }
        if checkpoint is not None:
            values["checkpoint"] = checkpoint
        self._run(
            "finishing a run",
            self._table("sync_runs")
            .update(values, returning=ReturnMethod.minimal)
            .eq("id", run_id),
        )

    def get_run(self, run_id: int) -> RunRecord | None:
        response = self._run("reading a run", self._table("sync_runs").select("*").eq("id", run_id))
        return RunRecord.from_row(_without_run_key(response.data[0])) if response.data else None

    def recent_runs(
        self, brand: str | None = None, limit: int = 20, entity: str | None = None
    ) -> list[RunRecord]:
        query = self._table("sync_runs").select("*")
        if brand is not None:
            query = query.eq("brand", brand)
        if entity is not None:
            query = query.eq("entity", entity)
        if brand is not None and entity is not None:  # in the order of sync_runs_key_started
            query = query.order("started_at", desc=True)
        query = query.order("id", desc=True).limit(limit)
        rows = self._run("reading runs", query).data
        return [RunRecord.from_row(_without_run_key(row)) for row in rows]

    def latest_rejects(self, limit: int = 20, run_id: int | None = None) -> list[RejectRecord]:
        query = self._table("sync_rejects").select(REJECT_COLUMNS)
        if run_id is not None:
            query = query.eq("run_id", run_id)
        query = query.order("id", desc=True)
        rows = self._run("reading rejects", query.limit(limit)).data
        return [
            RejectRecord(
                id=int(row["id"]),
                run_id=int(row["run_id"]),
                brand=row["brand"],
                entity=row["entity"],
                source_id=row["source_id"],
                reason=row["reason"],
                created_at=_when(row["created_at"]) or datetime.fromtimestamp(0, UTC),
            )
            for row in rows
        ]

    def last_success_at(self, brand: str, entity: str) -> datetime | None:
        query = (
            self._table("sync_runs")
            .select("finished_at")
            .eq("brand", brand)
            .eq("entity", entity)
            .in_("status", list(SUCCESS_STATUSES))
            .not_.is_("finished_at", "null")
            .order("finished_at", desc=True)
            .limit(1)
        )
        rows = self._run("reading the last success", query).data
        return _when(rows[0]["finished_at"]) if rows else None

    def abandon_stale_runs(self, brand: str | None = None, entity: str | None = None) -> int:
        total = 0
        for has_error in (False, True):
            values: dict[str, Any] = {"status": RunStatus.ABANDONED, "finished_at": self._now()}
            if not has_error:
                values["error"] = ABANDONED_ERROR
            query = (
                self._table("sync_runs")
                .update(values, count=CountMethod.exact, returning=ReturnMethod.minimal)
                .eq("status", RunStatus.RUNNING)
            )
            query = query.not_.is_("error", "null") if has_error else query.is_("error", "null")
            if brand is not None:
                query = query.eq("brand", brand)
            if entity is not None:
                query = query.eq("entity", entity)
            total += self._run("abandoning stale runs", query).count or 0
        return total

    # --- internals ---------------------------------------------------------------------------

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

    def _table(self, name: str) -> SyncRequestBuilder:
        return self._client.table(name)

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat()

    def _run(self, what: str, query: Any) -> Any:
        """Execute a built query; PostgREST and network errors become `SinkError`."""
        try:
            return query.execute()
        except (APIError, httpx.HTTPError) as exc:
            raise _sink_error(what, exc) from None

    def _forget(self, brand: str, entity: str) -> None:
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
    def _holding(self, spec: TableSpec, brand: str) -> Iterator[None]:
        """The lock of the brand's `spec.table` (re-entrant): held from reading the cached
        hashes to updating them after a write, so that no run caches a table while another
        run's write to it is in flight, and no two runs mutate one cache at once."""
        with self._lock:
            lock = self._table_locks.setdefault((spec.table, brand), threading.RLock())
        with lock:
            yield

    def _hashes(self, spec: TableSpec, brand: str) -> Stored:
        """The brand's stored (hash, delisted) per key: read once per run, `Range`-paginated.

        Callers hold the table's lock (`_holding`) while they use the result."""
        with self._holding(spec, brand):
            with self._lock:
                cached = self._stored.get((spec.table, brand))
            if cached is not None:
                return cached
            stored: Stored = {}
            tracks = spec.tracks_delisting
            columns = [*spec.key_columns, "content_hash"] + (["delisted_at"] if tracks else [])
            for row in self._pages(spec, brand, ",".join(columns)):
                scope = int(row[spec.scope]) if spec.scope else None
                delisted = tracks and row.get("delisted_at") is not None
                stored[(scope, int(row[spec.key]))] = (str(row["content_hash"]), delisted)
            with self._lock:
                self._stored[(spec.table, brand)] = stored
            return stored

    def _pages(self, spec: TableSpec, brand: str, columns: str) -> Iterator[dict[str, Any]]:
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
                self._table(spec.table)
                .select(columns, count=CountMethod.exact if start == 0 else None)
                .eq("brand", brand)
            )
            for column in spec.key_columns:
                query = query.order(column)
            query.request.headers["Range-Unit"] = "items"
            query.request.headers["Range"] = f"{start}-{start + self._page_size - 1}"
            with self._lock:
                self.requests_for_hashes += 1
            response = self._run(f"reading stored hashes of {spec.table}", query)
            if start == 0:
                total = response.count
            page = response.data
            if not page:
                return
            yield from page
            start += len(page)

    def _write(
        self,
        spec: TableSpec,
        brand: str,
        candidates: list[tuple[Row, str, dict[str, Any]]],
    ) -> list[tuple[bool, int]]:
        """Upsert the candidates whose hash differs from the stored one; (was new, key) each."""
        with self._holding(spec, brand):
            stored = self._hashes(spec, brand)
            changed = [
                (row, digest, record)
                for row, digest, record in candidates
                if stored.get(_key(spec, row)) != (digest, False)
            ]
            on_conflict = ",".join(("brand", *spec.key_columns))
            written: list[tuple[bool, int]] = []
            for batch in _chunks(changed, self._batch_size):
                self._run(
                    f"upsert into {spec.table}",
                    self._table(spec.table).upsert(
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
        record["updated_at"] = self._now()
        if spec.tracks_delisting:
            record["delisted_at"] = None
        return record

    def _private_record(self, spec: TableSpec, brand: str, row: Row) -> dict[str, Any]:
        record: dict[str, Any] = {"brand": brand, **_key_values(spec, row)}
        record.update({c: _plain((row.private or {}).get(c)) for c in spec.private_columns})
        record["raw"] = orjson.loads(json_text(row.private_raw or {}))
        record["content_hash"] = row.private_hash
        record["updated_at"] = self._now()
        return record

    def _delist(self, spec: TableSpec, brand: str, keys: Sequence[Key]) -> int:
        """Set `delisted_at` of `keys`; callers hold the table's lock (`_holding`)."""
        stored = self._hashes(spec, brand)
        by_scope: dict[int | None, list[int]] = {}
        for scope, key in keys:
            by_scope.setdefault(scope, []).append(key)
        now = self._now()
        for scope, ids in by_scope.items():
            for chunk in _chunks(ids, FILTER_CHUNK):
                query = (
                    self._table(spec.table)
                    .update({"delisted_at": now}, returning=ReturnMethod.minimal)
                    .eq("brand", brand)
                    .in_(spec.key, chunk)
                    .is_("delisted_at", "null")
                )
                if spec.scope is not None:
                    query = query.eq(spec.scope, scope)
                self._run(f"delisting rows of {spec.table}", query)
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


def _chunks(items: Sequence[T] | Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sink_error(what: str, exc: APIError | httpx.HTTPError) -> SinkError:
    """`exc` as a `SinkError` saying what failed (PostgREST's code, or the network error)."""
    if isinstance(exc, APIError):
        return SinkError(f"{what} failed: {exc.code or 'error'} {exc.message or ''}")
    return SinkError(f"{what} failed: {type(exc).__name__}")


def _without_run_key(row: dict[str, Any]) -> dict[str, Any]:
    """A `sync_runs` row with `start_run`'s run key taken out of `details` (None if that
    was all of it)."""
    details = row["details"]
    if isinstance(details, dict) and RUN_KEY in details:
        details = {k: v for k, v in details.items() if k != RUN_KEY} or None
    return {**row, "details": details}


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))
