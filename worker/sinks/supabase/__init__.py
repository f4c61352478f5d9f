"""Supabase REST sink: the same `Store` contract as the Postgres sink, through PostgREST.

For deployments that only have a project URL and the service-role key (the
`rei-sync[supabase]` extra). Change detection works as in Postgres, but on the client
(`cache`); only new or changed rows are sent (`sink`); runs are rows like any other
(`ledger`); requests are retried at the HTTP transport, and sent again only when that
cannot do them twice (`transport`).

Public names are re-exported here.
"""

from worker.sinks.base import ABANDONED_ERROR
from worker.sinks.supabase.cache import ENTITY_TABLES, PAGE_SIZE, HashCache, Key, Stored
from worker.sinks.supabase.ledger import REJECT_COLUMNS, RUN_KEY, SupabaseRunLedger
from worker.sinks.supabase.sink import BATCH_SIZE, FILTER_CHUNK, SupabaseSink
from worker.sinks.supabase.transport import (
    CONNECT_TIMEOUT_SECONDS,
    NOT_SENT,
    READ_TIMEOUT_SECONDS,
    RETRY_ATTEMPTS,
    RETRY_STATUSES,
    RetryingTransport,
    create_supabase_client,
    may_repeat,
)

__all__ = [
    "ABANDONED_ERROR",
    "BATCH_SIZE",
    "CONNECT_TIMEOUT_SECONDS",
    "ENTITY_TABLES",
    "FILTER_CHUNK",
    "NOT_SENT",
    "PAGE_SIZE",
    "READ_TIMEOUT_SECONDS",
    "REJECT_COLUMNS",
    "RETRY_ATTEMPTS",
    "RETRY_STATUSES",
    "RUN_KEY",
    "HashCache",
    "Key",
    "RetryingTransport",
    "Stored",
    "SupabaseRunLedger",
    "SupabaseSink",
    "create_supabase_client",
    "may_repeat",
]
