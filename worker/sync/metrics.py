"""Prometheus metrics for sync runs, on the default registry. Labels: brand, entity, fixed words."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS = Counter(
    "rei_sync_runs",
    "Finished sync runs by final status.",
    ["brand", "entity", "status"],
)
ROWS_WRITTEN = Counter(
    "rei_sync_rows_written",
    "Entity rows inserted or updated (unchanged rows are not written).",
    ["brand", "entity", "action"],
)
DELISTED = Counter(
    "rei_sync_delisted",
    "Rows marked delisted after a complete scan and a per-row confirmation.",
    ["brand", "entity"],
)
DELIST_GUARD_TRIPPED = Counter(
    "rei_sync_delist_guard_tripped",
    "Runs that found more delisting candidates than the guard allows and delisted nothing.",
    ["brand", "entity"],
)
RUN_SECONDS = Histogram(
    "rei_sync_run_seconds",
    "Duration of sync runs.",
    ["entity"],
    buckets=(0.5, 1, 5, 15, 60, 300, 900, 3600),
)
