"""A Supabase project's tables through PostgREST: what the sink and its ledger share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from postgrest import APIError, SyncRequestBuilder
from supabase import Client

from worker.clock import Clock
from worker.errors import SinkError

T = TypeVar("T")


class RestTables:
    """Builds queries on the project's tables and runs them, with its errors as `SinkError`."""

    def __init__(self, client: Client, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    def table(self, name: str) -> SyncRequestBuilder:
        return self._client.table(name)

    def now(self) -> str:
        """The clock's time as the ISO 8601 text PostgREST stores in a `timestamptz`."""
        return datetime.fromtimestamp(self._clock(), UTC).isoformat()

    def run(self, what: str, query: Any) -> Any:
        """Execute a built query; PostgREST and network errors become `SinkError`."""
        try:
            return query.execute()
        except (APIError, httpx.HTTPError) as exc:
            raise sink_error(what, exc) from None


def sink_error(what: str, exc: APIError | httpx.HTTPError) -> SinkError:
    """`exc` as a `SinkError` saying what failed (PostgREST's code, or the network error)."""
    if isinstance(exc, APIError):
        return SinkError(f"{what} failed: {exc.code or 'error'} {exc.message or ''}")
    return SinkError(f"{what} failed: {type(exc).__name__}")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
