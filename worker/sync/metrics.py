"""Prometheus metrics for sync runs, on the default registry. Labels: brand, entity, fixed words."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
IMAGE_FETCH_FAILED = Counter(
    "rei_sync_image_fetch_failed",
    "Listings whose image request failed after its retries (stored, retried next run).",
    ["brand", "entity"],
)
DELIST_UNCONFIRMED = Counter(
    "rei_sync_delist_unconfirmed",
    "Delisting candidates whose confirmation call failed (kept listed this run).",
    ["brand", "entity"],
)
ABSENT_LISTED = Gauge(
    "rei_sync_absent_listed",
    "Listings absent from the last complete scan whose details still say online.",
    ["brand", "entity"],
)
RUN_SECONDS = Histogram(
    "rei_sync_run_seconds",
    "Duration of sync runs.",
    ["entity"],
    buckets=(0.5, 1, 5, 15, 60, 300, 900, 3600),
)
